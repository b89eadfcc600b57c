#!/usr/bin/env bash
# One task's limits are that task's, through the fleet:
# bench/fleet-limits.sh, small, with loose bounds (the bench measures). Two
# tasks at once on three workers, one limited (QPS, then bandwidth), with
# its objects in one segment, so one worker holds them whatever the
# partitions:
#   - the limited task stays within its fleet-wide limit (+10 %) and gets
#     most of it (>= 60 %; a share by partitions gave a third);
#   - the unlimited task beside it is not throttled: at most 2.5 times (or
#     5 s more than) its time alone (the old engine-wide minimum made it
#     run at the other task's limit: ten times and more).
source "$(dirname "$0")/../lib/itest.sh"

out="$FERRY_RUN/bench.out"
BENCH_WORKERS=3 BENCH_PARTITIONS=12 BENCH_SEGMENT_OBJECTS=200 \
  BENCH_QPS=40 BENCH_QPS_OBJECTS=200 BENCH_QPS_FREE=400 \
  BENCH_BW_MIB=4 BENCH_BW_OBJECTS=12 BENCH_BW_FREE=13 \
  FERRY_RUN= "$FERRY_SRC/bench/fleet-limits.sh" >"$out" 2>&1 || { cat "$out"; fail "bench/fleet-limits.sh exited $?"; }
grep '^bench:' "$out"
res=$(grep '^RESULT ' "$out") || { cat "$out"; fail "no RESULT line"; }
val() { echo "$res" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
for t in qps bw; do
  vs=$(val ${t}_vs_limit) alone=$(val ${t}_free_alone_s) beside=$(val ${t}_free_beside_s)
  [ -n "$vs" ] && [ -n "$alone" ] && [ -n "$beside" ] || fail "RESULT lacks $t figures: $res"
  awk -v v="$vs" 'BEGIN { exit !(v <= 1.10) }' || fail "$t: the limited task ran at $vs of its fleet-wide limit"
  awk -v v="$vs" 'BEGIN { exit !(v >= 0.60) }' || fail "$t: the limited task got only $vs of its fleet-wide limit"
  awk -v a="$alone" -v b="$beside" 'BEGIN { exit !(b <= 2.5 * a || b <= a + 5) }' ||
    fail "$t: the unlimited task took ${beside}s beside the limited one, ${alone}s alone"
  ok "$t: limited task at $vs of its limit; unlimited task ${beside}s beside it, ${alone}s alone"
done
