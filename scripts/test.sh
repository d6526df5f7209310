#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need, runs them all.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/moto.sh
# The tests read the shared corpus: ../shared next to the repository, or, for a clone made
# elsewhere (e.g. a CI checkout in /tmp), next to the repository it was cloned from.
if [ -z "${IAM_PRUNE_SHARED:-}" ]; then
  origin=$(git config --get remote.origin.url 2>/dev/null || true)
  for d in ../shared ../../shared "${origin%/}/../shared"; do
    if [ -d "$d/corpus" ]; then
      IAM_PRUNE_SHARED=$(cd "$d" && pwd)
      export IAM_PRUNE_SHARED
      break
    fi
  done
fi
# The HTML report check renders in Debian's headless Chromium (fails, never skips, without it).
if [ ! -x /usr/bin/chromium ]; then
  SUDO=$([ "$(id -u)" -eq 0 ] || echo sudo)
  $SUDO apt-get update && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi
# Tests write run directories under the temp dir: give them one of their own, removed after a
# green run and kept (and named) after a red one, for a look at what the failing test wrote.
TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/iam-prune-tests.XXXXXX")
export TMPDIR
if cargo test --workspace --all-targets; then
  rm -rf "$TMPDIR"
else
  status=$?
  echo "test files kept in $TMPDIR" >&2
  exit "$status"
fi
