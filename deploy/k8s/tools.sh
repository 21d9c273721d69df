#!/usr/bin/env bash
# The tools that validate deploy/k8s without a cluster: kustomize, built from the Go module proxy and
# cached like FerretDB, and the Strimzi schema validators from the npm registry (deploy/k8s/validate).
# Usage: deploy/k8s/tools.sh fetch    (prints KUSTOMIZE=<path> on stdout)
set -euo pipefail
NAME=k8s-tools
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../local/lib.sh"

KUSTOMIZE_VERSION=${KUSTOMIZE_VERSION:-v5.7.1}
BIN=$ENVOL_CACHE/kustomize-$KUSTOMIZE_VERSION/kustomize

fetch() {
  if ! [ -x "$BIN" ] || ! "$BIN" version >/dev/null 2>&1; then
    command -v go >/dev/null || die "go not found (kustomize is built from the Go module proxy)"
    say "building sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
    mkdir -p "$(dirname "$BIN")"
    CGO_ENABLED=0 GOBIN="$(dirname "$BIN")" go install -trimpath "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
    say "built $BIN"
  fi
  if ! [ -d "$HERE/validate/node_modules/@kubernetes-models/strimzi-kafka-operator" ]; then
    command -v npm >/dev/null || die "npm not found (the Strimzi schemas come from the npm registry)"
    say "installing the Strimzi schema validators (npm ci)"
    (cd "$HERE/validate" && npm ci --silent --no-audit --no-fund)
  fi
  echo "KUSTOMIZE=$BIN"
}

case ${1:-} in
  fetch) fetch ;;
  *) echo "usage: $0 fetch" >&2; exit 2 ;;
esac
