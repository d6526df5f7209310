#!/usr/bin/env bash
# Creates .venv with moto[server] and boto3 for the AWS end-to-end tests (idempotent).
# The tests start and stop the moto server themselves (tests/it/moto.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/moto_server ] || [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check 'moto[server]==5.2.5' boto3
fi
