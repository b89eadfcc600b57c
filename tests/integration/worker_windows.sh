#!/usr/bin/env bash
# worker.windows: a worker outside its copy windows takes no segment but stays
# in the consumer group (it keeps its partitions while a second worker, inside
# its window, copies only the rest); once it leaves, everything is copied.
# Dev broker, s3rver, 20 one-object segments; everything stops on exit.
set -euo pipefail
FERRY_SRC="${FERRY_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
source "$FERRY_SRC/tests/lib/itest.sh"
PY=$(command -v /usr/bin/python3 || command -v python3)
U="$PY $FERRY_SRC/tests/integration/ops_util.py"
R="$FERRY_RUN"

devbroker_start --partitions 8
s3_start a ferry-src ferry-dst
for i in $(seq -w 1 20); do $U put "$FERRY_S3_A" ferry-src "w/obj-$i.bin" $((100 + 10#$i)); done

# Windows relative to the local time now: one that excludes it, one that
# includes it (either may wrap past midnight, which the config allows).
hm() { date -d "@$(( $(date +%s) + $1 * 60 ))" +%H:%M; }
OUTSIDE="$(hm 60)-$(hm 120)"
INSIDE="$(hm -10)-$(hm 50)"
conf() {  # conf FILE WINDOW
  write_conf "$1" "$FERRY_S3_A" "$FERRY_S3_A" "windows = [ \"$2\" ];"
  sed -i 's|^kafka = {|kafka = { consumer_properties = ["session.timeout.ms=6000", "heartbeat.interval.ms=500"];|' "$1"
  sed -i 's|^lister = {.*|lister = { segment_max_objects = 1; };|' "$1"
}
conf "$R/out.conf" "$OUTSIDE"
conf "$R/in.conf" "$INSIDE"

"$FERRY_BIN/ferry-lister" -c "$R/out.conf" -t t 2>"$R/lister.err" || { cat "$R/lister.err"; fail "lister"; }
grep -q "listed 20 objects" "$R/lister.err" || fail "lister totals"

dst_count() { curl -s "$FERRY_S3_A/ferry-dst?list-type=2" | grep -o '<Key>' | wc -l; }
results() { kcat -b "$FERRY_BROKERS" -C -t ferry.results -o beginning -e -q 2>/dev/null | sed -n 's/.*"segment":"\([^"]*\)".*/\1/p' | sort -u | wc -l; }

# 1. Outside: assigned, logs the state once, copies nothing.
"$FERRY_BIN/ferry-worker" -c "$R/out.conf" --id w-out >"$R/w1.log" 2>&1 & W1=$!; track_pid $W1
wait_line "$R/w1.log" "event=rebalance kind=assigned" 60
wait_line "$R/w1.log" "event=window state=outside" 10
sleep 5
assert_eq "$(dst_count)" 0 "objects copied outside the window"
assert_eq "$(results)" 0 "results outside the window"
ok "outside its window ($OUTSIDE): partitions assigned, nothing taken in 5 s"

# 2. A second worker inside its window: it copies its share only, for longer
# than a session timeout, so the first one is still a live member holding
# the other partitions.
"$FERRY_BIN/ferry-worker" -c "$R/in.conf" --id w-in >"$R/w2.log" 2>&1 & W2=$!; track_pid $W2
wait_line "$R/w2.log" "event=window state=inside" 60
prev=-1; same=0
for i in $(seq 1 60); do
  n=$(results)
  if [ "$n" = "$prev" ] && [ "$n" -gt 0 ]; then same=$((same + 1)); else same=0; fi
  prev=$n
  [ "$same" -ge 8 ] && break
  sleep 1
done
share=$(results)
[ "$share" -gt 0 ] && [ "$share" -lt 20 ] || fail "the inside worker copied $share of 20 segments"
assert_eq "$(dst_count)" "$share" "objects at the destination"
kill -0 $W1 || fail "the outside worker died"
grep -q "kind=lost" "$R/w1.log" && fail "the outside worker lost its partitions"
assert_eq "$(grep -c "event=window" "$R/w1.log")" 1 "window log lines of the outside worker"
grep -q "segments=0 objects=0" "$R/w1.log" && fail "summary before the end"
ok "inside its window ($INSIDE): the second worker copied $share of 20; the first kept its partitions"

# 3. The outside worker leaves (SIGTERM): its partitions move, all is copied.
kill -TERM $W1
wait $W1 || fail "outside worker exit status $?"
grep -q "event=summary segments=0 objects=0" "$R/w1.log" || { tail -5 "$R/w1.log"; fail "outside worker took segments"; }
for i in $(seq 1 90); do [ "$(results)" -ge 20 ] && break; sleep 1; done
assert_eq "$(results)" 20 "all segments after the outside worker left"
assert_eq "$(dst_count)" 20 "all objects copied"
kill -TERM $W2; wait $W2 || fail "inside worker exit status $?"
ok "after it left: its partitions moved to the inside worker; 20 of 20 copied"
