# stripeline — the commands a user runs. `make help` lists them.
SHELL := /bin/bash
GO    ?= go
PKGS  := github.com/stripeline/stripeline/...
# Where `make run` keeps the broker's data, binaries and logs (git-ignored).
DATA  ?= .data
# The URL of a database on the project's own PostgreSQL cluster under
# $(DATA)/postgres, started when needed (deployments/local/postgres.sh).
pg = $$(bash deployments/local/postgres.sh $(DATA) $(1))

.PHONY: help run test test-js vet fmt bench chaos hostile postgres

help:
	@echo "make run    the whole pipeline on this machine (Ctrl-C stops it)"
	@echo "make test   every test: unit, integration and end-to-end"
	@echo "make bench  the benchmark report (bench/results.json and its figures, bench/*.svg)"
	@echo "make chaos  the fault suite: kills, restarts, outages under load (docs/chaos.md)"

## run: broker, stripe-mock, database and the four services, until Ctrl-C.
## DATABASE_URL, when set, names the database; else the project's own cluster serves it.
run:
	DATABASE_URL="$${DATABASE_URL:-$(call pg,stripeline)}" \
	  $(GO) run github.com/stripeline/stripeline/tools/cmd/stripeline-dev run -data $(DATA)

## test: vet, then every test with the race detector, on the project's own
## PostgreSQL cluster unless STRIPELINE_TEST_POSTGRES names a server.
## The browser test installs Chromium when missing (deployments/local/chromium.sh)
## and leaves its screenshots in $(DATA)/test-artifacts.
test: vet test-js
	STRIPELINE_TEST_POSTGRES="$${STRIPELINE_TEST_POSTGRES:-$(call pg,postgres)}" \
	STRIPELINE_TEST_ARTIFACTS="$${STRIPELINE_TEST_ARTIFACTS:-$(abspath $(DATA))/test-artifacts}" \
	  $(GO) test -race -count=1 -timeout 15m $(PKGS)

## test-js: the JavaScript client's unit tests (clients/js), with Node's own
## test runner (Debian's nodejs, installed when missing); Node before 22 needs
## --experimental-websocket for its WebSocket.
test-js:
	@node=$$(bash deployments/local/node.sh) && cd clients/js && \
	  "$$node" $$("$$node" -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)' || echo --experimental-websocket) --test test/*.test.js

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

## bench: the benchmark report (bench/results.json, latency.svg, throughput.svg, notifier-rss.svg); sizes are flags, e.g.
## make bench BENCH_FLAGS="-connections 2000 -writer-backlog 20000"
bench:
	$(GO) run github.com/stripeline/stripeline/tools/cmd/stripeline-bench -out bench \
	  -database "$(call pg,stripeline_bench)" $(BENCH_FLAGS)

## chaos: the fault suite (docs/chaos.md); exits 1 when a check fails; draws bench/chaos-timeline.svg. Sizes are flags, e.g.
## make chaos CHAOS_FLAGS="-seed 1234 -events 50000"
chaos:
	$(GO) run github.com/stripeline/stripeline/tools/cmd/stripeline-chaos -data $(DATA)/chaos \
	  -database "$(call pg,stripeline_chaos)" -timeline bench/chaos-timeline.svg $(CHAOS_FLAGS)

## hostile: the hostile-input battery of make test, 25 times the floods (docs/security.md).
hostile:
	STRIPELINE_TEST_POSTGRES="$${STRIPELINE_TEST_POSTGRES:-$(call pg,postgres)}" STRIPELINE_HOSTILE_SCALE=25 \
	  $(GO) test -count=1 -timeout 15m -run TestHostileInputs -v ./e2e/

## postgres: start the project's own PostgreSQL cluster and print its URL.
postgres:
	@bash deployments/local/postgres.sh $(DATA)
