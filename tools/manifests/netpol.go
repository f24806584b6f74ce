package manifests

import (
	"fmt"
	"slices"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
)

// Namespaces of the platform the functions talk to, as the kind setup
// (k8s/scripts/kind-up.sh) installs them.
const (
	nsKnativeServing  = "knative-serving"
	nsKnativeEventing = "knative-eventing"
	// nsIngress is the namespace of the gateways (Kourier) through which
	// every request to a Knative Service passes: external calls, calls to a
	// cluster-local address, the Broker's deliveries and the PingSource's.
	nsIngress = "kourier-system"
	nsLabel   = "kubernetes.io/metadata.name"
	sinkLabel = "matching.curavani.dev/sink"
)

// checkNetworkPolicies: every namespace with a function denies ingress by
// default (a policy selecting every pod, allowing nothing); every function's
// pods have a NetworkPolicy of their own isolating both directions; what
// they are allowed is what they need: a Knative Service admits the gateway
// every request passes (kourier-system) and the activator (knative-serving);
// every function may reach DNS and PostgreSQL (when it reads DATABASE_URL),
// and one that publishes through K_SINK the KafkaSink receiver
// (knative-eventing).
func checkNetworkPolicies(s *Set, _ *Repo) []error {
	var errs []error
	policies := map[string][]*networkingv1.NetworkPolicy{}
	for _, o := range ofKind(s, "networking.k8s.io", "NetworkPolicy") {
		policies[o.Namespace] = append(policies[o.Namespace], o.Typed.(*networkingv1.NetworkPolicy))
	}
	sinkBound := sinkBoundOwners(s)
	denied := map[string]bool{}
	for _, w := range workloads(s) {
		if !isFunction(w) {
			continue
		}
		if !denied[w.ns] {
			denied[w.ns] = true
			if !slices.ContainsFunc(policies[w.ns], isDefaultDenyIngress) {
				errs = append(errs, fmt.Errorf("namespace %s: no default-deny ingress NetworkPolicy (podSelector {}, policyTypes [Ingress], no rules)", w.ns))
			}
		}
		var ingress, egress []*networkingv1.NetworkPolicy
		own := false
		for _, p := range policies[w.ns] {
			sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
			if err != nil || !sel.Matches(labels.Set(w.labels)) {
				continue
			}
			in, out := policyTypes(p)
			if in {
				ingress = append(ingress, p)
			}
			if out {
				egress = append(egress, p)
			}
			if in && out && !sel.Empty() {
				own = true
			}
		}
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: %s", w.owner, fmt.Sprintf(format, args...)))
		}
		if !own {
			bad("no NetworkPolicy of its own selects its pods (labels %v) for Ingress and Egress", w.labels)
			continue
		}
		if w.ksvc != nil {
			if !admits(ingress, nsKnativeServing) {
				bad("its NetworkPolicies admit nothing from namespace %s (the activator, in the path while the Service scales)", nsKnativeServing)
			}
			if !admits(ingress, nsIngress) {
				bad("its NetworkPolicies admit nothing from namespace %s (the gateway every request to a Knative Service passes, events included)", nsIngress)
			}
		}
		if !reaches(egress, "", 53) {
			bad("its NetworkPolicies allow no egress to DNS (port 53)")
		}
		if readsEnv(w, "DATABASE_URL") && !reaches(egress, "", 5432) {
			bad("reads DATABASE_URL, but its NetworkPolicies allow no egress to PostgreSQL (port 5432)")
		}
		if sinkBound[w.owner] && !reaches(egress, nsKnativeEventing, 0) {
			bad("publishes through K_SINK, but its NetworkPolicies allow no egress to namespace %s (the KafkaSink receiver)", nsKnativeEventing)
		}
	}
	return errs
}

// isFunction: a workload that runs one of this repository's mains.
func isFunction(w workload) bool {
	return slices.ContainsFunc(containers(w.spec), func(c corev1.Container) bool { return strings.HasPrefix(c.Image, koPrefix) })
}

func isDefaultDenyIngress(p *networkingv1.NetworkPolicy) bool {
	in, _ := policyTypes(p)
	sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
	return in && err == nil && sel.Empty() && len(p.Spec.Ingress) == 0
}

// policyTypes are the directions a policy isolates, with the API's
// defaults when policyTypes is not given.
func policyTypes(p *networkingv1.NetworkPolicy) (ingress, egress bool) {
	if len(p.Spec.PolicyTypes) == 0 {
		return true, len(p.Spec.Egress) > 0
	}
	return slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeIngress), slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
}

// admits: some rule lets in connections from namespace ns.
func admits(ps []*networkingv1.NetworkPolicy, ns string) bool {
	for _, p := range ps {
		for _, r := range p.Spec.Ingress {
			if len(r.From) == 0 || slices.ContainsFunc(r.From, func(peer networkingv1.NetworkPolicyPeer) bool { return peerInNamespace(peer, ns) }) {
				return true
			}
		}
	}
	return false
}

// reaches: some rule lets out connections to port (0: any) in namespace ns
// ("": anywhere).
func reaches(ps []*networkingv1.NetworkPolicy, ns string, port int) bool {
	for _, p := range ps {
		for _, r := range p.Spec.Egress {
			portOK := len(r.Ports) == 0 || port == 0 || slices.ContainsFunc(r.Ports, func(pp networkingv1.NetworkPolicyPort) bool {
				return pp.Port != nil && pp.Port.IntValue() == port
			})
			nsOK := ns == "" || len(r.To) == 0 || slices.ContainsFunc(r.To, func(peer networkingv1.NetworkPolicyPeer) bool { return peerInNamespace(peer, ns) })
			if portOK && nsOK {
				return true
			}
		}
	}
	return false
}

// peerInNamespace: the peer names namespace ns, or every namespace.
func peerInNamespace(peer networkingv1.NetworkPolicyPeer, ns string) bool {
	if peer.NamespaceSelector == nil {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(peer.NamespaceSelector)
	return err == nil && sel.Matches(labels.Set{nsLabel: ns})
}

func readsEnv(w workload, name string) bool {
	for _, c := range containers(w.spec) {
		if slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name }) {
			return true
		}
	}
	return false
}

// sinkBoundOwners are the workloads a SinkBinding gives K_SINK: Knative
// Services and Job templates carrying the sink label.
func sinkBoundOwners(s *Set) map[string]bool {
	out := map[string]bool{}
	for _, o := range s.Objects {
		switch t := o.Typed.(type) {
		case *servingv1.Service:
			if t.Labels[sinkLabel] != "" {
				out[o.String()] = true
			}
		case *batchv1.CronJob:
			if t.Spec.JobTemplate.Labels[sinkLabel] != "" {
				out[o.String()] = true
			}
		case *batchv1.Job:
			if t.Labels[sinkLabel] != "" {
				out[o.String()] = true
			}
		}
	}
	return out
}
