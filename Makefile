# Set-up for a fresh machine: `make bench` (the main job) and `make test`.
GO        ?= go
FUZZTIME  ?= 10s
BENCHTIME ?= 200ms
COUNT     ?= 6
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCHSTAT   := golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

.PHONY: test bench fuzz lint cover

# Race detector, goleak in every package, fuzz seed corpora, examples, and a
# one-iteration smoke run of every benchmark so the benchmarks keep building.
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout=15m ./...
	cd benchmarks && $(GO) vet ./... && $(GO) test -race -count=1 -run='^$$' -bench=. -benchtime=1x ./...

# The contention benchmarks of every primitive against its peers, read with
# benchstat (ratios to the first implementation of each benchmark).
bench:
	cd benchmarks && $(GO) test -run='^$$' -bench=. -benchtime=$(BENCHTIME) -count=$(COUNT) . | tee bench.txt
	cd benchmarks && $(GO) run $(BENCHSTAT) -col /impl bench.txt

# Bounded fuzzing of every fuzz target, FUZZTIME each.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list='^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$target"; \
			$(GO) test -run='^$$' -fuzz="^$$target$$" -fuzztime=$(FUZZTIME) $$pkg; \
		done; \
	done

lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	cd benchmarks && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...

cover:
	$(GO) test -race -count=1 -coverprofile=cover.out ./...
	$(GO) tool cover -func=cover.out | tail -1
