#!/usr/bin/env bash
# The demo behind `make demo`: start the local KFP sandbox (KFP's own API
# server with fake Kubernetes) on a free port, run kf-run on the example
# pipeline as a CI job would, and show the job summary it wrote.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-$PWD/bin}
work=$(mktemp -d)
trap 'kill "$sandbox_pid" 2>/dev/null || true; wait "$sandbox_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

"$bin/kfp-sandbox" --listen 127.0.0.1:0 --step-duration "${STEP:-700ms}" >"$work/sandbox.out" 2>"$work/sandbox.log" &
sandbox_pid=$!
for _ in $(seq 100); do
  grep -q '^REGISTRY=' "$work/sandbox.out" 2>/dev/null && break
  sleep 0.1
done
KF_RUN_HOST=$(sed -n 's/^KFP_URL=//p' "$work/sandbox.out")
[ -n "$KF_RUN_HOST" ] || { echo "the sandbox did not start:"; cat "$work/sandbox.log"; exit 1; }
export KF_RUN_HOST
echo "KFP sandbox at $KF_RUN_HOST"
echo

set +e
(cd examples && "$bin/kf-run" run --summary-file "$work/summary.md")
code=$?
set -e
echo
echo "kf-run exited $code. The job summary it writes on GitHub (also --summary-file FILE):"
echo "------------------------------------------------------------------------"
cat "$work/summary.md"
exit "$code"
