# Set-up for a fresh machine: `make bench` (the main job) and `make test`.
GO        ?= go
FUZZTIME  ?= 10s
BENCHTIME ?= 200ms
COUNT     ?= 6
DURATION  ?= 30m
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCHSTAT   := golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
MODULES     := . benchmarks examples/otel etcdlock

.PHONY: test bench microbench chaos soak fuzz lint cover

# Race detector and goleak in every package of every module, fuzz seed
# corpora, examples, the short chaos suite, and a one-iteration run of every
# benchmark so the benchmarks keep building and running.
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout=20m ./...
	cd benchmarks && $(GO) vet ./... && $(GO) test -race -count=1 -timeout=10m -bench=. -benchtime=1x ./...
	cd examples/otel && $(GO) vet ./... && $(GO) test -race -count=1 ./...
	cd etcdlock && $(GO) vet ./... && $(GO) test -race -count=1 -timeout=10m -bench=. -benchtime=1x ./...

# The main job: contention scenarios for every primitive against its peers
# (about a minute and a half on 2 cores). Flags: cd benchmarks && go run ./cmd/contend -h
bench:
	cd benchmarks && $(GO) run ./cmd/contend

# The go test micro-benchmarks, read with benchstat (ratios to the first
# implementation of each benchmark).
microbench:
	cd benchmarks && $(GO) test -run='^$$' -bench=. -benchtime=$(BENCHTIME) -count=$(COUNT) . | tee bench.txt
	cd benchmarks && $(GO) run $(BENCHSTAT) -col /impl bench.txt

# The long chaos suite: every scenario ten times the rounds of the short one
# that runs in `make test` (about 14 minutes on 2 cores).
chaos:
	CHAOS=long $(GO) test -race -count=1 -v -timeout=30m ./internal/chaos

# A soak, not for CI: each scenario repeats for DURATION.
soak:
	CHAOS_SOAK=$(DURATION) $(GO) test -race -count=1 -v -timeout=0 ./internal/chaos

# Bounded fuzzing of every fuzz target, FUZZTIME each.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list='^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$target"; \
			$(GO) test -run='^$$' -fuzz="^$$target$$" -fuzztime=$(FUZZTIME) $$pkg; \
		done; \
	done

lint:
	@set -e; for m in $(MODULES); do \
		echo "== $$m"; (cd $$m && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...); \
	done

cover:
	$(GO) test -race -count=1 -coverprofile=cover.out ./...
	$(GO) tool cover -func=cover.out | tail -1
