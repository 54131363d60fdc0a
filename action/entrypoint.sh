#!/bin/sh
# Maps the GitHub Action's inputs (INPUT_* variables) to kf-run flags and
# execs kf-run, so signals reach it directly. Inputs are passed as separate
# arguments, never spliced into a command line.
set -eu
set -- run
[ -n "${INPUT_CONFIG:-}" ] && set -- "$@" --config "$INPUT_CONFIG"
[ -n "${INPUT_SPEC:-}" ] && set -- "$@" --spec "$INPUT_SPEC"
[ -n "${INPUT_HOST:-}" ] && set -- "$@" --host "$INPUT_HOST"
[ -n "${INPUT_NAMESPACE:-}" ] && set -- "$@" --namespace "$INPUT_NAMESPACE"
[ -n "${INPUT_EXPERIMENT:-}" ] && set -- "$@" --experiment "$INPUT_EXPERIMENT"
[ -n "${INPUT_TIMEOUT:-}" ] && set -- "$@" --timeout "$INPUT_TIMEOUT"
case "${INPUT_WAIT:-true}" in false|False|FALSE) set -- "$@" --no-wait ;; esac
case "${INPUT_COMMENT:-true}" in false|False|FALSE) set -- "$@" --no-comment ;; esac
# Multi-value inputs: one value per line.
nl='
'
old_ifs=$IFS
set -f # no globbing of input lines
IFS=$nl
for p in ${INPUT_PIPELINES:-}; do [ -n "$p" ] && set -- "$@" --pipeline "$p"; done
for p in ${INPUT_PARAMS:-}; do [ -n "$p" ] && set -- "$@" --param "$p"; done
IFS=$old_ifs
set +f
# The runner keeps dashes in input names (INPUT_GITHUB-TOKEN), which no
# shell variable can hold and sh does not pass on to its children: read
# them from this process's own environment (single-line values).
dashed() { tr '\0' '\n' </proc/$$/environ | sed -n "s/^INPUT_$1=//p" | head -n 1; }
dir=$(dashed WORKING-DIRECTORY)
if [ -n "$dir" ]; then cd "$dir"; fi
token=$(dashed GITHUB-TOKEN)
if [ -n "$token" ]; then export GITHUB_TOKEN="$token"; fi
exec kf-run "$@"
