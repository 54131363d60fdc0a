#!/usr/bin/env bash
# The composite Action's install step: puts kf-run on PATH (GITHUB_PATH)
# for the run step.
#
# On a release ref, action/VERSION names the release and action/checksums.txt
# holds the SHA-256 of each archive, both written into the tagged commit by
# the release workflow: the archive for this runner is downloaded, checked
# against that line (so the ref pins the exact bytes), unpacked into the
# runner's tool cache and reused from there by later jobs on the same runner.
# On any other ref (a branch or a commit SHA) there is no action/VERSION, and
# kf-run is built from the action's own source with the job's Go.
#
# Environment (set by the runner or action.yml): GITHUB_ACTION_PATH,
# GITHUB_PATH, RUNNER_OS, RUNNER_ARCH, RUNNER_TEMP, RUNNER_TOOL_CACHE
# (optional), KF_RUN_ACTION_REF (github.action_ref, for the source build's
# version). KF_RUN_DOWNLOAD_BASE replaces the release download URL: for
# tests only.
set -euo pipefail

die() {
  printf '::error title=kf-run install::%s\n' "$*"
  exit 1
}

action_dir=${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set: this script runs as a step of the kf-run Action}
: "${GITHUB_PATH:?GITHUB_PATH is not set: this script runs as a step of the kf-run Action}"
temp=${RUNNER_TEMP:-${TMPDIR:-/tmp}}
exe=
[ "${RUNNER_OS:-}" = Windows ] && exe=.exe

build_from_source() {
  if ! command -v go >/dev/null 2>&1; then
    die "this ref of kf-run/kf-run is not a release (no action/VERSION), so the Action builds kf-run from its source, and there is no go command on PATH. Pin a release tag (or its commit SHA), or add actions/setup-go before this step."
  fi
  local out=$temp/kf-run-source/bin
  mkdir -p "$out"
  local ldflags="-s -w"
  # github.action_ref (a branch name or a SHA) as the version; without it the
  # binary reports what its build info says.
  if [ -n "${KF_RUN_ACTION_REF:-}" ]; then
    case $KF_RUN_ACTION_REF in
      *[!A-Za-z0-9._/+-]*) ;; # not a plain ref: leave the version alone
      *) ldflags="$ldflags -X main.version=$KF_RUN_ACTION_REF" ;;
    esac
  fi
  echo "kf-run: building from the action's source at ${KF_RUN_ACTION_REF:-this ref} with $(go version)"
  # The job's GOOS/GOARCH/GOFLAGS/go.work are for the job's code, not for
  # this build.
  (cd "$action_dir" && env -u GOOS -u GOARCH -u GOFLAGS GOWORK=off CGO_ENABLED=0 \
    go build -trimpath -ldflags "$ldflags" -o "$out/kf-run$exe" ./cmd/runner) ||
    die "go build of kf-run from the action's source failed (see above). Pin a release tag instead, or check the Go version (go.mod of kf-run asks for $(sed -n 's/^go //p' "$action_dir/go.mod"))."
  echo "$out" >>"$GITHUB_PATH"
}

if [ ! -f "$action_dir/action/VERSION" ]; then
  build_from_source
  exit 0
fi

version=$(tr -d ' \r\n' <"$action_dir/action/VERSION")
case $version in
  v[0-9]*) ;;
  *) die "action/VERSION says '$version', want a release tag such as v1.2.3: this copy of the Action is damaged, pin another ref." ;;
esac
v=${version#v}

case ${RUNNER_OS:-}/${RUNNER_ARCH:-} in
  Linux/X64) os=linux arch=amd64 ;;
  Linux/ARM64) os=linux arch=arm64 ;;
  macOS/X64) os=darwin arch=amd64 ;;
  macOS/ARM64) os=darwin arch=arm64 ;;
  Windows/X64) os=windows arch=amd64 ;;
  Windows/ARM64) os=windows arch=arm64 ;;
  *) die "kf-run $version has no release binary for this runner (RUNNER_OS=${RUNNER_OS:-unset}, RUNNER_ARCH=${RUNNER_ARCH:-unset}); supported: Linux, macOS and Windows on X64 or ARM64. Use a supported runner, or the container image ghcr.io/kf-run/kf-run:$v." ;;
