package manifests

import (
	"slices"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
)

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
	// labels are the pods' labels (the template's).
	labels map[string]string
}

func workloads(s *Set) []workload {
	var out []workload
	for _, o := range s.Objects {
		w := workload{owner: o.String(), ns: o.Namespace}
		switch t := o.Typed.(type) {
		case *corev1.Pod:
			w.spec, w.labels = &t.Spec, t.Labels
		case *appsv1.StatefulSet:
			w.spec, w.labels = &t.Spec.Template.Spec, t.Spec.Template.Labels
		case *appsv1.Deployment:
			w.spec, w.labels = &t.Spec.Template.Spec, t.Spec.Template.Labels
		case *batchv1.Job:
			w.spec, w.labels = &t.Spec.Template.Spec, t.Spec.Template.Labels
		case *batchv1.CronJob:
			w.spec, w.labels = &t.Spec.JobTemplate.Spec.Template.Spec, t.Spec.JobTemplate.Spec.Template.Labels
		case *servingv1.Service:
			w.spec, w.labels = &t.Spec.Template.Spec.PodSpec, t.Spec.Template.Labels
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

func isTrue(b *bool) bool { return b != nil && *b }

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

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
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
