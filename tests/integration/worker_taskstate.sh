#!/usr/bin/env bash
# Workers acting on the master's task states (docs/worker.md, "Pause, cancel
# and live limits"), with taskstate records produced by hand with kcat (the
# master is not needed): three tasks copied at once by one worker through
# the OSS and COS proxies, each held back by its own limit so that it lasts:
#   t: 150 small objects, paused mid-copy: no object of it is written after
#      ~2 s while task u keeps copying; resumed: it completes, and nothing is
#      copied twice (the COS proxy's PutObject count is exactly the objects);
#   c: 60 small objects and 3 of 20 MiB (multipart), cancelled once an upload
#      has begun: the remaining objects end skipped/cancelled, every listed
#      object has an outcome (the reporter sees the task complete), and no
#      multipart upload is left open at the destination.
# A record that does not decode is logged and skipped. The worker's
# heartbeat carries its host, its partitions by topic and its rate.
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/tests/lib/faults.sh"
fault_setup --task t --task u --task c
fault_conf worker.concurrency=8 worker.metrics_listen='"127.0.0.1:0"' 
# Three tasks by prefix, each held back by its own limit.
D="cos:$FAULT_DST_BUCKET"
sed -i "s|^tasks = .*|tasks = ( { name = \"t\"; source = \"oss:$FAULT_SRC_BUCKET/small/\"; destination = \"$D/t/\"; qps_limit = 15; },\n  { name = \"u\"; source = \"oss:$FAULT_SRC_BUCKET/large/\"; destination = \"$D/u/\"; qps_limit = 10; },\n  { name = \"c\"; source = \"oss:$FAULT_SRC_BUCKET/c/\"; destination = \"$D/c/\"; qps_limit = 4; bandwidth_limit = \"2M\"; } );|" "$CONF"
sed -i 's|segment_max_objects = 25;|segment_max_objects = 10;|' "$CONF"
cspecs=()
for i in $(seq -w 1 60); do cspecs+=("key:c/s$i:1000"); done
fault_fill small:150:1:2 large:100:1 "${cspecs[@]}" key:c/big1:20971520 key:c/big2:20971520 key:c/big3:20971520

KC=(kcat -b "$FERRY_BROKERS")
# state TASK STATE RUN QPS BW: a taskstate record as the master writes it.
state() {
  printf '%s|{"v":1,"task":"%s","origin":"config","state":"%s","run":%d,"spec":{"name":"%s"},"limits":{"qps":%d,"bandwidth":%d,"schedule":[]},"updated_ms":%s,"by":"test"}\n' \
    "$1" "$1" "$2" "$3" "$1" "$4" "$5" "$(date +%s%3N)" | "${KC[@]}" -P -t ferry.taskstate -K '|'
}
dst_count() { node -e "require('$TOOLS/s3util').list('$FERRY_S3_MAIN','$FAULT_DST_BUCKET','$1').then(l=>console.log(l.length))"; }
open_uploads() { curl -sf "$COS_ADMIN/uploads" | jget 'j.uploads.length'; }
logged() { grep -q "$1" "$FERRY_RUN/w1.log"; }
t_started() { [ "$(dst_count t/)" -ge 20 ]; }
upload_begun() { [ "$(pstat cos 'j.by_op_status["initiate 200"]||0')" -ge 1 ]; }
rep() { "$FERRY_BIN/ferry-reporter" -c "$CONF" --task "$1" --once --json | jget "(Array.isArray(j)?j[0]:(j.tasks?j.tasks[0]:j)).$2"; }

# A record that does not decode first: skipped, never fatal.
echo 't|{"v":1,"task":"t","state":"sleepy"}' | "${KC[@]}" -P -t ferry.taskstate -K '|'
for task in t u c; do "$FERRY_BIN/ferry-lister" -c "$CONF" -t $task 2>"$FERRY_RUN/lister-$task.log" || fail "lister $task"; done
fault_reset_stats
fault_worker w1
wait_until 60 t_started || fail "task t did not start copying"
grep -q 'event=taskstate-bad' "$FERRY_RUN/w1.log" || fail "the bad record was not reported"
ok "a taskstate record that does not decode: logged (event=taskstate-bad), skipped"

