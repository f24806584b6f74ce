package manifests

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

func readText(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

// scriptDefault returns the default of a shell variable set as
// NAME=${NAME:-value}.
func scriptDefault(script, name string) string {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `=\$\{` + regexp.QuoteMeta(name) + `:-([^}]*)\}`)
	m := re.FindStringSubmatch(script)
	if m == nil {
		return ""
	}
	return m[1]
}

// moduleVersion returns the version go.mod requires of module.
func moduleVersion(gomod, module string) string {
	re := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(module) + `\s+(v\S+)`)
	m := re.FindStringSubmatch(gomod)
	if m == nil {
		return ""
	}
	return m[1]
}

// knativeRelease maps a Knative Go module version to its release tag:
// v0.N.P is knative-v1.(N-27).P (v0.50.1 is knative-v1.23.1).
func knativeRelease(moduleVersion string) string {
	parts := strings.Split(strings.TrimPrefix(moduleVersion, "v0."), ".")
	if len(parts) != 2 {
		return ""
	}
	minor, err := strconv.Atoi(parts[0])
	if err != nil {
		return ""
	}
	return fmt.Sprintf("knative-v1.%d.%s", minor-27, parts[1])
}
