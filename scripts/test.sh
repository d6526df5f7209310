#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need, runs them all.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/moto.sh
# The HTML report check renders in Debian's headless Chromium (fails, never skips, without it).
if [ ! -x /usr/bin/chromium ]; then
  SUDO=$([ "$(id -u)" -eq 0 ] || echo sudo)
  $SUDO apt-get update && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi
cargo test --all-targets
