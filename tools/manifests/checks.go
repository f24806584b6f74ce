package manifests

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	kafkasinkv1alpha1 "knative.dev/eventing-kafka-broker/control-plane/pkg/apis/eventing/v1alpha1"
	kafkasourcev1 "knative.dev/eventing-kafka-broker/control-plane/pkg/apis/sources/v1"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
)

// Check is one cross-check over the whole build.
type Check struct {
	Name string
	Run  func(s *Set, r *Repo) []error
}

// Checks are every cross-check, in the order they are reported.
var Checks = []Check{
	{"ko images are function mains", checkImages},
	{"references resolve", checkReferences},
	{"envelope triggers match their KafkaSources", checkEnvelopeTriggers},
	{"trigger types are event types the code knows", checkTriggerTypes},
	{"KafkaSources read the seed's topics with its consumer groups", checkKafkaSources},
	{"Kafka addresses and topics belong to the Strimzi cluster", checkKafkaWiring},
	{"env vars are ones the functions read", checkEnv},
	{"credentials come only through secretKeyRef", checkCredentials},
	{"schedules parse and jobs are bounded", checkSchedules},
	{"pods meet the restricted security profile", checkPodSecurity},
	{"Knative Services probe health and hide event handlers", checkKnativeServices},
}

// Validate builds nothing: it decodes a rendered YAML stream, validates every
// object and runs every check, returning all problems found.
func Validate(ctx context.Context, stream []byte, repo *Repo, crds *CRDSchemas) []error {
	objs, errs := DecodeAll(ctx, stream, crds)
	s := NewSet(objs)
	for _, c := range Checks {
		errs = append(errs, c.Run(s, repo)...)
	}
	return errs
}

// Set is the decoded build, indexed for the checks.
type Set struct {
	Objects []Object
	byKey   map[objKey]Object
}

type objKey struct {
	Group, Kind, Namespace, Name string
}

// NewSet indexes objects by group, kind, namespace and name.
func NewSet(objs []Object) *Set {
	s := &Set{Objects: objs, byKey: map[objKey]Object{}}
	for _, o := range objs {
		s.byKey[objKey{o.GVK.Group, o.GVK.Kind, o.Namespace, o.Name}] = o
	}
	return s
}

func (s *Set) get(group, kind, namespace, name string) (Object, bool) {
	o, ok := s.byKey[objKey{group, kind, namespace, name}]
	return o, ok
}

