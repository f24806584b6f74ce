#!/usr/bin/env bash
# Deletes the kind cluster and everything in it.
set -euo pipefail
cd "$(dirname "$0")/../.."
source k8s/scripts/lib.sh
need kind
if cluster_exists; then
  kind delete cluster --name "$CLUSTER"
else
  echo "no kind cluster ${CLUSTER}"
fi
