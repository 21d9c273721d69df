#!/usr/bin/env bash
# Three KRaft nodes (broker + controller each) of one Kafka cluster on this machine: replication factor 3,
# min.insync.replicas 2, for tests that lose a broker. Node n listens on BASE+2(n-1) (controller: +1).
# Usage: deploy/local/kafka-cluster.sh {up|down|status|kill N|start N}
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BASE=${KAFKA_CLUSTER_BASE_PORT:-29092}
STATE=${KAFKA_CLUSTER_STATE:-$ROOT/.local-infra/cluster}
VOTERS="1@127.0.0.1:$((BASE + 1)),2@127.0.0.1:$((BASE + 3)),3@127.0.0.1:$((BASE + 5))"

node() {  # node N ACTION: run kafka.sh for node N
  local n=$1 action=$2
  mkdir -p "$STATE"
  [ -s "$STATE/cluster.id" ] || python3 -c \
    'import base64, uuid; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode()[:22])' >"$STATE/cluster.id"
  ENVOL_STATE="$STATE/node$n" KAFKA_SECRETS="$STATE/secrets" KAFKA_NODE_ID=$n KAFKA_PORT=$((BASE + 2 * (n - 1))) \
    KAFKA_CONTROLLER_PORT=$((BASE + 2 * (n - 1) + 1)) KAFKA_VOTERS=$VOTERS KAFKA_INTERNAL_RF=3 \
    KAFKA_CLUSTER_ID=$(<"$STATE/cluster.id") KAFKA_WAIT=${KAFKA_WAIT:-1} bash "$HERE/kafka.sh" "$action"
}

case ${1:-} in
  up)
    bash "$HERE/kafka.sh" fetch
    for n in 1 2 3; do KAFKA_WAIT=0 node "$n" start; done  # a node is ready only once a quorum is up
    for n in 1 2 3; do node "$n" wait; done
    echo "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$BASE,127.0.0.1:$((BASE + 2)),127.0.0.1:$((BASE + 4))"
    echo "KAFKA_SSL_CAFILE=$STATE/secrets/ca.pem"
    echo "ENVOL_KAFKA_PASSWORDS=$STATE/secrets/kafka-passwords"
    ;;
  down) for n in 1 2 3; do node "$n" stop; done ;;
  status) for n in 1 2 3; do node "$n" status || true; done ;;
  kill) node "${2:?node 1-3}" kill ;;
  start) node "${2:?node 1-3}" start ;;
  *) echo "usage: $0 {up|down|status|kill N|start N}" >&2; exit 2 ;;
esac
