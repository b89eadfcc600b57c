#!/usr/bin/env bash
# Tasks side by side (docs/architecture.md, "Tasks side by side: a segments
# topic per task"): a big task held to 1 MB/s by its own bandwidth_limit
# (600 objects of 64 KiB in 60 segments: some 40 s) keeps a worker busy; a
# small task of 300 objects listed 5 s later goes to its own segments topic,
# which the worker picks up within seconds (regex subscription) and reads in
# turn with the big one's. The small task completes while the big one still
# copies, long before it. With one shared segments topic its segments would
# wait behind the big task's backlog in the same partitions.
source "$(dirname "$0")/../lib/itest.sh"

devbroker_start --partitions 4
s3_start src ferry-src ferry-src2
s3_start dst ferry-dst
CONF="$FERRY_RUN/ferry.conf"
write_conf "$CONF" "$FERRY_S3_SRC" "$FERRY_S3_DST"
mock_short_sessions "$CONF"
sed -i 's|lister = { segment_max_objects = 100; };|lister = { segment_max_objects = 10; };|' "$CONF"
sed -i 's|^tasks = .*|tasks = ( { name = "big"; source = "src:ferry-src"; destination = "dst:ferry-dst/big/"; bandwidth_limit = "1M"; },\n  { name = "small"; source = "src:ferry-src2"; destination = "dst:ferry-dst/small/"; } );|' "$CONF"
node "$TOOLS/fill.js" "$FERRY_S3_SRC" ferry-src small:600:64:64 >/dev/null
node "$TOOLS/fill.js" "$FERRY_S3_SRC" ferry-src2 small:300:1:1 >/dev/null

state() { "$FERRY_BIN/ferry-reporter" -c "$CONF" --task "$1" --once --json 2>/dev/null |
  node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const j=JSON.parse(s);const t=Array.isArray(j)?j[0]:(j.tasks?j.tasks[0]:j);console.log(t.state)})"; }
now_ms() { date +%s%3N; }

"$FERRY_BIN/ferry-worker" -c "$CONF" --id w1 >"$FERRY_RUN/w1.log" 2>&1 & W1=$!; track_pid $W1
big0=$(now_ms)
"$FERRY_BIN/ferry-lister" -c "$CONF" -t big 2>"$FERRY_RUN/lister-big.log" || { tail "$FERRY_RUN/lister-big.log"; fail "lister big exited $?"; }
"$FERRY_BIN/ferry-reporter" -c "$CONF" --task big --wait --timeout 300 >"$FERRY_RUN/wait-big" 2>&1 & WB=$!; track_pid $WB
sleep 5
small0=$(now_ms)
"$FERRY_BIN/ferry-lister" -c "$CONF" -t small 2>"$FERRY_RUN/lister-small.log" || { tail "$FERRY_RUN/lister-small.log"; fail "lister small exited $?"; }
"$FERRY_BIN/ferry-reporter" -c "$CONF" --task small --wait --timeout 120 >"$FERRY_RUN/wait-small" 2>&1 ||
  { tail "$FERRY_RUN/wait-small"; fail "task small did not complete"; }
small_ms=$(( $(now_ms) - small0 ))
big_state=$(state big)
[ "$big_state" != complete ] || fail "task big was complete before task small (small took $small_ms ms): the test proves nothing"
ok "task small (300 objects) complete in $small_ms ms while task big is still $big_state"

wait $WB || { tail "$FERRY_RUN/wait-big"; fail "task big did not complete"; }
big_ms=$(( $(now_ms) - big0 ))
[ "$small_ms" -lt "$big_ms" ] || fail "small $small_ms ms, big $big_ms ms"
echo "durations: small=${small_ms}ms (started 5 s after big) big=${big_ms}ms"
grep -q 'event=rebalance kind=assigned' "$FERRY_RUN/w1.log" || fail "no assignment logged"
nsmall=$(kcat -b "$FERRY_BROKERS" -C -t ferry.segments.small -o beginning -e -q 2>/dev/null | grep -c '"task":"small"' || true)
[ "$nsmall" = 30 ] || fail "$nsmall segments of task small on ferry.segments.small, want 30"
kill -TERM $W1; wait $W1 || fail "worker exit status"
ok "both tasks complete; big took $big_ms ms, small $small_ms ms beside it"
echo "tasks_side_by_side: all passed"
