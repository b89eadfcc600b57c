#!/usr/bin/env bash
# Fault: a worker is killed with SIGKILL in the middle of a multipart upload
# (its UploadParts are held 3 s by the destination, so the upload is open
# when it dies). Another worker redoes its segments and the task completes;
# afterwards no multipart upload may remain open at the destination
# (the COS proxy's own record of initiated / completed / aborted uploads,
# GET /__proxy/uploads, independent of ferry).
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
orphans=$(open_uploads)
fault_clear
fault_worker w2
ok "w1 killed with SIGKILL while $orphans upload(s) were open; w2 started"
fault_wait 240
fault_check completed

curl -sf "$COS_ADMIN/uploads" >"$FERRY_RUN/uploads.json"
left=$(jget 'j.uploads.length' <"$FERRY_RUN/uploads.json")
cleaned=0
if [ "$left" -gt 0 ]; then
  # The killed worker could not abort its upload: nobody knows its id but
  # the store. ferry-lister --cleanup lists the task's destination uploads
  # and aborts those no worker is running.
  # With the default age (24 h) these young uploads are left alone.
  "$FERRY_BIN/ferry-lister" -c "$CONF" -t t --cleanup 2>"$FERRY_RUN/cleanup0.log" || { cat "$FERRY_RUN/cleanup0.log"; fail "cleanup exited $?"; }
  grep -q "0 open uploads aborted, $left younger" "$FERRY_RUN/cleanup0.log" || { cat "$FERRY_RUN/cleanup0.log"; fail "cleanup aborted young uploads"; }
  assert_eq "$(open_uploads)" "$left" "uploads after a cleanup of old uploads only"
  "$FERRY_BIN/ferry-lister" -c "$CONF" -t t --cleanup --older-than 0 2>"$FERRY_RUN/cleanup.log" ||
    { cat "$FERRY_RUN/cleanup.log"; fail "$left upload(s) left open after the task ($(jget 'JSON.stringify(j.uploads.map(u=>u.key))' <"$FERRY_RUN/uploads.json")) and ferry-lister --cleanup failed"; }
  cat "$FERRY_RUN/cleanup.log"
  cleaned=$left
  left=$(open_uploads)
fi
assert_eq "$left" "0" "multipart uploads left open"
aborted=$(curl -sf "$COS_ADMIN/uploads" | jget 'j.aborted')
fault_survived "killed_with_open_uploads=$orphans orphans_cleaned=$cleaned uploads_open=0 aborted=$aborted"
