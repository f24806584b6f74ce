// Package manifests proves the Kubernetes manifests of matching valid without
// a cluster. It builds the kustomization in-process (the kustomize API that
// kubectl kustomize uses), decodes every object strictly into the Go types of
// Kubernetes, Knative Serving, Knative Eventing and Knative Kafka, runs their
// defaulting and validation the way the Knative webhooks do (error level
// only), checks the Strimzi resources against the Strimzi CRD schemas, and
// cross-checks the manifests against the code: ko:// images are function
// mains, Triggers and sinks point at objects that exist, env vars are ones the
// functions read, schedules parse, pods meet the restricted security profile.
//
// It is a separate Go module (tools/manifests) so that the Knative dependency
// graph stays out of the functions. Run it with `make validate-manifests`, or
// `go test ./...` in this directory.
package manifests
