#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft, broker+controller) from Maven Central jars, no Docker.
# Secured: clients speak SASL_SSL (SCRAM-SHA-512) to a certificate of a local CA, the controller listener
# takes only the broker's own certificate, and the StandardAuthorizer refuses whatever no ACL allows.
# Usage: deploy/local/kafka.sh {fetch|start|stop|wait|kill|status|run}   (see deploy/local/README.md)
# `run` formats if needed and runs the broker in the foreground: docker-compose.yml's broker, on the
# official image's jars (KAFKA_LIBS), with the listeners, names and passwords compose gives it.
set -euo pipefail
NAME=kafka
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/lib.sh"

KAFKA_VERSION=${KAFKA_VERSION:-4.1.1}
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
KAFKA_HEAP=${KAFKA_HEAP:-512m}
# One node by default; deploy/local/kafka-cluster.sh sets these to run three nodes of one cluster.
KAFKA_NODE_ID=${KAFKA_NODE_ID:-1}
KAFKA_VOTERS=${KAFKA_VOTERS:-$KAFKA_NODE_ID@127.0.0.1:$KAFKA_CONTROLLER_PORT}
KAFKA_INTERNAL_RF=${KAFKA_INTERNAL_RF:-1}
KAFKA_WAIT=${KAFKA_WAIT:-1}
KAFKA_PLAINTEXT=${KAFKA_PLAINTEXT:-0}   # 0: start without waiting (a cluster node is ready only with a quorum)
JAVA=${JAVA:-java}
KEYTOOL=${KEYTOOL:-keytool}
# Where clients reach the broker: it listens on KAFKA_BIND and is advertised as KAFKA_HOST (its certificate
# names KAFKA_CERT_SAN). KAFKA_EXTERNAL_PORT adds a second SASL_SSL listener, advertised as
# KAFKA_EXTERNAL_HOST:KAFKA_EXTERNAL_PORT (compose: the services use kafka:29092, the host localhost:9092).
KAFKA_BIND=${KAFKA_BIND:-127.0.0.1}
KAFKA_HOST=${KAFKA_HOST:-127.0.0.1}
KAFKA_CERT_SAN=${KAFKA_CERT_SAN:-ip:127.0.0.1,dns:localhost}
KAFKA_EXTERNAL_PORT=${KAFKA_EXTERNAL_PORT:-}
KAFKA_EXTERNAL_HOST=${KAFKA_EXTERNAL_HOST:-localhost}
# Tests only: a listener whose OAUTHBEARER trusts unsigned tokens (Kafka's unsecured validator), to try the
# clients' OAUTHBEARER on a real broker. Never set it elsewhere: anyone could name any principal there.
KAFKA_TEST_UNSECURED_OAUTH_PORT=${KAFKA_TEST_UNSECURED_OAUTH_PORT:-}
# The CA, the broker's keystore and the SCRAM passwords; the nodes of a cluster share one directory.
SECRETS=${KAFKA_SECRETS:-$ENVOL_STATE/secrets}
# "<principal> <password>" lines, read by the clients (ENVOL_KAFKA_PASSWORDS): drawn here for the admin,
# unless given (KAFKA_PASSWORDS_FILE: compose's secret, made by deploy/compose/secrets.sh)
PASSWORDS=${KAFKA_PASSWORDS_FILE:-$SECRETS/kafka-passwords}
KAFKA_CA_EXPORT=${KAFKA_CA_EXPORT:-}  # a copy of the CA's certificate for the clients (compose: a volume)

LIBS=${KAFKA_LIBS:-$ENVOL_CACHE/kafka-$KAFKA_VERSION/libs}  # KAFKA_LIBS: a distribution's (the image's)
DIR=$ENVOL_STATE/kafka
DATA=$DIR/data
PROPS=$DIR/server.properties
CLIENT=$DIR/admin-client.properties
LOG4J=$DIR/log4j2.properties
LOG=$DIR/kafka.log
PIDFILE=$DIR/kafka.pid
DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

# Run Maven on kafka-pom.xml, output to a log shown only on failure
# (Maven 3.8 with -q still prints stray ANSI reset codes).
mvn_log() {
  mvn -B -ntp -f "$HERE/kafka-pom.xml" "$@" >>"$LIBS.mvn.log" 2>&1 ||
    { tail -n 40 "$LIBS.mvn.log" >&2; die "mvn failed, full log: $LIBS.mvn.log"; }
}

