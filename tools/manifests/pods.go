package manifests

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	kafkasourcev1 "knative.dev/eventing-kafka-broker/control-plane/pkg/apis/sources/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
)

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
	metricsPath   = "/metrics"
)

// checkKnativeServices: every Knative Service probes the health paths, which
// the code serves (a "GET /path" pattern), is scraped by Prometheus on its
// container port at /metrics (also served by the code), and a Service that
// only receives events (a Trigger subscriber or a source's sink) is
// cluster-local.
func checkKnativeServices(s *Set, r *Repo) []error {
	var errs []error
	eventTargets := eventTargets(s)
	for _, o := range ofKind(s, "serving.knative.dev", "Service") {
		ksvc := o.Typed.(*servingv1.Service)
		for _, c := range ksvc.Spec.Template.Spec.Containers {
			if !strings.HasPrefix(c.Image, koPrefix) {
				continue
			}
			ann := ksvc.Spec.Template.Annotations
			port := ""
			if len(c.Ports) == 1 {
				port = fmt.Sprint(c.Ports[0].ContainerPort)
			}
			if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != port || ann["prometheus.io/path"] != metricsPath {
				errs = append(errs, fmt.Errorf("%s: template annotations prometheus.io/scrape=true, prometheus.io/port=%s, prometheus.io/path=%s wanted, got %q, %q, %q",
					o, port, metricsPath, ann["prometheus.io/scrape"], ann["prometheus.io/port"], ann["prometheus.io/path"]))
			} else if !r.GetRoutes[metricsPath] {
				errs = append(errs, fmt.Errorf("%s: scraped at %s, which is served nowhere in the code", o, metricsPath))
			}
			for _, p := range []struct {
				kind, path, want string
			}{
				{"readiness", httpPath(c.ReadinessProbe), readinessPath},
				{"liveness", httpPath(c.LivenessProbe), livenessPath},
			} {
				if p.path != p.want {
					errs = append(errs, fmt.Errorf("%s container %q: %s probe path %q, want %s", o, c.Name, p.kind, p.path, p.want))
				} else if !r.GetRoutes[p.path] {
					errs = append(errs, fmt.Errorf("%s container %q: %s probe path %s is served nowhere in the code (no \"GET %s\" pattern)", o, c.Name, p.kind, p.path, p.path))
				}
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

// eventTargets are the Knative Services ("namespace/name") that receive
// events: a Trigger's subscriber, a PingSource's or KafkaSource's sink.
func eventTargets(s *Set) map[string]bool {
	targets := map[string]bool{}
	mark := func(d *duckv1.Destination, ns string) {
		if d != nil && d.Ref != nil && d.Ref.Kind == "Service" && strings.HasPrefix(d.Ref.APIVersion, "serving.knative.dev/") {
			if d.Ref.Namespace != "" {
				ns = d.Ref.Namespace
			}
			targets[ns+"/"+d.Ref.Name] = true
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
	return targets
}
