# Benchmarks that run longer than make test allows.

# bench-catchup: N patient.deleted records wait in the embedded broker, then
# the patient-deleted function starts in Kafka-direct mode; it prints, for
# each batch size of BATCHES (default: KAFKA_BATCH_SIZE's default and 1),
# events/s until every search is cancelled and N events are on
# matching-events, CPU per event (this process: function and broker; the
# function's PostgreSQL backends), WAL per event and peak RSS. -v because
# go test shows a passing package's output only with it; the function's own
# log is formatted and discarded.
.PHONY: bench-catchup
bench-catchup: ## catch-up of a Kafka backlog: N patient.deleted records (default 100000), BATCHES=250,1 batch sizes compared in one run
	@uptime
	@set -o pipefail; CATCHUP_N=$(or $(N),100000) CATCHUP_BATCHES=$(BATCHES) scripts/with-postgres.sh $(GO) test -count=1 \
	  -timeout 120m -v -run '^TestCatchUp_' ./pkg/handlers/ | grep --line-buffered -E '^(batch=|ratio|--- |FAIL|ok)'
	@uptime
