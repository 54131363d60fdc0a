#!/usr/bin/env bash
# Runs each fuzz target for a bounded time (FUZZTIME, default 60s each):
# the pipeline spec parser, the config loader and --param parsing. Not part
# of `make test`, which runs only their seeds. A failing input is written
# under the package's testdata/fuzz/ and reproduces with plain `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-60s}"
targets=(
  "./internal/pipelinespec FuzzParse"
  "./internal/config FuzzParse"
  "./internal/plan FuzzParamFlag"
)
for t in "${targets[@]}"; do
  read -r pkg fn <<<"$t"
  echo "== $pkg $fn ($fuzztime)"
  go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$fuzztime" "$pkg"
done
