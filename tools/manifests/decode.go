package manifests

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/yaml"

	kafkasinkv1alpha1 "knative.dev/eventing-kafka-broker/control-plane/pkg/apis/eventing/v1alpha1"
	kafkasourcev1 "knative.dev/eventing-kafka-broker/control-plane/pkg/apis/sources/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
)

// Object is one manifest of the build: its identity, its YAML, and the Go
// value it decoded into (nil for resources checked against a CRD schema).
type Object struct {
	GVK       schema.GroupVersionKind
	Name      string
	Namespace string
	YAML      []byte
	Typed     any
	// Unstructured is the document as generic JSON-like data.
	Unstructured map[string]any
}

// String names the object the way error messages do.
func (o Object) String() string {
	kind := o.GVK.Kind
	if o.GVK.Group != "" {
		kind += "." + o.GVK.Group
	}
	if o.Namespace != "" {
		return fmt.Sprintf("%s %s/%s", kind, o.Namespace, o.Name)
	}
	return fmt.Sprintf("%s %s", kind, o.Name)
}

// goTypes maps every apiVersion/kind the manifests may use to the Go type it
// must decode into. A kind missing here is an error: nothing goes unchecked.
var goTypes = map[schema.GroupVersionKind]func() any{
	{Version: "v1", Kind: "Namespace"}:                                 func() any { return &corev1.Namespace{} },
	{Version: "v1", Kind: "ConfigMap"}:                                 func() any { return &corev1.ConfigMap{} },
	{Version: "v1", Kind: "Secret"}:                                    func() any { return &corev1.Secret{} },
	{Version: "v1", Kind: "Service"}:                                   func() any { return &corev1.Service{} },
	{Version: "v1", Kind: "ServiceAccount"}:                            func() any { return &corev1.ServiceAccount{} },
	{Version: "v1", Kind: "Pod"}:                                       func() any { return &corev1.Pod{} },
	{Group: "apps", Version: "v1", Kind: "StatefulSet"}:                func() any { return &appsv1.StatefulSet{} },
	{Group: "apps", Version: "v1", Kind: "Deployment"}:                 func() any { return &appsv1.Deployment{} },
	{Group: "batch", Version: "v1", Kind: "Job"}:                       func() any { return &batchv1.Job{} },
	{Group: "batch", Version: "v1", Kind: "CronJob"}:                   func() any { return &batchv1.CronJob{} },
	{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"}: func() any { return &networkingv1.NetworkPolicy{} },
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"}:  func() any { return &rbacv1.Role{} },
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"}: func() any {
		return &rbacv1.RoleBinding{}
	},
	{Group: "serving.knative.dev", Version: "v1", Kind: "Service"}:                func() any { return &servingv1.Service{} },
	{Group: "eventing.knative.dev", Version: "v1", Kind: "Broker"}:                func() any { return &eventingv1.Broker{} },
	{Group: "eventing.knative.dev", Version: "v1", Kind: "Trigger"}:               func() any { return &eventingv1.Trigger{} },
	{Group: "sources.knative.dev", Version: "v1", Kind: "SinkBinding"}:            func() any { return &sourcesv1.SinkBinding{} },
	{Group: "sources.knative.dev", Version: "v1", Kind: "PingSource"}:             func() any { return &sourcesv1.PingSource{} },
	{Group: "sources.knative.dev", Version: "v1", Kind: "KafkaSource"}:            func() any { return &kafkasourcev1.KafkaSource{} },
	{Group: "eventing.kafka.knative.dev", Version: "v1alpha1", Kind: "KafkaSink"}: func() any { return &kafkasinkv1alpha1.KafkaSink{} },
}

// knativeValidatable is what Knative's webhooks call on an object: defaults
// first, then validation.
type knativeValidatable interface {
	apis.Defaultable
	apis.Validatable
}

// Decode reads one YAML document strictly (unknown or duplicate fields are
// errors) into its Go type and, for Knative types, applies the defaults and
// the validation of a create request, keeping only error-level findings.
// Documents of a group in crdSchemas are checked against that schema instead.
func Decode(ctx context.Context, doc []byte, crds *CRDSchemas) (Object, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return Object{}, fmt.Errorf("not a YAML object: %w", err)
	}
	gv, err := schema.ParseGroupVersion(head.APIVersion)
	if err != nil {
		return Object{}, fmt.Errorf("apiVersion %q: %w", head.APIVersion, err)
	}
	obj := Object{GVK: gv.WithKind(head.Kind), Name: head.Metadata.Name, Namespace: head.Metadata.Namespace, YAML: doc}
	if head.Kind == "" || head.Metadata.Name == "" {
		return obj, fmt.Errorf("document without kind or metadata.name:\n%s", firstLines(doc, 5))
	}
	if obj.Unstructured, err = jsonObject(doc); err != nil {
		return obj, fmt.Errorf("%s: %w", obj, err)
	}

	if crds != nil && crds.Has(obj.GVK) {
		if err := crds.Validate(obj.GVK, obj.Unstructured); err != nil {
			return obj, fmt.Errorf("%s: %w", obj, err)
		}
		return obj, nil
	}

	newTyped, ok := goTypes[obj.GVK]
	if !ok {
		return obj, fmt.Errorf("%s: no Go type or CRD schema known for apiVersion %s, kind %s", obj, head.APIVersion, head.Kind)
	}
	typed := newTyped()
	if err := yaml.UnmarshalStrict(doc, typed); err != nil {
		// Keep a leniently decoded value for the cross-checks, so that a
		// misspelt field is reported once rather than as a missing object.
		if lenient := newTyped(); yaml.Unmarshal(doc, lenient) == nil {
			obj.Typed = lenient
		}
		return obj, fmt.Errorf("%s: strict decoding: %w", obj, err)
	}
	obj.Typed = typed
	if v, ok := typed.(knativeValidatable); ok {
		v.SetDefaults(ctx)
		if fe := v.Validate(apis.WithinCreate(ctx)).Filter(apis.ErrorLevel); fe != nil {
			return obj, fmt.Errorf("%s: %s", obj, strings.ReplaceAll(fe.Error(), "\n", "; "))
		}
	}
	return obj, nil
}

// DecodeAll decodes every document of a YAML stream and returns the objects
// and one error per document that failed to decode or validate.
func DecodeAll(ctx context.Context, stream []byte, crds *CRDSchemas) ([]Object, []error) {
	var objs []Object
	var errs []error
	for _, doc := range splitDocuments(stream) {
		obj, err := Decode(ctx, doc, crds)
		if err != nil {
			errs = append(errs, err)
		}
		// An object that decoded but failed validation still takes part in
		// the cross-checks, so one mistake is reported once.
		if obj.Typed != nil || (obj.Unstructured != nil && err == nil) {
			objs = append(objs, obj)
		}
	}
	return objs, errs
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(string(b), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
