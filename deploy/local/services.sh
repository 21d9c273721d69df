#!/usr/bin/env bash
# The four Envol services as separate processes, each with its own log and pid file.
# Usage: deploy/local/services.sh {start|stop|status} [service...]   (default: all four)
# Reads KAFKA_BOOTSTRAP_SERVERS, the Kafka security variables (see the README), MONGODB_URL and ENVOL_*
# from the environment. ENVOL_MODE is local unless set: these are the services of this machine's own stack.
# Only placement gets ENVOL_PSEUDONYM_KEY, the one service that uses it.
set -euo pipefail
NAME=services
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/lib.sh"

PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
SERVICES_START_TIMEOUT=${SERVICES_START_TIMEOUT:-60}
DIR=$ENVOL_STATE/services
ALL=(application vetting placement departure)

started() { grep -q "FastStream app started successfully" "$1"; }

start_one() {
  local name=$1 pid log=$DIR/$1.log pidfile=$DIR/$1.pid
  if pid=$(running_pid "$pidfile" "services.$name"); then
    say "$name already running (pid $pid)"
    return 0
  fi
  state_dir "$DIR"
  local without=()
  [ "$name" = placement ] || without=(-u ENVOL_PSEUDONYM_KEY)
  local principal=()  # the local stack: each service is its own principal and user, their passwords in files
  [ -z "${ENVOL_KAFKA_PASSWORDS:-}" ] || principal=(KAFKA_USERNAME="$name" KAFKA_PASSWORD=)
  [ -z "${ENVOL_MONGODB_PASSWORDS:-}" ] || principal+=(MONGODB_USERNAME="$name" MONGODB_PASSWORD=)
  (cd "$ROOT" && ENVOL_INSTANCE=${ENVOL_INSTANCE:-1} ENVOL_MODE=${ENVOL_MODE:-local} \
    launch "$log" "$pidfile" env ${without[@]+"${without[@]}"} ${principal[@]+"${principal[@]}"} \
      "$PYTHON" -m "services.$name")
  wait_ready "$SERVICES_START_TIMEOUT" "$pidfile" "services.$name" "$log" started "$log"
  say "$name running (pid $(<"$pidfile"), log: $log)"
}

status_one() {
  local pid
  if pid=$(running_pid "$DIR/$1.pid" "services.$1"); then
    echo "$1: running (pid $pid)"
  else
    echo "$1: not running"
    return 1
  fi
}

action=${1:-}
shift || true
[ $# -gt 0 ] || set -- "${ALL[@]}"
case $action in
  start) for s in "$@"; do start_one "$s"; done ;;
  stop) for s in "$@"; do NAME=$s stop_pid "$DIR/$s.pid" "services.$s"; done ;;
  status) rc=0; for s in "$@"; do status_one "$s" || rc=1; done; exit "$rc" ;;
  *) echo "usage: $0 {start|stop|status} [service...]" >&2; exit 2 ;;
esac
