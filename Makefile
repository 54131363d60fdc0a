# kf-run: two entry points for a fresh machine (Go 1.26 and a C compiler for
# the sandbox's sqlite):
#   make demo   runs kf-run end to end against the local KFP sandbox
#   make test   runs every test of both modules (what CI runs)
# and, for the tests of compile: with the real KFP SDK (skipped without it):
#   make venv   makes .venv with the KFP SDK from PyPI (needs python3)

GO       ?= go
BIN      := $(CURDIR)/bin
GOFLAGS  ?=
export GOFLAGS

.PHONY: all build test test-root test-sandbox vet demo bench fuzz snapshot testdata venv clean

all: build

build: $(BIN)/kf-run $(BIN)/kfp-sandbox

# kf-run is a static binary: no cgo.
$(BIN)/kf-run: FORCE
	CGO_ENABLED=0 $(GO) build -trimpath -o $@ ./cmd/runner

# The sandbox runs KFP's own API server (cgo: sqlite), in its own module.
$(BIN)/kfp-sandbox: FORCE
	cd sandbox && CGO_ENABLED=1 $(GO) build -o $@ ./cmd/kfp-sandbox

FORCE:

# The KFP SDK the compile: tests compile with (and make testdata), in a
# virtualenv of its own: KF_RUN_KFP_VENV tells the e2e tests where it is.
# They use it when make venv has made it (or KF_RUN_KFP_VENV names another)
# and skip with a notice when there is none; .ci/run makes it mandatory.
PYTHON      ?= python3
KFP_VERSION := 2.17.3
VENV        := $(CURDIR)/.venv
VENV_STAMP  := $(VENV)/.kfp-$(KFP_VERSION)
KF_RUN_KFP_VENV ?= $(if $(wildcard $(VENV_STAMP)),$(VENV))

venv: $(VENV_STAMP)

$(VENV_STAMP):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check kfp==$(KFP_VERSION) kfp-kubernetes==$(KFP_VERSION)
	$(VENV)/bin/kfp --version
	touch $@

vet:
	$(GO) vet ./...
	cd sandbox && $(GO) vet ./...
	@test -z "$$(gofmt -l . | tee /dev/stderr)"

# End-to-end tests in the root module run the real kf-run and kfp-sandbox
# binaries; they find them through KF_RUN_BIN and KFP_SANDBOX_BIN.
test: build vet
	@$(if $(KF_RUN_KFP_VENV),:,echo "notice: no KFP SDK virtualenv (make venv makes one): the compile: tests with the real SDK will skip")
	KF_RUN_BIN=$(BIN)/kf-run KFP_SANDBOX_BIN=$(BIN)/kfp-sandbox KF_RUN_KFP_VENV=$(KF_RUN_KFP_VENV) $(GO) test -race -count=1 ./...
	cd sandbox && $(GO) test -race -count=1 ./...

test-root: build
	@$(if $(KF_RUN_KFP_VENV),:,echo "notice: no KFP SDK virtualenv (make venv makes one): the compile: tests with the real SDK will skip")
	KF_RUN_BIN=$(BIN)/kf-run KFP_SANDBOX_BIN=$(BIN)/kfp-sandbox KF_RUN_KFP_VENV=$(KF_RUN_KFP_VENV) $(GO) test -race -count=1 ./...

test-sandbox:
	cd sandbox && $(GO) test -race -count=1 ./...

# The demo: start the sandbox on a free port, run the example pipeline with
# kf-run, print the job summary it would write on GitHub, stop the sandbox.
demo: build
	./scripts/demo.sh

# Benchmarks (not timed tests): kf-run's overhead after a run's final state,
# its peak memory while following 20 runs, and with --follow over a task
# that writes 10,000 lines, each against its baseline.
# CompletionLag (about 3 minutes of real time) puts kf-run beside the KFP
# SDK's own wait (make venv; skipped without it) and 5 s polling.
bench: build
	KF_RUN_BIN=$(BIN)/kf-run KFP_SANDBOX_BIN=$(BIN)/kfp-sandbox $(GO) test -count=1 -run XXX -bench 'AfterFinalState|Track20Runs|FollowMemory' -benchtime 5x ./e2e/
	KF_RUN_BIN=$(BIN)/kf-run KFP_SANDBOX_BIN=$(BIN)/kfp-sandbox KF_RUN_KFP_VENV=$(KF_RUN_KFP_VENV) $(GO) test -count=1 -run XXX -bench CompletionLag -benchtime 1x -timeout 20m ./e2e/
	$(GO) test -count=1 -run XXX -bench 'Shape30m|Shape20Runs' -benchtime 1x ./internal/wait/

# Fuzz the spec parser, the config loader and --param parsing for a bounded
# time each (FUZZTIME, default 60s); make test runs only their seeds.
fuzz:
	./scripts/fuzz.sh

# The whole release (archives and checksums.txt for six platforms) built
# locally with goreleaser --snapshot into dist/; nothing is published.
snapshot:
	./scripts/snapshot.sh

# Recompile the sandbox's test pipelines (sandbox/testdata/README.md);
# needs KFP SDK 2.17.3 with kfp-kubernetes: make venv's, else KFP=path/to/kfp.
KFP ?= $(if $(wildcard $(VENV_STAMP)),$(VENV)/bin/kfp,kfp)
testdata:
	KFP=$(KFP) ./sandbox/testdata/compile.sh

clean:
	rm -rf $(BIN)
