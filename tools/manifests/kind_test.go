package manifests

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	kindv1alpha4 "sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

func TestKindCluster_configDecodesStrictlyAndMatchesKindUp(t *testing.T) {
	raw, err := readText(filepath.Join(repoRoot, "kind-cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cluster kindv1alpha4.Cluster
	if err := yaml.UnmarshalStrict([]byte(raw), &cluster); err != nil {
		t.Fatalf("kind-cluster.yaml: %v", err)
	}
	if cluster.Kind != "Cluster" || cluster.APIVersion != "kind.x-k8s.io/v1alpha4" {
		t.Errorf("kind-cluster.yaml is %s %s, want kind.x-k8s.io/v1alpha4 Cluster", cluster.APIVersion, cluster.Kind)
	}
	if cluster.Name != "matching" {
		t.Errorf("cluster name %q; the scripts default to matching", cluster.Name)
	}
	if len(cluster.Nodes) == 0 {
		t.Fatal("no nodes")
	}
	for _, n := range cluster.Nodes {
		if !strings.Contains(n.Image, "@sha256:") {
			t.Errorf("node image %q is not pinned by digest", n.Image)
		}
	}

	// kind-up exposes Kourier on a NodePort that a port mapping must reach.
	script, err := readText(filepath.Join(repoRoot, "k8s/scripts/kind-up.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`"nodePort":(\d+)`).FindStringSubmatch(script)
	if m == nil {
		t.Fatal("kind-up.sh sets no Kourier nodePort")
	}
	nodePort, _ := strconv.Atoi(m[1])
	mapped := false
	for _, pm := range cluster.Nodes[0].ExtraPortMappings {
		if int(pm.ContainerPort) == nodePort {
			mapped = true
		}
	}
	if !mapped {
		t.Errorf("kind-up exposes Kourier on NodePort %d, but kind-cluster.yaml maps no port to it", nodePort)
	}
}
