#!/usr/bin/env bash
# The composite Action's run step: maps the inputs (INPUT_* variables set
# by the step's env: in action.yml, never spliced into script text) to
# kf-run's flags and environment, and execs kf-run so that the runner's
# SIGINT/SIGTERM on cancel reach it (it then terminates the runs).
set -euo pipefail

# Mask the secret inputs before anything else prints. The value goes
# escaped, so that every line of a multi-line secret is masked.
# (Patterns and replacements are variables: quoting inside ${v//p/r}
# differs between bash 3.2, macOS's, and later versions.)
mask() {
  local v=$1 pct=% pct25=%25 cr=$'\r' cr0d=%0D nl=$'\n' nl0a=%0A
  [ -n "${v//[[:space:]]/}" ] || return 0
  v=${v//$pct/$pct25}
  v=${v//$cr/$cr0d}
  v=${v//$nl/$nl0a}
  printf '::add-mask::%s\n' "$v"
}
mask "${INPUT_TOKEN:-}"
mask "${INPUT_PASSWORD:-}"
mask "${INPUT_GITHUB_TOKEN:-}"

fail() {
  printf '::error title=kf-run::%s\n' "$*"
  exit 2
}

# The command, and the inputs it takes: an input given to a command that
# has no use for it is a mistake to say, not to drop.
cmd=${INPUT_COMMAND:-run}
case $cmd in
  run) args=(run) takes=" config spec host namespace experiment timeout wait follow comment comment-key pipelines params args " ;;
  wait) args=(wait) takes=" config host namespace timeout follow comment comment-key args " ;;
  validate) args=(validate) takes=" config spec host namespace experiment pipelines params args " ;;
  schedule-sync) args=(schedule sync) takes=" config host namespace comment comment-key args " ;;
  schedule-plan) args=(schedule sync --dry-run) takes=" config host namespace comment comment-key args " ;;
  cleanup) args=(cleanup) takes=" config host namespace experiment args " ;;
  *) fail "command: $cmd is not one of run, wait, validate, schedule-sync, schedule-plan, cleanup" ;;
esac
flag() { # flag INPUT-NAME VALUE kf-run-args...
  local name=$1 value=$2
  shift 2
  [ -n "$value" ] || return 0
  case $takes in *" $name "*) args+=("$@") ;; *) fail "input $name does not apply to command $cmd" ;; esac
}
flag config "${INPUT_CONFIG:-}" --config "${INPUT_CONFIG:-}"
flag spec "${INPUT_SPEC:-}" --spec "${INPUT_SPEC:-}"
flag host "${INPUT_HOST:-}" --host "${INPUT_HOST:-}"
flag namespace "${INPUT_NAMESPACE:-}" --namespace "${INPUT_NAMESPACE:-}"
flag experiment "${INPUT_EXPERIMENT:-}" --experiment "${INPUT_EXPERIMENT:-}"
flag timeout "${INPUT_TIMEOUT:-}" --timeout "${INPUT_TIMEOUT:-}"
case ${INPUT_WAIT:-true} in false | False | FALSE) flag wait false --no-wait ;; esac
case ${INPUT_FOLLOW:-false} in true | True | TRUE) flag follow true --follow ;; esac
case ${INPUT_COMMENT:-true} in false | False | FALSE) flag comment false --no-comment ;; esac
flag comment-key "${INPUT_COMMENT_KEY:-}" --comment-key "${INPUT_COMMENT_KEY:-}"

# Multi-value inputs: one value per line; blank lines and surrounding
# whitespace (YAML block indentation, \r) are dropped, nothing is globbed.
lines() {
  local line
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%$'\r'}
    line=${line#"${line%%[![:space:]]*}"}
    line=${line%"${line##*[![:space:]]}"}
    [ -n "$line" ] && printf '%s\0' "$line"
  done <<<"$1"
}
if [ -n "${INPUT_PIPELINES:-}" ]; then
  while IFS= read -r -d '' p; do flag pipelines "$p" --pipeline "$p"; done < <(lines "$INPUT_PIPELINES")
fi
if [ -n "${INPUT_PARAMS:-}" ]; then
  while IFS= read -r -d '' p; do flag params "$p" --param "$p"; done < <(lines "$INPUT_PARAMS")
fi
# args: more arguments of the command, one per line (run IDs for wait,
# --prune, --delete-versions, --output json), each one argument as is.
if [ -n "${INPUT_ARGS:-}" ]; then
  while IFS= read -r -d '' p; do args+=("$p"); done < <(lines "$INPUT_ARGS")
fi

# Auth inputs map to the variables kf-run reads (README "Connecting to
# Kubeflow"); an input left empty leaves the job's own env untouched.
[ -n "${INPUT_TOKEN:-}" ] && export KF_RUN_TOKEN="$INPUT_TOKEN"
[ -n "${INPUT_USERNAME:-}" ] && export KF_RUN_USERNAME="$INPUT_USERNAME"
[ -n "${INPUT_PASSWORD:-}" ] && export KF_RUN_PASSWORD="$INPUT_PASSWORD"
[ -n "${INPUT_OIDC_AUDIENCE:-}" ] && export KF_RUN_OIDC_AUDIENCE="$INPUT_OIDC_AUDIENCE"
[ -n "${INPUT_KUBE_CONTEXT:-}" ] && export KF_RUN_KUBE_CONTEXT="$INPUT_KUBE_CONTEXT"
[ -n "${INPUT_GITHUB_TOKEN:-}" ] && export GITHUB_TOKEN="$INPUT_GITHUB_TOKEN"

# None of the INPUT_* variables goes on to kf-run.
unset INPUT_COMMAND INPUT_ARGS INPUT_CONFIG INPUT_SPEC INPUT_HOST INPUT_NAMESPACE INPUT_EXPERIMENT INPUT_TIMEOUT INPUT_WAIT INPUT_FOLLOW \
  INPUT_COMMENT INPUT_COMMENT_KEY INPUT_PIPELINES INPUT_PARAMS INPUT_TOKEN INPUT_USERNAME INPUT_PASSWORD \
  INPUT_OIDC_AUDIENCE INPUT_KUBE_CONTEXT INPUT_GITHUB_TOKEN

if [ -n "${INPUT_WORKING_DIRECTORY:-}" ]; then
  cd "$INPUT_WORKING_DIRECTORY" || {
    printf '::error title=kf-run::working-directory %s does not exist (it is relative to the workspace)\n' "$INPUT_WORKING_DIRECTORY"
    exit 2
  }
fi
unset INPUT_WORKING_DIRECTORY

exec kf-run "${args[@]}"
