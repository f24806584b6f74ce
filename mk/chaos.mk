# The fault campaign (pkg/campaign, cmd/matching-campaign): a short run is
# part of make test (TestCampaign_short); this is the long one. DURATION and
# EVENTS count only when given on the command line or in the environment
# (mk/load.mk gives DURATION a default of its own).

chaos_arg = $(if $(filter command line environment,$(origin $(1))),$($(1)),$(2))

.PHONY: chaos
chaos: ## the fault campaign: events over Kafka and HTTP and API traffic while PostgreSQL, the broker, functions, the sink and the neighbours fail; prints the invariants (DURATION=10m EVENTS=100000 SINK_HOLD=1m)
	@mkdir -p bin && $(GO) build -o bin/matching-campaign ./cmd/matching-campaign && \
	  bin/matching-campaign -duration $(call chaos_arg,DURATION,10m) -events $(call chaos_arg,EVENTS,100000) \
	    -sink-hold $(call chaos_arg,SINK_HOLD,1m) $(ARGS)
