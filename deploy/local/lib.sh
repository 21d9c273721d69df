# Helpers shared by kafka.sh and ferretdb.sh (sourced, not executed).
# Expects NAME (used as message prefix) to be set by the caller.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ENVOL_CACHE=${ENVOL_CACHE:-$HOME/.cache/envol}   # downloads and builds, reused across clones
ENVOL_STATE=${ENVOL_STATE:-$ROOT/.local-infra}   # data, logs, pid files of this checkout

say() { printf '[%s] %s\n' "$NAME" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# Create a state sub-directory; the state root ignores itself in git.
state_dir() {
  mkdir -p "$1"
  [ -f "$ENVOL_STATE/.gitignore" ] || echo '*' >"$ENVOL_STATE/.gitignore"
}

# Print the pid from PIDFILE if that process is alive and its command line contains PATTERN.
running_pid() {
  local pidfile=$1 pattern=$2 pid
  [ -s "$pidfile" ] || return 1
  pid=$(<"$pidfile")
  kill -0 "$pid" 2>/dev/null || return 1
  ps -ww -p "$pid" -o args= | grep -qF -- "$pattern" || return 1  # -ww: never cut at $COLUMNS
  echo "$pid"
}

# Seconds since EPOCHREALTIME value $1, one decimal.
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# launch LOG PIDFILE CMD...: run CMD detached (own session, survives this shell),
# stdout+stderr to LOG (previous log kept as LOG.1); the process writes its own pid.
launch() {
  local log=$1 pidfile=$2 i
  shift 2
  rm -f "$pidfile"
  if [ -f "$log" ]; then mv -f "$log" "$log.1"; fi
  setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" >"$log" 2>&1 </dev/null &
  for i in $(seq 50); do [ -s "$pidfile" ] && return 0; sleep 0.1; done
  die "process did not start, see $log"
}

# wait_ready TIMEOUT PIDFILE PATTERN LOG PROBE...: poll PROBE until it succeeds.
# Fails (and stops the process) if it exits or the deadline passes.
wait_ready() {
  local timeout=$1 pidfile=$2 pattern=$3 log=$4 deadline
  shift 4
  deadline=$((SECONDS + timeout))
  until "$@"; do
    if ! running_pid "$pidfile" "$pattern" >/dev/null; then
      tail -n 30 "$log" >&2
      rm -f "$pidfile"
      die "process exited during start-up, see $log"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 30 "$log" >&2
      stop_pid "$pidfile" "$pattern"
      die "not ready after ${timeout}s, stopped it; see $log"
    fi
    sleep 0.5
  done
}

# stop_pid PIDFILE PATTERN: TERM, wait up to 30 s, then KILL.
stop_pid() {
  local pidfile=$1 pattern=$2 pid deadline
  if ! pid=$(running_pid "$pidfile" "$pattern"); then
    say "not running"
    rm -f "$pidfile"
    return 0
  fi
  say "stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    say "still alive after 30s, sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  say "stopped"
}