// typed returns the objects whose Go value is a T.
func typed[T any](s *Set) []T {
	var out []T
	for _, o := range s.Objects {
		if t, ok := o.Typed.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

func ofKind(s *Set, group, kind string) []Object {
	var out []Object
	for _, o := range s.Objects {
		if o.GVK.Group == group && o.GVK.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// workload is a pod template in the build, with where it lives.
type workload struct {
	owner string
	ns    string
	spec  *corev1.PodSpec
	ksvc  *servingv1.Service
}

func workloads(s *Set) []workload {
	var out []workload
	for _, o := range s.Objects {
		w := workload{owner: o.String(), ns: o.Namespace}
		switch t := o.Typed.(type) {
		case *corev1.Pod:
			w.spec = &t.Spec
		case *appsv1.StatefulSet:
			w.spec = &t.Spec.Template.Spec
		case *appsv1.Deployment:
			w.spec = &t.Spec.Template.Spec
		case *batchv1.Job:
			w.spec = &t.Spec.Template.Spec
		case *batchv1.CronJob:
			w.spec = &t.Spec.JobTemplate.Spec.Template.Spec
		case *servingv1.Service:
			w.spec = &t.Spec.Template.Spec.PodSpec
			w.ksvc = t
		default:
			continue
		}
		out = append(out, w)
	}
	return out
}

func containers(spec *corev1.PodSpec) []corev1.Container {
	return append(slices.Clone(spec.InitContainers), spec.Containers...)
}

const koPrefix = "ko://"

// checkImages: a ko:// image must name a package main under functions/ of
// this module; any other image must be pinned by tag or digest.
func checkImages(s *Set, r *Repo) []error {
	var errs []error
	for _, w := range workloads(s) {
		for _, c := range containers(w.spec) {
			switch {
			case c.Image == "":
				errs = append(errs, fmt.Errorf("%s container %q: no image", w.owner, c.Name))
			case strings.HasPrefix(c.Image, koPrefix):
				path := strings.TrimPrefix(c.Image, koPrefix)
				if !strings.HasPrefix(path, r.Module+"/functions/") {
					errs = append(errs, fmt.Errorf("%s container %q: %s is not under %s/functions/", w.owner, c.Name, c.Image, r.Module))
				} else if !r.Mains[path] {
					errs = append(errs, fmt.Errorf("%s container %q: %s is not a package main in this repository", w.owner, c.Name, c.Image))
				}
			default:
				name := c.Image[strings.LastIndex(c.Image, "/")+1:]
				if !strings.Contains(name, "@sha256:") && (!strings.Contains(name, ":") || strings.HasSuffix(name, ":latest")) {
					errs = append(errs, fmt.Errorf("%s container %q: image %s is not pinned to a version", w.owner, c.Name, c.Image))
				}
			}
		}
	}
	return errs
}

// resolve reports whether a Knative reference names an object of the build.
func (s *Set) resolve(ref *duckv1.KReference, fromNS string) bool {
	if ref == nil {
		return false
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return false
	}
	ns := ref.Namespace
	if ns == "" {
		ns = fromNS
	}
	_, ok := s.get(gv.Group, ref.Kind, ns, ref.Name)
	return ok
}

func (s *Set) checkDestination(owner, field string, d *duckv1.Destination, ns string) error {
	if d == nil {
		return nil
	}
	if d.Ref == nil {
		if d.URI == nil {
			return fmt.Errorf("%s %s: neither ref nor uri", owner, field)
		}
		return nil
	}
	if !s.resolve(d.Ref, ns) {
		return fmt.Errorf("%s %s: %s %s/%s is not in the build", owner, field, d.Ref.Kind, d.Ref.APIVersion, d.Ref.Name)
	}
	return nil
}

func (s *Set) checkDelivery(owner string, d *eventingduckv1.DeliverySpec, ns string) error {
	if d == nil {
		return nil
	}
	return s.checkDestination(owner, "delivery.deadLetterSink", d.DeadLetterSink, ns)
}

// checkReferences: every Trigger's broker and subscriber, every sink and
// dead-letter sink, every SinkBinding subject, the Broker's config and every
// Secret/ConfigMap a pod reads exist in the build (optional ones excepted).
func checkReferences(s *Set, _ *Repo) []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, o := range s.Objects {
		switch t := o.Typed.(type) {
		case *eventingv1.Trigger:
			if _, ok := s.get("eventing.knative.dev", "Broker", o.Namespace, t.Spec.Broker); !ok {
				add(fmt.Errorf("%s: broker %q is not in the build", o, t.Spec.Broker))
			}
			add(s.checkDestination(o.String(), "subscriber", &t.Spec.Subscriber, o.Namespace))
			add(s.checkDelivery(o.String(), t.Spec.Delivery, o.Namespace))
		case *eventingv1.Broker:
			if t.Spec.Config != nil {
				ns := t.Spec.Config.Namespace
				if ns == "" {
					ns = o.Namespace
				}
				if _, ok := s.get("", t.Spec.Config.Kind, ns, t.Spec.Config.Name); !ok {
					add(fmt.Errorf("%s: config %s %s/%s is not in the build", o, t.Spec.Config.Kind, ns, t.Spec.Config.Name))
				}
			}
			add(s.checkDelivery(o.String(), t.Spec.Delivery, o.Namespace))
		case *kafkasourcev1.KafkaSource:
			add(s.checkDestination(o.String(), "sink", &t.Spec.Sink, o.Namespace))
			add(s.checkDelivery(o.String(), t.Spec.Delivery, o.Namespace))
		case *sourcesv1.PingSource:
			add(s.checkDestination(o.String(), "sink", &t.Spec.Sink, o.Namespace))
		case *sourcesv1.SinkBinding:
			add(s.checkDestination(o.String(), "sink", &t.Spec.Sink, o.Namespace))
			add(s.checkSubject(o, t))
		}
	}
	for _, w := range workloads(s) {
		for _, c := range containers(w.spec) {
			for _, e := range c.Env {
				if e.ValueFrom == nil {
					continue
				}
				if r := e.ValueFrom.SecretKeyRef; r != nil {
					add(s.checkKey(w, c.Name, e.Name, "Secret", r.Name, r.Key, r.Optional))
				}
				if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
					add(s.checkKey(w, c.Name, e.Name, "ConfigMap", r.Name, r.Key, r.Optional))
				}
			}
			for _, f := range c.EnvFrom {
				if r := f.ConfigMapRef; r != nil && !isTrue(r.Optional) {
					if _, ok := s.get("", "ConfigMap", w.ns, r.Name); !ok {
						add(fmt.Errorf("%s container %q: envFrom ConfigMap %q is not in the build", w.owner, c.Name, r.Name))
					}
				}
				if r := f.SecretRef; r != nil && !isTrue(r.Optional) {
					if _, ok := s.get("", "Secret", w.ns, r.Name); !ok {
						add(fmt.Errorf("%s container %q: envFrom Secret %q is not in the build", w.owner, c.Name, r.Name))
					}
				}
			}
		}
	}
	return errs
}

func isTrue(b *bool) bool { return b != nil && *b }

func (s *Set) checkKey(w workload, container, env, kind, name, key string, optional *bool) error {
	if isTrue(optional) {
		return nil
	}
	o, ok := s.get("", kind, w.ns, name)
	if !ok {
		return fmt.Errorf("%s container %q: %s comes from %s %q, which is not in the build", w.owner, container, env, kind, name)
	}
	if !slices.Contains(dataKeys(o), key) {
		return fmt.Errorf("%s container %q: %s comes from key %q, which %s %q does not have", w.owner, container, env, key, kind, name)
	}
	return nil
}

// dataKeys lists the keys of a ConfigMap or Secret.
func dataKeys(o Object) []string {
	var keys []string
	switch t := o.Typed.(type) {
	case *corev1.ConfigMap:
		for k := range t.Data {
			keys = append(keys, k)
		}
	case *corev1.Secret:
		for k := range t.Data {
			keys = append(keys, k)
		}
		for k := range t.StringData {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// checkSubject: a SinkBinding's subject selects at least one object of the
// build (for Jobs: a CronJob's job template counts), in its own namespace.
func (s *Set) checkSubject(o Object, b *sourcesv1.SinkBinding) error {
	subj := b.Spec.Subject
	if subj.Namespace != "" && subj.Namespace != o.Namespace {
		return fmt.Errorf("%s: subject namespace %q differs from the binding's %q", o, subj.Namespace, o.Namespace)
	}
	gv, err := schema.ParseGroupVersion(subj.APIVersion)
	if err != nil {
		return fmt.Errorf("%s: subject apiVersion: %w", o, err)
	}
	if subj.Selector == nil {
		if _, ok := s.get(gv.Group, subj.Kind, o.Namespace, subj.Name); !ok {
			return fmt.Errorf("%s: subject %s %q is not in the build", o, subj.Kind, subj.Name)
		}
		return nil
	}
	sel, err := metav1.LabelSelectorAsSelector(subj.Selector)
	if err != nil {
		return fmt.Errorf("%s: subject selector: %w", o, err)
	}
	for _, c := range s.Objects {
		if c.Namespace != o.Namespace {
			continue
		}
		if c.GVK.Group == gv.Group && c.GVK.Kind == subj.Kind {
			if m, ok := c.Typed.(metav1.Object); ok && sel.Matches(labels.Set(m.GetLabels())) {
				return nil
			}
		}
		if gv.Group == "batch" && subj.Kind == "Job" {
			if cj, ok := c.Typed.(*batchv1.CronJob); ok && sel.Matches(labels.Set(cj.Spec.JobTemplate.Labels)) {
				return nil
			}
		}
	}
	return fmt.Errorf("%s: subject selector %s matches no %s in the build", o, sel, subj.Kind)
}

// kafkaEventType is the type KafkaSource gives records that are not CloudEvents.
const kafkaEventType = "dev.knative.kafka.event"

// kafkaSourceEventSource is the CloudEvents source KafkaSource gives records
// that are not CloudEvents (eventing-kafka-broker's InvalidCloudEventInterceptor).
func kafkaSourceEventSource(namespace, name, topic string) string {
	return fmt.Sprintf("/apis/v1/namespaces/%s/kafkasources/%s#%s", namespace, name, topic)
}

// exactFilters returns the attribute=value pairs a Trigger requires of every
// event (top-level exact filters, or the legacy attribute filter).
func exactFilters(t *eventingv1.Trigger) map[string]string {
	out := map[string]string{}
	if len(t.Spec.Filters) > 0 {
		for _, f := range t.Spec.Filters {
			for k, v := range f.Exact {
				out[k] = v
			}
		}
		return out
	}
	if t.Spec.Filter != nil {
		for k, v := range t.Spec.Filter.Attributes {
			out[k] = v
		}
	}
	return out
}

// checkEnvelopeTriggers: a Trigger for wrapped records names, by source, a
// KafkaSource of the build, and every KafkaSource has such a Trigger (or its
// plain-JSON records would reach no handler).
func checkEnvelopeTriggers(s *Set, _ *Repo) []error {
	var errs []error
	sources := map[string]string{} // expected source -> KafkaSource
	for _, o := range ofKind(s, "sources.knative.dev", "KafkaSource") {
		ks := o.Typed.(*kafkasourcev1.KafkaSource)
		for _, topic := range ks.Spec.Topics {
			sources[kafkaSourceEventSource(o.Namespace, o.Name, topic)] = o.String()
		}
	}
	covered := map[string]bool{}
	for _, o := range ofKind(s, "eventing.knative.dev", "Trigger") {
		ex := exactFilters(o.Typed.(*eventingv1.Trigger))
		if ex["type"] != kafkaEventType {
			continue
		}
		src, ok := ex["source"]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: filters type %s without a source: it would take the records of every KafkaSource", o, kafkaEventType))
			continue
		}
		if _, ok := sources[src]; !ok {
			errs = append(errs, fmt.Errorf("%s: source %q is no KafkaSource topic of the build (expected one of %s)", o, src, strings.Join(sortedKeys(sources), ", ")))
			continue
		}
		covered[src] = true
	}
	for _, src := range sortedKeys(sources) {
		if !covered[src] {
			errs = append(errs, fmt.Errorf("%s: no Trigger takes its plain records (type %s, source %s)", sources[src], kafkaEventType, src))
		}
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// filterTypes collects every value an exact "type" filter compares with,
// however deeply nested in any/all/not.
func filterTypes(fs []eventingv1.SubscriptionsAPIFilter) []string {
	var out []string
	for _, f := range fs {
		if v, ok := f.Exact["type"]; ok {
			out = append(out, v)
		}
		out = append(out, filterTypes(f.All)...)
		out = append(out, filterTypes(f.Any)...)
		if f.Not != nil {
			out = append(out, filterTypes([]eventingv1.SubscriptionsAPIFilter{*f.Not})...)
		}
	}
	return out
}

// checkTriggerTypes: every event type a Trigger filters on is one the code
// names (a typo would silently route nothing).
func checkTriggerTypes(s *Set, r *Repo) []error {
	var errs []error
	for _, o := range ofKind(s, "eventing.knative.dev", "Trigger") {
		t := o.Typed.(*eventingv1.Trigger)
		types := filterTypes(t.Spec.Filters)
		if t.Spec.Filter != nil {
			if v, ok := t.Spec.Filter.Attributes["type"]; ok {
				types = append(types, v)
			}
		}
		for _, typ := range types {
			if typ != kafkaEventType && !r.EventTypes[typ] {
				errs = append(errs, fmt.Errorf("%s: event type %q is not named in %s", o, typ, eventsPackage))
			}
		}
	}
	return errs
}

// seedConsumerGroups are the topics matching consumes and the consumer group
// of each (seed document, "Consumer Implementation").
var seedConsumerGroups = map[string]string{
	"patient-events":       "matching-service-patient",
	"therapist-events":     "matching-service-therapist",
	"communication-events": "matching-service-communication",
}

// checkKafkaSources: each consumed topic has a KafkaSource with the seed's
// consumer group, starting from the earliest offset like the reference.
func checkKafkaSources(s *Set, _ *Repo) []error {
	var errs []error
	seen := map[string]bool{}
	for _, o := range ofKind(s, "sources.knative.dev", "KafkaSource") {
		ks := o.Typed.(*kafkasourcev1.KafkaSource)
		for _, topic := range ks.Spec.Topics {
			want, ok := seedConsumerGroups[topic]
			if !ok {
				continue
			}
			seen[topic] = true
			if ks.Spec.ConsumerGroup != want {
				errs = append(errs, fmt.Errorf("%s: topic %s: consumer group %q, the seed's is %q", o, topic, ks.Spec.ConsumerGroup, want))
			}
		}
		if ks.Spec.InitialOffset != "earliest" {
			errs = append(errs, fmt.Errorf("%s: initialOffset %q, want earliest (the reference's auto_offset_reset)", o, ks.Spec.InitialOffset))
		}
	}
	for _, topic := range sortedKeys(seedConsumerGroups) {
		if !seen[topic] {
			errs = append(errs, fmt.Errorf("no KafkaSource reads topic %s", topic))
		}
	}
	return errs
}

// requiredTopics are the topics matching reads and writes, with 3 partitions
// each as the reference created them.
var requiredTopics = []string{"patient-events", "therapist-events", "communication-events", "matching-events", "matching-events-dlq"}

// checkKafkaWiring: every bootstrap server list names the bootstrap Service
// of a Strimzi Kafka of the build on one of its listener ports, and every
// topic a KafkaSource reads or a KafkaSink writes is a KafkaTopic of it.
func checkKafkaWiring(s *Set, _ *Repo) []error {
	var errs []error
	addrs := map[string]string{} // bootstrap address -> Kafka name
	for _, o := range ofKind(s, "kafka.strimzi.io", "Kafka") {
		listeners, _ := dig(o.Unstructured, "spec", "kafka", "listeners").([]any)
		for _, l := range listeners {
			port, _ := dig(l, "port").(int64)
			for _, host := range []string{
				fmt.Sprintf("%s-kafka-bootstrap", o.Name),
				fmt.Sprintf("%s-kafka-bootstrap.%s", o.Name, o.Namespace),
				fmt.Sprintf("%s-kafka-bootstrap.%s.svc", o.Name, o.Namespace),
				fmt.Sprintf("%s-kafka-bootstrap.%s.svc.cluster.local", o.Name, o.Namespace),
			} {
				addrs[fmt.Sprintf("%s:%d", host, port)] = o.Name
			}
		}
	}
	topics := map[string]int64{} // topic name -> partitions
	for _, o := range ofKind(s, "kafka.strimzi.io", "KafkaTopic") {
		name := o.Name
		if tn, ok := dig(o.Unstructured, "spec", "topicName").(string); ok && tn != "" {
			name = tn
		}
		p, _ := dig(o.Unstructured, "spec", "partitions").(int64)
		topics[name] = p
	}
	checkServers := func(owner string, servers []string) {
		if len(servers) == 0 {
			errs = append(errs, fmt.Errorf("%s: no bootstrap servers", owner))
		}
		for _, srv := range servers {
			if _, ok := addrs[strings.TrimSpace(srv)]; !ok {
				errs = append(errs, fmt.Errorf("%s: bootstrap server %q is no listener of a Kafka in the build", owner, srv))
			}
		}
	}
	checkTopic := func(owner, topic string) {
		if _, ok := topics[topic]; !ok {
			errs = append(errs, fmt.Errorf("%s: topic %q is not a KafkaTopic of the build", owner, topic))
		}
	}
	for _, o := range ofKind(s, "sources.knative.dev", "KafkaSource") {
		ks := o.Typed.(*kafkasourcev1.KafkaSource)
		checkServers(o.String(), ks.Spec.BootstrapServers)
		for _, t := range ks.Spec.Topics {
			checkTopic(o.String(), t)
		}
	}
	for _, o := range ofKind(s, "eventing.kafka.knative.dev", "KafkaSink") {
		sink := o.Typed.(*kafkasinkv1alpha1.KafkaSink)
		checkServers(o.String(), sink.Spec.BootstrapServers)
		checkTopic(o.String(), sink.Spec.Topic)
	}
	for _, o := range ofKind(s, "eventing.knative.dev", "Broker") {
		b := o.Typed.(*eventingv1.Broker)
		if b.Annotations["eventing.knative.dev/broker.class"] != "Kafka" || b.Spec.Config == nil {
			continue
		}
		ns := b.Spec.Config.Namespace
		if ns == "" {
			ns = o.Namespace
		}
		if cm, ok := s.get("", "ConfigMap", ns, b.Spec.Config.Name); ok {
			checkServers(cm.String(), strings.Split(cm.Typed.(*corev1.ConfigMap).Data["bootstrap.servers"], ","))
		}
	}
	for _, t := range requiredTopics {
		p, ok := topics[t]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("topic %s: no KafkaTopic in the build", t))
		case p != 3:
			errs = append(errs, fmt.Errorf("topic %s: %d partitions, want 3", t, p))
		}
	}
	return errs
}

// dig walks generic JSON data by map keys.
func dig(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// checkEnv: every variable a function container gets (env, and the keys of
// envFrom ConfigMaps and Secrets) is one the code reads. A variable that only
// feeds another one through $(NAME) (the parts of DATABASE_URL) is allowed.
func checkEnv(s *Set, r *Repo) []error {
	var errs []error
	for _, w := range workloads(s) {
		for _, c := range containers(w.spec) {
			if !strings.HasPrefix(c.Image, koPrefix) {
				continue
			}
			referenced := map[string]bool{}
			for _, e := range c.Env {
				for _, m := range varRef.FindAllStringSubmatch(e.Value, -1) {
					referenced[m[1]] = true
				}
			}
			check := func(name, from string) {
				if _, ok := r.EnvVars[name]; ok || referenced[name] {
					return
				}
				errs = append(errs, fmt.Errorf("%s container %q: %s%s is read by no function (not in config/, functions/ or pkg/)", w.owner, c.Name, name, from))
			}
			for _, e := range c.Env {
				check(e.Name, "")
			}
			for _, f := range c.EnvFrom {
				var o Object
				var ok bool
				switch {
				case f.ConfigMapRef != nil:
					o, ok = s.get("", "ConfigMap", w.ns, f.ConfigMapRef.Name)
				case f.SecretRef != nil:
					o, ok = s.get("", "Secret", w.ns, f.SecretRef.Name)
				}
				if !ok {
					continue
				}
				for _, k := range dataKeys(o) {
					check(f.Prefix+k, fmt.Sprintf(" (from %s)", o))
				}
			}
		}
	}
	return errs
}

var secretName = regexp.MustCompile(`(?i)PASSWORD|PASSWD|TOKEN|SECRET|CREDENTIAL|API_KEY`)

// checkCredentials: secrets reach containers only through secretKeyRef (or
// envFrom of a Secret): no literal value in an env var named like a secret,
// no password written into a URL, no secret-looking key in a ConfigMap.
func checkCredentials(s *Set, _ *Repo) []error {
	var errs []error
	for _, w := range workloads(s) {
		for _, c := range containers(w.spec) {
			fromSecret := map[string]bool{}
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					fromSecret[e.Name] = true
				}
			}
			for _, e := range c.Env {
				if secretName.MatchString(e.Name) && !fromSecret[e.Name] {
					errs = append(errs, fmt.Errorf("%s container %q: %s must come from a secretKeyRef", w.owner, c.Name, e.Name))
				}
				if !strings.Contains(e.Value, "://") {
					continue
				}
				u, err := url.Parse(e.Value)
				if err != nil || u.User == nil {
					continue
				}
				pw, has := u.User.Password()
				if !has {
					continue
				}
				m := varRef.FindStringSubmatch(pw)
				if m == nil || m[0] != pw || !fromSecret[m[1]] {
					errs = append(errs, fmt.Errorf("%s container %q: %s carries a password that is not $(VAR) of a secretKeyRef variable", w.owner, c.Name, e.Name))
				}
			}
		}
	}
	for _, o := range ofKind(s, "", "ConfigMap") {
		for _, k := range dataKeys(o) {
			if secretName.MatchString(k) {
				errs = append(errs, fmt.Errorf("%s: key %s looks like a secret; put it in a Secret", o, k))
			}
		}
	}
	return errs
}

// checkSchedules: CronJob schedules parse as standard cron and their time
// zones load; CronJobs never overlap, start late only within a deadline and
// give up after a few tries and a bounded time; Jobs are bounded as well.
func checkSchedules(s *Set, _ *Repo) []error {
	var errs []error
	bounded := func(owner string, spec batchv1.JobSpec) {
		if spec.BackoffLimit == nil || *spec.BackoffLimit > 6 {
			errs = append(errs, fmt.Errorf("%s: set a small backoffLimit (at most 6)", owner))
		}
		if spec.ActiveDeadlineSeconds == nil {
			errs = append(errs, fmt.Errorf("%s: set activeDeadlineSeconds", owner))
		}
	}
	for _, o := range s.Objects {
		switch t := o.Typed.(type) {
		case *batchv1.CronJob:
			if _, err := cron.ParseStandard(t.Spec.Schedule); err != nil {
				errs = append(errs, fmt.Errorf("%s: schedule %q: %w", o, t.Spec.Schedule, err))
			}
			if t.Spec.TimeZone == nil {
				errs = append(errs, fmt.Errorf("%s: set timeZone (the schedule is otherwise the controller's local time)", o))
			} else if _, err := time.LoadLocation(*t.Spec.TimeZone); err != nil {
				errs = append(errs, fmt.Errorf("%s: timeZone %q: %w", o, *t.Spec.TimeZone, err))
			}
			if t.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
				errs = append(errs, fmt.Errorf("%s: concurrencyPolicy %q, want Forbid", o, t.Spec.ConcurrencyPolicy))
			}
			if t.Spec.StartingDeadlineSeconds == nil {
				errs = append(errs, fmt.Errorf("%s: set startingDeadlineSeconds", o))
			}
			bounded(o.String(), t.Spec.JobTemplate.Spec)
		case *batchv1.Job:
			bounded(o.String(), t.Spec)
		case *sourcesv1.PingSource:
			if _, err := cron.ParseStandard(t.Spec.Schedule); err != nil {
				errs = append(errs, fmt.Errorf("%s: schedule %q: %w", o, t.Spec.Schedule, err))
			}
		}
	}
	return errs
}

// checkPodSecurity: every container meets Pod Security "restricted" (non-root,
// no privilege escalation, all capabilities dropped, RuntimeDefault seccomp)
// plus a read-only root filesystem and resource requests and limits; the
// namespaces enforce the restricted profile.
func checkPodSecurity(s *Set, _ *Repo) []error {
	var errs []error
	namespaces := map[string]bool{}
	for _, o := range ofKind(s, "", "Namespace") {
		namespaces[o.Name] = true
		if o.Typed.(*corev1.Namespace).Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
			errs = append(errs, fmt.Errorf("%s: label pod-security.kubernetes.io/enforce=restricted missing", o))
		}
	}
	for _, w := range workloads(s) {
		if !namespaces[w.ns] {
			errs = append(errs, fmt.Errorf("%s: namespace %q is not in the build", w.owner, w.ns))
		}
		p := w.spec
		if p.HostNetwork || p.HostPID || p.HostIPC {
			errs = append(errs, fmt.Errorf("%s: host namespaces are not allowed", w.owner))
		}
		for _, v := range p.Volumes {
			if v.HostPath != nil {
				errs = append(errs, fmt.Errorf("%s: hostPath volume %q is not allowed", w.owner, v.Name))
			}
		}
		psc := p.SecurityContext
		if psc == nil {
			psc = &corev1.PodSecurityContext{}
		}
		for _, c := range containers(p) {
			bad := func(format string, args ...any) {
				errs = append(errs, fmt.Errorf("%s container %q: %s", w.owner, c.Name, fmt.Sprintf(format, args...)))
			}
			sc := c.SecurityContext
			if sc == nil {
				sc = &corev1.SecurityContext{}
			}
			nonRoot := sc.RunAsNonRoot
			if nonRoot == nil {
				nonRoot = psc.RunAsNonRoot
			}
			if !isTrue(nonRoot) {
				bad("runAsNonRoot must be true")
			}
			if (sc.RunAsUser != nil && *sc.RunAsUser == 0) || (sc.RunAsUser == nil && psc.RunAsUser != nil && *psc.RunAsUser == 0) {
				bad("runAsUser must not be 0")
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				bad("allowPrivilegeEscalation must be false")
			}
			if isTrue(sc.Privileged) {
				bad("must not be privileged")
			}
			if !isTrue(sc.ReadOnlyRootFilesystem) {
				bad("readOnlyRootFilesystem must be true")
			}
			if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				bad("capabilities must drop ALL")
			} else {
				for _, a := range sc.Capabilities.Add {
					if a != "NET_BIND_SERVICE" {
						bad("capability %s must not be added", a)
					}
				}
			}
			seccomp := sc.SeccompProfile
			if seccomp == nil {
				seccomp = psc.SeccompProfile
			}
			if seccomp == nil || (seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault && seccomp.Type != corev1.SeccompProfileTypeLocalhost) {
				bad("seccompProfile must be RuntimeDefault (container or pod)")
			}
			for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := c.Resources.Requests[res]; !ok {
					bad("no %s request", res)
				}
				if _, ok := c.Resources.Limits[res]; !ok {
					bad("no %s limit", res)
				}
			}
		}
	}
	return errs
}

