#!/usr/bin/env bash
# Compiles every pipeline source in pipelines/ to the YAML beside it with the
# KFP SDK's own compiler. Each file X.py defines the pipeline function X.
# KFP names the `kfp` command to use (default: kfp on PATH); it must be
# SDK 2.17.3 with kfp-kubernetes 2.17.3 (see README.md).
set -euo pipefail
cd "$(dirname "$0")/pipelines"
KFP=${KFP:-kfp}
"$KFP" --version
for src in *.py; do
	name=${src%.py}
	"$KFP" dsl compile --py "$src" --function "$name" --output "$name.yaml"
done
