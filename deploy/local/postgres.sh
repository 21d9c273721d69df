#!/usr/bin/env bash
# PostgreSQL for FerretDB's `pg` backend (FERRETDB_BACKEND=postgresql), from the `pgserver` wheel the
# project's virtual environment installs (PostgreSQL 16 binaries; no root, no system package).
# Usage: deploy/local/postgres.sh {start|reset|stop|status|url|pid|where}   (see deploy/local/README.md)
#
# It listens on a Unix socket only (no TCP port), in a folder only its user may enter, and asks FerretDB
# for a password (SCRAM-SHA-256) all the same. PostgreSQL refuses to run as root: run by root, the server
# runs as `nobody`, its data and binaries where `nobody` can reach them (a folder of its own under /tmp
# when the checkout is not reachable, e.g. under a home folder only root may enter).
set -euo pipefail
NAME=postgres
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/lib.sh"

POSTGRES_START_TIMEOUT=${POSTGRES_START_TIMEOUT:-30}
VENV=${ENVOL_VENV:-$ROOT/.venv}
DIR=$ENVOL_STATE/postgres
SECRETS=$ENVOL_STATE/secrets
PASSWORD_FILE=$SECRETS/postgres-password  # FerretDB's, drawn once
DATABASE=ferretdb
USER_NAME=ferretdb

SERVER_USER=nobody
as_server() {  # run a command as the server's user
  if [ "$EUID" = 0 ]; then
    setpriv --reuid="$SERVER_USER" --regid="$(id -gn "$SERVER_USER")" --clear-groups "$@"
  else
    "$@"
  fi
}

installed_bin() {
  local bin
  bin=$("$VENV/bin/python" -c 'import pathlib, pgserver; print(pathlib.Path(pgserver.__file__).parent / "pginstall" / "bin")' 2>/dev/null) ||
    die "the pgserver package is not installed in $VENV (make install; it ships for Python 3.11 and 3.12)"
  echo "$bin"
}

# Where the server's binaries and data live: the checkout's state, unless the server's user cannot reach it
# (then a folder of its own under /tmp, with a copy of the binaries made by `start`). The folder and the
# binaries stay the invoker's (root's, when root runs this): only `server/` inside (data, sockets, log)
# is the server user's, so what root runs and writes is never in a folder that user may change.
place() {
  INSTALLED=$(installed_bin)
  mkdir -p "$(dirname "$DIR")"
  if as_server test -x "$INSTALLED/postgres" && as_server test -x "$(dirname "$DIR")"; then
    RUN=$DIR BIN=$INSTALLED
  else
    RUN=${TMPDIR:-/tmp}/envol-postgres-$(echo "$ENVOL_STATE" | sha256sum | cut -c1-12)
    BIN=$RUN/pgserver/pginstall/bin
  fi
  DATA=$RUN/server/data SOCKETS=$RUN/server/sockets LOG=$RUN/server/postgres.log
}

# The folder: made by the invoker, or refused when someone else made it (a name under /tmp can be taken).
prepare() {
  if ! [ -d "$RUN" ]; then
    mkdir -m 755 "$RUN" || die "cannot create $RUN"
  fi
  [ -O "$RUN" ] && ! [ -L "$RUN" ] || die "$RUN belongs to another user: remove it, or set TMPDIR"
  chmod 755 "$RUN"
  [ -f "$ENVOL_STATE/.gitignore" ] || echo '*' >"$ENVOL_STATE/.gitignore"
  if [ "$BIN" != "$INSTALLED" ] && ! [ -x "$BIN/postgres" ]; then  # with the libraries they find beside them
    local packages=${INSTALLED%/pgserver/pginstall/bin}
    rm -rf "$RUN/pgserver" "$RUN/pgserver.libs"
    cp -R "$packages/pgserver.libs" "$RUN/" && cp -R "$packages/pgserver" "$RUN/pgserver"
  fi
  mkdir -p "$RUN/server"
  [ "$EUID" != 0 ] || chown "$SERVER_USER:$(id -gn "$SERVER_USER")" "$RUN/server"
  chmod 700 "$RUN/server"
}

