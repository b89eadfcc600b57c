#!/usr/bin/env bash
# A result longer than a Kafka message. 1000 objects with
# ~810-byte keys, a destination that refuses every connection: every object
# fails, and the segment's result (one outcome per object, ~1.1 MB) no longer
# fits in one message. It used to stop every worker in turn (produce-failed
# "Message size too large", fatal, redelivered to the next worker) and the
# task stayed running 0/1000. Now the result goes in parts that fit, the
# reporter joins them, and the task ends with 1000 failed; with a limit so low
# that one outcome cannot fit, the segment is dead-lettered with the reason and
# the worker goes on.
source "$(dirname "$0")/../lib/itest.sh"

devbroker_start --partitions 2
DEVBROKER_PID=$(tail -1 "$FERRY_RUN/pids")
s3_start src ferry-src
CONF="$FERRY_RUN/ferry.conf"
# Port 1 on loopback: nothing listens there, every request is refused.
write_conf "$CONF" "$FERRY_S3_SRC" "http://127.0.0.1:1"
sed -i 's|max_attempts = 4;|max_attempts = 1;|; s|segment_max_objects = 100;|segment_max_objects = 1000;|' "$CONF"
sed -i 's|^kafka = {|kafka = { consumer_properties = ["session.timeout.ms=6000", "heartbeat.interval.ms=500"];|' "$CONF"
sed -i 's|^  \$extra||' "$CONF"

# 1000 keys of 810 bytes, in path components s3rver can store.
node -e "
const u = require('$TOOLS/s3util');
const keys = [];
for (let i = 0; i < 1000; i++) {
  let k = 'long/' + String(i).padStart(4, '0');
  while (k.length < 800) k += '/' + 'x'.repeat(Math.min(200, 800 - k.length - 1));
  keys.push(k + '/obj.bin');
}
u.pool(keys, 16, k => u.put('$FERRY_S3_SRC', 'ferry-src', k, Buffer.from('v'))).then(() => console.log('filled', keys.length));
"
"$FERRY_BIN/ferry-lister" -c "$CONF" -t t >"$FERRY_RUN/lister.log" 2>&1 || { cat "$FERRY_RUN/lister.log"; fail "lister"; }
nsegs=$(kcat -b "$FERRY_BROKERS" -C -t ferry.segments -o beginning -e -q | wc -l)
[ "$nsegs" -eq 1 ] || fail "expected the 1000 objects in one segment, got $nsegs messages"

"$FERRY_BIN/ferry-worker" -c "$CONF" --id w1 >"$FERRY_RUN/w1.log" 2>&1 & W1=$!; track_pid $W1
rep() { "$FERRY_BIN/ferry-reporter" -c "$CONF" "$@"; }
deadline=$((SECONDS + 120))
while [ $SECONDS -lt $deadline ]; do
  rep --task t --once --json >"$FERRY_RUN/once.json" 2>/dev/null || true
  grep -q '"failed": 1000' "$FERRY_RUN/once.json" && break
  kill -0 $W1 2>/dev/null || break
  sleep 1
done
kill -0 $W1 2>/dev/null || { tail -20 "$FERRY_RUN/w1.log"; fail "the worker stopped"; }
grep -q 'produce-failed' "$FERRY_RUN/w1.log" && fail "worker logged produce-failed"
python3 - "$FERRY_RUN/once.json" <<'PY' || fail "reporter figures"
import json, sys
t = json.load(open(sys.argv[1]))
assert t["failed"] == 1000 and t["segments_done"] == 1, (t["failed"], t["segments_done"])
assert t["state"] == "completed-with-failures", t["state"]
PY
kcat -b "$FERRY_BROKERS" -C -t ferry.results -o beginning -e -q >"$FERRY_RUN/results"
python3 - "$FERRY_RUN/results" <<'PY' || fail "result parts"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(rs) >= 2, "not split: %d message(s)" % len(rs)
sizes = [len(l) for l in open(sys.argv[1]).read().split("\n") if l]
assert max(sizes) < 1000000, sizes
parts = sorted(r["part"] for r in rs)
assert parts == list(range(1, rs[0]["parts"] + 1)), parts
keys = [o["key"] for r in rs for o in r["outcomes"]]
assert len(keys) == 1000 and len(set(keys)) == 1000, len(keys)
print("ok: result in %d parts, largest %d bytes" % (len(rs), max(sizes)))
PY
[ "$(kcat -b "$FERRY_BROKERS" -C -t ferry.failed -o beginning -e -q | wc -l)" -eq 1000 ] || fail "failed records"
rep --export-failed t --out "$FERRY_RUN/failed.csv" || fail "export"
[ "$(tail -n +2 "$FERRY_RUN/failed.csv" | wc -l)" -eq 1000 ] || fail "export lists $(tail -n +2 "$FERRY_RUN/failed.csv" | wc -l) failed"
ok "1000 failed objects: result split, joined by the reporter, worker still running"
kill -TERM $W1; wait $W1 || fail "worker exit status $?"

