#!/usr/bin/env bash
# End-to-end check on a kind cluster prepared by `make kind-up deploy`:
#
#   1. seeds two active searches (Platzsuche) with psql in the PostgreSQL pod;
#   2. starts a console consumer on matching-events (from the beginning);
#   3. publishes two patient.deleted records to patient-events with a one-shot
#      producer pod (the broker's own Strimzi Kafka image): one reference
#      envelope as plain JSON (the reference services' shape; KafkaSource wraps
#      it as dev.knative.kafka.event, Trigger patient-deleted-envelopes routes
#      it) and one CloudEvent in Kafka binary mode (ce_* headers; Trigger
#      patient-deleted-by-type routes it);
#   4. waits for search.status_changed of each search on matching-events;
#   5. checks that both searches are abgebrochen in the database.
#
# It exits non-zero, with the pods' logs, when any step fails or times out.
set -euo pipefail
cd "$(dirname "$0")/../.."
source k8s/scripts/lib.sh

TIMEOUT_SECONDS=${TIMEOUT_SECONDS:-300}
need kubectl kind
cluster_exists || die "no kind cluster ${CLUSTER}: run make kind-up deploy first"

bootstrap=kafka-kafka-bootstrap:9092
run_id=$(date +%s)
consumer=e2e-consumer-${run_id}
producer=e2e-producer-${run_id}

cleanup() { k -n "$NAMESPACE" delete pod "$consumer" "$producer" --ignore-not-found --wait=false >/dev/null 2>&1 || true; }
trap cleanup EXIT

log "preconditions"
k -n "$NAMESPACE" wait ksvc/patient-deleted --for=condition=Ready --timeout=60s
k -n "$NAMESPACE" wait trigger/patient-deleted-envelopes trigger/patient-deleted-by-type \
  kafkasource/patient-events kafkasink/matching-events --for=condition=Ready --timeout=60s
# The Kafka tools come from the broker's image, which the node already has.
kafka_image=$(k -n "$NAMESPACE" get pods -l strimzi.io/cluster=kafka,strimzi.io/kind=Kafka \
  -o jsonpath='{.items[0].spec.containers[0].image}')
[[ -n $kafka_image ]] || die "no Kafka broker pod in namespace ${NAMESPACE}"

# psql runs SQL in the PostgreSQL pod as the application user.
psql() {
  # shellcheck disable=SC2016 # the variables expand in the pod
  k -n "$NAMESPACE" exec -i postgres-0 -- sh -c \
    'psql -v ON_ERROR_STOP=1 -qtA -U "$POSTGRES_USER" -d "$POSTGRES_DB"' <<<"$1"
}

log "1. seed two active searches"
patient_a=$((900000 + RANDOM))
patient_b=$((patient_a + 1))
search_a=$(psql "INSERT INTO matching_service.platzsuche (patient_id) VALUES (${patient_a}) RETURNING id;")
search_b=$(psql "INSERT INTO matching_service.platzsuche (patient_id) VALUES (${patient_b}) RETURNING id;")
echo "patient ${patient_a}: search ${search_a}; patient ${patient_b}: search ${search_b}"

