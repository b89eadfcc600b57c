#!/usr/bin/env bash
# Fault: the lister is killed with SIGKILL in the middle of its listing (page
# size 5, a checkpoint every 4 pages, each page held 150 ms by the source)
# while workers already copy its first segments, and is resumed with the same
# command; a following reporter is killed with SIGKILL at the same moment and
# restarted. Afterwards the restarted reporter's figures equal those of a
# reporter that followed the whole run without dying (and a fresh --once):
# the segments republished by the resumed lister are counted once.
FAULT=lister_reporter_kill
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/tests/lib/faults.sh"

fault_setup
fault_conf lister.page_size=5 lister.checkpoint_pages=4 lister.segment_max_objects=10
fault_fill small:300:1:8 large:1:12
fault_rule oss '{"match":{"op":"list"},"action":"delay","ms":150}'
fault_reset_stats

rep() { "$FERRY_BIN/ferry-reporter" -c "$CONF" --task t --watch --json >"$FERRY_RUN/$1.out" 2>"$FERRY_RUN/$1.err" & track_pid $!; echo $!; }
R1=$(rep r1)     # never dies
R2=$(rep r2)     # killed and restarted
fault_worker w1
fault_worker w2
"$FERRY_BIN/ferry-lister" -c "$CONF" -t t 2>"$FERRY_RUN/lister1.log" & L1=$!; track_pid $L1
checkpoints() { kcat -b "$FERRY_BROKERS" -C -t ferry.tasks -o beginning -e -q 2>/dev/null | grep -c '"checkpoint"' || true; }
cps() { [ "$(checkpoints)" -ge 3 ]; }
wait_until 120 cps || fail "the lister made no checkpoint"
kill -KILL "$L1" "$R2"
wait "$L1" 2>/dev/null || true
wait "$R2" 2>/dev/null || true
listed_then=$(kcat -b "$FERRY_BROKERS" -C -t ferry.segments.t -o beginning -e -q 2>/dev/null | wc -l)
ok "lister and reporter r2 killed after $(checkpoints) checkpoints, $listed_then segments published"
R2=$(rep r2b)
fault_lister || { cat "$FERRY_RUN/lister.log"; fail "resumed lister exited $?"; }
grep -q 'resuming run 1 after its checkpoint' "$FERRY_RUN/lister.log" || { cat "$FERRY_RUN/lister.log"; fail "the lister did not resume"; }
fault_wait 240
fault_check completed
published=$(kcat -b "$FERRY_BROKERS" -C -t ferry.segments.t -o beginning -e -q 2>/dev/null | wc -l)
segs=$(jget j.segments <"$FERRY_RUN/status.json")
[ "$published" -ge "$segs" ] || fail "$published segment messages for $segs segments"

# The two following reporters' latest lines, once both show the end.
figures='JSON.stringify([j.state,j.run,j.base_run,j.total_objects,j.total_bytes,j.segments,j.segments_done,j.done_objects,j.done_bytes,j.copied,j.bytes_copied,j.skipped,j.skipped_by_reason,j.failed,j.failed_by_reason,j.first_ms,j.last_ms])'
last_done() { grep '"state":"completed"' "$FERRY_RUN/$1.out" | tail -1; }
both() { [ -n "$(last_done r1)" ] && [ -n "$(last_done r2b)" ]; }
wait_until 30 both || fail "a following reporter never showed the task completed"
sleep 1.5 # one more refresh each
f1=$(last_done r1 | jget "$figures")
f2=$(last_done r2b | jget "$figures")
f3=$(jget "$figures" <"$FERRY_RUN/status.json")
echo "figures: $f1"
assert_eq "$f2" "$f1" "restarted reporter vs one that never died"
assert_eq "$f3" "$f1" "fresh --once reporter vs one that never died"
dups=$(grep -h 'duplicates=' "$FERRY_RUN/wait.err" | sed -n 's/.*duplicates=\([0-9]*\).*/\1/p' | tail -1)
fault_survived "segments=$segs segment_messages=$published republished=$((published - segs)) reporter_duplicates=${dups:-?} figures_equal=yes"