# 1. Pause t: within ~1 s the worker says so; after 2 s nothing of t is written.
state t paused 1 15 0
wait_until 10 logged 'event=task-paused task=t' || fail "the worker did not pause t"
sleep 2
t1=$(dst_count t/) u1=$(dst_count u/)
sleep 5
t2=$(dst_count t/) u2=$(dst_count u/)
[ "$t1" = "$t2" ] || fail "task t paused, yet $((t2 - t1)) of its objects were written in 5 s"
[ "$u2" -gt "$u1" ] || fail "task u did not go on while t was paused ($u1 -> $u2)"
ok "t paused at $t1 of 150 objects: none written in 5 s while u went $u1 -> $u2"
URL=$(sed -n 's/.* listening \(http[^ ]*\) .*server=worker-metrics.*/\1/p' "$FERRY_RUN/w1.log" | head -1)
[ -n "$URL" ] || fail "no metrics listener"
assert_eq "$(curl -fsS "${URL}metrics" | awk '$1 == "ferry_worker_tasks_paused" { print $2 }')" 1 "ferry_worker_tasks_paused"

# The heartbeat's fleet view: host, partitions by topic, rate over 10 s.
"${KC[@]}" -C -t ferry.workers -o beginning -e -q >"$FERRY_RUN/hb.jsonl" 2>/dev/null
node -e '
const hb = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse)
  .filter((h) => !h.leaving);
const h = hb[hb.length - 1];
if (!h.host) throw new Error("no host in " + JSON.stringify(h));
const topics = (h.parts || []).map((p) => p.topic).sort().join(",");
if (topics !== "ferry.segments,ferry.segments.c,ferry.segments.t,ferry.segments.u")
  throw new Error("parts: " + JSON.stringify(h.parts));
if (!hb.some((x) => x.rate && x.rate.objects_s > 0 && x.rate.bytes_s > 0))
  throw new Error("no heartbeat with a rate > 0: " + JSON.stringify(h));
console.log("ok: heartbeat of " + h.host + ": parts " + topics + ", rate " + JSON.stringify(h.rate));
' "$FERRY_RUN/hb.jsonl" || fail "heartbeat fleet view"

# 2. Cancel c once one of its multipart uploads has begun.
wait_until 90 upload_begun || fail "no upload of c began"
state c cancelled 1 4 2097152
wait_until 10 logged 'event=task-cancelled task=c' || fail "the worker did not cancel c"

# 3. Resume t; everything completes.
state t running 1 15 0
wait_until 10 logged 'event=task-resumed task=t' || fail "the worker did not resume t"
for task in t u c; do
  "$FERRY_BIN/ferry-reporter" -c "$CONF" --task $task --wait --timeout 240 >"$FERRY_RUN/wait-$task" 2>&1 ||
    { tail -5 "$FERRY_RUN/wait-$task"; fail "task $task did not complete"; }
done
assert_eq "$(rep t copied)" 150 "t copied"
assert_eq "$(rep u copied)" 100 "u copied"
puts=$(pstat cos 'j.by_op_status["put 200"]||0')
cput=$(dst_count c/s)
# Every PutObject of t and u is one object (nothing copied twice); c's
# small objects written before the cancel are the rest.
assert_eq "$puts" "$((150 + 100 + cput))" "PutObject count (t 150 + u 100 + c's $cput written)"
ok "t resumed and completed: 150 copied, $puts PutObject for $((250 + cput)) objects written (none twice)"

csk=$(rep c skipped) ccp=$(rep c copied)
[ "$((csk + ccp))" = 63 ] || fail "c: $ccp copied + $csk skipped != 63 listed"
[ "$csk" -gt 0 ] || fail "c: nothing skipped after the cancel"
"$FERRY_BIN/ferry-reporter" -c "$CONF" --task c --once --json >"$FERRY_RUN/c.json"
grep -q '"cancelled"' "$FERRY_RUN/c.json" || fail "c: no skipped reason cancelled in $(head -c 400 "$FERRY_RUN/c.json")"
assert_eq "$(open_uploads)" 0 "multipart uploads left open at the destination"
ok "c cancelled: $ccp copied + $csk skipped (cancelled) = 63 listed, no upload left open"
kill -TERM "${WPID[w1]}"; wait "${WPID[w1]}" || true
echo "worker_taskstate: all passed"
