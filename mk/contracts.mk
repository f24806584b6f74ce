# The contracts other teams build against (contracts/, k8s/base/dashboards):
# make test keeps them true; this target also runs the dashboard against a
# real Prometheus.

.PHONY: dashboard-check
dashboard-check: ## run the README's story on the make run stack, scrape it with a real Prometheus (Debian's package, installed when missing) and fail on a dashboard query that returns nothing
	scripts/dashboard-check.sh
