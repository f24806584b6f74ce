#!/usr/bin/env bash
# Builds every function image with ko without any network: tools/kobase writes
# a static non-root base image (CA certificates, tzdata, uid 65532) into ko's
# cache, pinned by digest, and ko builds on it into bin/images/<function>.tar
# (docker-save format: `docker load -i`, or `kind load image-archive`).
# Prints each image's size, then resolves k8s/base against the same images
# into bin/images/matching.yaml (what make deploy applies).
set -euo pipefail
cd "$(dirname "$0")/../.."

command -v ko >/dev/null || { echo "ko is not installed: go install github.com/google/ko@v0.19.1" >&2; exit 1; }
export KOCACHE=${KOCACHE:-$PWD/bin/kocache}
out=bin/images
mkdir -p "$KOCACHE" "$out"

base=$(cd tools/kobase && go run . -cache "$KOCACHE" -arch "$(go env GOARCH)")
echo "base image: $base (in $KOCACHE/img)"
export KO_DEFAULTBASEIMAGE=$base
export KO_DOCKER_REPO=${KO_DOCKER_REPO:-local.invalid/matching}

printf '%-22s %10s %10s\n' function image binary
for dir in functions/*/; do
  name=$(basename "$dir")
  ls "$dir"*.go >/dev/null 2>&1 || continue
  ko build --push=false --base-import-paths --platform="linux/$(go env GOARCH)" \
    --tarball="$out/$name.tar" "./functions/$name" >/dev/null 2>"$out/$name.log" \
    || { cat "$out/$name.log" >&2; exit 1; }
  # The binary sits in the image's largest layer, under /ko-app.
  layer=$(tar -tvf "$out/$name.tar" | sort -k3 -n | tail -1 | awk '{print $6}')
  binary=$(tar -xOf "$out/$name.tar" "$layer" | tar -tvzf - 2>/dev/null | awk '$6 ~ /ko-app\/./ {print $3}' | head -1 || true)
  printf '%-22s %10s %10s\n' "$name" "$(du -h "$out/$name.tar" | cut -f1)" "$(numfmt --to=iec "${binary:-0}")"
done

# The deploy path offline: resolve the kustomization's ko:// references to the
# images just built (pinned by digest), as make deploy does for kind.
kubectl kustomize k8s/base >"$out/base.yaml"
ko resolve --push=false --base-import-paths --platform="linux/$(go env GOARCH)" -f "$out/base.yaml" \
  >"$out/matching.yaml" 2>"$out/resolve.log" || { cat "$out/resolve.log" >&2; exit 1; }
echo "resolved manifests: $out/matching.yaml"
grep -o 'image: .*' "$out/matching.yaml" | sort -u
