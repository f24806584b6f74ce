# matching — make help lists the targets.
SHELL := /bin/bash
GO    ?= go
PKGS  ?= ./...

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-20s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST) | sort -u

.PHONY: build
build: ## compile every function into bin/
	@mkdir -p bin
	@for f in functions/*/; do n=$$(basename $$f); \
	  $(GO) build -trimpath -ldflags='-s -w' -o bin/$$n ./functions/$$n || exit 1; done
	@ls -1 bin

.PHONY: test
test: ## run every test: gofmt, go vet, unit and integration tests (PostgreSQL found or started), manifest validation
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^tools/manifests/' ) 2>/dev/null); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	scripts/with-postgres.sh $(GO) test -count=1 -timeout 12m $(PKGS)
	@if [ -f tools/manifests/go.mod ]; then $(MAKE) --no-print-directory validate-manifests; fi

.PHONY: bench
bench: ## run the benchmarks (BENCH=regexp, default all) and print them for benchstat
	scripts/with-postgres.sh $(GO) test -run '^$$' -bench '$(or $(BENCH),.)' -benchmem -count=$(or $(COUNT),1) $(PKGS)

.PHONY: fmt
fmt: ## gofmt every Go file
	gofmt -w $$(git ls-files '*.go')

-include mk/*.mk
