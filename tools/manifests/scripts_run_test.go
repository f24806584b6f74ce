package manifests

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The kind scripts cannot run here (no Docker). These tests run them against
// stub commands that log every call and answer what the scripts read back, to
// check the order of the steps and the objects the scripts create.

const stubKubectl = `#!/usr/bin/env bash
echo "kubectl $*" >>"$STUB_DIR/calls.log"
args=" $* "
case "$args" in
  *" kustomize "*) exec "$REAL_KUBECTL" "$@" ;;
  *" get pods "*jsonpath*) echo "quay.io/strimzi/kafka:0.46.1-kafka-3.9.0" ;;
  *" get secret matching-api-tokens "*) exit 1 ;;
  *" create secret generic matching-api-tokens "*) cat >"$STUB_DIR/api-tokens" ;;
  *" exec -i postgres-0 "*)
    sql=$(cat)
    echo "SQL $sql" >>"$STUB_DIR/calls.log"
    if [[ $sql == INSERT* ]]; then
      n=$(( $(cat "$STUB_DIR/id" 2>/dev/null || echo 41) + 1 )); echo "$n" >"$STUB_DIR/id"; echo "$n"
    else
      echo "abgebrochen,abgebrochen"
    fi ;;
  *" apply -f - "*|*" apply --server-side --force-conflicts -n strimzi -f - "*)
    n=$(ls "$STUB_DIR"/stdin-*.yaml 2>/dev/null | wc -l); cat >"$STUB_DIR/stdin-$n.yaml" ;;
  *" -o yaml "*) echo "kind: Stub" ;;
  *" logs e2e-consumer-"*) cat "$STUB_DIR/consumer.out" 2>/dev/null ;;
esac
exit 0
`

const stubKind = `#!/usr/bin/env bash
echo "kind $*" >>"$STUB_DIR/calls.log"
if [[ "$*" == "get clusters" ]]; then cat "$STUB_DIR/clusters" 2>/dev/null; fi
exit 0
`

const stubCurl = `#!/usr/bin/env bash
echo "curl $*" >>"$STUB_DIR/calls.log"
printf 'kind: RoleBinding\nsubjects:\n  - namespace: myproject\n---\nresources:\n  limits:\n    memory: 384Mi\n---\nresources:\n  limits:\n    memory: 384Mi\n'
`

const stubKo = `#!/usr/bin/env bash
echo "ko $* KO_DOCKER_REPO=$KO_DOCKER_REPO KIND_CLUSTER_NAME=$KIND_CLUSTER_NAME" >>"$STUB_DIR/calls.log"
while [[ $# -gt 0 ]]; do if [[ $1 == -f ]]; then sed 's|ko://github.com/curavani/matching/functions/|kind.local/|' "$2"; fi; shift; done
`

const stubDocker = `#!/usr/bin/env bash
echo "docker $*" >>"$STUB_DIR/calls.log"
echo amd64
`

// runScript runs k8s/scripts/<name> with the stubs first on PATH, in a fresh
// stub directory, and returns its exit error, its output and that directory.
func runScript(t *testing.T, name string, env ...string) (error, string, string) {
	t.Helper()
	return runScriptIn(t, t.TempDir(), name, env...)
}

// runScriptIn is runScript with a stub directory the test prepared: a file
// "clusters" lists the kind clusters, "consumer.out" is what the e2e
// consumer pod prints.
func runScriptIn(t *testing.T, dir, name string, env ...string) (error, string, string) {
	t.Helper()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed: the scripts render k8s/base with kubectl kustomize")
	}
	for file, body := range map[string]string{"kubectl": stubKubectl, "kind": stubKind, "curl": stubCurl, "ko": stubKo, "docker": stubDocker} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.CommandContext(context.Background(), "bash", filepath.Join(repoRoot, "k8s/scripts", name))
	cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"STUB_DIR="+dir, "REAL_KUBECTL="+kubectl)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return err, string(out), dir
}

