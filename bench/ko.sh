#!/usr/bin/env bash
# Benchmark: kf-run's build stage (internal/build, ko as a library) against
# the ko CLI of the same version (`ko build`, same targets, same registry
# setup) and plain `go build`, for ten small Go components. One pass each:
#   cold = empty Go build cache and an empty registry
#   warm = the same again with nothing changed
# It prints seconds, ratios, and the registry uploads of the warm runs.
#
#   bench/ko.sh                         # linux/amd64
#   PLATFORMS=linux/amd64,linux/arm64 bench/ko.sh
#   CASES="kfbuild kobuild" bench/ko.sh  # a subset, in this order
#
# Needs Go and the Go module proxy (for `go install ko`); no Docker, no
# internet registry: a loopback registry seeded with a tiny base image.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
PLATFORMS=${PLATFORMS:-linux/amd64}
CASES=${CASES:-gobuild kobuild kfbuild}
N=10

echo "# tools (not timed)"
GOBIN=$WORK/bin go install github.com/google/ko@v0.18.1
(cd "$ROOT" && go build -o "$WORK/bin/registry" ./bench/registry && go build -o "$WORK/bin/kfbuild" ./bench/kfbuild)

# Ten components: distinct mains importing fmt and encoding/json.
MOD=$WORK/mod
mkdir -p "$MOD"
printf 'module example.com/bench\n\ngo 1.26\n' > "$MOD/go.mod"
REFS=() PKGS=()
for i in $(seq -w 1 $N); do
	mkdir -p "$MOD/cmd/c$i"
	cat > "$MOD/cmd/c$i/main.go" <<GO
package main

import (
	"encoding/json"
	"fmt"
	"os"
)

type result struct {
	Component string \`json:"component"\`
	N         int    \`json:"n"\`
}

func main() {
	b, _ := json.Marshal(result{Component: "c$i", N: len(os.Args)})
	fmt.Println(string(b))
}
GO
	REFS+=("ko://example.com/bench/cmd/c$i")
	PKGS+=("./cmd/c$i")
done

REG=""
start_registry() {
	[ -n "${REG_PID:-}" ] && kill "$REG_PID" 2>/dev/null || true
	"$WORK/bin/registry" --platforms "$PLATFORMS" > "$WORK/reg.out" &
	REG_PID=$!
	for _ in $(seq 100); do
		REG=$(sed -n 's/^REGISTRY=//p' "$WORK/reg.out")
		[ -n "$REG" ] && return
		sleep 0.1
	done
	echo "registry did not start" >&2; exit 1
}
uploads() { curl -s "http://$REG/_counts"; }
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l | xargs printf '%.2f'; }

declare -A T
run_case() { # name cold|warm command...
	local name=$1 kind=$2; shift 2
	local t0 t1
	t0=$(now)
	"$@" > "$WORK/$name-$kind.log" 2>&1 || { echo "$name $kind failed:"; cat "$WORK/$name-$kind.log"; exit 1; }
	t1=$(now)
	T[$name-$kind]=$(secs "$t0" "$t1")
	printf '%-10s %-5s %6ss' "$name" "$kind" "${T[$name-$kind]}"
}

gobuild() {
	for p in ${PLATFORMS//,/ }; do
		(cd "$MOD" && GOOS=${p%/*} GOARCH=${p#*/} CGO_ENABLED=0 go build -trimpath -o "$WORK/out/$p/" "${PKGS[@]}")
	done
}
kobuild() { (cd "$MOD" && KO_DOCKER_REPO=$REG/ko KO_DEFAULTBASEIMAGE=$REG/base/static:latest "$WORK/bin/ko" build --sbom=none --platform="$PLATFORMS" "${PKGS[@]}"); }
kfbuild() { "$WORK/bin/kfbuild" -q -C "$MOD" -repo "$REG/kf" -base "$REG/base/static:latest" -platform "$PLATFORMS" "${REFS[@]}"; }

echo "# $N components, platforms $PLATFORMS, $(nproc) cores, $(go version | cut -d' ' -f3)"
for c in $CASES; do
	export GOCACHE=$WORK/gocache-$c
	rm -rf "$GOCACHE"
	start_registry
	run_case "$c" cold "$c"; echo "   $(uploads)"
	run_case "$c" warm "$c"; echo "   $(uploads)"
done

ratio() { [ -n "$1" ] && [ -n "$2" ] && echo "$1 / $2" | bc -l | xargs printf '%.2f' || echo "-"; }
echo
echo "# ratios (kf-run build stage / other)"
echo "cold: vs ko build $(ratio "${T[kfbuild-cold]:-}" "${T[kobuild-cold]:-}")x   vs go build $(ratio "${T[kfbuild-cold]:-}" "${T[gobuild-cold]:-}")x"
echo "warm: vs ko build $(ratio "${T[kfbuild-warm]:-}" "${T[kobuild-warm]:-}")x   vs go build $(ratio "${T[kfbuild-warm]:-}" "${T[gobuild-warm]:-}")x"
