#!/usr/bin/env bash
# make dashboard-check: evaluates every query of the Grafana dashboard
# (k8s/base/dashboards/matching.json) with a real Prometheus scraping the
# make run stack after the README's story, and fails on a query that returns
# nothing. Prometheus is Debian's package (installed here when missing and we
# are root). Not part of make test: it needs apt and takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."

prom=${PROMETHEUS:-$(command -v prometheus || true)}
if [[ -z "$prom" ]]; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "dashboard-check: installing Prometheus (Debian package)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    prom=/usr/bin/prometheus
  else
    echo "dashboard-check: no prometheus binary; install Debian's prometheus package or set PROMETHEUS" >&2
    exit 1
  fi
fi

DASHBOARD_CHECK_PROMETHEUS="$prom" exec scripts/with-postgres.sh \
  go test -count=1 -timeout 10m -run '^TestDashboardCheck$' -v ./pkg/devstack/
