#!/usr/bin/env bash
# Topics that forget, what can be shown on the dev broker: librdkafka's mock
# keeps only the newest 5 MiB of each partition. When it drops records, the
# dev broker says so (event=records-lost), the reporter marks its figures
# incomplete (a partition of results starts after offset 0), and a worker
# whose committed offset is no longer in the log says so loudly. The broker
# configs themselves (retention.ms, retention.bytes, cleanup.policy) cannot
# be read from the mock (no DescribeConfigs): services log that they were
# not checked; the checks are unit-tested (test_topiccfg) and, on a real
# Kafka cluster, covered by the `kafka` label.
source "$(dirname "$0")/../lib/itest.sh"

devbroker_start --partitions 2
s3_start src ferry-src
s3_start dst ferry-dst
CONF="$FERRY_RUN/ferry.conf"
write_conf "$CONF" "$FERRY_S3_SRC" "$FERRY_S3_DST"
sed -i 's|^kafka = {|kafka = { consumer_properties = ["session.timeout.ms=6000", "heartbeat.interval.ms=500"];|' "$CONF"
sed -i 's|^  \$extra||' "$CONF"
node "$TOOLS/fill.js" "$FERRY_S3_SRC" ferry-src small:20:1:2 >/dev/null

# 7 messages of 1 MB (more than the mock keeps) into a partition.
flood() {
  python3 -c 'import sys; [print("{\"junk\":\"" + "x" * 1000000 + "\"}") for _ in range(7)]' |
    kcat -b "$FERRY_BROKERS" -P -t "$1" -p "$2" -X message.max.bytes=2000000
}

# 1. The reporter: results partition 0 loses its start.
"$FERRY_BIN/ferry-lister" -c "$CONF" -t t >"$FERRY_RUN/lister.log" 2>&1 || fail "lister"
grep -q 'event=topic-unchecked' "$FERRY_RUN/lister.log" || fail "lister did not say the topic settings were not checked"
flood ferry.results 0
deadline=$((SECONDS + 20))
until grep -q 'event=records-lost topic=ferry.results partition=0' "$FERRY_RUN/devbroker.log"; do
  [ $SECONDS -lt $deadline ] || fail "dev broker did not report the records it dropped"
  sleep 0.5
done
"$FERRY_BIN/ferry-reporter" -c "$CONF" --task t --once --json >"$FERRY_RUN/once.json" 2>"$FERRY_RUN/rep.log" || true
python3 - "$FERRY_RUN/once.json" <<'PY' || fail "reporter figures not marked incomplete"
import json, sys
t = json.load(open(sys.argv[1]))
assert t["incomplete"] and "ferry.results[0]" in t["incomplete"], t.get("incomplete")
PY
grep -q 'event=figures-incomplete' "$FERRY_RUN/rep.log" || fail "reporter did not log it"
"$FERRY_BIN/ferry-reporter" -c "$CONF" --task t --once 2>/dev/null | grep -q '^INCOMPLETE figures: ferry.results\[0\]' ||
  fail "text view does not say incomplete"
ok "dropped results: dev broker and reporter say so"

# 2. A worker whose committed offset fell out of the log.
"$FERRY_BIN/ferry-worker" -c "$CONF" --id w1 >"$FERRY_RUN/w1.log" 2>&1 & W1=$!; track_pid $W1
deadline=$((SECONDS + 60))
until grep -q '"segment":"1-000001"' <(kcat -b "$FERRY_BROKERS" -C -t ferry.results -o beginning -e -q 2>/dev/null | cut -c1-200); do
  [ $SECONDS -lt $deadline ] || fail "worker did not process the segment"
  sleep 1
done
kill -TERM $W1; wait $W1 || fail "worker exit status"
# Task t's segments topic (created by the mock with its default partition
# count): the partition its committed segment is in loses its start.
part=$(kcat -b "$FERRY_BROKERS" -C -t ferry.segments.t -o beginning -e -q -f '%p\n' 2>/dev/null | head -1)
[ -n "$part" ] || fail "no segment of task t on ferry.segments.t"
flood ferry.segments.t "$part"
"$FERRY_BIN/ferry-worker" -c "$CONF" --id w2 >"$FERRY_RUN/w2.log" 2>&1 & W2=$!; track_pid $W2
deadline=$((SECONDS + 60))
until grep -q 'event=records-lost' "$FERRY_RUN/w2.log"; do
  [ $SECONDS -lt $deadline ] || { tail -5 "$FERRY_RUN/w2.log"; fail "worker did not notice its committed offset was deleted"; }
  sleep 1
done
kill -TERM $W2; wait $W2 || true
ok "worker: committed offset below the partition start reported"
echo "topics_forget: all passed"
