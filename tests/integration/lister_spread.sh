#!/usr/bin/env bash
# A few large objects reach the whole fleet: 8 objects of 1 MiB with
# segment_max_bytes 1M are 8 segments; over a segments topic of 4 partitions
# they land 2 on each (round-robin placement, bus/segplace.h, not a hash of
# the key), and with 4 workers (one partition each) every worker copies some.
# The task's segments topic is made with the broker (--task t) so that the
# group is settled before the lister starts: each worker holds one partition
# of it and one of the legacy segments topic.
source "$(dirname "$0")/../lib/itest.sh"

devbroker_start --partitions 4 --task t
s3_start src ferry-src
s3_start dst ferry-dst
CONF="$FERRY_RUN/ferry.conf"
write_conf "$CONF" "$FERRY_S3_SRC" "$FERRY_S3_DST"
sed -i 's|^kafka = {|kafka = { consumer_properties = ["session.timeout.ms=6000", "heartbeat.interval.ms=500"];|' "$CONF"
sed -i 's|segments_partitions = 8;|segments_partitions = 4;|' "$CONF"
sed -i 's|lister = { segment_max_objects = 100; };|lister = { segment_max_objects = 100; segment_max_bytes = "1M"; };|' "$CONF"
node "$TOOLS/fill.js" "$FERRY_S3_SRC" ferry-src large:8:1 >/dev/null

declare -A PID
for w in w1 w2 w3 w4; do
  "$FERRY_BIN/ferry-worker" -c "$CONF" --id "$w" >"$FERRY_RUN/$w.log" 2>&1 & PID[$w]=$!; track_pid $!
done
# Every worker holds one partition of each topic before anything is published (the mock
# cluster takes seconds to settle a group of four).
settled() {
  local w
  for w in w1 w2 w3 w4; do
    [ "$(grep 'event=rebalance' "$FERRY_RUN/$w.log" | tail -1 | grep -o 'assigned=[0-9]*')" = assigned=2 ] || return 1
  done
}
for i in $(seq 1 300); do settled && break; sleep 0.2; done
settled || { grep -h 'event=rebalance' "$FERRY_RUN"/w?.log; fail "the four workers did not get one partition of each topic"; }
ok "4 workers, one partition of ferry.segments.t each"

"$FERRY_BIN/ferry-lister" -c "$CONF" -t t 2>"$FERRY_RUN/lister.log" || { tail "$FERRY_RUN/lister.log"; fail "lister exited $?"; }
kcat -b "$FERRY_BROKERS" -C -t ferry.segments.t -o beginning -e -q -f '%p\n' | sort | uniq -c >"$FERRY_RUN/per_part"
assert_eq "$(awk '{print $1}' "$FERRY_RUN/per_part" | tr '\n' ' ')" "2 2 2 2 " "segments per partition ($(tr -s ' \n' ' ' <"$FERRY_RUN/per_part"))"
ok "8 segments, 2 on each of the 4 partitions"

"$FERRY_BIN/ferry-reporter" -c "$CONF" --task t --wait --timeout 120 >"$FERRY_RUN/wait" 2>&1 || { tail "$FERRY_RUN/wait"; fail "task did not complete"; }
kcat -b "$FERRY_BROKERS" -C -t ferry.results -o beginning -e -q >"$FERRY_RUN/results" 2>/dev/null
for w in w1 w2 w3 w4; do
  grep -q "\"worker\":\"$w\"" "$FERRY_RUN/results" || fail "$w copied nothing"
done
node "$TOOLS/compare.js" "$FERRY_S3_SRC" ferry-src "$FERRY_S3_DST" ferry-dst || fail "destination differs"
ok "every worker copied some; destination verified"
echo "lister_spread: all passed"
