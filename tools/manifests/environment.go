package manifests

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// FunctionContainer is a container of the build that runs one of the
// functions (a ko:// image), with the environment Kubernetes starts it with.
type FunctionContainer struct {
	Owner    string
	Function string // the directory name under functions/
	Served   bool   // a Knative Service (Knative adds PORT and K_*)
	Env      map[string]string
}

// FunctionContainers lists every function container of the build with its
// environment: the keys of its envFrom ConfigMaps and Secrets, then its env
// entries in order, literal values with $(VAR) expanded as the kubelet does
// and secretKeyRef/configMapKeyRef values read from the objects of the build.
// A reference to an object outside the build (an optional Secret) is left out.
func (s *Set) FunctionContainers() []FunctionContainer {
	var out []FunctionContainer
	for _, w := range workloads(s) {
		for _, c := range containers(w.spec) {
			if !strings.HasPrefix(c.Image, koPrefix) {
				continue
			}
			path := strings.TrimPrefix(c.Image, koPrefix)
			out = append(out, FunctionContainer{
				Owner:    w.owner,
				Function: path[strings.LastIndex(path, "/")+1:],
				Served:   w.ksvc != nil,
				Env:      s.environment(w.ns, c),
			})
		}
	}
	return out
}

func (s *Set) environment(ns string, c corev1.Container) map[string]string {
	env := map[string]string{}
	for _, f := range c.EnvFrom {
		var data map[string]string
		switch {
		case f.ConfigMapRef != nil:
			data = s.values("ConfigMap", ns, f.ConfigMapRef.Name)
		case f.SecretRef != nil:
			data = s.values("Secret", ns, f.SecretRef.Name)
		}
		for k, v := range data {
			env[f.Prefix+k] = v
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = expand(e.Value, env)
		case e.ValueFrom.SecretKeyRef != nil:
			if v, ok := s.values("Secret", ns, e.ValueFrom.SecretKeyRef.Name)[e.ValueFrom.SecretKeyRef.Key]; ok {
				env[e.Name] = v
			}
		case e.ValueFrom.ConfigMapKeyRef != nil:
			if v, ok := s.values("ConfigMap", ns, e.ValueFrom.ConfigMapKeyRef.Name)[e.ValueFrom.ConfigMapKeyRef.Key]; ok {
				env[e.Name] = v
			}
		}
	}
	return env
}

// values returns the data of a ConfigMap or Secret of the build.
func (s *Set) values(kind, ns, name string) map[string]string {
	o, ok := s.get("", kind, ns, name)
	if !ok {
		return nil
	}
	out := map[string]string{}
	switch t := o.Typed.(type) {
	case *corev1.ConfigMap:
		for k, v := range t.Data {
			out[k] = v
		}
	case *corev1.Secret:
		for k, v := range t.Data {
			out[k] = string(v)
		}
		for k, v := range t.StringData {
			out[k] = v
		}
	}
	return out
}

// expand replaces $(NAME) with the value of a variable defined before, and
// $$ with $, as the kubelet does; unknown references stay as they are.
func expand(v string, env map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '$' || i+1 >= len(v) {
			b.WriteByte(v[i])
			continue
		}
		switch v[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(v[i:], ')')
			if end < 0 {
				b.WriteString(v[i:])
				return b.String()
			}
			name := v[i+2 : i+end]
			if val, ok := env[name]; ok {
				b.WriteString(val)
			} else {
				b.WriteString(v[i : i+end+1])
			}
			i += end
		default:
			b.WriteByte(v[i])
		}
	}
	return b.String()
}
