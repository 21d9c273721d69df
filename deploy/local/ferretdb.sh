#!/usr/bin/env bash
# FerretDB (MongoDB wire protocol, SQLite backend) built from the Go module proxy, no Docker.
# Usage: deploy/local/ferretdb.sh {fetch|start|stop|status}   (see deploy/local/README.md)
set -euo pipefail
NAME=ferretdb
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/lib.sh"

FERRETDB_VERSION=${FERRETDB_VERSION:-v1.24.2}
FERRETDB_PORT=${FERRETDB_PORT:-27017}
FERRETDB_DEBUG_PORT=${FERRETDB_DEBUG_PORT:-8088}
FERRETDB_START_TIMEOUT=${FERRETDB_START_TIMEOUT:-30}
MODULE=github.com/FerretDB/FerretDB

BIN=$ENVOL_CACHE/ferretdb-$FERRETDB_VERSION/ferretdb
DIR=$ENVOL_STATE/ferretdb
DATA=$DIR/data
LOG=$DIR/ferretdb.log
PIDFILE=$DIR/ferretdb.pid

fetch() {
  if [ -x "$BIN" ] && "$BIN" --version >/dev/null 2>&1; then say "using cached binary $BIN"; return 0; fi
  command -v go >/dev/null || die "go not found"
  local src
  say "downloading $MODULE@$FERRETDB_VERSION from the Go module proxy"
  src=$(go mod download -json "$MODULE@$FERRETDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$src" ] || die "go mod download gave no module directory"
  # The module cache is read-only and lacks the generated build/version/version.txt
  # (without it the binary panics at start), so build from a writable copy.
  BUILD_TMP=$(mktemp -d)
  trap 'rm -rf "$BUILD_TMP"' EXIT
  cp -R "$src/." "$BUILD_TMP" && chmod -R u+w "$BUILD_TMP"
  echo "$FERRETDB_VERSION" >"$BUILD_TMP/build/version/version.txt"
  say "building (CGO_ENABLED=0, pure-Go SQLite)"
  mkdir -p "$(dirname "$BIN")"
  (cd "$BUILD_TMP" && CGO_ENABLED=0 go build -trimpath -o "$BIN.tmp" ./cmd/ferretdb)
  mv "$BIN.tmp" "$BIN"
  say "built $BIN ($(du -h "$BIN" | cut -f1))"
}

# Ready = /debug/livez answers and the MongoDB listener accepts connections.
# (/debug/readyz only adds a wire-protocol ping when --setup-database is set, which needs new auth.)
probe() {
  curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$FERRETDB_DEBUG_PORT/debug/livez" &&
    port_open "$FERRETDB_PORT"
}

start() {
  local pid t0=$EPOCHREALTIME
  [ -x "$BIN" ] || fetch
  if pid=$(running_pid "$PIDFILE" "$DATA/"); then
    say "already running (pid $pid) on 127.0.0.1:$FERRETDB_PORT"
    return 0
  fi
  for p in "$FERRETDB_PORT" "$FERRETDB_DEBUG_PORT"; do
    port_open "$p" && die "port $p is already in use by another process"
  done
  state_dir "$DATA"
  say "starting FerretDB $FERRETDB_VERSION on 127.0.0.1:$FERRETDB_PORT (log: $LOG)"
  launch "$LOG" "$PIDFILE" "$BIN" --handler=sqlite --sqlite-url="file:$DATA/" \
    --listen-addr="127.0.0.1:$FERRETDB_PORT" --debug-addr="127.0.0.1:$FERRETDB_DEBUG_PORT" \
    --state-dir="$DIR" --telemetry=disable
  wait_ready "$FERRETDB_START_TIMEOUT" "$PIDFILE" "$DATA/" "$LOG" probe
  say "ready on 127.0.0.1:$FERRETDB_PORT (pid $(<"$PIDFILE"), $(elapsed "$t0")s)"
}

status() {
  local pid
  if pid=$(running_pid "$PIDFILE" "$DATA/"); then
    echo "ferretdb: running (pid $pid) on 127.0.0.1:$FERRETDB_PORT, debug http://127.0.0.1:$FERRETDB_DEBUG_PORT/debug/"
  else
    echo "ferretdb: not running (port $FERRETDB_PORT)"
    return 1
  fi
}

case ${1:-} in
  fetch) fetch ;;
  start) start ;;
  stop) stop_pid "$PIDFILE" "$DATA/" ;;
  status) status ;;
  *) echo "usage: $0 {fetch|start|stop|status}" >&2; exit 2 ;;
esac
