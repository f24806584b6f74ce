#!/usr/bin/env bash
# Creates the kind cluster (kind-cluster.yaml) and installs, in this order and
# each ready before the next: Knative Serving with Kourier, Knative Eventing,
# the Knative Kafka components (controller, KafkaSource, Kafka Broker,
# KafkaSink), and the Strimzi operator watching the matching namespace.
# Safe to run again: every step applies idempotently.
#
# The versions are pinned; tools/manifests checks that the Knative releases
# are the ones whose Go types validate the manifests, and that Strimzi is the
# release whose CRD schemas check the Kafka resources.
set -euo pipefail
cd "$(dirname "$0")/../.."
source k8s/scripts/lib.sh

KNATIVE_SERVING_VERSION=${KNATIVE_SERVING_VERSION:-knative-v1.23.0}
KNATIVE_EVENTING_VERSION=${KNATIVE_EVENTING_VERSION:-knative-v1.23.0}
KNATIVE_EVENTING_KAFKA_VERSION=${KNATIVE_EVENTING_KAFKA_VERSION:-knative-v1.23.1}
KOURIER_VERSION=${KOURIER_VERSION:-knative-v1.23.0}
STRIMZI_VERSION=${STRIMZI_VERSION:-0.46.1}
TIMEOUT=${TIMEOUT:-10m}

need kind docker kubectl curl

serving=https://github.com/knative/serving/releases/download/${KNATIVE_SERVING_VERSION}
kourier=https://github.com/knative-extensions/net-kourier/releases/download/${KOURIER_VERSION}
eventing=https://github.com/knative/eventing/releases/download/${KNATIVE_EVENTING_VERSION}
kafka=https://github.com/knative-extensions/eventing-kafka-broker/releases/download/${KNATIVE_EVENTING_KAFKA_VERSION}
strimzi=https://github.com/strimzi/strimzi-kafka-operator/releases/download/${STRIMZI_VERSION}/strimzi-cluster-operator-${STRIMZI_VERSION}.yaml

# wait_deployments waits until every Deployment of a namespace is available.
wait_deployments() {
  k -n "$1" wait deployment --all --for=condition=Available --timeout="$TIMEOUT"
}

log "kind cluster ${CLUSTER}"
if cluster_exists; then
  echo "exists; reusing it"
else
  kind create cluster --name "$CLUSTER" --config kind-cluster.yaml --wait 180s
fi

log "Knative Serving ${KNATIVE_SERVING_VERSION} with Kourier ${KOURIER_VERSION}"
k apply -f "${serving}/serving-crds.yaml"
k wait --for=condition=Established crd --all --timeout="$TIMEOUT"
k apply -f "${serving}/serving-core.yaml"
k apply -f "${kourier}/kourier.yaml"
k -n knative-serving patch configmap/config-network --type merge \
  -p '{"data":{"ingress-class":"kourier.ingress.networking.knative.dev"}}'
# Routes as <service>.<namespace>.127.0.0.1.sslip.io, reached through the port
# mapping of kind-cluster.yaml.
k -n knative-serving patch configmap/config-domain --type merge \
  -p '{"data":{"127.0.0.1.sslip.io":""}}'
k -n kourier-system patch service/kourier --type merge \
  -p '{"spec":{"type":"NodePort","ports":[{"name":"http2","port":80,"protocol":"TCP","targetPort":8080,"nodePort":31080}]}}'
wait_deployments knative-serving
wait_deployments kourier-system

log "Knative Eventing ${KNATIVE_EVENTING_VERSION}"
k apply -f "${eventing}/eventing-crds.yaml"
k wait --for=condition=Established crd --all --timeout="$TIMEOUT"
k apply -f "${eventing}/eventing-core.yaml"
wait_deployments knative-eventing

log "Knative Kafka ${KNATIVE_EVENTING_KAFKA_VERSION}: controller, KafkaSource, Kafka Broker, KafkaSink"
k apply -f "${kafka}/eventing-kafka-controller.yaml"
k wait --for=condition=Established crd --all --timeout="$TIMEOUT"
wait_deployments knative-eventing
for part in source broker sink; do
  k apply -f "${kafka}/eventing-kafka-${part}.yaml"
done
wait_deployments knative-eventing

log "Strimzi ${STRIMZI_VERSION}, watching namespace ${NAMESPACE}"
for ns in strimzi "$NAMESPACE"; do
  k create namespace "$ns" --dry-run=client -o yaml | k apply -f -
done
# The release file binds its service account in namespace "myproject"; rewrite
# that to "strimzi" (Strimzi's documented install step). The operator's memory
# limit is doubled, as Knative's own Kafka tests do, against OOM kills.
curl -fsSL "$strimzi" \
  | sed -e 's/namespace: .*/namespace: strimzi/' \
  | awk '!doubled && /memory: 384Mi/ { sub(/384Mi/, "768Mi"); doubled = 1 } { print }' \
  | k apply --server-side --force-conflicts -n strimzi -f -
# Let the operator manage Kafka resources in the matching namespace.
for binding in \
  strimzi-cluster-operator:strimzi-cluster-operator-namespaced \
  strimzi-cluster-operator-watched:strimzi-cluster-operator-watched \
  strimzi-cluster-operator-entity-operator-delegation:strimzi-entity-operator; do
  k -n "$NAMESPACE" create rolebinding "${binding%%:*}" --clusterrole="${binding#*:}" \
    --serviceaccount=strimzi:strimzi-cluster-operator --dry-run=client -o yaml | k apply -f -
done
# Watch the matching namespace, and give the Kafka pods the restricted pod
# security settings that namespace enforces.
k -n strimzi set env deployment/strimzi-cluster-operator \
  STRIMZI_NAMESPACE="$NAMESPACE" STRIMZI_POD_SECURITY_PROVIDER_CLASS=restricted
k -n strimzi rollout status deployment/strimzi-cluster-operator --timeout="$TIMEOUT"

log "cluster ready: next, make deploy"