# A message the broker refuses for itself (the dev broker answers the next
# Produce request with MSG_SIZE_TOO_LARGE): the segment goes to the dlq with
# the reason, its offset is committed, and the worker goes on with the next
# run's segment.
"$FERRY_BIN/ferry-lister" -c "$CONF" -t t >>"$FERRY_RUN/lister.log" 2>&1 || fail "lister run 2"
"$FERRY_BIN/ferry-worker" -c "$CONF" --id w2 >"$FERRY_RUN/w2.log" 2>&1 & W2=$!; track_pid $W2
# The worker also produces heartbeats (ferry.workers), which may take a
# refusal (harmlessly: they are not acknowledged): refuse the next Produce
# request again until one of the segment's messages was the one refused.
deadline=$((SECONDS + 60))
while [ $SECONDS -lt $deadline ] && ! grep -q 'event=refused' "$FERRY_RUN/w2.log"; do
  kill -HUP "$DEVBROKER_PID"
  sleep 0.3
done
while [ $SECONDS -lt $deadline ]; do
  [ "$(kcat -b "$FERRY_BROKERS" -C -t ferry.dlq -o beginning -e -q 2>/dev/null | wc -l)" -ge 1 ] && break
  kill -0 $W2 2>/dev/null || break
  sleep 1
done
kill -0 $W2 2>/dev/null || { tail -20 "$FERRY_RUN/w2.log"; fail "the worker stopped on a refused message"; }
kcat -b "$FERRY_BROKERS" -C -t ferry.dlq -o beginning -e -q -f '%h\n%s\n' >"$FERRY_RUN/dlq"
grep -q 'ferry-dlq-reason=segment 2-000001 (task t, run 2): its result cannot be published' "$FERRY_RUN/dlq" ||
  { cat "$FERRY_RUN/dlq" | cut -c1-400; fail "dlq record lacks the reason"; }
grep -qi 'size too large' "$FERRY_RUN/dlq" || fail "dlq reason does not say why"
grep -q '"id":"2-000001"' "$FERRY_RUN/dlq" || fail "dlq record is not the segment"
grep -q 'event=refused' "$FERRY_RUN/w2.log" || fail "worker did not log the refusal"
# Not wedged: run 3's segment on the same worker ends normally.
"$FERRY_BIN/ferry-lister" -c "$CONF" -t t >>"$FERRY_RUN/lister.log" 2>&1 || fail "lister run 3"
deadline=$((SECONDS + 60))
while [ $SECONDS -lt $deadline ]; do
  [ "$(kcat -b "$FERRY_BROKERS" -C -t ferry.results -o beginning -e -q 2>/dev/null | grep -c '"segment":"3-000001"')" -ge 2 ] && break
  sleep 1
done
[ "$(kcat -b "$FERRY_BROKERS" -C -t ferry.results -o beginning -e -q | grep -c '"segment":"3-000001"')" -ge 2 ] ||
  fail "run 3 not processed after the refusal"
kill -0 $W2 2>/dev/null || fail "worker stopped"
ok "refused result: segment dead-lettered with the reason, worker went on"
kill -TERM $W2; wait $W2 || fail "worker 2 exit status $?"
echo "result_split: all passed"