// Health paths the runtime serves (product spec §3).
const (
	readinessPath = "/health/readiness"
	livenessPath  = "/health/liveness"
)

// checkKnativeServices: every Knative Service probes the health paths, and a
// Service that only receives events (a Trigger subscriber or a source's sink)
// is cluster-local.
func checkKnativeServices(s *Set, _ *Repo) []error {
	var errs []error
	eventTargets := map[string]bool{}
	mark := func(d *duckv1.Destination, ns string) {
		if d != nil && d.Ref != nil && d.Ref.Kind == "Service" && strings.HasPrefix(d.Ref.APIVersion, "serving.knative.dev/") {
			if d.Ref.Namespace != "" {
				ns = d.Ref.Namespace
			}
			eventTargets[ns+"/"+d.Ref.Name] = true
		}
	}
	for _, o := range s.Objects {
		switch t := o.Typed.(type) {
		case *eventingv1.Trigger:
			mark(&t.Spec.Subscriber, o.Namespace)
		case *sourcesv1.PingSource:
			mark(&t.Spec.Sink, o.Namespace)
		case *kafkasourcev1.KafkaSource:
			mark(&t.Spec.Sink, o.Namespace)
		}
	}
	for _, o := range ofKind(s, "serving.knative.dev", "Service") {
		ksvc := o.Typed.(*servingv1.Service)
		for _, c := range ksvc.Spec.Template.Spec.Containers {
			if !strings.HasPrefix(c.Image, koPrefix) {
				continue
			}
			if path := httpPath(c.ReadinessProbe); path != readinessPath {
				errs = append(errs, fmt.Errorf("%s container %q: readiness probe path %q, want %s", o, c.Name, path, readinessPath))
			}
			if path := httpPath(c.LivenessProbe); path != livenessPath {
				errs = append(errs, fmt.Errorf("%s container %q: liveness probe path %q, want %s", o, c.Name, path, livenessPath))
			}
		}
		if eventTargets[o.Namespace+"/"+o.Name] && ksvc.Labels["networking.knative.dev/visibility"] != "cluster-local" {
			errs = append(errs, fmt.Errorf("%s: receives events only, so label it networking.knative.dev/visibility=cluster-local", o))
		}
	}
	return errs
}

func httpPath(p *corev1.Probe) string {
	if p == nil || p.HTTPGet == nil {
		return ""
	}
	return p.HTTPGet.Path
}
