#!/usr/bin/env bash
# FerretDB (MongoDB wire protocol) built from the Go module proxy, no Docker, on SQLite (the default) or on
# PostgreSQL (FERRETDB_BACKEND=postgresql: deploy/local/postgres.sh; docs/benchmarks.md says why SQLite).
# Usage: deploy/local/ferretdb.sh {fetch|start|stop|status}   (see deploy/local/README.md)
set -euo pipefail
NAME=ferretdb
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/lib.sh"

FERRETDB_VERSION=${FERRETDB_VERSION:-v1.24.2}
FERRETDB_PORT=${FERRETDB_PORT:-27017}
FERRETDB_DEBUG_PORT=${FERRETDB_DEBUG_PORT:-8088}
FERRETDB_START_TIMEOUT=${FERRETDB_START_TIMEOUT:-30}
FERRETDB_BACKEND=${FERRETDB_BACKEND:-sqlite}
MODULE=github.com/FerretDB/FerretDB

# The name says which patches the cached build has (a build with fewer is never taken for one with more).
BIN=$ENVOL_CACHE/ferretdb-$FERRETDB_VERSION-id-index-update-batch-id-pushdown/ferretdb
DIR=$ENVOL_STATE/ferretdb
DATA=$DIR/data
LOG=$DIR/ferretdb.log
PIDFILE=$DIR/ferretdb.pid
PATTERN="--state-dir=$DIR"  # in the command line of this state's FerretDB, whatever its backend
SECRETS=$ENVOL_STATE/secrets  # beside the broker's (its own, not a cluster's KAFKA_SECRETS)
PASSWORDS=$SECRETS/mongodb-passwords  # "<user> <password>" lines, read by the clients (ENVOL_MONGODB_PASSWORDS)

# FerretDB v1's SQLite backend indexes `_id` as `_ferretdb_sjson->"_id"` but looks it up as
# `_ferretdb_sjson->'$._id'`. SQLite uses an expression index only for the same expression, so every
# `_id` find, update and delete scanned and parsed the whole table (EXPLAIN QUERY PLAN: SCAN), and the
# cost grew with the data. One line makes lookups use the index's expression (SEARCH ... USING INDEX);
# both expressions give the same value.
patch_id_lookups() {
  local file=$1/internal/backends/sqlite/metadata/metadata.go
  local before="IDColumn = DefaultColumn + \"->'\$._id'\""
  if ! grep -qF "$before" "$file"; then
    say "warning: the _id lookup patch does not apply to $FERRETDB_VERSION; building it unpatched"
    return 0
  fi
  sed -i "s|IDColumn = DefaultColumn + \"->'\\\$._id'\"|IDColumn = DefaultColumn + \`->\"_id\"\`|" "$file"
  grep -qF 'IDColumn = DefaultColumn + `->"_id"`' "$file" || die "the _id lookup patch did not apply"
  say "patched: _id lookups use the _id index"
}

# FerretDB v1's `update` command queries for each of its statements and closes every statement's query only
# once all are done (a `defer` inside the loop). A replace that matches a document leaves its query's
# SQLite connection open, and the pool has 100: the 100th statement of one command waits for a connection
# forever, and holds the others (a bulk write of 150 replaces never answered). Each statement's query is
# closed once its update is done.
patch_update_batches() {
  local file=$1/internal/handler/msg_update.go
  local call='result, err := common.UpdateDocument(ctx, c, "update", iter, \&u)'
  if [ "$(grep -c 'defer closer.Close()' "$file")" != 1 ] || ! grep -qF "${call//\\/}" "$file"; then
    say "warning: the update batch patch does not apply to $FERRETDB_VERSION; building it unpatched"
    return 0
  fi
  sed -i -e '/defer closer.Close()/d' -e "s|^\(\t*\)$call\$|&\n\1closer.Close()|" "$file"
  grep -qF 'closer.Close()' "$file" && ! grep -qF 'defer closer.Close()' "$file" ||
    die "the update batch patch did not apply"
  say "patched: each update statement's query is closed before the next"
}

# FerretDB v1 pushes a filter down to SQLite only when it is exactly one `_id`: a find of
# `{_id: {$in: [ids]}}` read and decoded the whole collection (843 µs per document found, for 100 ids among
# 2,000 documents), and so did a conditional write `{_id, version}`. The patch
# (ferretdb-id-pushdown.patch) pushes an `$in` list of string or ObjectID ids down as `_id IN (...)` on the
# `_id` index, and an `_id` condition beside other conditions as `_id = ?`; the handler still filters what
# comes back, so results are the same.
patch_id_pushdown() {
  if ! (cd "$1" && git apply --check "$HERE/ferretdb-id-pushdown.patch" 2>/dev/null); then
    say "warning: the _id pushdown patch does not apply to $FERRETDB_VERSION; building it unpatched"
    return 0
  fi
  (cd "$1" && git apply "$HERE/ferretdb-id-pushdown.patch") || die "the _id pushdown patch did not apply"
  say "patched: _id lists, and _id beside other conditions, use the _id index"
}

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
  patch_id_lookups "$BUILD_TMP"
  patch_update_batches "$BUILD_TMP"
  patch_id_pushdown "$BUILD_TMP"
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

