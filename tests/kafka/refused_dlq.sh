#!/usr/bin/env bash
# A result the broker refuses for itself goes to the dead-letter topic, on a
# real cluster. The dev broker cannot stage this deterministically (an
# injected Produce error falls on whichever request comes next, a heartbeat
# as likely as the result; see tests/integration/result_split.sh). Here the
# broker itself refuses: after the worker has read the topics' limits, an
# administrator lowers ferry.results' max.message.bytes to 20000 bytes; the
# segment's result (300 failed objects with ~810-byte keys, ~300 KB in parts
# cut for the 1 MB limit the worker knew) is refused with MESSAGE_TOO_LARGE.
# Expected (docs/messages.md, "dlq"): the worker logs event=refused, stays
# up, puts the segment on ferry.dlq with a reason naming the segment and the
# refusal, and commits its offset, so the partition is not wedged (the
# group's committed offset is the partition's end once the worker leaves).
source "$(dirname "$0")/../lib/itest.sh"
real_kafka_setup
CONF="$FERRY_RUN/ferry.conf"
# Port 1 on loopback: nothing listens there, every request is refused. The
# store counts as down; after store_down_max_s its objects fail — time for
# the administrator's change below, made once the worker has started.
write_conf "$CONF" "$FERRY_S3_SRC" "http://127.0.0.1:1"
sed -i 's|max_attempts = 4;|max_attempts = 1; store_down_max_s = 25;|; s|segment_max_objects = 100;|segment_max_objects = 1000;|' "$CONF"
sed -i 's|^  \$extra||' "$CONF"

node -e "
const u = require('$TOOLS/s3util');
const keys = [];
for (let i = 0; i < 300; i++) {
  let k = 'long/' + String(i).padStart(4, '0');
  while (k.length < 800) k += '/' + 'x'.repeat(Math.min(200, 800 - k.length - 1));
  keys.push(k + '/obj.bin');
}
u.pool(keys, 16, k => u.put('$FERRY_S3_SRC', 'ferry-src', k, Buffer.from('v'))).then(() => console.log('filled', keys.length));
"
"$FERRY_BIN/ferry-lister" -c "$CONF" -t t >"$FERRY_RUN/lister.log" 2>&1 || { cat "$FERRY_RUN/lister.log"; fail "lister"; }

"$FERRY_BIN/ferry-worker" -c "$CONF" --id w1 >"$FERRY_RUN/w1.log" 2>&1 & W1=$!; track_pid $W1
wait_line "$FERRY_RUN/w1.log" 'rebalance=assign' 90 || { tail -20 "$FERRY_RUN/w1.log"; fail "w1 got no partitions"; }
kafka_admin kafka.admin.ConfigCommand --alter --entity-type topics --entity-name ferry.results \
  --add-config max.message.bytes=20000 >"$FERRY_RUN/alter.log" 2>&1 ||
  fail "kafka-configs --alter: $(tail -3 "$FERRY_RUN/alter.log")"
ok "ferry.results max.message.bytes lowered to 20000 after the worker started"

wait_line "$FERRY_RUN/w1.log" 'event=refused' 120 || { tail -30 "$FERRY_RUN/w1.log"; fail "no event=refused"; }
grep -a 'event=refused' "$FERRY_RUN/w1.log" | head -1
grep -aq 'event=refused topic=ferry.results' "$FERRY_RUN/w1.log" || fail "the refusal is not about ferry.results"
# The dlq record: the segment itself, with the reason in its headers.
deadline=$((SECONDS + 60))
while [ $SECONDS -lt $deadline ]; do
  kcat -b "$FERRY_BROKERS" -C -t ferry.dlq -o beginning -e -q -f '%h\n%s\n' >"$FERRY_RUN/dlq" 2>/dev/null || true
  [ -s "$FERRY_RUN/dlq" ] && break
  sleep 1
done
[ -s "$FERRY_RUN/dlq" ] || fail "nothing on ferry.dlq"
grep -aq 'ferry-dlq-reason=segment .* (task t, run 1): its result cannot be published: ferry.results: ' "$FERRY_RUN/dlq" ||
  { head -c 600 "$FERRY_RUN/dlq"; fail "the dlq record's reason"; }
python3 - "$FERRY_RUN/dlq" <<'PY' || fail "the dlq record's value is not the segment"
import json, sys
lines = [l for l in open(sys.argv[1], encoding="utf-8") if l.startswith("{")]
assert len(lines) == 1, "%d dlq records" % len(lines)
seg = json.loads(lines[0])
assert seg["task"] == "t" and len(seg["objs"]) == 300, (seg["task"], len(seg["objs"]))
print("ok: the dlq record is segment %s with its 300 objects" % seg["id"])
PY
sleep 2
kill -0 $W1 2>/dev/null || { tail -20 "$FERRY_RUN/w1.log"; fail "the worker stopped"; }
ok "the worker stays up; the segment is on ferry.dlq with the reason"

# The offset was committed: once w1 has left, the group's committed offset is
# the end of every segments partition (nothing for the next worker to redo).
kill -TERM $W1; wait $W1 || fail "w1 exit status $?"
kafka_admin org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --describe --group ferry-workers \
  >"$FERRY_RUN/group.txt" 2>&1 || fail "consumer-groups --describe failed: $(cat "$FERRY_RUN/group.txt")"
rows=$(awk '$2 ~ /^ferry\.segments/ && $5 != "0"' "$FERRY_RUN/group.txt")
[ -n "$rows" ] || fail "no committed offset on the partition of the segment: $(cat "$FERRY_RUN/group.txt")"
lagging=$(echo "$rows" | awk '$4 == "-" || $4 != $5 {print $2"/"$3": committed "$4" end "$5}')
[ -z "$lagging" ] || fail "the refused segment's offset is not committed: $lagging"
[ "$(kcat -b "$FERRY_BROKERS" -C -t ferry.dlq -o beginning -e -q | wc -l)" -eq 1 ] || fail "a second dlq record"
ok "the refused segment's offset is committed: a new worker has nothing to redo"
echo "refused_dlq: all passed"
