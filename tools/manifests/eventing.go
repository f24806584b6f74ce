package manifests

import (
	"fmt"
	"slices"
	"strings"

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
)

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
