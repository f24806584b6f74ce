package manifests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// strimziInstallFile is the Strimzi release's install manifest (CRDs and the
// cluster operator) that eventing-kafka-broker keeps for its own end-to-end
// tests. Its CRDs are the schemas of the Strimzi release kind-up installs.
const strimziInstallFile = "test/kafka/strimzi-cluster-operator.yaml"

// StrimziCRDs loads the Strimzi CRD schemas from the eventing-kafka-broker
// module in the module cache, and returns the Strimzi version they belong to.
func StrimziCRDs() (*CRDSchemas, string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "knative.dev/eventing-kafka-broker").Output()
	if err != nil {
		return nil, "", fmt.Errorf("locate knative.dev/eventing-kafka-broker in the module cache: %w", err)
	}
	path := filepath.Join(strings.TrimSpace(string(out)), strimziInstallFile)
	crds, err := LoadCRDs(path)
	if err != nil {
		return nil, "", err
	}
	version, err := strimziVersion(path)
	if err != nil {
		return nil, "", err
	}
	return crds, version, nil
}

var strimziOperatorImage = regexp.MustCompile(`image: quay\.io/strimzi/operator:([0-9][0-9.]*)`)

func strimziVersion(installFile string) (string, error) {
	b, err := os.ReadFile(installFile)
	if err != nil {
		return "", err
	}
	m := strimziOperatorImage.FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("%s: no Strimzi operator image", installFile)
	}
	return string(m[1]), nil
}
