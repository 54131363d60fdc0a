#!/usr/bin/env bash
# Builds the whole release locally, as the release workflow would, with
# goreleaser --snapshot into dist/: the six archives, checksums.txt and
# metadata. Nothing is published. Version: 0.0.0-SNAPSHOT-<short commit>.
#
# goreleaser runs through `go run` at a pinned version, so it needs only Go
# (it is not a dependency of this module). Steps that need tools absent here
# are skipped and named:
#   docker  needs a running Docker daemon with buildx
#   sbom    needs syft on PATH
#   sign    always: keyless cosign would ask for an OIDC login and write this
#           throw-away build to the public transparency log
set -euo pipefail
cd "$(dirname "$0")/.."

GORELEASER=${GORELEASER:-github.com/goreleaser/goreleaser/v2@v2.15.1}
GO=${GO:-go}

skip=sign
if ! docker buildx version >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
	skip+=,docker
	echo "snapshot: skipping docker (no Docker daemon with buildx here)" >&2
fi
if ! command -v syft >/dev/null 2>&1; then
	skip+=,sbom
	echo "snapshot: skipping sbom (syft is not on PATH)" >&2
fi
echo "snapshot: skipping sign (keyless signing is for the release workflow only)" >&2

# goreleaser reads the repository URL from the git remote and falls back to
# placeholder commit data without one (a copy that was never cloned). Give it
# this project's URL for this process only; the repository is not changed.
if ! git ls-remote --get-url >/dev/null 2>&1; then
	export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url \
		GIT_CONFIG_VALUE_0=https://github.com/kf-run/kf-run.git
fi

"$GO" run "$GORELEASER" check
"$GO" run "$GORELEASER" release --snapshot --clean --skip="$skip"

# The same check the release workflow makes before it publishes.
(cd dist && sha256sum --check --strict --quiet <(grep -E '  kf-run_[^ ]+\.(tar\.gz|zip)$' checksums.txt))
n=$(grep -cE '  kf-run_[^ ]+\.(tar\.gz|zip)$' dist/checksums.txt)
if [ "$n" -ne 6 ]; then
	echo "snapshot: dist/checksums.txt lists $n archives, want 6 (linux/darwin/windows × amd64/arm64)" >&2
	exit 1
fi
echo "snapshot: dist/ holds version $(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' dist/metadata.json)" >&2
