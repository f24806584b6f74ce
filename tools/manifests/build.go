package manifests

import (
	"bytes"
	"fmt"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Build runs kustomize on dir and returns the multi-document YAML stream it
// renders, as `kubectl kustomize dir` prints it.
func Build(dir string) ([]byte, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: render: %w", dir, err)
	}
	return out, nil
}

// splitDocuments cuts a YAML stream at its "---" lines and drops documents
// that hold nothing but comments and blank lines.
func splitDocuments(stream []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	meaningful := false
	flush := func() {
		if meaningful {
			docs = append(docs, bytes.Clone(cur.Bytes()))
		}
		cur.Reset()
		meaningful = false
	}
	for _, line := range bytes.Split(stream, []byte("\n")) {
		if bytes.Equal(bytes.TrimRight(line, " \t\r"), []byte("---")) {
			flush()
			continue
		}
		cur.Write(line)
		cur.WriteByte('\n')
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			meaningful = true
		}
	}
	flush()
	return docs
}
