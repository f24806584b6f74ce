package manifests

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/yaml"
)

// repoRoot is the repository the manifests belong to.
const repoRoot = "../.."

// kustomizationDir is the kustomization under test: k8s/base, or the
// directory K8S_DIR names relative to the repository root (an overlay).
func kustomizationDir() string {
	if dir := os.Getenv("K8S_DIR"); dir != "" {
		return filepath.Join(repoRoot, dir)
	}
	return filepath.Join(repoRoot, "k8s/base")
}

type fixture struct {
	stream         []byte
	objs           []Object
	decodeErrs     []error
	set            *Set
	repo           *Repo
	crds           *CRDSchemas
	strimziVersion string
}

var (
	fixtureOnce sync.Once
	fix         fixture
	fixErr      error
)

// load builds the kustomization, loads the Strimzi schemas and scans the
// repository once for all tests.
func load(t *testing.T) *fixture {
	t.Helper()
	fixtureOnce.Do(func() {
		fix.stream, fixErr = Build(kustomizationDir())
		if fixErr != nil {
			return
		}
		fix.crds, fix.strimziVersion, fixErr = StrimziCRDs()
		if fixErr != nil {
			return
		}
		fix.repo, fixErr = ScanRepo(repoRoot)
		if fixErr != nil {
			return
		}
		fix.objs, fix.decodeErrs = DecodeAll(context.Background(), fix.stream, fix.crds)
		fix.set = NewSet(fix.objs)
	})
	if fixErr != nil {
		t.Fatal(fixErr)
	}
	return &fix
}

func reportAll(t *testing.T, errs []error) {
	t.Helper()
	for _, err := range errs {
		t.Error(err)
	}
}

func TestKustomization_buildsEveryResourceTheDeploymentNeeds(t *testing.T) {
	f := load(t)
	count := map[string]int{}
	for _, o := range f.objs {
		count[o.GVK.Kind]++
	}
	want := map[string]int{
		"Namespace": 1, "StatefulSet": 1, "NetworkPolicy": 8, "Job": 1, "CronJob": 2,
		"Kafka": 1, "KafkaNodePool": 1, "KafkaTopic": 5,
		"Broker": 1, "Trigger": 6, "KafkaSource": 3, "KafkaSink": 2, "SinkBinding": 2, "PingSource": 1,
	}
	for kind, n := range want {
		if count[kind] != n {
			t.Errorf("%s: %d in the build, want %d", kind, count[kind], n)
		}
	}
	var ksvcs []string
	for _, o := range ofKind(f.set, "serving.knative.dev", "Service") {
		ksvcs = append(ksvcs, o.Name)
	}
	sort.Strings(ksvcs)
	if want := []string{"anfrage-api", "communication-events", "outbox-relay", "patient-deleted", "therapist-blocked"}; !reflect.DeepEqual(ksvcs, want) {
		t.Errorf("Knative Services %v, want %v", ksvcs, want)
	}
}

func TestKustomization_rendersLikeKubectlKustomize(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed: skipping the comparison with `kubectl kustomize` (the in-process build above still ran)")
	}
	f := load(t)
	out, err := exec.Command(kubectl, "kustomize", kustomizationDir()).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("kubectl kustomize: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("kubectl kustomize: %v", err)
	}
	if got, want := normalizedDocs(t, out), normalizedDocs(t, f.stream); !reflect.DeepEqual(got, want) {
		t.Errorf("kubectl kustomize renders %d documents that differ from the in-process build's %d", len(got), len(want))
	}
}

