# stripeline — the commands a user runs. `make help` lists them.
SHELL := /bin/bash
GO    ?= go
PKGS  := github.com/stripeline/stripeline/...
# Where `make run` keeps the broker's data, binaries and logs (git-ignored).
DATA  ?= .data

.PHONY: help run test vet fmt bench chaos postgres

help:
	@echo "make run    the whole pipeline on this machine (Ctrl-C stops it)"
	@echo "make test   every test: unit, integration and end-to-end"
	@echo "make bench  the benchmark report (bench/results.json, bench/latency.svg)"
	@echo "make chaos  the fault suite: kills, restarts, outages under load (docs/chaos.md)"

## run: broker, stripe-mock, database and the four services, until Ctrl-C.
run: postgres
	$(GO) run github.com/stripeline/stripeline/pkg/cmd/stripeline-dev run -data $(DATA)

## test: vet, then every test with the race detector.
test: postgres vet
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

## bench: the benchmark report (bench/results.json, bench/latency.svg); sizes are flags, e.g.
## make bench BENCH_FLAGS="-connections 2000 -writer-backlog 20000"
bench: postgres
	$(GO) run github.com/stripeline/stripeline/pkg/cmd/stripeline-bench -out bench $(BENCH_FLAGS)

## chaos: the fault suite (docs/chaos.md); exits 1 when a check fails. Sizes are flags, e.g.
## make chaos CHAOS_FLAGS="-seed 1234 -events 50000"
chaos: postgres
	$(GO) run github.com/stripeline/stripeline/pkg/cmd/stripeline-chaos -data $(DATA)/chaos $(CHAOS_FLAGS)

## postgres: make sure the local PostgreSQL answers on 127.0.0.1:5432.
postgres:
	@bash deployments/local/ensure-postgres.sh
