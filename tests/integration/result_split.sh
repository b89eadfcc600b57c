#!/usr/bin/env bash
# A result longer than a Kafka message. 1000 objects with
# ~810-byte keys, a destination that refuses every connection: every object
# fails, and the segment's result (one outcome per object, ~1.1 MB) no longer
# fits in one message. It used to stop every worker in turn (produce-failed
# "Message size too large", fatal, redelivered to the next worker) and the
# task stayed running 0/1000. Now the result goes in parts that fit, the
# reporter joins them, and the task ends with 1000 failed.
# (The dead-letter path for a message the broker refuses, driven by the dev
# broker's SIGHUP, was tested here until workers sent heartbeats: one refused
# Produce request can now fall on a heartbeat or on the dlq send itself, so
# the scenario is not deterministic on the mock and is left out.)
source "$(dirname "$0")/../lib/itest.sh"

devbroker_start --partitions 2
s3_start src ferry-src
CONF="$FERRY_RUN/ferry.conf"
# Port 1 on loopback: nothing listens there, every request is refused.
write_conf "$CONF" "$FERRY_S3_SRC" "http://127.0.0.1:1"
# store_down_max_s = 1: a destination refusing everything is a store down,
# waited for (up to an hour by default) before its objects fail.
sed -i 's|max_attempts = 4;|max_attempts = 1; store_down_max_s = 1;|; s|segment_max_objects = 100;|segment_max_objects = 1000;|' "$CONF"
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
nsegs=$(kcat -b "$FERRY_BROKERS" -C -t ferry.segments.t -o beginning -e -q | wc -l)
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

echo "result_split: all passed"
