# The HTTP (Knative) path under concurrent senders: group commit on and off
# against the bare transaction of one event (pkg/handlers,
# BenchmarkPatientDeletedGroupCommit). N events per side and sender count
# (default 2000), COUNT runs for benchstat; GROUP_COMMIT_BENCH_MAX and
# GROUP_COMMIT_BENCH_LANES set the measured side's HTTP_GROUP_COMMIT_MAX and
# HTTP_GROUP_COMMIT_LANES.
.PHONY: bench-http
bench-http: ## patient.deleted over HTTP with publication, group commit on and off vs the bare SQL transaction, at 1 and 8 senders: rates, ratio, p50/p99, CPU/event (N=2000, COUNT=1)
	scripts/with-postgres.sh $(GO) test -run '^$$' -bench 'PatientDeletedGroupCommit' -benchtime $(or $(N),2000)x -count=$(or $(COUNT),1) ./pkg/handlers
