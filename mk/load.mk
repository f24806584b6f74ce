# Load: the anfrage API of the whole local stack under many concurrent clients (cmd/matching-load, pkg/loadtest).
# A short version runs inside make test (pkg/loadtest).
CLIENTS  ?= 200
DURATION ?= 60s
SLOW     ?= 2s

.PHONY: load
load: ## drive the API (auth on) with CLIENTS (200) clients for DURATION (60s), mixed reads and writes, then again with the communication service answering in SLOW (2s; 0 skips); prints p50/p99 per endpoint, DB connections, memory; exit 1 on any error
	@mkdir -p bin && $(GO) build -o bin/matching-load ./cmd/matching-load && \
	  bin/matching-load -clients $(CLIENTS) -duration $(DURATION) -slow $(SLOW)