fetch() {
  if [ -f "$LIBS/.complete" ]; then say "using cached jars in $LIBS"; return 0; fi
  command -v mvn >/dev/null || die "mvn not found"
  local tmp=$LIBS.tmp log4j slf4j binding
  rm -rf "$tmp" && mkdir -p "$tmp"
  say "resolving org.apache.kafka:kafka_2.13:$KAFKA_VERSION from Maven Central"
  : >"$LIBS.mvn.log"
  mvn_log -Dkafka.version="$KAFKA_VERSION" \
    "$DEP_PLUGIN:copy-dependencies" -DincludeScope=runtime -DoutputDirectory="$tmp"
  # The POM brings slf4j-api and log4j-core but no binding between them: without one the
  # broker runs silently. slf4j 1.7 needs log4j-slf4j-impl, slf4j 2.x log4j-slf4j2-impl.
  log4j=$(ls "$tmp" | sed -n 's/^log4j-api-\(.*\)\.jar$/\1/p')
  slf4j=$(ls "$tmp" | sed -n 's/^slf4j-api-\(.*\)\.jar$/\1/p')
  [ -n "$log4j" ] && [ -n "$slf4j" ] || die "log4j-api or slf4j-api missing from the closure"
  case $slf4j in 1.*) binding=log4j-slf4j-impl ;; *) binding=log4j-slf4j2-impl ;; esac
  say "adding org.apache.logging.log4j:$binding:$log4j (slf4j-api $slf4j)"
  mvn_log "$DEP_PLUGIN:copy" -Dartifact="org.apache.logging.log4j:$binding:$log4j" -DoutputDirectory="$tmp"
  touch "$tmp/.complete"
  rm -rf "$LIBS" && mv "$tmp" "$LIBS"
  say "jars in $LIBS ($(du -sh "$LIBS" | cut -f1))"
}

