#!/usr/bin/env bash
# Fan-out of a huge object across workers (docs/fanout.md), on the dev broker
# with 3 workers, from an OSS-dialect proxy to a COS-dialect proxy: a 100 MiB
# object above lister.fanout_threshold is cut by the lister into part-range
# segments (one upload initiated by the lister), copied by several workers,
# completed exactly once by the last range to finish; the reporter counts it
# as one object copied; the bytes compare equal; no upload is left open.
FAULT=fanout
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/tests/lib/faults.sh"

fault_setup
# 5 MiB parts (worker.part_size), ranges of 4 parts: 20 parts in 5 ranges.
# Two listing shards: the task's prefix small/ holds 41 entries (small/00/ ..
# small/39/ and small/zz/), so the listing is split and a shard thread fans
# the object out. Destination keys equal source keys (same prefix).
fault_conf 'lister.fanout_threshold="32M"' 'lister.segment_max_bytes="20M"' lister.shards=2
sed -i "s|source = \"oss:$FAULT_SRC_BUCKET\"; destination = \"cos:$FAULT_DST_BUCKET\"|source = \"oss:$FAULT_SRC_BUCKET/small/\"; destination = \"cos:$FAULT_DST_BUCKET/small/\"|" "$CONF"
grep -q "/small/" "$CONF" || fail "task prefix not set"
fault_fill small:40:1:8 key:small/zz/huge.bin:104857600
fault_reset_stats
# The workers join first, so the ranges are spread over all three.
fault_worker w1
fault_worker w2
fault_worker w3
wait_until 60 grep -q "assigned" "$FERRY_RUN/w1.log" "$FERRY_RUN/w2.log" "$FERRY_RUN/w3.log" || true
sleep 3
fault_lister || { cat "$FERRY_RUN/lister.log"; fail "lister exited $?"; }
grep -q 'msg="shard plan" shards=2' "$FERRY_RUN/lister.log" || { cat "$FERRY_RUN/lister.log"; fail "the listing was not sharded"; }
grep -q 'event=fanout key="small/zz/huge.bin"' "$FERRY_RUN/lister.log" || { cat "$FERRY_RUN/lister.log"; fail "the lister did not fan the object out"; }
fault_wait 240
fault_check completed

# The ranges' results: every range once, more than one worker, one completion.
kcat -b "$FERRY_BROKERS" -C -t ferry.results -o beginning -e -q 2>/dev/null | grep '"range":' >"$FERRY_RUN/ranges.jsonl"
nranges=$(jget 'j' <<<"$(node -e "
const l=require('fs').readFileSync('$FERRY_RUN/ranges.jsonl','utf8').trim().split('\n').map(JSON.parse);
console.log(JSON.stringify(new Set(l.map(r=>r.segment)).size))")")
[ "$nranges" -ge 3 ] || fail "$nranges part-range segments, want >= 3"
workers=$(node -e "
const l=require('fs').readFileSync('$FERRY_RUN/ranges.jsonl','utf8').trim().split('\n').map(JSON.parse);
console.log(new Set(l.map(r=>r.worker)).size)")
[ "$workers" -gt 1 ] || fail "only $workers worker copied part ranges"
completions=$(node -e "
const l=require('fs').readFileSync('$FERRY_RUN/ranges.jsonl','utf8').trim().split('\n').map(JSON.parse);
console.log(l.filter(r=>r.n_copied===1).length)")
[ "$completions" -ge 1 ] || fail "no range reported the object complete"
ok "$nranges part ranges copied by $workers workers; $completions result(s) saw the object complete"
done_ok=$(pstat cos 'j.by_op_status["complete 200"]||0')
# One Complete is the rule; a second is the documented race (docs/fanout.md: a
# Complete slower than the pause, seen on a CI machine at load 30), harmless
# because both name the same parts — s3rver answers it 200 where S3 says
# NoSuchUpload. More than two would mean the pause does not work.
[ "$done_ok" -ge 1 ] && [ "$done_ok" -le 2 ] || fail "successful CompleteMultipartUpload: $done_ok, want 1 (2 under load)"
assert_eq "$(pstat cos 'j.by_op_status["initiate 200"]||0')" "1" "uploads initiated (by the lister)"
assert_eq "$(curl -sf "$COS_ADMIN/uploads" | jget 'j.uploads.length')" "0" "uploads left open"
# The reporter counts the object once: copied = every object of the source.
assert_eq "$COPIED" "$TOTAL" "objects copied (the fanned-out one counted once)"
fault_stop_workers
fault_survived "ranges=$nranges range_workers=$workers completes_ok=$done_ok"
