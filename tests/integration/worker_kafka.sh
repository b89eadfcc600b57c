#!/usr/bin/env bash
# ferry-worker as a consumer-group member on the dev broker: two workers share
# the segments topic, publish one result per segment and failed records,
# dead-letter a poison message and keep going, and commit offsets so that a
# restarted worker does not redo finished segments.
source "$(dirname "$0")/../lib/itest.sh"

devbroker_start --partitions 8
s3_start src ferry-src
s3_start dst ferry-dst
CONF="$FERRY_RUN/ferry.conf"
write_conf "$CONF" "$FERRY_S3_SRC" "$FERRY_S3_DST"
cat >>"$CONF" <<'CONF'
CONF
# Short sessions: the mock cluster makes a re-join wait for departed members.
sed -i 's|^kafka = {|kafka = { consumer_properties = ["session.timeout.ms=6000", "heartbeat.interval.ms=500"];|' "$CONF"
sed -i 's|^  \$extra||' "$CONF"

node "$TOOLS/fill.js" "$FERRY_S3_SRC" ferry-src small:400:1:16 large:1:12 odd
total=$(node -e "require('$TOOLS/s3util').list('$FERRY_S3_SRC','ferry-src').then(l=>console.log(l.length))")
node "$TOOLS/segments.js" "$FERRY_S3_SRC" ferry-src src dst ferry-dst --per 25 --task kt >"$FERRY_RUN/segs"
nsegs=$(wc -l <"$FERRY_RUN/segs")
# One object deleted after listing: it must come back as a failed record.
node -e "require('$TOOLS/s3util').del('$FERRY_S3_SRC','ferry-src','small/03/obj-000003.bin')"

# Segments keyed by id, plus one poison message in the middle.
head -n 5 "$FERRY_RUN/segs" | while IFS= read -r l; do printf '%s\t%s\n' "$(echo "$l" | sed 's/.*"id":"\([^"]*\)".*/\1/')" "$l"; done >"$FERRY_RUN/kin"
printf 'poison\t{"v":1,"task":"kt","id":"bad"\n' >>"$FERRY_RUN/kin"
tail -n +6 "$FERRY_RUN/segs" | while IFS= read -r l; do printf '%s\t%s\n' "$(echo "$l" | sed 's/.*"id":"\([^"]*\)".*/\1/')" "$l"; done >>"$FERRY_RUN/kin"
kcat -b "$FERRY_BROKERS" -P -t ferry.segments -K '\t' -l "$FERRY_RUN/kin"

"$FERRY_BIN/ferry-worker" -c "$CONF" --id w1 >"$FERRY_RUN/w1.log" 2>&1 & W1=$!; track_pid $W1
"$FERRY_BIN/ferry-worker" -c "$CONF" --id w2 >"$FERRY_RUN/w2.log" 2>&1 & W2=$!; track_pid $W2

# Distinct segments with a result (at-least-once: a segment whose partition
# moved during a rebalance may be published twice; the reporter counts it once).
results() { timeout 30 kcat -b "$FERRY_BROKERS" -C -t ferry.results -o beginning -e -q 2>/dev/null | sed -n 's/.*"segment":"\([^"]*\)".*/\1/p' | sort -u | wc -l; }
deadline=$((SECONDS + 240))
while [ $SECONDS -lt $deadline ]; do
  [ "$(results)" -ge "$nsegs" ] && break
  sleep 1
done
assert_eq "$(results)" "$nsegs" "one result per segment"
kcat -b "$FERRY_BROKERS" -C -t ferry.results -o beginning -e -q >"$FERRY_RUN/results"
copied=$(node -e "
const seen=new Set();
const l=require('fs').readFileSync('$FERRY_RUN/results','utf8').trim().split('\n').map(JSON.parse)
  .filter(r=>!seen.has(r.segment)&&seen.add(r.segment));
console.log(l.reduce((a,r)=>a+r.n_copied,0)+' '+l.reduce((a,r)=>a+r.n_failed,0)+' '+new Set(l.map(r=>r.worker)).size)")
read -r ncopied nfailed nworkers <<<"$copied"
assert_eq "$ncopied" "$((total - 1))" "copied objects in results"
assert_eq "$nfailed" "1" "failed objects in results"
[ "$nworkers" -eq 2 ] || echo "note: only $nworkers worker(s) took segments"
kcat -b "$FERRY_BROKERS" -C -t ferry.failed -o beginning -e -q >"$FERRY_RUN/failed"
grep -q '"key":"small/03/obj-000003.bin"' "$FERRY_RUN/failed" || fail "vanished object has no failed record"
grep -q '"status":"vanished"' "$FERRY_RUN/failed" || fail "failed record lacks its status"
[ "$(kcat -b "$FERRY_BROKERS" -C -t ferry.dlq -o beginning -e -q | wc -l)" -eq 1 ] || fail "poison message not dead-lettered"
ok "2 workers: $nsegs segments, $ncopied copied, 1 vanished in failed, poison in dlq"

# Stop both cleanly (SIGTERM: drain, commit, leave), then a new worker must
# find nothing left to do: offsets were committed.
kill -TERM $W1 $W2
wait $W1 || fail "worker 1 exit status $?"
wait $W2 || fail "worker 2 exit status $?"
grep -q 'event=summary' "$FERRY_RUN/w1.log" || fail "worker 1 did not shut down cleanly"
n_before=$(kcat -b "$FERRY_BROKERS" -C -t ferry.results -o beginning -e -q | wc -l)
"$FERRY_BIN/ferry-worker" -c "$CONF" --id w3 >"$FERRY_RUN/w3.log" 2>&1 & W3=$!; track_pid $W3
sleep 12
kill -TERM $W3; wait $W3 || true
assert_eq "$(kcat -b "$FERRY_BROKERS" -C -t ferry.results -o beginning -e -q | wc -l)" "$n_before" "no segment redone after restart"
node "$TOOLS/compare.js" "$FERRY_S3_SRC" ferry-src "$FERRY_S3_DST" ferry-dst || fail "destination differs"
ok "committed offsets: a restarted worker redid nothing; destination verified"
echo "worker_kafka: all passed"