# kafka_pod NAME SCRIPT [ENV=VALUE...] starts a one-shot pod with the Kafka
# tools that meets the namespace's restricted pod security. The script and the
# values travel as environment variables in YAML block scalars, so no quoting
# can break them; Kubernetes expands $(SCRIPT) in the command.
kafka_pod() {
  local name=$1
  shift
  local env="" kv
  for kv in "SCRIPT=$1" "${@:2}"; do
    env+="        - name: ${kv%%=*}"$'\n'"          value: |-"$'\n'
    env+="$(printf '%s\n' "${kv#*=}" | sed 's/^/            /')"$'\n'
  done
  k apply -f - <<POD
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${NAMESPACE}
  labels: {app.kubernetes.io/name: e2e}
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  securityContext:
    runAsNonRoot: true
    runAsUser: 1001
    seccompProfile: {type: RuntimeDefault}
  containers:
    - name: kafka
      image: ${kafka_image}
      command: ["/bin/bash", "-c", "\$(SCRIPT)"]
      env:
        - {name: KAFKA_HEAP_OPTS, value: "-Xmx192m"}
        - {name: LOG_DIR, value: /tmp}
${env}      resources:
        requests: {cpu: 100m, memory: 256Mi}
        limits: {cpu: "1", memory: 384Mi}
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities: {drop: ["ALL"]}
      volumeMounts:
        - {name: tmp, mountPath: /tmp}
  volumes:
    - {name: tmp, emptyDir: {}}
POD
}

log "2. consume matching-events"
kafka_pod "$consumer" "bin/kafka-console-consumer.sh --bootstrap-server ${bootstrap} --topic matching-events --from-beginning --property print.headers=true --property print.key=true --timeout-ms $((TIMEOUT_SECONDS * 1000))"
k -n "$NAMESPACE" wait pod/"$consumer" --for=condition=Ready --timeout=120s

log "3. publish patient.deleted to patient-events"
now=$(date -u +%Y-%m-%dT%H:%M:%S)
# A reference envelope (plain JSON, no headers), keyed by the patient id.
envelope="${patient_a}|{\"eventId\":\"e2e-${run_id}-a\",\"eventType\":\"patient.deleted\",\"version\":\"1.0\",\"timestamp\":\"${now}\",\"producer\":\"patient-service\",\"payload\":{\"patient_id\":${patient_a}}}"
# A CloudEvent in Kafka binary mode: attributes as ce_* headers, data as value.
# The console producer reads "headers<TAB>key|value".
headers="ce_specversion:1.0,ce_id:e2e-${run_id}-b,ce_source:patient-service,ce_type:patient.deleted,content-type:application/json"
cloudevent="${headers}"$'\t'"${patient_b}|{\"patient_id\":${patient_b}}"
# The producer's script; its variables expand in the pod.
# shellcheck disable=SC2016
produce='set -e
printf "%s\n" "$ENVELOPE" | bin/kafka-console-producer.sh --bootstrap-server "$BOOTSTRAP" \
  --topic patient-events --property parse.key=true --property key.separator="|"
printf "%s\n" "$CLOUDEVENT" | bin/kafka-console-producer.sh --bootstrap-server "$BOOTSTRAP" \
  --topic patient-events --property parse.headers=true --property parse.key=true --property key.separator="|"'
kafka_pod "$producer" "$produce" "BOOTSTRAP=${bootstrap}" "ENVELOPE=${envelope}" "CLOUDEVENT=${cloudevent}"
if ! k -n "$NAMESPACE" wait pod/"$producer" --for=jsonpath='{.status.phase}'=Succeeded --timeout=180s; then
  k -n "$NAMESPACE" logs "$producer" || true
  die "the producer pod did not succeed"
fi

log "4. wait for search.status_changed of searches ${search_a} and ${search_b}"
deadline=$((SECONDS + TIMEOUT_SECONDS))
seen_a="" seen_b=""
while [[ -z $seen_a || -z $seen_b ]]; do
  if ((SECONDS > deadline)); then
    echo "--- consumer output:"; k -n "$NAMESPACE" logs "$consumer" | tail -n 20 || true
    echo "--- patient-deleted logs:"; k -n "$NAMESPACE" logs -l serving.knative.dev/service=patient-deleted -c function --tail=30 || true
    die "no search.status_changed for both searches ${search_a} and ${search_b} within ${TIMEOUT_SECONDS}s"
  fi
  out=$(k -n "$NAMESPACE" logs "$consumer" 2>/dev/null | grep 'ce_type:search.status_changed' || true)
  seen_a=$(grep -E "\"search_id\": ?${search_a}[,}]" <<<"$out" || true)
  seen_b=$(grep -E "\"search_id\": ?${search_b}[,}]" <<<"$out" || true)
  [[ -n $seen_a && -n $seen_b ]] || sleep 3
done
printf '%s\n%s\n' "$seen_a" "$seen_b"

log "5. check the database"
status=$(psql "SELECT string_agg(status::text, ',' ORDER BY id) FROM matching_service.platzsuche WHERE id IN (${search_a}, ${search_b});")
[[ $status == "abgebrochen,abgebrochen" ]] || die "searches ${search_a}, ${search_b} have status ${status}, want abgebrochen"
echo "both searches abgebrochen"

log "e2e passed"
