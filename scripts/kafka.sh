#!/usr/bin/env bash
# A real Apache Kafka cluster on loopback for the test bed: KRaft, three
# nodes that are each controller and broker, run with `java` from the jars
# Maven resolves (tests/kafka/pom.xml; the version is in
# tests/kafka/versions.env). docs/testing.md "Real Kafka" says more.
#
# As a command:
#   scripts/kafka.sh fetch [VERSION]   resolve the jars once into $FERRY_TESTBED_CACHE
#   scripts/kafka.sh start DIR [--sasl] [--prop k=v]...
#                                      format and start the cluster in DIR, wait until
#                                      ready; prints its bootstrap servers
#   scripts/kafka.sh stop DIR          stop its nodes (SIGTERM, then SIGKILL)
#   scripts/kafka.sh clean DIR         stop, then delete DIR
# Sourced (after scripts/servers.sh, inside a test's $FERRY_RUN):
#   kafka_start [--sasl] [--prop k=v]...   cluster in $FERRY_RUN/kafka; writes
#                                      $FERRY_RUN/bootstrap, exports FERRY_BROKERS;
#                                      its pids are in $FERRY_RUN/pids (servers_stop)
#   kafka_kill N [SIG]                 signal node N (1..3; default KILL), wait for its end
#   kafka_node_start N                 start node N again (same ports, same data)
#   kafka_leader TOPIC PARTITION       node id leading that partition
#   kafka_controller                   node id of the active controller
#   kafka_admin CLASS ARGS...          a Kafka admin tool (kafka.admin.*/org.apache.kafka.tools.*)
#                                      against the cluster's PLAINTEXT listener
#
# With --sasl the clients' listener is SASL_SSL (PLAIN and SCRAM-SHA-512, a
# test CA from tests/lib/tls.sh in $KDIR/tls) and an ACL authorizer is on;
# inter-broker and controller traffic stay on PLAINTEXT loopback listeners
# whose principal (ANONYMOUS) is a super user, as is User:admin. Users:
# admin, ferry (passwords in $KDIR/users.env, mode 0600).
#
# Environment: FERRY_TESTBED_CACHE (default /var/cache/ferry-testbed) holds the
# Maven repository and one libs/ per Kafka version; KAFKA_VERSION overrides
# versions.env; KAFKA_HEAP (default 384m) is each node's -Xmx.
FERRY_SRC="${FERRY_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
FERRY_TESTBED_CACHE="${FERRY_TESTBED_CACHE:-/var/cache/ferry-testbed}"
# shellcheck source=../tests/kafka/versions.env
source "$FERRY_SRC/tests/kafka/versions.env"
KAFKA_VERSION="${FERRY_KAFKA_VERSION:-$KAFKA_VERSION}"
# free_port, track_pid
declare -F free_port >/dev/null || source "$FERRY_SRC/scripts/servers.sh"

kafka_libs() { echo "$FERRY_TESTBED_CACHE/kafka-${1:-$KAFKA_VERSION}/libs"; }

# kafka_fetch [VERSION]: the broker's jars, resolved by Maven once per version.
kafka_fetch() {
  local v="${1:-$KAFKA_VERSION}" libs; libs="$(kafka_libs "$v")"
  [ -f "$libs/.complete" ] && return 0
  command -v mvn >/dev/null || { echo "kafka.sh: mvn not found (scripts/deps.sh installs maven)" >&2; return 1; }
  mkdir -p "$FERRY_TESTBED_CACHE"
  echo "kafka.sh: resolving org.apache.kafka:kafka_2.13:$v with Maven into $FERRY_TESTBED_CACHE" >&2
  # A lock: parallel tests on a cold cache resolve once.
  (
    flock 9
    [ -f "$libs/.complete" ] && exit 0
    rm -rf "$libs"
    mvn -q -B -f "$FERRY_SRC/tests/kafka/pom.xml" -Dkafka.version="$v" \
      -Dmaven.repo.local="$FERRY_TESTBED_CACHE/m2" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$libs" >&2 || exit 1
    touch "$libs/.complete"
  ) 9>"$FERRY_TESTBED_CACHE/.kafka-fetch.lock"
}

