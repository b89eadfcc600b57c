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
export FERRY_TEST_BROKER=kafka
broker_start
s3_start src ferry-src
s3_start dst ferry-dst
CONF="$FERRY_RUN/ferry.conf"
write_conf "$CONF" "$FERRY_S3_SRC" "$FERRY_S3_DST"
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

"$FERRY_BIN/ferry-reporter" -c "$CONF" --task t --wait --timeout 600 >"$FERRY_RUN/wait" 2>&1 || fail "task did not complete cleanly ($?)"
"$FERRY_BIN/ferry-reporter" -c "$CONF" --task t --once --json >"$FERRY_RUN/st.json"
read -r copied skipped failed objs <<<"$(node -e "const j=JSON.parse(require('fs').readFileSync('$FERRY_RUN/st.json'));const t=Array.isArray(j)?j[0]:(j.tasks?j.tasks[0]:j);console.log(t.copied,t.skipped,t.failed,t.total_objects)")"
assert_eq "$objs" "$total" "reporter total = source listing"
assert_eq "$failed" "0" "no object failed"
assert_eq "$((copied + skipped))" "$total" "every object counted exactly once"
node "$TOOLS/compare.js" "$FERRY_S3_SRC" ferry-src "$FERRY_S3_DST" ferry-dst || fail "destination differs"
for w in w1 w2; do
  grep -q "event=stalled\|AddressSanitizer\|runtime error" "$FERRY_RUN/$w.log" && fail "$w: $(grep -m1 "event=stalled\|AddressSanitizer\|runtime error" "$FERRY_RUN/$w.log")"
done
ok "task complete through both failures: $copied copied + $skipped skipped = $total; destination equal"
echo "broker_kill: all passed"
