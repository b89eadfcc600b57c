#!/usr/bin/env bash
# Fault: a worker is killed with SIGKILL in the middle of a multipart upload
# (its UploadParts are held 3 s by the destination, so the upload is open
# when it dies). Another worker redoes its segments, finds the open uploads
# of the keys it copies and continues them (docs/worker.md, "Shutdown and
# continued uploads"), and the task completes; afterwards no multipart
# upload may remain open at the destination, without any cleanup (the COS
# proxy's own record of initiated / completed / aborted uploads,
# GET /__proxy/uploads, independent of ferry). Then an upload nobody will
# continue (a --segments-from worker killed mid-upload, keys outside the
# task) is left to ferry-lister --cleanup.
FAULT=worker_kill_mpu
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/tests/lib/faults.sh"

fault_setup
fault_conf
fault_fill small:100:1:8 large:2:12
fault_rule cos '{"match":{"op":"upload-part"},"action":"delay","ms":3000}'
fault_reset_stats
fault_lister || fail "lister exited $?"

open_uploads() { curl -sf "$COS_ADMIN/uploads" | jget 'j.uploads.length'; }
uploading() { [ "$(open_uploads)" -ge 1 ]; }
fault_worker w1
wait_until 120 uploading || fail "no multipart upload started"
sleep 1 # parts are on their way
kill -KILL "${WPID[w1]}"
wait "${WPID[w1]}" 2>/dev/null || true
unset 'WPID[w1]'
orphans_w1=$(open_uploads)
fault_clear
fault_worker w2
ok "w1 killed with SIGKILL while $orphans_w1 upload(s) were open; w2 started"
fault_wait 240
fault_check completed

curl -sf "$COS_ADMIN/uploads" >"$FERRY_RUN/uploads.json"
left=$(jget 'j.uploads.length' <"$FERRY_RUN/uploads.json")
[ "$left" = 0 ] || fail "$left upload(s) left open after the task: $(jget 'JSON.stringify(j.uploads.map(u=>u.key))' <"$FERRY_RUN/uploads.json")"
grep -q 'event=upload-found' "$FERRY_RUN/w2.log" || fail "w2 continued none of the killed worker's uploads"
ok "the killed worker's uploads were continued by w2; none left open"

# An upload nobody continues: a worker reading segments from a file (keys
# under orphan/, outside the task's listing) killed mid-upload.
fault_rule cos '{"match":{"op":"upload-part"},"action":"delay","ms":3000}'
node "$TOOLS/segments.js" "$FERRY_S3_MAIN" "$FAULT_SRC_BUCKET" oss cos "$FAULT_DST_BUCKET" \
  --prefix large/ --dst-prefix orphan/ >"$FERRY_RUN/orphan.segs"
"$FERRY_BIN/ferry-worker" -c "$CONF" --segments-from "$FERRY_RUN/orphan.segs" >/dev/null 2>"$FERRY_RUN/orphan.log" &
opid=$!
track_pid $opid
wait_until 120 uploading || fail "the file worker started no upload"
sleep 1
kill -KILL "$opid"
wait "$opid" 2>/dev/null || true
fault_clear
orphans=$(open_uploads)
# ferry-lister --cleanup lists the task's destination uploads and aborts
# those older than --older-than; with the default age (24 h) these young
# uploads are left alone.
"$FERRY_BIN/ferry-lister" -c "$CONF" -t t --cleanup 2>"$FERRY_RUN/cleanup0.log" || { cat "$FERRY_RUN/cleanup0.log"; fail "cleanup exited $?"; }
grep -q "0 open uploads aborted, $orphans younger" "$FERRY_RUN/cleanup0.log" || { cat "$FERRY_RUN/cleanup0.log"; fail "cleanup aborted young uploads"; }
assert_eq "$(open_uploads)" "$orphans" "uploads after a cleanup of old uploads only"
"$FERRY_BIN/ferry-lister" -c "$CONF" -t t --cleanup --older-than 0 2>"$FERRY_RUN/cleanup.log" ||
  { cat "$FERRY_RUN/cleanup.log"; fail "ferry-lister --cleanup failed"; }
cat "$FERRY_RUN/cleanup.log"
assert_eq "$(open_uploads)" "0" "multipart uploads left open after --cleanup"
aborted=$(curl -sf "$COS_ADMIN/uploads" | jget 'j.aborted')
fault_survived "killed_with_open_uploads=$orphans_w1 orphans_cleaned=$orphans uploads_open=0 aborted=$aborted"
