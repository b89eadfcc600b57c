#!/usr/bin/env bash
# What ferry relies on is really active against Kafka 4 with Debian's
# librdkafka 2.0.2, not only connected (Kafka 4.0 removed old protocol
# versions; older clients are reported to switch features off silently):
#  - the idempotent producer: every batch ferry wrote carries a producer id
#    and sequence numbers (read from the brokers' own log files with Kafka's
#    DumpLogSegments, not from the client);
#  - zstd on the segments topic: its batches are zstd-compressed on disk;
#  - the consumer group's commits: after the task, the workers' group has
#    committed offsets at the end of every segments partition (Kafka's
#    consumer-groups tool, from the group coordinator).
# A task runs through lister + worker + reporter first, on the cluster's
# defaults (ferry's topics created by the lister with replication 3).
source "$(dirname "$0")/../lib/itest.sh"
real_kafka_setup
node "$TOOLS/fill.js" "$FERRY_S3_SRC" ferry-src small:300:1:8 large:1:10
total=$(node -e "require('$TOOLS/s3util').list('$FERRY_S3_SRC','ferry-src').then(l=>console.log(l.length))")

"$FERRY_BIN/ferry-lister" -c "$CONF" -t t 2>"$FERRY_RUN/lister.log" || fail "lister exited $?"
"$FERRY_BIN/ferry-worker" -c "$CONF" --id w1 >"$FERRY_RUN/w1.log" 2>&1 & W1=$!; track_pid $W1
"$FERRY_BIN/ferry-reporter" -c "$CONF" --task t --wait --timeout 240 >"$FERRY_RUN/wait" 2>&1 || fail "task did not complete ($?)"
node "$TOOLS/compare.js" "$FERRY_S3_SRC" ferry-src "$FERRY_S3_DST" ferry-dst || fail "destination differs"
ok "task of $total objects completed on Kafka $KAFKA_VERSION"

# Let the worker commit what it finished, then stop it (SIGTERM commits too).
sleep 6
kill -TERM "$W1"; wait "$W1" 2>/dev/null || true

# dump TOPIC: DumpLogSegments of every log file of TOPIC on node 1 (each node
# holds a replica of every partition: replication 3).
dump() {
  local f files=()
  for f in "$KDIR"/node1/data/"$1"-*/*.log; do files+=("$f"); done
  _kafka_java kafka.tools.DumpLogSegments --files "$(IFS=,; echo "${files[*]}")" 2>&1
}
# ferry.segments.t: task t's segments (docs/architecture.md, "Tasks side by side").
for topic in ferry.segments.t ferry.results ferry.tasks; do
  dump "$topic" >"$FERRY_RUN/dump-$topic.txt"
  batches=$(grep -c "baseOffset:" "$FERRY_RUN/dump-$topic.txt" || true)
  [ "$batches" -gt 0 ] || fail "$topic: no batches in the brokers' logs"
  noid=$(grep "baseOffset:" "$FERRY_RUN/dump-$topic.txt" | grep -c "producerId: -1 " || true)
  [ "$noid" = 0 ] || fail "$topic: $noid of $batches batches without a producer id: the idempotent producer is off"
  ok "$topic: $batches batches, every one from an idempotent producer (producer id and sequence set)"
done
nz=$(grep "baseOffset:" "$FERRY_RUN/dump-ferry.segments.t.txt" | grep -vc "compresscodec: zstd" || true)
[ "$nz" = 0 ] || fail "ferry.segments.t: $nz batches not zstd-compressed ($(grep -o 'compresscodec: [a-z]*' "$FERRY_RUN/dump-ferry.segments.t.txt" | sort | uniq -c | tr '\n' ' '))"
ok "ferry.segments.t: every batch zstd-compressed"

# The group's committed offsets against the log end offsets.
kafka_admin org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --describe --group ferry-workers \
  >"$FERRY_RUN/group.txt" 2>&1 || fail "consumer-groups --describe failed: $(cat "$FERRY_RUN/group.txt")"
rows=$(awk '$2 == "ferry.segments.t"' "$FERRY_RUN/group.txt")
[ -n "$rows" ] || fail "group ferry-workers has no committed offsets on ferry.segments.t: $(cat "$FERRY_RUN/group.txt")"
lagging=$(echo "$rows" | awk '$4 == "-" || $4 != $5 {print $3": committed "$4" end "$5}')
[ -z "$lagging" ] || fail "segments partitions whose committed offset is not the end: $lagging"
ok "group ferry-workers committed the end of all $(echo "$rows" | wc -l) segments partitions"
echo "features: all passed"
