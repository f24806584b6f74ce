package manifests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// CRDSchemas validates custom resources for which no Go types exist (Strimzi's
// Kafka, KafkaNodePool, KafkaTopic) the way the API server does: fields the
// schema does not know are errors (the server would silently prune them), and
// the OpenAPI schema's types, enums, required fields and bounds must hold.
type CRDSchemas struct {
	versions map[schema.GroupVersionKind]crdVersion
}

type crdVersion struct {
	validator  validation.SchemaValidator
	structural *structuralschema.Structural
}

// LoadCRDs reads every CustomResourceDefinition in the given YAML files and
// prepares a validator per group, version and kind.
func LoadCRDs(paths ...string) (*CRDSchemas, error) {
	c := &CRDSchemas{versions: map[schema.GroupVersionKind]crdVersion{}}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		for _, doc := range splitDocuments(b) {
			var head struct {
				Kind string `json:"kind"`
			}
			if err := yaml.Unmarshal(doc, &head); err != nil || head.Kind != "CustomResourceDefinition" {
				continue
			}
			var crd apiextensionsv1.CustomResourceDefinition
			if err := yaml.Unmarshal(doc, &crd); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			if err := c.add(&crd); err != nil {
				return nil, fmt.Errorf("%s: CRD %s: %w", path, crd.Name, err)
			}
		}
	}
	return c, nil
}

func (c *CRDSchemas) add(crd *apiextensionsv1.CustomResourceDefinition) error {
	for _, v := range crd.Spec.Versions {
		if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			continue
		}
		var internal apiextensions.JSONSchemaProps
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
			return err
		}
		validator, _, err := validation.NewSchemaValidator(&internal)
		if err != nil {
			return err
		}
		structural, err := structuralschema.NewStructural(&internal)
		if err != nil {
			return err
		}
		gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
		c.versions[gvk] = crdVersion{validator: validator, structural: structural}
	}
	return nil
}

// Has reports whether a schema for gvk was loaded.
func (c *CRDSchemas) Has(gvk schema.GroupVersionKind) bool {
	_, ok := c.versions[gvk]
	return ok
}

// Validate checks one object (generic JSON data) against its CRD schema.
func (c *CRDSchemas) Validate(gvk schema.GroupVersionKind, obj map[string]any) error {
	v, ok := c.versions[gvk]
	if !ok {
		return fmt.Errorf("no CRD schema for %s", gvk)
	}
	var problems []string
	pruned := runtime.DeepCopyJSON(obj)
	unknown := pruning.PruneWithOptions(pruned, v.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	for _, path := range unknown {
		// metadata is the API server's, not the schema's; its fields are
		// checked by the Kubernetes types elsewhere.
		if strings.HasPrefix(path, "metadata.") {
			continue
		}
		problems = append(problems, fmt.Sprintf("unknown field %q", path))
	}
	for _, fe := range validation.ValidateCustomResource(nil, obj, v.validator) {
		problems = append(problems, fe.Error())
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return fmt.Errorf("schema: %s", strings.Join(problems, "; "))
}

// jsonObject decodes a YAML document into generic JSON data the way the API
// server sees it: integers as int64, other numbers as float64.
func jsonObject(doc []byte) (map[string]any, error) {
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	m, ok := normalizeNumbers(v).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not a YAML mapping")
	}
	return m, nil
}

func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeNumbers(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalizeNumbers(e)
		}
		return x
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	}
	return v
}