password_of() { awk -v who="$1" '$1 == who { print $2 }' "$PASSWORDS"; }
random_hex() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# A local CA, and a broker certificate it signs (for 127.0.0.1 and localhost), made once with keytool.
# The admin's SCRAM password is drawn at the same time; `make topics` adds the other principals.
secrets() {
  [ -f "$SECRETS/.complete" ] && return 0
  command -v "$KEYTOOL" >/dev/null || die "keytool not found (it comes with the JDK)"
  local tmp=$SECRETS.tmp pass
  rm -rf "$tmp" && mkdir -p "$tmp" && chmod 700 "$tmp"
  pass=$(random_hex)
  echo "$pass" >"$tmp/store-password"
  local kt=("$KEYTOOL" -storetype PKCS12 -storepass "$pass" -noprompt)
  say "making a local CA and the broker's certificate (keytool)"
  { "${kt[@]}" -genkeypair -keystore "$tmp/ca.p12" -alias ca -dname CN=envol-local-ca -keyalg RSA \
      -keysize 2048 -validity 3650 -ext bc:c
    "${kt[@]}" -exportcert -keystore "$tmp/ca.p12" -alias ca -rfc -file "$tmp/ca.pem"
    "${kt[@]}" -genkeypair -keystore "$tmp/broker.p12" -alias broker -dname CN=envol-broker -keyalg RSA \
      -keysize 2048 -validity 3650
    "${kt[@]}" -certreq -keystore "$tmp/broker.p12" -alias broker -file "$tmp/broker.csr"
    "${kt[@]}" -gencert -keystore "$tmp/ca.p12" -alias ca -infile "$tmp/broker.csr" \
      -outfile "$tmp/broker.pem" -rfc -validity 3650 -ext "SAN=$KAFKA_CERT_SAN" \
      -ext EKU=serverAuth,clientAuth
    "${kt[@]}" -importcert -keystore "$tmp/broker.p12" -alias ca -file "$tmp/ca.pem"
    "${kt[@]}" -importcert -keystore "$tmp/broker.p12" -alias broker -file "$tmp/broker.pem"
    "${kt[@]}" -importcert -keystore "$tmp/truststore.p12" -alias ca -file "$tmp/ca.pem"
  } >"$tmp/keytool.log" 2>&1 || { cat "$tmp/keytool.log" >&2; die "keytool failed"; }
  rm -f "$tmp/broker.csr" "$tmp/broker.pem" "$tmp/keytool.log"
  [ -n "${KAFKA_PASSWORDS_FILE:-}" ] || echo "admin $(random_hex)" >"$tmp/kafka-passwords"
  chmod 600 "$tmp"/*
  mkdir -p "$SECRETS" && chmod 700 "$SECRETS"  # it may hold the database's passwords (ferretdb.sh)
  mv -f "$tmp"/* "$SECRETS"/ && rmdir "$tmp"
  touch "$SECRETS/.complete"
}

# The listeners and their security. KAFKA_PLAINTEXT=1 runs the broker as it was before it was secured,
# for one use only: `make bench` measures what TLS and SCRAM cost against it.
security_config() {
  local client=SASL_SSL controller=SSL external="" oauth=""
  [ "$KAFKA_PLAINTEXT" = 1 ] && client=PLAINTEXT controller=PLAINTEXT
  [ -z "$KAFKA_EXTERNAL_PORT" ] || external=EXTERNAL
  [ -z "$KAFKA_TEST_UNSECURED_OAUTH_PORT" ] || oauth=OAUTH
  cat <<EOF
listeners=$client://$KAFKA_BIND:$KAFKA_PORT,CONTROLLER://$KAFKA_BIND:$KAFKA_CONTROLLER_PORT${external:+,$external://$KAFKA_BIND:$KAFKA_EXTERNAL_PORT}${oauth:+,$oauth://$KAFKA_BIND:$KAFKA_TEST_UNSECURED_OAUTH_PORT}
advertised.listeners=$client://$KAFKA_HOST:$KAFKA_PORT${external:+,$external://$KAFKA_EXTERNAL_HOST:$KAFKA_EXTERNAL_PORT}${oauth:+,$oauth://$KAFKA_HOST:$KAFKA_TEST_UNSECURED_OAUTH_PORT}
listener.security.protocol.map=$client:$client,CONTROLLER:$controller${external:+,$external:$client}${oauth:+,$oauth:$client}
controller.listener.names=CONTROLLER
inter.broker.listener.name=$client
EOF
  [ "$KAFKA_PLAINTEXT" = 1 ] && return 0
  local store admin
  store=$(<"$SECRETS/store-password")
  admin=$(password_of admin)
  [ -n "$admin" ] || die "no admin password in $PASSWORDS"
  cat <<EOF
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin";
${external:+listener.name.external.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;}
${oauth:+listener.name.oauth.sasl.enabled.mechanisms=OAUTHBEARER}
${oauth:+listener.name.oauth.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub=\"admin\";}
ssl.keystore.location=$SECRETS/broker.p12
ssl.keystore.type=PKCS12
ssl.keystore.password=$store
ssl.key.password=$store
ssl.truststore.location=$SECRETS/truststore.p12
ssl.truststore.type=PKCS12
ssl.truststore.password=$store
listener.name.controller.ssl.client.auth=required
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:CN=envol-broker
EOF
  cat >"$CLIENT" <<EOF
# the admin's client settings, for the readiness probe and Kafka's own tools (--command-config)
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin";
ssl.truststore.location=$SECRETS/truststore.p12
ssl.truststore.type=PKCS12
ssl.truststore.password=$store
EOF
  chmod 600 "$CLIENT"
}

write_config() {
  : >"$CLIENT"
  cat >"$PROPS" <<EOF
# generated by deploy/local/kafka.sh on every start
process.roles=broker,controller
node.id=$KAFKA_NODE_ID
controller.quorum.voters=$KAFKA_VOTERS
$(security_config)
log.dirs=$DATA
num.partitions=3
auto.create.topics.enable=false
offsets.topic.replication.factor=$KAFKA_INTERNAL_RF
transaction.state.log.replication.factor=$KAFKA_INTERNAL_RF
transaction.state.log.min.isr=$(( KAFKA_INTERNAL_RF > 1 ? 2 : 1 ))
share.coordinator.state.topic.replication.factor=$KAFKA_INTERNAL_RF
share.coordinator.state.topic.min.isr=$(( KAFKA_INTERNAL_RF > 1 ? 2 : 1 ))
min.insync.replicas=$(( KAFKA_INTERNAL_RF > 1 ? 2 : 1 ))
unclean.leader.election.enable=false
group.initial.rebalance.delay.ms=0
EOF
  chmod 600 "$PROPS"
  cat >"$LOG4J" <<'EOF'
# generated by deploy/local/kafka.sh; level via -Dkafka.log.level (default INFO)
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = ${sys:kafka.log.level:-INFO}
rootLogger.appenderRef.out.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
EOF
}

# Kafka's command-line tools, logging only warnings (they log INFO lines to stdout otherwise).
kjava() { "$JAVA" -Dkafka.log.level=WARN -Dlog4j2.configurationFile="$LOG4J" -cp "$LIBS/*" "$@"; }

# Ready = an Admin client (KafkaReady.java, run as a single-file program) authenticated as the admin got
# the cluster's metadata over the SASL_SSL listener. A TCP connect alone can succeed too early.
probe() {
  port_open "$KAFKA_PORT" || return 1
  timeout 20 "$JAVA" -Xmx128m -XX:TieredStopAtLevel=1 -Dkafka.log.level=ERROR \
    -Dlog4j2.configurationFile="$LOG4J" -cp "$LIBS/*" "$HERE/KafkaReady.java" "127.0.0.1:$KAFKA_PORT" \
    "$CLIENT" >/dev/null 2>&1
}

# The state a start needs: the jars, the secrets, the configuration, and the data formatted with the
# admin's SCRAM user (anew when the data was made for other secrets).
prepare() {
  [ -n "${KAFKA_LIBS:-}" ] || [ -f "$LIBS/.complete" ] || fetch
  state_dir "$DATA"
  local formatted_for=plaintext scram=()
  if [ "$KAFKA_PLAINTEXT" != 1 ]; then
    secrets
    [ -z "$KAFKA_CA_EXPORT" ] || { cp "$SECRETS/ca.pem" "$KAFKA_CA_EXPORT" && chmod 644 "$KAFKA_CA_EXPORT"; }
    formatted_for=$(password_of admin | sha256sum | cut -c1-16)  # the admin's user lives in the data
    scram=(--add-scram "SCRAM-SHA-512=[name=admin,password=$(password_of admin)]")
  fi
  write_config
  if [ -f "$DATA/meta.properties" ] && [ "$(cat "$DIR/formatted-for" 2>/dev/null)" != "$formatted_for" ]; then
    say "the data predates these secrets (or the secured broker): formatting it anew"
    rm -rf "$DATA" && state_dir "$DATA"
  fi
  if [ ! -f "$DATA/meta.properties" ]; then
    [ -n "${KAFKA_CLUSTER_ID:-}" ] && echo "$KAFKA_CLUSTER_ID" >"$DIR/cluster.id"
    [ -s "$DIR/cluster.id" ] || kjava kafka.tools.StorageTool random-uuid >"$DIR/cluster.id"
    grep -qxE '[A-Za-z0-9_-]{22}' "$DIR/cluster.id" || die "bad cluster id in $DIR/cluster.id"
    say "formatting $DATA (cluster id $(<"$DIR/cluster.id"))"
    # `--cluster-id=`: an id may start with "-" (1 in 64), which a separate argument would read as an option
    kjava kafka.tools.StorageTool format --cluster-id="$(<"$DIR/cluster.id")" -c "$PROPS" --ignore-formatted \
      ${scram[@]+"${scram[@]}"} >&2
    echo "$formatted_for" >"$DIR/formatted-for"
  fi
}

# server RUNNER...: the broker's command line, run by RUNNER (launch: detached; exec: in place of this shell).
server() {
  "$@" "$JAVA" -Xmx"$KAFKA_HEAP" -Xms"$KAFKA_HEAP" -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$LOG4J" -cp "$LIBS/*" kafka.Kafka "$PROPS"
}

start() {
  local pid t0=$EPOCHREALTIME
  if pid=$(running_pid "$PIDFILE" "$PROPS"); then
    say "already running (pid $pid) on 127.0.0.1:$KAFKA_PORT"
    return 0
  fi
  for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" $KAFKA_EXTERNAL_PORT; do
    port_open "$p" && die "port $p is already in use by another process"
  done
  prepare
  say "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (log: $LOG)"
  server launch "$LOG" "$PIDFILE"
  [ "$KAFKA_WAIT" = 1 ] || return 0
  wait_ready "$KAFKA_START_TIMEOUT" "$PIDFILE" "$PROPS" "$LOG" probe
  say "ready on 127.0.0.1:$KAFKA_PORT (pid $(<"$PIDFILE"), $(elapsed "$t0")s)"
}

# In the foreground, in place of this shell (a container's main process; its log is the standard output).
run() {
  prepare
  say "running Kafka on $KAFKA_HOST:$KAFKA_PORT${KAFKA_EXTERNAL_PORT:+ and $KAFKA_EXTERNAL_HOST:$KAFKA_EXTERNAL_PORT}"
  server exec
}

status() {
  local pid
  if pid=$(running_pid "$PIDFILE" "$PROPS"); then
    echo "kafka: running (pid $pid) on 127.0.0.1:$KAFKA_PORT, controller 127.0.0.1:$KAFKA_CONTROLLER_PORT"
  else
    echo "kafka: not running (port $KAFKA_PORT)"
    return 1
  fi
}

case ${1:-} in
  fetch) fetch ;;
  start) start ;;
  stop) stop_pid "$PIDFILE" "$PROPS" ;;
  wait) wait_ready "$KAFKA_START_TIMEOUT" "$PIDFILE" "$PROPS" "$LOG" probe ;;
  kill) pid=$(running_pid "$PIDFILE" "$PROPS") && kill -KILL "$pid" && say "killed pid $pid (SIGKILL)" ;;
  status) status ;;
  run) run ;;
  *) echo "usage: $0 {fetch|start|stop|wait|kill|status|run}" >&2; exit 2 ;;
esac
