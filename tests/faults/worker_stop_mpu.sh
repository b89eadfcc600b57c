#!/usr/bin/env bash
# Fault: a worker is stopped (SIGTERM) in the middle of a multipart upload
# while one of its parts waits out a backoff (the destination answered 503
# with Retry-After: 30, longer than the drain). The worker leaves the upload
# open for whoever copies the object next and counts it in its summary line
# (uploads_left=1); a second worker gets the redelivered segment, finds the
# upload (ListMultipartUploads), keeps the 3 parts already there after
# reading them back from the source (same MD5 as their ETags) and uploads
# only the 5 missing ones. The object is verified and no upload is left open
# at the destination (the COS proxy's own record of uploads, independent of
# ferry).
FAULT=worker_stop_mpu
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/tests/lib/faults.sh"

fault_setup
# concurrency 2: one part in flight at a time, so the upload holds exactly
# the parts before the one in backoff.
fault_conf worker.concurrency=2 worker.shutdown_timeout_s=1
fault_fill small:10:1:8 large:1:40
# Parts 1-3 take 300 ms each and succeed; part 4 is refused once with a
# Retry-After longer than the drain.
fault_rule cos '{"match":{"op":"upload-part"},"action":"delay","ms":300,"count":3}'
fault_rule cos '{"match":{"op":"upload-part"},"action":"status","status":503,"retry_after":30,"count":1}'
fault_reset_stats
fault_lister || fail "lister exited $?"

open_uploads() { curl -sf "$COS_ADMIN/uploads" | jget 'j.uploads.length'; }
refused() { [ "$(curl -sf "$COS_ADMIN/faults" | jget 'j.rules[1].fired')" = 1 ]; }
fault_worker w1
wait_until 120 refused || fail "part 4 was never refused"
grep -q 'event=retry op=copy key="large/' "$FERRY_RUN/w1.log" || { sleep 1; grep -q 'event=retry op=copy' "$FERRY_RUN/w1.log"; } ||
  fail "the refused part is not waiting out a backoff"
kill -TERM "${WPID[w1]}"
wait "${WPID[w1]}" 2>/dev/null || true
unset 'WPID[w1]'
grep 'event=summary' "$FERRY_RUN/w1.log"
grep -q 'event=upload-left .* parts=3 of=8' "$FERRY_RUN/w1.log" || fail "w1 did not leave its upload (3 of 8 parts) to be continued"
grep -q 'event=summary .*uploads_left=1 ' "$FERRY_RUN/w1.log" || fail "w1's summary does not count the upload left open"
assert_eq "$(open_uploads)" 1 "uploads open after w1 stopped"
parts_w1=$(pstat cos 'j.by_op_status["upload-part 200"]||0')
assert_eq "$parts_w1" 3 "parts uploaded by w1"
ok "w1 stopped with part 4 in backoff: its upload (3 parts) left open and counted"

fault_clear
fault_reset_stats
fault_worker w2
fault_wait 240
fault_check completed

fault_stop_workers
grep 'event=summary' "$FERRY_RUN/w2.log" || true
grep -q 'event=upload-resumed .* parts=8 present=3' "$FERRY_RUN/w2.log" || fail "w2 did not continue the upload with its 3 parts"
grep -q 'event=summary .*uploads_resumed=1 parts_reused=3 ' "$FERRY_RUN/w2.log" || fail "w2's summary: not 1 upload resumed with 3 parts reused"
parts_w2=$(jget 'j.by_op_status["upload-part 200"]||0' <"$FERRY_RUN/stats-cos.json")
inits_w2=$(jget 'j.by_op_status["initiate 200"]||0' <"$FERRY_RUN/stats-cos.json")
assert_eq "$parts_w2" 5 "parts uploaded by w2 (only the missing ones)"
assert_eq "$inits_w2" 0 "uploads initiated by w2"
curl -sf "$COS_ADMIN/uploads" >"$FERRY_RUN/uploads.json"
assert_eq "$(jget 'j.uploads.length' <"$FERRY_RUN/uploads.json")" 0 "multipart uploads left open"
fault_survived "w1_parts=$parts_w1 w2_parts=$parts_w2 uploads_open=0"
