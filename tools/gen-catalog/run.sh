#!/usr/bin/env bash
# Regenerates crates/core/src/catalog/data/ from the pinned npm packages (see package.json here).
# Usage: tools/gen-catalog/run.sh   (needs node and npm; network to the npm registry)
set -euo pipefail
cd "$(dirname "$0")"
npm install --no-audit --no-fund --silent
node gen.mjs "$@"