# _kafka_java ARGS: java with the broker's class path. `exec`: started in the
# background, the recorded pid is then the JVM's own (a signal to a subshell
# would leave the JVM running).
_kafka_java() {
  local libs; libs="$(kafka_libs)"
  if [ "${_KAFKA_EXEC:-0}" = 1 ]; then set -- exec "$@"; else set -- command "$@"; fi
  "$1" java -Xmx"${KAFKA_HEAP:-384m}" -Xms64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$KDIR/log4j2.properties" \
    -Dlog4j.configuration="file:$KDIR/log4j.properties" \
    -cp "$libs/*" "${@:2}"
}

# _kafka_write_config KDIR N SASL EXTRA_PROPS_FILE: node N's server.properties.
_kafka_write_config() {
  local n="$1" sasl="$2" extra="$3" f="$KDIR/node$1/server.properties"
  local ports; read -r -a ports <"$KDIR/ports"   # b1 c1 i1 b2 c2 i2 b3 c3 i3
  local b="${ports[$(( (n-1)*3 ))]}" c="${ports[$(( (n-1)*3+1 ))]}" i="${ports[$(( (n-1)*3+2 ))]}"
  local voters="1@127.0.0.1:${ports[1]},2@127.0.0.1:${ports[4]},3@127.0.0.1:${ports[7]}"
  local client="PLAINTEXT"; [ "$sasl" = 1 ] && client="SASL_SSL"
  mkdir -p "$KDIR/node$n/data"
  cat >"$f" <<PROPS
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
controller.listener.names=CONTROLLER
listeners=CLIENT://127.0.0.1:$b,CONTROLLER://127.0.0.1:$c,INTERNAL://127.0.0.1:$i
advertised.listeners=CLIENT://127.0.0.1:$b,INTERNAL://127.0.0.1:$i
listener.security.protocol.map=CLIENT:$client,CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT
inter.broker.listener.name=INTERNAL
log.dirs=$KDIR/node$n/data
PROPS
  if [ "$sasl" = 1 ]; then
    # shellcheck disable=SC1091
    source "$KDIR/users.env"
    cat >>"$f" <<PROPS
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512
listener.name.client.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="$KAFKA_ADMIN_PASSWORD" user_ferry="$KAFKA_FERRY_PASSWORD";
listener.name.client.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$KDIR/tls/server-keystore.pem
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS;User:admin
allow.everyone.if.no.acl.found=false
PROPS
  fi
  [ -s "$extra" ] && cat "$extra" >>"$f"
  return 0
}

# _kafka_prepare KDIR SASL PROPS...: ports, configs, TLS, users, format.
_kafka_prepare() {
  local sasl="$1"; shift
  mkdir -p "$KDIR"
  : >"$KDIR/extra.properties"
  while [ $# -gt 0 ]; do
    case "$1" in
      --prop) echo "$2" >>"$KDIR/extra.properties"; shift 2 ;;
      *) echo "kafka.sh: unknown option $1" >&2; return 2 ;;
    esac
  done
  local ports=() k
  for k in $(seq 1 9); do ports+=("$(free_port)"); done
  echo "${ports[*]}" >"$KDIR/ports"
  echo "127.0.0.1:${ports[0]},127.0.0.1:${ports[3]},127.0.0.1:${ports[6]}" >"$KDIR/bootstrap"
  echo "127.0.0.1:${ports[2]},127.0.0.1:${ports[5]},127.0.0.1:${ports[8]}" >"$KDIR/bootstrap-internal"
  cat >"$KDIR/log4j2.properties" <<'L4J'
rootLogger.level=INFO
rootLogger.appenderRef.out.ref=OUT
appender.out.type=Console
appender.out.name=OUT
appender.out.layout.type=PatternLayout
appender.out.layout.pattern=[%d] %p %m (%c)%n
logger.kafka.name=kafka
logger.kafka.level=INFO
logger.state.name=state.change.logger
logger.state.level=WARN
L4J
  # Kafka 3.x logs through log4j 1 (reload4j).
  printf '%s\n' 'log4j.rootLogger=INFO, out' 'log4j.appender.out=org.apache.log4j.ConsoleAppender' \
    'log4j.appender.out.layout=org.apache.log4j.PatternLayout' \
    'log4j.appender.out.layout.ConversionPattern=[%d] %p %m (%c)%n' \
    'log4j.logger.state.change.logger=WARN' >"$KDIR/log4j.properties"
  local scram=()
  if [ "$sasl" = 1 ]; then
    # shellcheck source=../tests/lib/tls.sh
    source "$FERRY_SRC/tests/lib/tls.sh"
    tls_make_certs "$KDIR/tls"
    # Kafka's PEM key store: a PKCS#8 key followed by its certificate.
    { openssl pkcs8 -topk8 -nocrypt -in "$KDIR/tls/server.key"; cat "$KDIR/tls/server.pem"; } \
      >"$KDIR/tls/server-keystore.pem"
    chmod 600 "$KDIR/tls/server-keystore.pem"
    ( umask 077
      printf 'KAFKA_ADMIN_PASSWORD=%s\nKAFKA_FERRY_PASSWORD=%s\n' \
        "adm-$(openssl rand -hex 12)" "fer-$(openssl rand -hex 12)" >"$KDIR/users.env" )
    # shellcheck disable=SC1091
    source "$KDIR/users.env"
    scram=(--add-scram "SCRAM-SHA-512=[name=admin,password=$KAFKA_ADMIN_PASSWORD]"
           --add-scram "SCRAM-SHA-512=[name=ferry,password=$KAFKA_FERRY_PASSWORD]")
  fi
  # A cluster id is 16 random bytes in base64url; one starting with '-' is
  # taken by the format tool's argument parser for an option (seen: 1 run in 64).
  local id=-
  while [ "${id:0:1}" = - ]; do id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"; done
  local pids=() rc=0
  for k in 1 2 3; do
    _kafka_write_config "$k" "$sasl" "$KDIR/extra.properties"
    _kafka_java kafka.tools.StorageTool format -t "$id" -c "$KDIR/node$k/server.properties" "${scram[@]}" \
      >"$KDIR/node$k/format.log" 2>&1 &
    pids+=($!)
  done
  for k in 1 2 3; do
    wait "${pids[$((k-1))]}" || { rc=1; cat "$KDIR/node$k/format.log" >&2; }
  done
  return $rc
}

# _kafka_node_launch N: starts node N in the background; its pid in $KDIR/nodeN/pid.
_kafka_node_launch() {
  local n="$1"
  _KAFKA_EXEC=1 _kafka_java kafka.Kafka "$KDIR/node$n/server.properties" >>"$KDIR/node$n/server.log" 2>&1 &
  echo $! >"$KDIR/node$n/pid"
  if declare -F track_pid >/dev/null && [ -n "${FERRY_RUN:-}" ]; then track_pid $!; fi
}

# _kafka_wait_ready SECONDS: every live node has started, and a metadata
# request through the bootstrap list sees three brokers.
_kafka_wait_ready() {
  local t="$1" i n up
  for i in $(seq 1 $(( t * 2 ))); do
    up=0
    for n in 1 2 3; do
      if grep -q "Kafka Server started" "$KDIR/node$n/server.log" 2>/dev/null; then up=$((up + 1)); fi
    done
    if [ "$up" = 3 ] && [ "$(kcat -b "$(cat "$KDIR/bootstrap-internal")" -L -m 5 2>/dev/null | grep -c '^  broker ')" = 3 ]; then
      _kafka_settle
      return
    fi
    for n in 1 2 3; do
      kill -0 "$(cat "$KDIR/node$n/pid")" 2>/dev/null || { echo "kafka.sh: node $n exited:" >&2; tail -30 "$KDIR/node$n/server.log" >&2; return 1; }
    done
    sleep 0.5
  done
  echo "kafka.sh: the cluster in $KDIR was not ready after $t s" >&2
  for n in 1 2 3; do tail -15 "$KDIR/node$n/server.log" >&2; done
  return 1
}

# _kafka_settle: a topic created now is known to every broker within a
# second. On a cluster that has just started, one broker can still answer a
# metadata request for a topic created seconds before with "unknown topic",
# and librdkafka 2.0.2 then fails the messages queued for it (the lister's
# "delivery to ferry.segments failed: Local: Unknown partition";
# tests/kafka/topics_fresh.sh keeps that visible). A cluster ferry meets in
# production is not seconds old: create a probe topic and wait until every
# broker reports it.
_kafka_settle() {
  local t=__ferry_probe i n ok
  _kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "$(cat "$KDIR/bootstrap-internal")" \
    --create --if-not-exists --topic "$t" --partitions 3 --replication-factor 3 >"$KDIR/settle.log" 2>&1 ||
    { cat "$KDIR/settle.log" >&2; return 1; }
  for i in $(seq 1 120); do
    ok=0
    for n in $(tr ',' ' ' <"$KDIR/bootstrap-internal"); do
      kcat -b "$n" -L -t "$t" -m 5 2>/dev/null | grep -q "topic \"$t\" with 3 partitions" && ok=$((ok + 1))
    done
    [ "$ok" = 3 ] && return 0
    sleep 0.5
  done
  echo "kafka.sh: the brokers did not all learn topic $t in 60 s" >&2
  return 1
}

# kafka_cluster_start DIR [--sasl] [--prop k=v]...
kafka_cluster_start() {
  KDIR="$1"; shift
  local sasl=0
  if [ "${1:-}" = --sasl ]; then sasl=1; shift; fi
  kafka_fetch || return 1
  _kafka_prepare "$sasl" "$@" || return 1
  local n
  for n in 1 2 3; do _kafka_node_launch "$n"; done
  _kafka_wait_ready "${KAFKA_READY_SECONDS:-180}"
}

kafka_cluster_stop() {
  KDIR="$1"
  local n pid i
  for n in 1 2 3; do
    pid="$(cat "$KDIR/node$n/pid" 2>/dev/null)" || continue
    kill "$pid" 2>/dev/null || true
  done
  for n in 1 2 3; do
    pid="$(cat "$KDIR/node$n/pid" 2>/dev/null)" || continue
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  done
}

# ---- for tests (sourced after tests/lib/itest.sh or scripts/servers.sh) -----

kafka_start() {
  kafka_cluster_start "$FERRY_RUN/kafka" "$@" || return 1
  cp "$KDIR/bootstrap" "$FERRY_RUN/bootstrap"
  FERRY_BROKERS="$(cat "$KDIR/bootstrap")"
  KAFKA_INTERNAL="$(cat "$KDIR/bootstrap-internal")"
  export FERRY_BROKERS KAFKA_INTERNAL KDIR
}

kafka_kill() {
  local n="$1" sig="${2:-KILL}" pid i
  pid="$(cat "$KDIR/node$n/pid")"
  kill "-$sig" "$pid" 2>/dev/null || true
  for i in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  echo "kafka.sh: node $n did not end after SIG$sig" >&2
  return 1
}

kafka_node_start() {
  local n="$1" i
  echo "---- restarted $(date +%T) ----" >>"$KDIR/node$n/server.log"
  local before; before=$(grep -c "Kafka Server started" "$KDIR/node$n/server.log")
  _kafka_node_launch "$n"
  for i in $(seq 1 240); do
    [ "$(grep -c "Kafka Server started" "$KDIR/node$n/server.log")" -gt "$before" ] && return 0
    sleep 0.5
  done
  echo "kafka.sh: node $n did not start again" >&2
  return 1
}

# kafka_leader TOPIC PARTITION: the node id leading it (from a metadata request).
kafka_leader() {
  kcat -b "$KAFKA_INTERNAL" -L -t "$1" -J 2>/dev/null |
    jq -r --argjson p "$2" '.topics[0].partitions[] | select(.partition == $p) | .leader'
}

# kafka_acl_class: the ACL tool's class (Scala before Kafka 4).
kafka_acl_class() {
  case "$KAFKA_VERSION" in 3.*) echo kafka.admin.AclCommand ;; *) echo org.apache.kafka.tools.AclCommand ;; esac
}

kafka_admin() {
  _kafka_java "$@" --bootstrap-server "$KAFKA_INTERNAL"
}

# kafka_controller: the active controller's node id, from the quorum's view.
kafka_controller() {
  _kafka_java org.apache.kafka.tools.MetadataQuorumCommand --bootstrap-server "$KAFKA_INTERNAL" \
    describe --status 2>/dev/null | awk -F': *' '/^LeaderId/ {print $2}'
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cmd="${1:-}"; shift || true
  case "$cmd" in
    fetch) kafka_fetch "$@" ;;
    start)
      kafka_cluster_start "$@"
      cat "$KDIR/bootstrap" ;;
    stop) kafka_cluster_stop "$1" ;;
    clean) kafka_cluster_stop "$1"; rm -rf "$1" ;;
    *) sed -n '2,30p' "$0" >&2; exit 2 ;;
  esac
fi
