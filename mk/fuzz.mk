# Fuzzing (scripts/fuzz.sh): the Go fuzz targets of the event decoder, the
# API's bodies and query strings, the settings and the reply reader. Their
# seed corpora (f.Add and testdata/fuzz/) run as ordinary tests in make test;
# this target searches for new failing inputs.

.PHONY: fuzz
fuzz: ## run every fuzz target in turn for FUZZTIME each (default 60s; or a count: 1000000x), FUZZ=regexp picks targets; prints executions per target; a failing input lands in testdata/fuzz/ and fails the run (after the other targets)
	FUZZTIME=$(or $(FUZZTIME),60s) FUZZ='$(or $(FUZZ),.)' GO=$(GO) scripts/fuzz.sh
