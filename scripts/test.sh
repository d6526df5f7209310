#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need, runs them all.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/moto.sh
cargo test --all-targets