# The admin's password, drawn once; `make topics` adds the services' users and the auditor.
admin_password() {
  if ! [ -s "$PASSWORDS" ]; then
    mkdir -p "$SECRETS" && chmod 700 "$SECRETS"
    echo "admin $(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$PASSWORDS.new"
    chmod 600 "$PASSWORDS.new" && mv "$PASSWORDS.new" "$PASSWORDS"
  fi
  awk '$1 == "admin" { print $2 }' "$PASSWORDS"
}

start() {
  local pid t0=$EPOCHREALTIME admin formatted_for
  [ -x "$BIN" ] || fetch
  if pid=$(running_pid "$PIDFILE" "$PATTERN"); then
    say "already running (pid $pid) on 127.0.0.1:$FERRETDB_PORT"
    return 0
  fi
  for p in "$FERRETDB_PORT" "$FERRETDB_DEBUG_PORT"; do
    port_open "$p" && die "port $p is already in use by another process"
  done
  state_dir "$DATA"
  # Authentication on (FerretDB's experimental SCRAM mode): every command but the handshake needs a user.
  # The admin is created with the data (--setup-*, only when the admin database does not exist yet), so
  # data made for another admin password, or before authentication, is started anew.
  admin=$(admin_password)
  formatted_for=$(echo "$admin" | sha256sum | cut -c1-16)
  local backend=(--handler=sqlite --sqlite-url="file:$DATA/") formatted=$DIR/formatted-for
  case $FERRETDB_BACKEND in
    sqlite)
      if [ -n "$(ls -A "$DATA")" ] && [ "$(cat "$formatted" 2>/dev/null)" != "$formatted_for" ]; then
        say "the data predates this admin password (or authentication): starting with empty data"
        rm -rf "$DATA" && state_dir "$DATA"
      fi ;;
    postgresql)
      "$HERE/postgres.sh" start
      formatted=$DIR/formatted-for-postgresql
      if [ "$(cat "$formatted" 2>/dev/null)" != "$formatted_for" ]; then
        "$HERE/postgres.sh" reset  # made for another admin password, or never: start anew
      fi
      backend=(--handler=pg)  # its URL, with the password, by environment: never on a command line
      FERRETDB_POSTGRESQL_URL=$("$HERE/postgres.sh" url) && export FERRETDB_POSTGRESQL_URL ;;
    *) die "FERRETDB_BACKEND is sqlite or postgresql, not $FERRETDB_BACKEND" ;;
  esac
  echo "$formatted_for" >"$formatted"
  say "starting FerretDB $FERRETDB_VERSION on $FERRETDB_BACKEND, 127.0.0.1:$FERRETDB_PORT (log: $LOG)"
  FERRETDB_SETUP_PASSWORD=$admin launch "$LOG" "$PIDFILE" "$BIN" "${backend[@]}" \
    --listen-addr="127.0.0.1:$FERRETDB_PORT" --debug-addr="127.0.0.1:$FERRETDB_DEBUG_PORT" \
    --state-dir="$DIR" --telemetry=disable \
    --test-enable-new-auth --setup-database=admin --setup-username=admin
  wait_ready "$FERRETDB_START_TIMEOUT" "$PIDFILE" "$PATTERN" "$LOG" probe
  say "ready on 127.0.0.1:$FERRETDB_PORT (pid $(<"$PIDFILE"), $(elapsed "$t0")s)"
}

status() {
  local pid
  if pid=$(running_pid "$PIDFILE" "$PATTERN"); then
    echo "ferretdb: running (pid $pid) on 127.0.0.1:$FERRETDB_PORT, debug http://127.0.0.1:$FERRETDB_DEBUG_PORT/debug/"
  else
    echo "ferretdb: not running (port $FERRETDB_PORT)"
    return 1
  fi
}

case ${1:-} in
  fetch) fetch ;;
  start) start ;;
  stop) stop_pid "$PIDFILE" "$PATTERN" ;;
  status) status ;;
  *) echo "usage: $0 {fetch|start|stop|status}" >&2; exit 2 ;;
esac
