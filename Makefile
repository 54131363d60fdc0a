# kf-run: two entry points for a fresh machine (Go 1.26 and a C compiler for
# the sandbox's sqlite):
#   make demo   runs kf-run end to end against the local KFP sandbox
#   make test   runs every test of both modules (what CI runs)

GO       ?= go
BIN      := $(CURDIR)/bin
GOFLAGS  ?=
export GOFLAGS

.PHONY: all build test test-root test-sandbox vet demo bench fuzz snapshot testdata clean

all: build

build: $(BIN)/kf-run $(BIN)/kfp-sandbox

# kf-run is a static binary: no cgo.
$(BIN)/kf-run: FORCE
	CGO_ENABLED=0 $(GO) build -trimpath -o $@ ./cmd/runner

# The sandbox runs KFP's own API server (cgo: sqlite), in its own module.
$(BIN)/kfp-sandbox: FORCE
	cd sandbox && CGO_ENABLED=1 $(GO) build -o $@ ./cmd/kfp-sandbox

FORCE:

vet:
	$(GO) vet ./...
	cd sandbox && $(GO) vet ./...
	@test -z "$$(gofmt -l . | tee /dev/stderr)"

# End-to-end tests in the root module run the real kf-run and kfp-sandbox
# binaries; they find them through KF_RUN_BIN and KFP_SANDBOX_BIN.
test: build vet
	KF_RUN_BIN=$(BIN)/kf-run KFP_SANDBOX_BIN=$(BIN)/kfp-sandbox $(GO) test -race -count=1 ./...
	cd sandbox && $(GO) test -race -count=1 ./...

test-root: build
	KF_RUN_BIN=$(BIN)/kf-run KFP_SANDBOX_BIN=$(BIN)/kfp-sandbox $(GO) test -race -count=1 ./...

test-sandbox:
	cd sandbox && $(GO) test -race -count=1 ./...

# The demo: start the sandbox on a free port, run the example pipeline with
# kf-run, print the job summary it would write on GitHub, stop the sandbox.
demo: build
	./scripts/demo.sh

# Benchmarks (not timed tests): kf-run's overhead after a run's final state
# and its peak memory while following 20 runs, each against its baseline.
bench: build
	KF_RUN_BIN=$(BIN)/kf-run KFP_SANDBOX_BIN=$(BIN)/kfp-sandbox $(GO) test -count=1 -run XXX -bench . -benchtime 10x ./e2e/

# Fuzz the spec parser, the config loader and --param parsing for a bounded
# time each (FUZZTIME, default 60s); make test runs only their seeds.
fuzz:
	./scripts/fuzz.sh

# The whole release (archives and checksums.txt for six platforms) built
# locally with goreleaser --snapshot into dist/; nothing is published.
snapshot:
	./scripts/snapshot.sh

# Recompile the sandbox's test pipelines (sandbox/testdata/README.md);
# needs KFP SDK 2.17.3 with kfp-kubernetes (KFP=path/to/kfp).
KFP ?= kfp
testdata:
	KFP=$(KFP) ./sandbox/testdata/compile.sh

clean:
	rm -rf $(BIN)
