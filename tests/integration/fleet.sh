#!/usr/bin/env bash
# The whole fleet on the dev broker: lister -> segments -> 2 workers ->
# results/failed -> reporter. One worker is killed with SIGKILL mid-run and
# replaced; objects deleted at the source after listing fail as vanished and
# are exported; once restored, --retry-failed completes the task. Every step
# is checked against the source independently (flat listings by key, size,
# MD5) and against the reporter's accounting (nothing missing, nothing
# counted twice).
source "$(dirname "$0")/../lib/itest.sh"

broker_start --partitions 8
s3_start src ferry-src
s3_start dst ferry-dst
CONF="$FERRY_RUN/ferry.conf"
write_conf "$CONF" "$FERRY_S3_SRC" "$FERRY_S3_DST"
mock_short_sessions "$CONF"
sed -i 's|lister = { segment_max_objects = 100; };|lister = { segment_max_objects = 20; };|' "$CONF"
json() { node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const j=JSON.parse(s);const t=Array.isArray(j)?j[0]:(j.tasks?j.tasks[0]:j);console.log($1)})"; }

node "$TOOLS/fill.js" "$FERRY_S3_SRC" ferry-src small:1500:1:8 large:1:12 odd
total=$(node -e "require('$TOOLS/s3util').list('$FERRY_S3_SRC','ferry-src').then(l=>console.log(l.length))")

"$FERRY_BIN/ferry-lister" -c "$CONF" -t t 2>"$FERRY_RUN/lister.log" || { cat "$FERRY_RUN/lister.log"; fail "lister exited $?"; }
ok "listed $total objects"

# Three objects vanish between listing and copying; keep their bytes to restore them.
GONE="small/07/obj-000007.bin small/08/obj-000008.bin odd/with space.txt"
node -e "
const u=require('$TOOLS/s3util'),fs=require('fs');
(async()=>{for(const k of ['small/07/obj-000007.bin','small/08/obj-000008.bin','odd/with space.txt']){
 const r=await u.get('$FERRY_S3_SRC','ferry-src',k); fs.writeFileSync('$FERRY_RUN/'+encodeURIComponent(k),r.body);
 await u.del('$FERRY_S3_SRC','ferry-src',k);}})()"

start_worker() { "$FERRY_BIN/ferry-worker" -c "$CONF" --id "$1" >"$FERRY_RUN/$1.log" 2>&1 & track_pid $!; echo $!; }
W1=$(start_worker w1)
W2=$(start_worker w2)
# Kill w1 outright once the first results are in, then add a replacement.
for i in $(seq 1 100); do
  n=$(kcat -b "$FERRY_BROKERS" -C -t ferry.results -o beginning -e -q 2>/dev/null | wc -l)
  [ "$n" -ge 5 ] && break
  sleep 0.2
done
kill -KILL "$W1"
W3=$(start_worker w3)
ok "worker w1 killed with SIGKILL after $n results; w3 started"

rc=0; "$FERRY_BIN/ferry-reporter" -c "$CONF" --task t --wait --timeout "${FLEET_WAIT_S:-180}" >"$FERRY_RUN/wait1" 2>&1 || rc=$?
assert_eq "$rc" "3" "reporter --wait: completed with failures"
"$FERRY_BIN/ferry-reporter" -c "$CONF" --task t --once --json >"$FERRY_RUN/st1.json"
read -r copied skipped failed objs <<<"$(json 't.copied+" "+t.skipped+" "+t.failed+" "+t.total_objects' <"$FERRY_RUN/st1.json")"
assert_eq "$objs" "$total" "reporter total = source listing"
assert_eq "$failed" "3" "vanished objects failed"
assert_eq "$((copied + skipped + failed))" "$total" "every object counted exactly once"
"$FERRY_BIN/ferry-reporter" -c "$CONF" --export-failed t --out "$FERRY_RUN/failed.csv"
for k in small/07/obj-000007.bin small/08/obj-000008.bin "odd/with space.txt"; do
  grep -F "$k" "$FERRY_RUN/failed.csv" | grep -q vanished || fail "export lacks $k as vanished"
done
node "$TOOLS/compare.js" "$FERRY_S3_SRC" ferry-src "$FERRY_S3_DST" ferry-dst || fail "destination differs"
ok "worker killed mid-run: $copied copied + $skipped skipped + 3 vanished = $total; export and destination right"

# Restore the three objects and retry the failed ones as a new run.
node -e "
const u=require('$TOOLS/s3util'),fs=require('fs');
(async()=>{for(const k of ['small/07/obj-000007.bin','small/08/obj-000008.bin','odd/with space.txt'])
 await u.put('$FERRY_S3_SRC','ferry-src',k,fs.readFileSync('$FERRY_RUN/'+encodeURIComponent(k)));})()"
"$FERRY_BIN/ferry-lister" -c "$CONF" -t t --retry-failed 2>"$FERRY_RUN/retry.log" || { cat "$FERRY_RUN/retry.log"; fail "retry-failed exited $?"; }
"$FERRY_BIN/ferry-reporter" -c "$CONF" --task t --wait --timeout 120 >"$FERRY_RUN/wait2" 2>&1 || fail "retry run did not complete cleanly ($?)"
"$FERRY_BIN/ferry-reporter" -c "$CONF" --task t --once --json >"$FERRY_RUN/st2.json"
read -r copied2 skipped2 failed2 objs2 <<<"$(json 't.copied+" "+t.skipped+" "+t.failed+" "+t.total_objects' <"$FERRY_RUN/st2.json")"
assert_eq "$failed2" "0" "no failures after the retry"
assert_eq "$((copied2 + skipped2))" "$total" "every object counted once after the retry"
node "$TOOLS/compare.js" "$FERRY_S3_SRC" ferry-src "$FERRY_S3_DST" ferry-dst || fail "destination differs after retry"
ok "restored + --retry-failed: task completed, $copied2 copied + $skipped2 skipped = $total"

kill -TERM "$W2" "$W3"; wait "$W2" "$W3" 2>/dev/null || true
echo "fleet: all passed"