esac
ext=tar.gz
[ "$os" = windows ] && ext=zip
archive=kf-run_${v}_${os}_${arch}.${ext}

# The pinned sum: the line for this archive in action/checksums.txt.
sums=$action_dir/action/checksums.txt
[ -f "$sums" ] || die "action/VERSION is $version but action/checksums.txt is missing: refusing to run an unverified binary. Pin another ref of kf-run/kf-run."
want=$(awk -v f="$archive" '$2 == f || $2 == "*" f { print $1; exit }' "$sums" | tr 'A-F' 'a-f')
case $want in
  [0-9a-f]*) [ ${#want} -eq 64 ] || want= ;;
  *) want= ;;
esac
[ -n "$want" ] || die "action/checksums.txt has no SHA-256 line for $archive: refusing to run an unverified binary. Pin another ref of kf-run/kf-run."

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | awk '{print $1}'
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | awk '{print $1}'
  else
    die "neither sha256sum nor shasum is on PATH: cannot verify $archive."
  fi
}

# Reuse: a copy unpacked earlier on this runner from an archive with the
# same pinned sum (the marker holds the sum it was verified against).
cache=${RUNNER_TOOL_CACHE:-$temp}/kf-run/$v/$arch
if [ -x "$cache/kf-run$exe" ] && [ "$(cat "$cache.complete" 2>/dev/null)" = "$want" ]; then
  echo "kf-run $version: reusing $cache (verified sha256 $want)"
  echo "$cache" >>"$GITHUB_PATH"
  exit 0
fi

base=${KF_RUN_DOWNLOAD_BASE:-https://github.com/kf-run/kf-run/releases/download}
url=$base/$version/$archive
work=$(mktemp -d "$temp/kf-run-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "kf-run $version: downloading $url"
if command -v curl >/dev/null 2>&1; then
  curl -fsSL --retry 4 --retry-delay 2 --retry-connrefused -o "$work/$archive" "$url" ||
    die "download of $url failed (see above)."
elif command -v wget >/dev/null 2>&1; then
  wget -q --tries=5 --waitretry=2 -O "$work/$archive" "$url" || die "download of $url failed."
else
  die "neither curl nor wget is on PATH: cannot download $archive."
fi

got=$(sha256 "$work/$archive")
if [ "$got" != "$want" ]; then
  die "SHA-256 mismatch for $archive from $url: expected $want (pinned in action/checksums.txt at this ref), got $got. Refusing to run it. Retry the job; if it persists, the release asset differs from what this ref pinned: report it to kf-run/kf-run."
fi

mkdir -p "$work/x"
if [ "$ext" = zip ]; then
  if command -v unzip >/dev/null 2>&1; then
    unzip -q "$work/$archive" "kf-run$exe" -d "$work/x" || die "unzip $archive failed."
  else
    powershell.exe -NoProfile -Command "Expand-Archive -LiteralPath '$work/$archive' -DestinationPath '$work/x'" ||
      die "Expand-Archive $archive failed."
  fi
else
  tar -xzf "$work/$archive" -C "$work/x" "kf-run$exe" || die "tar: $archive has no kf-run$exe at its root."
fi
[ -f "$work/x/kf-run$exe" ] || die "$archive has no kf-run$exe at its root."
chmod +x "$work/x/kf-run$exe"

rm -rf "$cache" "$cache.complete"
mkdir -p "$cache"
mv "$work/x/kf-run$exe" "$cache/kf-run$exe"
printf '%s\n' "$want" >"$cache.complete"
echo "kf-run $version: installed in $cache (sha256 $want verified)"
echo "$cache" >>"$GITHUB_PATH"
