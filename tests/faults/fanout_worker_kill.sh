#!/usr/bin/env bash
# Fault: a worker copying a part range of a fanned-out object (docs/fanout.md)
# is killed with SIGKILL mid-upload (UploadParts held 1.5 s by the
# destination). Its range segment is redelivered to another worker, which
# skips the parts already there, uploads the rest; the last range completes
# the shared upload. The task completes, the object counts once, and no
# upload is left open — without ferry-lister --cleanup: the upload belongs
# to no worker, so no worker's death orphans it.
FAULT=fanout_worker_kill
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/tests/lib/faults.sh"

fault_setup
fault_conf 'lister.fanout_threshold="32M"' 'lister.segment_max_bytes="20M"'
fault_fill small:20:1:8 large:1:100
fault_rule cos '{"match":{"op":"upload-part"},"action":"delay","ms":1500}'
fault_reset_stats
fault_worker w1
fault_worker w2
fault_worker w3
wait_until 60 grep -q "assigned" "$FERRY_RUN/w1.log" "$FERRY_RUN/w2.log" "$FERRY_RUN/w3.log" || true
sleep 3
fault_lister || { cat "$FERRY_RUN/lister.log"; fail "lister exited $?"; }

# The victim: a worker with a part range started and not ended.
victim=""
busy() {
  local w
  for w in w1 w2 w3; do
    if [ "$(grep -c 'event=range-start' "$FERRY_RUN/$w.log")" -gt "$(grep -c 'event=range-end' "$FERRY_RUN/$w.log")" ]; then
      victim=$w
      return 0
    fi
  done
  return 1
}
wait_until 120 busy || fail "no worker started a part range"
sleep 2 # some of its parts are on their way
kill -KILL "${WPID[$victim]}"
wait "${WPID[$victim]}" 2>/dev/null || true
unset "WPID[$victim]"
ok "$victim killed with SIGKILL mid-range ($(grep -c 'event=range-start' "$FERRY_RUN/$victim.log") range(s) started)"
fault_worker w4
fault_wait 240
fault_check completed
assert_eq "$COPIED" "$TOTAL" "objects copied (the fanned-out one counted once)"
assert_eq "$(curl -sf "$COS_ADMIN/uploads" | jget 'j.uploads.length')" "0" "uploads left open"
assert_eq "$(pstat cos 'j.by_op_status["initiate 200"]||0')" "1" "uploads initiated"
done_ok=$(pstat cos 'j.by_op_status["complete 200"]||0')
assert_eq "$done_ok" "1" "successful CompleteMultipartUpload"
fault_stop_workers
fault_survived "victim=$victim completes_ok=$done_ok uploads_open=0"