func stubCalls(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "calls.log"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// indexOf returns the index of the first call matching re at or after from.
func indexOf(calls []string, from int, re string) int {
	r := regexp.MustCompile(re)
	for i := from; i < len(calls); i++ {
		if r.MatchString(calls[i]) {
			return i
		}
	}
	return -1
}

// inOrder checks that calls matching the patterns occur in this order.
func inOrder(t *testing.T, calls []string, patterns ...string) {
	t.Helper()
	at := 0
	for _, p := range patterns {
		i := indexOf(calls, at, p)
		if i < 0 {
			t.Fatalf("no call matching %q after call %d; calls:\n%s", p, at, strings.Join(calls, "\n"))
		}
		at = i + 1
	}
}

func TestKindUpScript_installsTheReleasesInOrderWithWaits(t *testing.T) {
	err, out, dir := runScript(t, "kind-up.sh")
	if err != nil {
		t.Fatalf("kind-up.sh: %v\n%s", err, out)
	}
	calls := stubCalls(t, dir)
	inOrder(t, calls,
		`^kind create cluster --name matching --config kind-cluster.yaml`,
		`apply -f https://github.com/knative/serving/releases/download/knative-v1\.23\.0/serving-crds\.yaml`,
		`wait --for=condition=Established crd`,
		`apply -f .*/serving-core\.yaml`,
		`apply -f https://github.com/knative-extensions/net-kourier/releases/download/knative-v1\.23\.0/kourier\.yaml`,
		`-n knative-serving wait deployment --all --for=condition=Available`,
		`apply -f https://github.com/knative/eventing/releases/download/knative-v1\.23\.0/eventing-crds\.yaml`,
		`apply -f .*/eventing-core\.yaml`,
		`-n knative-eventing wait deployment --all`,
		`apply -f https://github.com/knative-extensions/eventing-kafka-broker/releases/download/knative-v1\.23\.1/eventing-kafka-controller\.yaml`,
		`-n knative-eventing wait deployment --all`,
		`apply -f .*/eventing-kafka-source\.yaml`,
		`apply -f .*/eventing-kafka-broker\.yaml`,
		`apply -f .*/eventing-kafka-sink\.yaml`,
		`-n knative-eventing wait deployment --all`,
		`apply --server-side --force-conflicts -n strimzi -f -`,
		`-n matching create rolebinding strimzi-cluster-operator --clusterrole=strimzi-cluster-operator-namespaced --serviceaccount=strimzi:strimzi-cluster-operator`,
		`-n matching create rolebinding strimzi-cluster-operator-watched --clusterrole=strimzi-cluster-operator-watched`,
		`-n matching create rolebinding strimzi-cluster-operator-entity-operator-delegation --clusterrole=strimzi-entity-operator`,
		`-n strimzi set env deployment/strimzi-cluster-operator STRIMZI_NAMESPACE=matching STRIMZI_POD_SECURITY_PROVIDER_CLASS=restricted`,
		`-n strimzi rollout status deployment/strimzi-cluster-operator`,
	)
	if indexOf(calls, 0, `^curl .*strimzi-kafka-operator/releases/download/0\.46\.1/strimzi-cluster-operator-0\.46\.1\.yaml`) < 0 {
		t.Error("kind-up did not download Strimzi 0.46.1's install file")
	}
	strimzi, err := os.ReadFile(filepath.Join(dir, "stdin-2.yaml")) // after the two namespaces
	if err != nil {
		t.Fatal(err)
	}
	if s := string(strimzi); strings.Contains(s, "myproject") || strings.Count(s, "memory: 768Mi") != 1 || strings.Count(s, "memory: 384Mi") != 1 {
		t.Errorf("Strimzi's install file not rewritten (namespace strimzi, the first 384Mi limit doubled):\n%s", s)
	}
}

func TestKindUpScript_reusesAnExistingCluster(t *testing.T) {
	err, out, dir := runScriptWithCluster(t, "kind-up.sh", "")
	if err != nil {
		t.Fatalf("kind-up.sh: %v\n%s", err, out)
	}
	if indexOf(stubCalls(t, dir), 0, `^kind create cluster`) >= 0 || !strings.Contains(out, "exists; reusing it") {
		t.Errorf("kind-up.sh created a cluster that exists:\n%s", out)
	}
}

func TestDeployScript_buildsWithKoIntoKindThenAppliesAndWaits(t *testing.T) {
	err, out, dir := runScript(t, "deploy.sh")
	if err == nil || !strings.Contains(out, "no kind cluster matching") {
		t.Fatalf("deploy.sh without a cluster: %v, %q; want it to stop and say so", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "clusters"), []byte("matching\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err, out, dir = runScriptIn(t, dir, "deploy.sh")
	if err != nil {
		t.Fatalf("deploy.sh: %v\n%s", err, out)
	}
	calls := stubCalls(t, dir)
	inOrder(t, calls,
		`^kubectl kustomize k8s/base`,
		`^ko resolve --base-import-paths --platform=linux/amd64 -f .* KO_DOCKER_REPO=kind\.local KIND_CLUSTER_NAME=matching`,
		`-n matching create secret generic matching-api-tokens --from-file=API_TOKENS=/dev/stdin`,
		`-n matching delete job migrate --ignore-not-found`,
		`apply -f .*/resolved\.yaml`,
		`-n matching rollout status statefulset/postgres`,
		`-n matching wait kafka/kafka --for=condition=Ready`,
		`-n matching wait job/migrate --for=condition=Complete`,
		`-n matching wait ksvc --all --for=condition=Ready`,
		`-n matching wait trigger --all --for=condition=Ready`,
	)
	if !strings.Contains(out, "image: kind.local/anfrage-api") {
		t.Errorf("deploy.sh did not print the resolved images:\n%s", out)
	}
	// The API's token is random, named, and never on a command line.
	token, err := os.ReadFile(filepath.Join(dir, "api-tokens"))
	if err != nil || !regexp.MustCompile(`^kind:[0-9a-f]{48}$`).Match(token) {
		t.Errorf("API_TOKENS of the Secret deploy.sh made: %q (%v), want kind: and 48 hex digits", token, err)
	}
	for _, c := range calls {
		if len(token) > 5 && strings.Contains(c, string(token[5:])) {
			t.Errorf("the token is on a command line: %s", c)
		}
	}
}

func TestE2EScript_publishesBothShapesAndChecksEventsAndDatabase(t *testing.T) {
	f := load(t)
	err, out, dir := runScriptWithCluster(t, "e2e.sh",
		`ce_type:search.status_changed,ce_id:x	42	{"search_id":42,"patient_id":900001,"old_status":"aktiv","new_status":"abgebrochen"}`+"\n"+
			`ce_type:search.status_changed,ce_id:y	43	{"search_id":43,"patient_id":900002,"old_status":"aktiv","new_status":"abgebrochen"}`)
	if err != nil {
		t.Fatalf("e2e.sh: %v\n%s", err, out)
	}
	calls := stubCalls(t, dir)
	inOrder(t, calls,
		`wait ksvc/patient-deleted --for=condition=Ready`,
		`^SQL INSERT INTO matching_service.platzsuche`,
		`^SQL INSERT INTO matching_service.platzsuche`,
		`apply -f -`, // consumer
		`wait pod/e2e-consumer-`,
		`apply -f -`, // producer
		`wait pod/e2e-producer-.* --for=jsonpath=\{\.status\.phase\}=Succeeded`,
		`logs e2e-consumer-`,
		`^SQL SELECT string_agg\(status::text`,
	)

	// The two pods decode as Pods and meet the namespace's restricted profile.
	var stream []byte
	for _, name := range []string{"stdin-0.yaml", "stdin-1.yaml"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		stream = append(append(stream, b...), []byte("\n---\n")...)
	}
	pods, errs := DecodeAll(context.Background(), stream, f.crds)
	reportAll(t, errs)
	s := NewSet(append(pods, ofKind(f.set, "", "Namespace")...))
	reportAll(t, checkPodSecurity(s, f.repo))
	env := s.environment("matching", pods[1].Typed.(*corev1.Pod).Spec.Containers[0])
	if !strings.Contains(env["ENVELOPE"], `"eventType":"patient.deleted"`) || !strings.Contains(env["CLOUDEVENT"], "ce_type:patient.deleted,content-type:application/json\t") {
		t.Errorf("producer records: envelope %q, CloudEvent %q", env["ENVELOPE"], env["CLOUDEVENT"])
	}
}

func TestE2EScript_failsWhenTheEventDoesNotArrive(t *testing.T) {
	err, out, _ := runScriptWithCluster(t, "e2e.sh", `ce_type:search.status_changed	42	{"search_id":42}`, "TIMEOUT_SECONDS=1")
	if err == nil || !strings.Contains(out, "no search.status_changed for both searches 42 and 43") {
		t.Fatalf("e2e.sh with only one event: %v\n%s", err, out)
	}
}

// runScriptWithCluster runs a script whose kind cluster exists and whose
// consumer pod prints consumerOut.
func runScriptWithCluster(t *testing.T, name, consumerOut string, env ...string) (error, string, string) {
	t.Helper()
	dir := t.TempDir()
	for file, body := range map[string]string{"clusters": "matching\n", "consumer.out": consumerOut + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return runScriptIn(t, dir, name, env...)
}
