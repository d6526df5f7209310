#!/bin/sh
# The workload that finds the permissions iam-prune itself needs: a whole `prune --run` (the
# sandbox created, the session-policy check, candidates applied as policy versions and probed,
# the sandbox deleted), then `sandbox list`, which must find nothing left of that run (the
# outer run's own sandbox, which this runs in, is listed too and ignored). Credentials and the
# endpoint come from the environment, as for any workload.
# Usage: self_prune.sh IAM_PRUNE_BINARY PYTHON
set -eu
bin="$1"
py="$2"
here=$(dirname "$0")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$bin" --output json prune --start "$here/self_inner_start.json" --strategy linear \
  --run "$py -c 'import boto3; boto3.client(\"iam\").list_roles()'" --out "$out/run" > "$out/result.json"
run_id=$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["run_id"])' "$out/result.json")
"$bin" --output json sandbox list > "$out/left.json"
"$py" -c 'import json, sys; left = [l for l in json.load(open(sys.argv[1]))["leftovers"] if sys.argv[2] in json.dumps(l)]; sys.exit(1 if left else 0)' "$out/left.json" "$run_id"
