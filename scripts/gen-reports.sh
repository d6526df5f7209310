#!/usr/bin/env bash
# Regenerates reports/<name>/ for every bundled scenario (scenarios/*.toml): runs `iam-prune
# prune` into a fresh directory, which writes the journal, the policy and the reports
# (report.md, report.html, report.json, search.dot). Deterministic except for the start time.
# The journals stay local (gitignored: iomete-data-plane's is 6 MB); `iam-prune report reports/NAME`
# works wherever this script ran.
# Usage: scripts/gen-reports.sh [EXTRA PRUNE ARGS...]   e.g. --parallel 4
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin iam-prune
bin=target/debug/iam-prune
for scenario in scenarios/*.toml; do
  name=$(basename "$scenario" .toml)
  out="reports/$name"
  rm -rf "$out"
  "$bin" prune "$scenario" --out "$out" --quiet "$@" > /dev/null
  echo "$out/report.md"
done