password() {
  if ! [ -s "$PASSWORD_FILE" ]; then
    mkdir -p "$SECRETS" && chmod 700 "$SECRETS"
    (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$PASSWORD_FILE")
  fi
  cat "$PASSWORD_FILE"
}

pid() {  # the postmaster's pid, if it runs
  [ -s "$DATA/postmaster.pid" ] || return 1
  local pid
  pid=$(head -n 1 "$DATA/postmaster.pid")
  kill -0 "$pid" 2>/dev/null && ps -ww -p "$pid" -o args= | grep -qF -- "$DATA" && echo "$pid"
}

start() {
  local t0=$EPOCHREALTIME pw
  place
  prepare
  if pid >/dev/null; then say "already running (pid $(pid)), socket in $SOCKETS"; return 0; fi
  pw=$(password)
  if [ "$(cat "$RUN/formatted-for" 2>/dev/null)" != "$(echo "$pw" | sha256sum | cut -c1-16)" ]; then
    say "creating the database cluster in $DATA"
    as_server rm -rf "$DATA" "$SOCKETS"
    as_server mkdir -p "$DATA" "$SOCKETS"
    PWFILE=$(umask 077 && mktemp)  # readable by the server's user alone, for the time initdb reads it
    trap 'rm -f "$PWFILE"' EXIT
    echo "$pw" >"$PWFILE"
    [ "$EUID" != 0 ] || chown "$SERVER_USER" "$PWFILE"
    as_server "$BIN/initdb" -D "$DATA" -U "$USER_NAME" --pwfile="$PWFILE" --auth=scram-sha-256 \
      -E UTF8 --no-locale >"$RUN/initdb.log" 2>&1 || { cat "$RUN/initdb.log" >&2; die "initdb failed"; }
    rm -f "$PWFILE"
    echo "$pw" | sha256sum | cut -c1-16 >"$RUN/formatted-for"
  fi
  as_server chmod 700 "$SOCKETS"
  as_server "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t "$POSTGRES_START_TIMEOUT" start \
    -o "-c listen_addresses='' -k $SOCKETS -c max_connections=200 -c fsync=on" >/dev/null ||
    { tail -n 20 "$LOG" >&2; die "PostgreSQL did not start, see $LOG"; }
  if ! PGPASSWORD=$pw as_server "$BIN/psql" -h "$SOCKETS" -U "$USER_NAME" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'" | grep -q 1; then
    PGPASSWORD=$pw as_server "$BIN/psql" -h "$SOCKETS" -U "$USER_NAME" -d postgres -qc "CREATE DATABASE $DATABASE" ||
      die "could not create the $DATABASE database"
  fi
  say "ready (pid $(pid), PostgreSQL $("$BIN/postgres" --version | awk '{print $3}'), socket in $SOCKETS, $(elapsed "$t0")s)"
}

reset() {  # FerretDB's data dropped: its database made anew, empty
  local pw
  place
  pw=$(password)
  PGPASSWORD=$pw as_server "$BIN/psql" -h "$SOCKETS" -U "$USER_NAME" -d postgres -qc "DROP DATABASE IF EXISTS $DATABASE" &&
    PGPASSWORD=$pw as_server "$BIN/psql" -h "$SOCKETS" -U "$USER_NAME" -d postgres -qc "CREATE DATABASE $DATABASE" ||
    die "could not make the $DATABASE database anew"
  say "FerretDB's database made anew"
}

stop() {
  place
  if ! pid >/dev/null; then say "not running"; return 0; fi
  as_server "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
  say "stopped"
}

status() {
  place
  if pid >/dev/null; then echo "postgres: running (pid $(pid)), socket in $SOCKETS"; else
    echo "postgres: not running"
    return 1
  fi
}

case ${1:-} in
  start) start ;;
  reset) reset ;;
  stop) stop ;;
  status) status ;;
  url) place && echo "postgres://$USER_NAME:$(password)@/$DATABASE?host=$SOCKETS" ;;
  where) place && echo "$RUN" ;;
  pid) place && pid ;;
  *) echo "usage: $0 {start|reset|stop|status|url|pid|where}" >&2; exit 2 ;;
esac
