#!/usr/bin/env bash
# Local Kafka + FerretDB for development and tests, without Docker.
# Usage: deploy/local/infra.sh {up|down|status}
#   up prints the connection settings on stdout (progress goes to stderr), so
#   `export $(deploy/local/infra.sh up)` sets them in the current shell.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

case ${1:-} in
  up)
    "$HERE/kafka.sh" fetch
    "$HERE/ferretdb.sh" fetch
    "$HERE/kafka.sh" start
    "$HERE/ferretdb.sh" start
    # the console's operators: `operator`, with a password drawn once (the console signs in no one else)
    console_passwords=${ENVOL_STATE:-$(cd "$HERE/../.." && pwd)/.local-infra}/secrets/console-passwords
    [ -s "$console_passwords" ] || (umask 077 && echo "operator $(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$console_passwords")
    echo "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:${KAFKA_PORT:-9092}"
    echo "KAFKA_SECURITY_PROTOCOL=SASL_SSL"
    echo "KAFKA_SSL_CAFILE=${KAFKA_SECRETS:-${ENVOL_STATE:-$(cd "$HERE/../.." && pwd)/.local-infra}/secrets}/ca.pem"
    echo "ENVOL_KAFKA_PASSWORDS=${KAFKA_SECRETS:-${ENVOL_STATE:-$(cd "$HERE/../.." && pwd)/.local-infra}/secrets}/kafka-passwords"
    echo "MONGODB_URL=mongodb://127.0.0.1:${FERRETDB_PORT:-27017}/"
    echo "FERRETDB_BACKEND=${FERRETDB_BACKEND:-sqlite}"
    echo "ENVOL_MONGODB_PASSWORDS=${ENVOL_STATE:-$(cd "$HERE/../.." && pwd)/.local-infra}/secrets/mongodb-passwords"
    echo "ENVOL_CONSOLE_PASSWORDS=$console_passwords"
    ;;
  down)
    "$HERE/ferretdb.sh" stop
    if "$HERE/postgres.sh" status >/dev/null 2>&1; then "$HERE/postgres.sh" stop; fi  # FerretDB's, if on it
    "$HERE/kafka.sh" stop
    ;;
  status)
    rc=0
    "$HERE/kafka.sh" status || rc=1
    "$HERE/ferretdb.sh" status || rc=1
    if [ "${FERRETDB_BACKEND:-sqlite}" = postgresql ]; then "$HERE/postgres.sh" status || rc=1; fi
    exit "$rc"
    ;;
  *) echo "usage: $0 {up|down|status}" >&2; exit 2 ;;
esac
