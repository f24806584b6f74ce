#!/usr/bin/env bash
# Builds every function image with ko, loads them into the kind cluster, and
# applies the kustomization with the ko:// references resolved; then waits
# until Kafka, the migration, the Knative Services and the eventing wiring are
# ready.
set -euo pipefail
cd "$(dirname "$0")/../.."
source k8s/scripts/lib.sh

TIMEOUT=${TIMEOUT:-10m}
need ko kubectl kind docker
cluster_exists || die "no kind cluster ${CLUSTER}: run make kind-up first"

# ko loads the images straight into the kind node (no registry needed).
export KO_DOCKER_REPO=${KO_DOCKER_REPO:-kind.local}
export KIND_CLUSTER_NAME=$CLUSTER
platform=linux/$(docker version --format '{{.Server.Arch}}')

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

log "render k8s/base"
kubectl kustomize k8s/base >"$work/base.yaml"

log "build the functions with ko (${platform}) into ${KO_DOCKER_REPO}"
ko resolve --base-import-paths --platform="$platform" -f "$work/base.yaml" >"$work/resolved.yaml"
grep -o 'image: .*' "$work/resolved.yaml" | sort -u

# The API accepts only bearer tokens of the Secret matching-api-tokens; the
# base leaves it out (no token belongs in the repository), so the first deploy
# makes one with a random token. Without it the API would be open.
if ! k -n "$NAMESPACE" get secret matching-api-tokens -o name >/dev/null 2>&1; then
  log "create Secret matching-api-tokens with a random token named kind"
  printf 'kind:%s' "$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" |
    k -n "$NAMESPACE" create secret generic matching-api-tokens --from-file=API_TOKENS=/dev/stdin
fi

log "apply to namespace ${NAMESPACE}"
# A Job's pod template cannot change: drop the previous migration run so the
# new image migrates (applying the migrations again is a no-op).
k -n "$NAMESPACE" delete job migrate --ignore-not-found --wait=true 2>/dev/null || true
k apply -f "$work/resolved.yaml"

log "wait for PostgreSQL and Kafka"
k -n "$NAMESPACE" rollout status statefulset/postgres --timeout="$TIMEOUT"
k -n "$NAMESPACE" wait kafka/kafka --for=condition=Ready --timeout="$TIMEOUT"
k -n "$NAMESPACE" wait kafkatopic --all --for=condition=Ready --timeout="$TIMEOUT"

log "wait for the migration"
k -n "$NAMESPACE" wait job/migrate --for=condition=Complete --timeout="$TIMEOUT"
k -n "$NAMESPACE" logs job/migrate

log "wait for the Knative Services and the eventing wiring"
k -n "$NAMESPACE" wait ksvc --all --for=condition=Ready --timeout="$TIMEOUT"
for kind in kafkasink broker kafkasource trigger sinkbinding pingsource; do
  k -n "$NAMESPACE" wait "$kind" --all --for=condition=Ready --timeout="$TIMEOUT"
done

k -n "$NAMESPACE" get ksvc
cat <<MSG

matching is deployed. The API, through Kourier on 127.0.0.1:8080, with the token
of the Secret matching-api-tokens (after "kind:"):
  token=\$(kubectl -n ${NAMESPACE} get secret matching-api-tokens -o jsonpath='{.data.API_TOKENS}' | base64 -d | cut -d: -f2)
  curl -H 'Host: anfrage-api.${NAMESPACE}.127.0.0.1.sslip.io' -H "Authorization: Bearer \$token" http://127.0.0.1:8080/api/platzsuchen
End-to-end check:
  make e2e
MSG
