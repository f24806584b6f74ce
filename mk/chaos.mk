# The fault campaign (pkg/campaign, cmd/matching-campaign): a short run is
# part of make test (TestCampaign_short); this is the long one.

.PHONY: chaos
chaos: ## the fault campaign: events over Kafka and HTTP and API traffic while PostgreSQL, the broker, functions, the sink and the neighbours fail; prints the invariants (DURATION=10m EVENTS=100000 SINK_HOLD=1m)
	@mkdir -p bin && $(GO) build -o bin/matching-campaign ./cmd/matching-campaign && \
	  bin/matching-campaign -duration $(or $(DURATION),10m) -events $(or $(EVENTS),100000) -sink-hold $(or $(SINK_HOLD),1m) $(ARGS)
