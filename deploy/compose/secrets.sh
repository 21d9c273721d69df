#!/usr/bin/env bash
# The secrets docker-compose.yml hands out, drawn once on this machine into .secrets/ (git and docker
# ignore it), and placement's pseudonym key into .env. Compose mounts each file only into the containers
# that use it (/run/secrets/…): a service gets its own Kafka and database password, never another's.
#   kafka-passwords            every Kafka principal's (the broker makes the admin at format, `topics` the rest)
#   mongodb-passwords          every database user's (`topics` makes them with their roles)
#   mongodb-admin-password     the database's first user, made by the mongo image
#   mongodb-keyfile            the replica set's internal authentication (required with access control)
#   kafka-password.NAME, mongodb-password.NAME   one "<name> <password>" line: one process's own
#   console-passwords          the operators who may sign in to the console (`operator`; add lines for more)
# Running it again keeps every secret it finds and adds those the tables gained.
# Usage: deploy/compose/secrets.sh [DIR]   (default: .secrets beside docker-compose.yml)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR=${1:-$ROOT/.secrets}
ENV_FILE=${ENV_FILE:-$(dirname "$DIR")/.env}
# The principals of services/grants.py (a partner organisation of shared/contracts/partners.py is
# `partner-<id>`) and the admin: a unit test holds the lists to the tables.
KAFKA_PRINCIPALS=(admin application vetting placement departure portal agency screening host visa-agent
  travel-agent partner partner-npc partner-ird partner-fsp operator eraser)
DATABASE_USERS=(admin application vetting placement departure auditor)
# Who runs as whom: each service as itself; the console as the operator and the database's auditor.
PROCESSES=(application vetting placement departure)
CONSOLE_KAFKA=operator CONSOLE_DATABASE=auditor

random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# add_missing FILE NAME...: give each NAME without a line in FILE a password of its own.
add_missing() {
  local file=$1 name
  shift
  touch "$file"
  for name in "$@"; do
    grep -q "^$name " "$file" || echo "$name $(random_hex 24)" >>"$file"
  done
}

line_of() { grep "^$2 " "$1"; }

umask 077
mkdir -p "$DIR"
add_missing "$DIR/kafka-passwords" "${KAFKA_PRINCIPALS[@]}"
add_missing "$DIR/mongodb-passwords" "${DATABASE_USERS[@]}"
add_missing "$DIR/console-passwords" operator
line_of "$DIR/mongodb-passwords" admin | cut -d' ' -f2 | tr -d '\n' >"$DIR/mongodb-admin-password"
[ -s "$DIR/mongodb-keyfile" ] || random_hex 512 >"$DIR/mongodb-keyfile"
for name in "${PROCESSES[@]}"; do
  line_of "$DIR/kafka-passwords" "$name" >"$DIR/kafka-password.$name"
  line_of "$DIR/mongodb-passwords" "$name" >"$DIR/mongodb-password.$name"
done
line_of "$DIR/kafka-passwords" "$CONSOLE_KAFKA" >"$DIR/kafka-password.$CONSOLE_KAFKA"
line_of "$DIR/mongodb-passwords" "$CONSOLE_DATABASE" >"$DIR/mongodb-password.$CONSOLE_DATABASE"
# Compose mounts a secret with the file's own owner and mode, and each image runs as its own user
# (envol 10001, appuser, mongodb): the files are readable inside, and the folder closed to others here.
chmod 700 "$DIR" && chmod 644 "$DIR"/*
if ! grep -qs '^ENVOL_PSEUDONYM_KEY=.' "$ENV_FILE"; then
  echo "ENVOL_PSEUDONYM_KEY=$(random_hex 32)" >>"$ENV_FILE"
fi
echo "secrets in $DIR, the pseudonym key in $ENV_FILE: docker compose up --build" >&2
