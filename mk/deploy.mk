# Kubernetes and Knative: a kind cluster, ko images, the kustomization under
# k8s/, and its offline validation (tools/manifests, a separate Go module).
# See k8s/README.md.

MANIFESTS_MODULE := tools/manifests
KOBASE_MODULE    := tools/kobase

.PHONY: kind-up
kind-up: ## create the kind cluster with Knative Serving, Eventing, Knative Kafka and Strimzi (needs Docker)
	k8s/scripts/kind-up.sh

.PHONY: deploy
deploy: ## build the functions with ko into the kind cluster and apply k8s/base, then wait until ready
	k8s/scripts/deploy.sh

.PHONY: e2e
e2e: ## on the kind cluster: publish patient.deleted, wait for search.status_changed on matching-events
	k8s/scripts/e2e.sh

.PHONY: kind-down
kind-down: ## delete the kind cluster
	k8s/scripts/kind-down.sh

.PHONY: validate-manifests
validate-manifests: ## validate every manifest offline: kustomize build, Knative/Kubernetes/Strimzi schemas, cross-checks, scripts
	@cd $(MANIFESTS_MODULE) && unformatted=$$(gofmt -l .) && \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	cd $(MANIFESTS_MODULE) && $(GO) vet ./... && $(GO) test -count=1 ./...
	cd $(KOBASE_MODULE) && $(GO) vet ./... && $(GO) test -count=1 ./...

.PHONY: images
images: ## build every function image with ko, offline, into bin/images/*.tar (base image from tools/kobase)
	k8s/scripts/images-offline.sh
