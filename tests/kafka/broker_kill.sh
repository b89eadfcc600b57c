#!/usr/bin/env bash
# Broker failures a mock cannot give, on a real three-node cluster (topics
# with replication 3, the cluster's defaults otherwise), during one task of
# lister -> 2 workers -> reporter:
#  1. kill -9 of the broker leading segments partition 0; it stays down 30 s,
#     longer than ferry's delivery timeout (kafka.delivery_timeout_ms = 10 s
#     here), then comes back;
#  2. kill -9 of the active KRaft controller; it comes back after 15 s.
# The task must complete with every object accounted once and the
# destination equal to the source.
source "$(dirname "$0")/../lib/itest.sh"
real_kafka_setup
sed -i 's|^kafka = {|kafka = { delivery_timeout_ms = 10000;|' "$CONF"
sed -i 's|lister = { segment_max_objects = 100; };|lister = { segment_max_objects = 20; };|' "$CONF"
# Slow enough that the task is still running through both failures.
sed -i 's|^  max_attempts = 4;|  max_attempts = 4; qps_limit = 20;|' "$CONF"
node "$TOOLS/fill.js" "$FERRY_S3_SRC" ferry-src small:1200:1:8 large:1:10
total=$(node -e "require('$TOOLS/s3util').list('$FERRY_S3_SRC','ferry-src').then(l=>console.log(l.length))")
"$FERRY_BIN/ferry-lister" -c "$CONF" -t t 2>"$FERRY_RUN/lister.log" || fail "lister exited $?"
for w in w1 w2; do "$FERRY_BIN/ferry-worker" -c "$CONF" --id $w >"$FERRY_RUN/$w.log" 2>&1 & track_pid $!; done
results() { timeout 20 kcat -b "$FERRY_BROKERS" -C -t ferry.results -o beginning -e -q 2>/dev/null | wc -l; }
for i in $(seq 1 120); do [ "$(results)" -ge 3 ] && break; sleep 1; done

L=$(kafka_leader ferry.segments 0)
[ -n "$L" ] && [ "$L" -ge 1 ] || fail "no leader for ferry.segments 0"
kafka_kill "$L"
ok "node $L (leader of ferry.segments 0) killed with SIGKILL after $(results) results"
sleep 30
kafka_node_start "$L"
ok "node $L back after 30 s (delivery timeout 10 s); $(results) results"
sleep 5
C=$(kafka_controller)
[ -n "$C" ] || fail "no active controller"
kafka_kill "$C"
ok "node $C (active controller) killed with SIGKILL; $(results) results"
sleep 15
kafka_node_start "$C"
ok "node $C back; the quorum's leader is now $(kafka_controller)"

task_complete t "$total" ferry-dst
for w in w1 w2; do
  grep -q "event=stalled\|AddressSanitizer\|runtime error" "$FERRY_RUN/$w.log" && fail "$w: $(grep -m1 "event=stalled\|AddressSanitizer\|runtime error" "$FERRY_RUN/$w.log")"
done
ok "task complete through both failures: $COPIED copied + $SKIPPED skipped = $total; destination equal"
echo "broker_kill: all passed"
