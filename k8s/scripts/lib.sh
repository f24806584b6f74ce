# Shared settings and helpers of the kind scripts (sourced, not run).
# shellcheck shell=bash

CLUSTER=${KIND_CLUSTER_NAME:-matching}
NAMESPACE=${NAMESPACE:-matching}
CONTEXT="kind-${CLUSTER}"

log() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# need checks that every named command is installed.
need() {
  local missing=()
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
  ((${#missing[@]} == 0)) || die "missing tools: ${missing[*]} (see k8s/README.md, Prerequisites)"
}

# k runs kubectl against the kind cluster, whatever the current context is.
k() { kubectl --context "$CONTEXT" "$@"; }

# cluster_exists reports whether the kind cluster is there.
cluster_exists() { kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; }
