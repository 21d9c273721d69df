#!/usr/bin/env bash
# The tool that checks docker-compose.yml without a Docker engine: deploy/compose/config, a small program on
# compose-go (the library Docker Compose is built on), built from the Go module proxy and cached like
# FerretDB. It loads the file as `docker compose config` does and prints the resolved project as JSON.
# Usage: deploy/compose/tools.sh fetch    (prints COMPOSE_CONFIG=<path> on stdout)
set -euo pipefail
NAME=compose-tools
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../local/lib.sh"

# a build per version of the program and its dependencies
VERSION=$(cat "$HERE/config/main.go" "$HERE/config/go.sum" | sha256sum | cut -c1-12)
BIN=$ENVOL_CACHE/compose-config-$VERSION/config

fetch() {
  if ! [ -x "$BIN" ]; then
    command -v go >/dev/null || die "go not found (the compose checker is built from the Go module proxy)"
    say "building deploy/compose/config (compose-go)"
    mkdir -p "$(dirname "$BIN")"
    (cd "$HERE/config" && CGO_ENABLED=0 go build -trimpath -o "$BIN.tmp" .)
    mv "$BIN.tmp" "$BIN"
    say "built $BIN"
  fi
  echo "COMPOSE_CONFIG=$BIN"
}

case ${1:-} in
  fetch) fetch ;;
  *) echo "usage: $0 fetch" >&2; exit 2 ;;
esac
