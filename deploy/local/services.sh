#!/usr/bin/env bash
# The four Envol services as separate processes, each with its own log and pid file, and the operators'
# web console (services.console, as the operator principal) beside them.
# Usage: deploy/local/services.sh {start|stop|status} [service...]   (default: the four and the console)
# Reads KAFKA_BOOTSTRAP_SERVERS, the Kafka security variables (see the README), MONGODB_URL and ENVOL_*
# from the environment. ENVOL_MODE is local unless set: these are the services of this machine's own stack.
# Only placement gets ENVOL_PSEUDONYM_KEY, the one service that uses it; only the console gets
# ENVOL_CONSOLE_PASSWORDS, its operators' passwords.
set -euo pipefail
NAME=services
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/lib.sh"

PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
SERVICES_START_TIMEOUT=${SERVICES_START_TIMEOUT:-60}
DIR=$ENVOL_STATE/services
ALL=(application vetting placement departure)

HTTP_PORT_BASE=${ENVOL_HTTP_PORT_BASE:-18080}  # application +1, vetting +2, placement +3, departure +4
CONSOLE_PORT=${ENVOL_CONSOLE_PORT:-8090}

http_port() {
  local i
  [ "$1" != console ] || { echo "$CONSOLE_PORT"; return; }
  for i in "${!ALL[@]}"; do [ "${ALL[$i]}" = "$1" ] && echo $((HTTP_PORT_BASE + i + 1)) && return; done
  die "unknown service $1"
}

# ready PORT: the service's readiness route answers 200 (broker and database reached, consumer assigned).
ready() (
  exec 2>/dev/null 3<>"/dev/tcp/127.0.0.1/$1" || exit 1  # refused: not listening yet
  printf 'GET /ready HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  read -r -t 5 _ status _ <&3 || exit 1
  [ "$status" = 200 ]
)

start_one() {
  local name=$1 pid log=$DIR/$1.log pidfile=$DIR/$1.pid port
  port=$(http_port "$name")
  if pid=$(running_pid "$pidfile" "services.$name"); then
    say "$name already running (pid $pid)"
    return 0
  fi
  state_dir "$DIR"
  local without=()
  [ "$name" = placement ] || without=(-u ENVOL_PSEUDONYM_KEY)
  [ "$name" = console ] || without+=(-u ENVOL_CONSOLE_PASSWORDS)  # its operators' passwords, for it alone
  local principal=()  # the local stack: each service is its own principal and user, their passwords in files
  local kafka_user=$name mongodb_user=$name
  [ "$name" != console ] || kafka_user=operator mongodb_user=auditor  # reads all, writes only intakes
  [ -z "${ENVOL_KAFKA_PASSWORDS:-}" ] || principal=(KAFKA_USERNAME="$kafka_user" KAFKA_PASSWORD=)
  [ -z "${ENVOL_MONGODB_PASSWORDS:-}" ] || principal+=(MONGODB_USERNAME="$mongodb_user" MONGODB_PASSWORD=)
  (cd "$ROOT" && ENVOL_INSTANCE=${ENVOL_INSTANCE:-1} ENVOL_MODE=${ENVOL_MODE:-local} ENVOL_HTTP_PORT=$port \
    launch "$log" "$pidfile" env ${without[@]+"${without[@]}"} ${principal[@]+"${principal[@]}"} \
      "$PYTHON" -m "services.$name")
  wait_ready "$SERVICES_START_TIMEOUT" "$pidfile" "services.$name" "$log" ready "$port"
  if [ "$name" = console ]; then
    say "console ready (pid $(<"$pidfile"), log: $log): open http://127.0.0.1:$port/"
  else
    say "$name ready (pid $(<"$pidfile"), log: $log): http://127.0.0.1:$port/health /ready /metrics"
  fi
}

status_one() {
  local pid
  if pid=$(running_pid "$DIR/$1.pid" "services.$1"); then
    local port readiness=ready
    port=$(http_port "$1")
    ready "$port" || readiness="not ready"
    echo "$1: running (pid $pid), $readiness: http://127.0.0.1:$port/ready"
  else
    echo "$1: not running"
    return 1
  fi
}

action=${1:-}
shift || true
[ $# -gt 0 ] || set -- "${ALL[@]}" console
case $action in
  start) for s in "$@"; do start_one "$s"; done ;;
  stop) for s in "$@"; do NAME=$s stop_pid "$DIR/$s.pid" "services.$s"; done ;;
  status) rc=0; for s in "$@"; do status_one "$s" || rc=1; done; exit "$rc" ;;
  *) echo "usage: $0 {start|stop|status} [service...]" >&2; exit 2 ;;
esac
