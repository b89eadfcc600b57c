#!/usr/bin/env bash
# Broker failures a mock cannot give, on a real three-node cluster (topics
# with replication 3, the cluster's defaults otherwise), during one task of
# lister -> 2 workers -> reporter:
#  1. kill -9 of the broker leading segments partition 0; it stays down 30 s,
#     longer than ferry's delivery timeout (kafka.delivery_timeout_ms = 10 s
#     here), then comes back;
#  2. kill -9 of the active KRaft controller; it comes back after 15 s.
# The task must complete with every object accounted once and the
# destination equal to the source. A worker whose result cannot be delivered
# within the delivery timeout exits (fatal, its segments redelivered: "fail
# loudly") and is restarted here as a supervisor would: with acks=all the
# surviving leaders wait for the dead replica until replica.lag.time.max.ms
# (30 s) drops it from the ISR, so a 10 s delivery timeout expires on every
# worker (seen: both exited within a second of each other).
source "$(dirname "$0")/../lib/itest.sh"
real_kafka_setup
sed -i 's|^kafka = {|kafka = { delivery_timeout_ms = 10000;|' "$CONF"
sed -i 's|lister = { segment_max_objects = 100; };|lister = { segment_max_objects = 20; };|' "$CONF"
# Slow enough that the task is still running through both failures.
sed -i 's|^  max_attempts = 4;|  max_attempts = 4; qps_limit = 20;|' "$CONF"
node "$TOOLS/fill.js" "$FERRY_S3_SRC" ferry-src small:1200:1:8 large:1:10
total=$(node -e "require('$TOOLS/s3util').list('$FERRY_S3_SRC','ferry-src').then(l=>console.log(l.length))")
"$FERRY_BIN/ferry-lister" -c "$CONF" -t t 2>"$FERRY_RUN/lister.log" || fail "lister exited $?"
declare -A WPID
start_worker() { "$FERRY_BIN/ferry-worker" -c "$CONF" --id "$1" >>"$FERRY_RUN/$1.log" 2>&1 & WPID[$1]=$!; track_pid $!; }
# supervise SECONDS: restarts exited workers (as systemd's Restart= would)
# meanwhile; one line per restart in $FERRY_RUN/restarts.
supervise() {
  local end=$((SECONDS + $1)) w
  while [ $SECONDS -lt $end ]; do
    for w in w1 w2; do
      kill -0 "${WPID[$w]}" 2>/dev/null && continue
      wait "${WPID[$w]}" 2>/dev/null || true
      echo "$w $(date +%T)" >>"$FERRY_RUN/restarts"; start_worker "$w"
    done
    sleep 1
  done
}
: >"$FERRY_RUN/restarts"
start_worker w1; start_worker w2
results() { timeout 20 kcat -b "$FERRY_BROKERS" -C -t ferry.results -o beginning -e -q 2>/dev/null | wc -l; }
for i in $(seq 1 120); do [ "$(results)" -ge 3 ] && break; sleep 1; done

L=$(kafka_leader ferry.segments.t 0)   # task t's own segments topic
[ -n "$L" ] && [ "$L" -ge 1 ] || fail "no leader for ferry.segments.t 0"
kafka_kill "$L"
ok "node $L (leader of ferry.segments.t 0) killed with SIGKILL after $(results) results"
supervise 30
kafka_node_start "$L"
ok "node $L back after 30 s (delivery timeout 10 s); $(results) results"
supervise 5
C=$(kafka_controller)
[ -n "$C" ] || fail "no active controller"
kafka_kill "$C"
ok "node $C (active controller) killed with SIGKILL; $(results) results"
supervise 15
kafka_node_start "$C"
ok "node $C back; the quorum's leader is now $(kafka_controller)"

supervise 900 & SUP=$!; track_pid $SUP
task_complete t "$total" ferry-dst
kill $SUP 2>/dev/null || true
for w in w1 w2; do
  grep -q "event=stalled\|AddressSanitizer\|runtime error" "$FERRY_RUN/$w.log" && fail "$w: $(grep -m1 "event=stalled\|AddressSanitizer\|runtime error" "$FERRY_RUN/$w.log")"
done
ok "task complete through both failures: $COPIED copied + $SKIPPED skipped = $total; destination equal; $(wc -l <"$FERRY_RUN/restarts" 2>/dev/null || echo 0) worker restarts"
echo "broker_kill: all passed"
