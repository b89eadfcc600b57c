#!/usr/bin/env bash
# Scaling a running fleet on a 3-broker dev cluster: one worker starts, three
# more join while the task runs (and get work), two leave with SIGTERM (clean
# leave), one broker goes down for 10 s and comes back; the task completes
# with nothing missing and nothing counted twice.
source "$(dirname "$0")/../lib/itest.sh"

devbroker_start --brokers 3 --partitions 12 --task t
DEVBROKER_PID=$(tail -1 "$FERRY_RUN/pids")
s3_start src ferry-src
s3_start dst ferry-dst
CONF="$FERRY_RUN/ferry.conf"
# Each worker is held to 50 requests/s so the task lasts long enough to scale.
write_conf "$CONF" "$FERRY_S3_SRC" "$FERRY_S3_DST" "qps_limit = 50;"
sed -i 's|^kafka = {|kafka = { consumer_properties = ["session.timeout.ms=6000", "heartbeat.interval.ms=500"];|' "$CONF"
sed -i 's|segments_partitions = 8;|segments_partitions = 12;|' "$CONF"
sed -i 's|lister = { segment_max_objects = 100; };|lister = { segment_max_objects = 20; };|' "$CONF"
json() { node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const j=JSON.parse(s);const t=Array.isArray(j)?j[0]:(j.tasks?j.tasks[0]:j);console.log($1)})"; }

node "$TOOLS/fill.js" "$FERRY_S3_SRC" ferry-src small:1800:1:4 >/dev/null
total=1800
"$FERRY_BIN/ferry-lister" -c "$CONF" -t t 2>"$FERRY_RUN/lister.log" || fail "lister exited $?"

declare -A PID
start_worker() { "$FERRY_BIN/ferry-worker" -c "$CONF" --id "$1" >"$FERRY_RUN/$1.log" 2>&1 & PID[$1]=$!; track_pid $!; }
results() { kcat -b "$FERRY_BROKERS" -C -t ferry.results -o beginning -e -q 2>/dev/null | wc -l; }
start_worker s1
for i in $(seq 1 100); do [ "$(results)" -ge 3 ] && break; sleep 0.2; done
start_worker s2; start_worker s3; start_worker s4
ok "s1 running; s2..s4 joined after $(results) results"
# (the mock cluster takes several seconds to complete a join)
worked() { kcat -b "$FERRY_BROKERS" -C -t ferry.results -o beginning -e -q >"$FERRY_RUN/r.now" 2>/dev/null; grep -q "\"worker\":\"$1\"" "$FERRY_RUN/r.now"; }
for w in s2 s3 s4; do
  for i in $(seq 1 150); do worked "$w" && break; sleep 0.3; done
  worked "$w" || fail "$w got no work after joining"
done
ok "the new workers took segments"
kill -TERM "${PID[s2]}" "${PID[s3]}"
wait "${PID[s2]}" || fail "s2 exit status $?"
wait "${PID[s3]}" || fail "s3 exit status $?"
grep -q 'event=summary' "$FERRY_RUN/s2.log" || fail "s2 did not leave cleanly"
ok "s2 and s3 left with SIGTERM (drained, committed, exit 0)"
kill -USR1 "$DEVBROKER_PID"
sleep 10
kill -USR2 "$DEVBROKER_PID"
ok "broker 3 was down for 10 s"

"$FERRY_BIN/ferry-reporter" -c "$CONF" --task t --wait --timeout 240 >"$FERRY_RUN/wait" 2>&1 || { tail "$FERRY_RUN/wait"; fail "task did not complete"; }
"$FERRY_BIN/ferry-reporter" -c "$CONF" --task t --once --json >"$FERRY_RUN/st.json"
read -r copied skipped failed objs <<<"$(json 't.copied+" "+t.skipped+" "+t.failed+" "+t.total_objects' <"$FERRY_RUN/st.json")"
assert_eq "$objs" "$total" "total objects"
assert_eq "$failed" "0" "failures"
assert_eq "$((copied + skipped))" "$total" "every object counted exactly once"
node "$TOOLS/compare.js" "$FERRY_S3_SRC" ferry-src "$FERRY_S3_DST" ferry-dst || fail "destination differs"
ok "task completed: $copied copied + $skipped skipped = $total, destination verified"
kill -TERM "${PID[s1]}" "${PID[s4]}"; wait "${PID[s1]}" "${PID[s4]}" || true
echo "fleet_scale: all passed"