// normalizedDocs decodes every document of a stream to generic data, sorted.
func normalizedDocs(t *testing.T, stream []byte) []string {
	t.Helper()
	var out []string
	for _, doc := range splitDocuments(stream) {
		m, err := jsonObject(doc)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := yaml.Marshal(m)
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out
}

func TestEveryManifest_decodesStrictlyAndPassesItsValidation(t *testing.T) {
	f := load(t)
	reportAll(t, f.decodeErrs)
	for _, o := range f.objs {
		if o.Typed == nil && !f.crds.Has(o.GVK) {
			t.Errorf("%s: checked by neither a Go type nor a CRD schema", o)
		}
	}
}

func TestManifests_passEveryCrossCheck(t *testing.T) {
	f := load(t)
	for _, c := range Checks {
		t.Run(c.Name, func(t *testing.T) {
			reportAll(t, c.Run(f.set, f.repo))
		})
	}
}

func TestKindUp_installsTheReleasesTheValidationUses(t *testing.T) {
	f := load(t)
	script, err := readText(filepath.Join(repoRoot, "k8s/scripts/kind-up.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if got := scriptDefault(script, "STRIMZI_VERSION"); got != f.strimziVersion {
		t.Errorf("kind-up installs Strimzi %q, the schemas checked here are Strimzi %s", got, f.strimziVersion)
	}
	gomod, err := readText("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for variable, module := range map[string]string{
		"KNATIVE_SERVING_VERSION":        "knative.dev/serving",
		"KNATIVE_EVENTING_VERSION":       "knative.dev/eventing",
		"KNATIVE_EVENTING_KAFKA_VERSION": "knative.dev/eventing-kafka-broker",
	} {
		release := scriptDefault(script, variable)
		if want := knativeRelease(moduleVersion(gomod, module)); release != want {
			t.Errorf("kind-up %s=%q, but the validation uses %s %s, released as %s", variable, release, module, moduleVersion(gomod, module), want)
		}
	}
}

func TestBrokenManifests_failValidation(t *testing.T) {
	f := load(t)
	tests := map[string]struct {
		kind, name string
		mutate     func(m map[string]any)
		want       string
	}{
		"Knative Service without an image": {
			kind: "Service", name: "patient-deleted",
			mutate: func(m map[string]any) { delete(container(m, "spec", "template"), "image") },
			want:   "missing field(s): spec.template.spec.containers[0].image",
		},
		"Knative Service Prometheus does not scrape": {
			kind: "Service", name: "therapist-blocked",
			mutate: func(m map[string]any) {
				delete(dig(m, "spec", "template", "metadata", "annotations").(map[string]any), "prometheus.io/scrape")
			},
			want: "prometheus.io/scrape=true",
		},
		"Trigger backoffDelay not ISO-8601": {
			kind: "Trigger", name: "patient-deleted-envelopes",
			mutate: func(m map[string]any) { dig(m, "spec", "delivery").(map[string]any)["backoffDelay"] = "5s" },
			want:   "backoffDelay",
		},
		"unknown field in a Knative Service": {
			kind: "Service", name: "anfrage-api",
			mutate: func(m map[string]any) { container(m, "spec", "template")["imagePullPolcy"] = "Always" },
			want:   `unknown field "imagePullPolcy"`,
		},
		"unknown field in a Kubernetes CronJob": {
			kind: "CronJob", name: "follow-up",
			mutate: func(m map[string]any) { dig(m, "spec").(map[string]any)["concurrency"] = "Forbid" },
			want:   `unknown field "concurrency"`,
		},
		"unknown field in a Strimzi KafkaTopic": {
			kind: "KafkaTopic", name: "matching-events",
			mutate: func(m map[string]any) { dig(m, "spec").(map[string]any)["partiton"] = int64(3) },
			want:   `unknown field "spec.partiton"`,
		},
		"wrong type in a Strimzi Kafka": {
			kind: "Kafka", name: "kafka",
			mutate: func(m map[string]any) { dig(m, "spec", "kafka").(map[string]any)["listeners"] = "plain" },
			want:   "spec.kafka.listeners",
		},
		"unknown apiVersion": {
			kind: "PingSource", name: "outbox-relay-tick",
			mutate: func(m map[string]any) { m["apiVersion"] = "sources.knative.dev/v1beta9" },
			want:   "no Go type or CRD schema known",
		},
		"ko:// image that is no function main": {
			kind: "Job", name: "migrate",
			mutate: func(m map[string]any) {
				container(m, "spec", "template")["image"] = "ko://github.com/curavani/matching/pkg/store"
			},
			want: "is not under github.com/curavani/matching/functions/",
		},
		"Trigger to a Service that does not exist": {
			kind: "Trigger", name: "therapist-blocked-by-type",
			mutate: func(m map[string]any) {
				dig(m, "spec", "subscriber", "ref").(map[string]any)["name"] = "therapist-blockd"
			},
			want: "subscriber: Service serving.knative.dev/v1/therapist-blockd is not in the build",
		},
		"envelope Trigger with a source no KafkaSource produces": {
			kind: "Trigger", name: "patient-deleted-envelopes",
			mutate: func(m map[string]any) {
				filters := dig(m, "spec", "filters").([]any)
				filters[1] = map[string]any{"exact": map[string]any{"source": "/apis/v1/namespaces/matching/kafkasources/patient-events#patients"}}
			},
			want: "is no KafkaSource topic of the build",
		},
		"Trigger type nobody emits": {
			kind: "Trigger", name: "patient-deleted-by-type",
			mutate: func(m map[string]any) {
				dig(m, "spec", "filters").([]any)[0].(map[string]any)["any"].([]any)[0] = map[string]any{"exact": map[string]any{"type": "patient.delete"}}
			},
			want: `event type "patient.delete" is not named in pkg/events`,
		},
		"KafkaSource with another consumer group": {
			kind: "KafkaSource", name: "therapist-events",
			mutate: func(m map[string]any) { dig(m, "spec").(map[string]any)["consumerGroup"] = "matching" },
			want:   `consumer group "matching", the seed's is "matching-service-therapist"`,
		},
		"KafkaSink on a port the Kafka does not listen on": {
			kind: "KafkaSink", name: "matching-events",
			mutate: func(m map[string]any) {
				dig(m, "spec").(map[string]any)["bootstrapServers"] = []any{"kafka-kafka-bootstrap.matching.svc:9093"}
			},
			want: "is no listener of a Kafka in the build",
		},
		"env var no function reads": {
			kind: "Service", name: "outbox-relay",
			mutate: func(m map[string]any) {
				c := container(m, "spec", "template")
				c["env"] = append(c["env"].([]any), map[string]any{"name": "RELAY_BATCH", "value": "10"})
			},
			want: "RELAY_BATCH is read by no function",
		},
		"DATABASE_URL written into the pod spec": {
			kind: "CronJob", name: "follow-up",
			mutate: func(m map[string]any) {
				c := container(m, "spec", "jobTemplate", "spec", "template")
				for i, e := range c["env"].([]any) {
					if e.(map[string]any)["name"] == "DATABASE_URL" {
						c["env"].([]any)[i] = map[string]any{"name": "DATABASE_URL", "value": "postgres://matching:hunter2@postgres:5432/matching"}
					}
				}
			},
			want: "DATABASE_URL must come from a secretKeyRef",
		},
		"token as an env literal": {
			kind: "Service", name: "anfrage-api",
			mutate: func(m map[string]any) {
				c := container(m, "spec", "template")
				for i, e := range c["env"].([]any) {
					if e.(map[string]any)["name"] == "API_TOKENS" {
						c["env"].([]any)[i] = map[string]any{"name": "API_TOKENS", "value": "ops:s3cr3t"}
					}
				}
			},
			want: "API_TOKENS must come from a secretKeyRef",
		},
		"function without a NetworkPolicy of its own": {
			kind: "NetworkPolicy", name: "migrate",
			mutate: func(m map[string]any) {
				dig(m, "spec", "podSelector", "matchLabels").(map[string]any)["app.kubernetes.io/name"] = "migration"
			},
			want: "matching/migrate: no NetworkPolicy of its own",
		},
		"namespace without a default-deny ingress": {
			kind: "NetworkPolicy", name: "default-deny-ingress",
			mutate: func(m map[string]any) {
				dig(m, "spec").(map[string]any)["podSelector"] = map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "postgres"}}
			},
			want: "no default-deny ingress NetworkPolicy",
		},
		"event function the gateway cannot reach": {
			kind: "NetworkPolicy", name: "event-functions",
			mutate: func(m map[string]any) {
				rule := dig(m, "spec").(map[string]any)["ingress"].([]any)[0].(map[string]any)
				rule["from"] = rule["from"].([]any)[:1]
			},
			want: "admit nothing from namespace kourier-system",
		},
		"function that cannot reach PostgreSQL": {
			kind: "NetworkPolicy", name: "functions-dns-and-database",
			mutate: func(m map[string]any) {
				spec := dig(m, "spec").(map[string]any)
				spec["egress"] = spec["egress"].([]any)[:1]
			},
			want: "allow no egress to PostgreSQL",
		},
		"function with a writable root filesystem": {
			kind: "Service", name: "outbox-relay",
			mutate: func(m map[string]any) {
				container(m, "spec", "template")["securityContext"].(map[string]any)["readOnlyRootFilesystem"] = false
			},
			want: "readOnlyRootFilesystem must be true",
		},
		"CronJob schedule out of range": {
			kind: "CronJob", name: "follow-up",
			mutate: func(m map[string]any) { dig(m, "spec").(map[string]any)["schedule"] = "0 25 * * *" },
			want:   `schedule "0 25 * * *"`,
		},
		"a function main no workload runs": {
			kind: "CronJob", name: "directory-sync",
			mutate: func(m map[string]any) {
				container(m, "spec", "jobTemplate", "spec", "template")["image"] = "ko://github.com/curavani/matching/functions/follow-up"
			},
			want: "functions/directory-sync is run by no workload",
		},
		"CronJob without a time zone": {
			kind: "CronJob", name: "follow-up",
			mutate: func(m map[string]any) { delete(dig(m, "spec").(map[string]any), "timeZone") },
			want:   "set timeZone",
		},
		"container allowed to escalate privileges": {
			kind: "StatefulSet", name: "postgres",
			mutate: func(m map[string]any) {
				container(m, "spec", "template")["securityContext"].(map[string]any)["allowPrivilegeEscalation"] = true
			},
			want: "allowPrivilegeEscalation must be false",
		},
		"event handler reachable from outside the cluster": {
			kind: "Service", name: "communication-events",
			mutate: func(m map[string]any) {
				delete(dig(m, "metadata", "labels").(map[string]any), "networking.knative.dev/visibility")
			},
			want: "networking.knative.dev/visibility=cluster-local",
		},
		"liveness probe on another path": {
			kind: "Service", name: "anfrage-api",
			mutate: func(m map[string]any) {
				container(m, "spec", "template")["livenessProbe"].(map[string]any)["httpGet"].(map[string]any)["path"] = "/health"
			},
			want: `liveness probe path "/health"`,
		},
		"Secret the functions need is missing": {
			kind: "Secret", name: "postgres-credentials",
			mutate: func(m map[string]any) { m["metadata"].(map[string]any)["name"] = "postgres" },
			want:   `Secret "postgres-credentials", which is not in the build`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			stream := mutateDocument(t, f.stream, tc.kind, tc.name, tc.mutate)
			errs := Validate(context.Background(), stream, f.repo, f.crds)
			if len(errs) == 0 {
				t.Fatalf("validation passed, want an error containing %q", tc.want)
			}
			for _, err := range errs {
				if strings.Contains(err.Error(), tc.want) {
					return
				}
			}
			t.Errorf("no error contains %q; got:\n%s", tc.want, errors.Join(errs...))
		})
	}
}

func TestUnbrokenBuild_passesValidationAsAWhole(t *testing.T) {
	f := load(t)
	reportAll(t, Validate(context.Background(), f.stream, f.repo, f.crds))
}

// mutateDocument applies mutate to the document of the given kind and name
// and returns the stream with that document re-encoded.
func mutateDocument(t *testing.T, stream []byte, kind, name string, mutate func(map[string]any)) []byte {
	t.Helper()
	var out [][]byte
	found := false
	for _, doc := range splitDocuments(stream) {
		m, err := jsonObject(doc)
		if err != nil {
			t.Fatal(err)
		}
		if m["kind"] == kind && dig(m, "metadata", "name") == name {
			mutate(m)
			if doc, err = yaml.Marshal(m); err != nil {
				t.Fatal(err)
			}
			found = true
		}
		out = append(out, doc)
	}
	if !found {
		t.Fatalf("no %s %s in the build", kind, name)
	}
	return bytes.Join(out, []byte("---\n"))
}

// container returns the first container of the pod template at path.
func container(m map[string]any, path ...string) map[string]any {
	spec := dig(m, append(path, "spec")...).(map[string]any)
	return spec["containers"].([]any)[0].(map[string]any)
}
