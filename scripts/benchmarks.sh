#!/usr/bin/env bash
# Regenerates the measured sections of docs/benchmarks.md. Each section sits between
# `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` and is replaced by the Markdown its bench
# prints with `--markdown` (the machine, the date and the build are in its first line).
#
#   scripts/benchmarks.sh                 # every section (release build; about 15 minutes)
#   scripts/benchmarks.sh scenarios eval  # only these
#
# Sections: generated, scenarios (`iam-prune bench prune`), expand (`iam-prune bench
# expand`), eval and trail (`cargo bench`). A bench whose floors FAIL still has its section
# written (the FAIL lines are part of it) and makes this script exit 1.
set -euo pipefail
cd "$(dirname "$0")/.."
page=docs/benchmarks.md
all=(generated scenarios expand eval trail)
names=("$@")
[ ${#names[@]} -eq 0 ] && names=("${all[@]}")
for name in "${names[@]}"; do
  case " ${all[*]} " in
    *" $name "*) ;;
    *) echo "error: unknown section \`$name\`; the sections are: ${all[*]}" >&2; exit 2 ;;
  esac
  grep -q "<!-- bench:$name -->" "$page" || { echo "error: $page has no <!-- bench:$name --> marker" >&2; exit 2; }
done
cargo build --release --bin iam-prune
bin=target/release/iam-prune
failed=0
for name in "${names[@]}"; do
  echo "== $name" >&2
  out=$(mktemp)
  status=0
  case $name in
    generated) "$bin" --quiet bench prune --set generated --markdown >"$out" || status=$? ;;
    scenarios) "$bin" --quiet bench prune --set scenarios --markdown >"$out" || status=$? ;;
    expand) "$bin" bench expand --markdown >"$out" || status=$? ;;
    eval) cargo bench --bench eval -- --markdown >"$out" || status=$? ;;
    trail) cargo bench --bench trail -- --markdown >"$out" || status=$? ;;
  esac
  # A bench that could not run at all (no output) leaves its section as it was.
  if [ ! -s "$out" ]; then
    echo "error: \`$name\` printed nothing (exit $status); its section is unchanged" >&2
    failed=1
    continue
  fi
  [ "$status" -eq 0 ] || failed=1
  python3 - "$page" "$name" "$out" <<'PY'
import sys
page, name, out = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(page).read()
start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
a, b = text.index(start) + len(start), text.index(end)
body = open(out).read().strip("\n")
open(page, "w").write(text[:a] + "\n" + body + "\n" + text[b:])
PY
  rm -f "$out"
done
exit $failed
