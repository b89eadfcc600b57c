#!/usr/bin/env bash
# Topic creation and the retention check on the real cluster, read back with
# Kafka's own tools (ConfigCommand = kafka-configs, TopicCommand =
# kafka-topics, both through the admin API):
#  1. ferry-lister creates its topics as docs/deploy.md says: tasks
#     compacted; segments, results, failed and dlq with retention.ms=-1,
#     retention.bytes=-1, cleanup.policy=delete; workers retention.ms=3600000
#     (all set on the topic, not inherited); the partition counts of the
#     table, replication 3.
#  2. Topics an administrator pre-created with a short retention make every
#     service refuse at start (lister, worker, reporter), naming the topic
#     and the setting; the lister leaves the existing topics' settings alone.
#     Fixed with kafka-configs, the next refusal names the next topic, whose
#     retention is the broker's default (the message says it is inherited);
#     fixed too, the lister starts.
source "$(dirname "$0")/../lib/itest.sh"
real_kafka_setup
node "$TOOLS/fill.js" "$FERRY_S3_SRC" ferry-src small:20:1:4 >/dev/null

# configs PREFIX: "topic name=value" for every topic-level (dynamic) setting
# of the topics starting with PREFIX, as kafka-configs --describe shows them.
configs() {
  kafka_admin kafka.admin.ConfigCommand --describe --entity-type topics >"$FERRY_RUN/configs.txt" 2>&1 ||
    fail "kafka-configs --describe: $(tail -3 "$FERRY_RUN/configs.txt")"
  awk -v p="$1" '/^Dynamic configs for topic / { t = $5; next }
                 index(t, p) == 1 && $1 ~ /=/ { print t, $1 }' "$FERRY_RUN/configs.txt" | sort
}

# 1. Topics the lister creates.
"$FERRY_BIN/ferry-lister" -c "$CONF" -t t 2>"$FERRY_RUN/lister.log" || fail "lister exited $?: $(tail -3 "$FERRY_RUN/lister.log")"
got=$(configs ferry.)
want=$(sort <<'EOF'
ferry.tasks cleanup.policy=compact
ferry.taskstate cleanup.policy=compact
ferry.workers retention.ms=3600000
EOF
)
# ferry.segments.t: task t's own segments topic, made as the segments topic.
for t in segments segments.t results failed dlq audit control; do
  want+=$'\n'"ferry.$t cleanup.policy=delete"$'\n'"ferry.$t retention.bytes=-1"$'\n'"ferry.$t retention.ms=-1"
done
want=$(sort <<<"$want")
[ "$got" = "$want" ] || fail "topic settings differ from docs/deploy.md:
$(diff <(echo "$want") <(echo "$got"))"
ok "kafka-configs: ferry's ten topics carry exactly the settings docs/deploy.md documents"

kafka_admin org.apache.kafka.tools.TopicCommand --describe >"$FERRY_RUN/topics.txt" 2>&1 ||
  fail "kafka-topics --describe: $(tail -3 "$FERRY_RUN/topics.txt")"
layout=$(awk '$1 == "Topic:" && $2 ~ /^ferry\./ && /PartitionCount:/ {
  for (i = 3; i <= NF; i++) { if ($i == "PartitionCount:") p = $(i + 1); if ($i == "ReplicationFactor:") r = $(i + 1) }
  print $2, p, r }' "$FERRY_RUN/topics.txt" | sort)
want=$(printf '%s\n' "ferry.audit 8 3" "ferry.control 1 3" "ferry.dlq 1 3" "ferry.failed 4 3" "ferry.results 4 3" \
  "ferry.segments 8 3" "ferry.segments.t 8 3" "ferry.taskstate 1 3" "ferry.tasks 1 3" "ferry.workers 1 3" | sort)
[ "$layout" = "$want" ] || fail "partitions/replication differ:
$(diff <(echo "$want") <(echo "$layout"))"
ok "kafka-topics: partition counts (segments and segments.t = kafka.segments_partitions = 8) and replication 3"

# 2. Pre-created topics with a short retention, under another prefix.
SCONF="$FERRY_RUN/short.conf"
sed 's|^kafka = {|kafka = { topic_prefix = "short.";|' "$CONF" >"$SCONF"
chmod 600 "$SCONF"
mk() {
  kafka_admin org.apache.kafka.tools.TopicCommand --create --topic "$1" --partitions "$2" \
    --replication-factor 3 "${@:3}" >>"$FERRY_RUN/create.log" 2>&1 || fail "create $1: $(tail -3 "$FERRY_RUN/create.log")"
}
mk short.results 4 --config retention.ms=600000   # ten minutes
mk short.failed 4                                   # the broker's default: 7 days
# refuses WHAT MESSAGE CMD...: CMD exits non-zero within 120 s and its
# stderr has MESSAGE.
refuses() {
  local what="$1" msg="$2" rc=0; shift 2
  timeout 120 "$@" >"$FERRY_RUN/$what.out" 2>"$FERRY_RUN/$what.log" || rc=$?
  [ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "$what: exit $rc, expected a refusal at start"
  grep -qF -- "$msg" "$FERRY_RUN/$what.log" ||
    fail "$what: exit $rc without naming '$msg': $(tail -3 "$FERRY_RUN/$what.log")"
  ok "$what refuses (exit $rc): $(grep -F -- "$msg" "$FERRY_RUN/$what.log" | tail -1 | cut -c1-260)"
}
M="topic short.results: retention.ms=600000 lets the broker delete"
refuses lister-short "$M" "$FERRY_BIN/ferry-lister" -c "$SCONF" -t t
refuses worker-short "$M" "$FERRY_BIN/ferry-worker" -c "$SCONF" --id w-short
refuses reporter-short "$M" "$FERRY_BIN/ferry-reporter" -c "$SCONF" --task t --once
grep -q "inherited" "$FERRY_RUN/lister-short.log" && fail "retention.ms set on short.results reported as inherited"

# The lister created the missing topics and left the two it found alone.
got=$(configs short.)
for line in "short.results retention.ms=600000" "short.segments retention.ms=-1" "short.tasks cleanup.policy=compact"; do
  grep -qxF "$line" <<<"$got" || fail "after the refusal, '$line' missing: $got"
done
grep -q "^short.failed " <<<"$got" && fail "the lister changed short.failed's settings: $got"
ok "the lister created the missing topics and changed none of the pre-created ones"

# Fixed by hand: the next refusal names short.failed, retention inherited.
kafka_admin kafka.admin.ConfigCommand --alter --entity-type topics --entity-name short.results \
  --add-config retention.ms=-1 >>"$FERRY_RUN/alter.log" 2>&1 || fail "alter short.results: $(tail -3 "$FERRY_RUN/alter.log")"
refuses lister-inherited "topic short.failed: retention.ms=604800000 (inherited from the broker's default" \
  "$FERRY_BIN/ferry-lister" -c "$SCONF" -t t
kafka_admin kafka.admin.ConfigCommand --alter --entity-type topics --entity-name short.failed \
  --add-config retention.ms=-1 >>"$FERRY_RUN/alter.log" 2>&1 || fail "alter short.failed: $(tail -3 "$FERRY_RUN/alter.log")"
"$FERRY_BIN/ferry-lister" -c "$SCONF" -t t 2>"$FERRY_RUN/lister-fixed.log" ||
  fail "lister still refuses after the fix: $(tail -3 "$FERRY_RUN/lister-fixed.log")"
ok "with retention.ms=-1 set by kafka-configs on both topics the lister starts and lists"
echo "topics_retention: all passed"
