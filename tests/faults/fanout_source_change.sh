#!/usr/bin/env bash
# Fault: the source of a fanned-out object (docs/fanout.md) is overwritten
# (same size, new bytes) while its part ranges are being copied. The range
# that meets the change (If-Match / ETag check) aborts the shared upload;
# the other ranges meet NoSuchUpload and report without counting again. The
# object is reported changed, once; nothing of it is written; the upload is
# aborted, none is left open.
FAULT=fanout_source_change
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/tests/lib/faults.sh"

fault_setup
# Few parts at a time, each held 3 s: the 20 parts take 15 s or more.
fault_conf 'lister.fanout_threshold="32M"' 'lister.segment_max_bytes="20M"' worker.concurrency=4
fault_fill small:20:1:8 large:1:100
fault_rule cos '{"match":{"op":"upload-part"},"action":"delay","ms":3000}'
fault_reset_stats
fault_worker w1
fault_worker w2
wait_until 60 grep -q "assigned" "$FERRY_RUN/w1.log" "$FERRY_RUN/w2.log" || true
sleep 3
fault_lister || { cat "$FERRY_RUN/lister.log"; fail "lister exited $?"; }
ranging() { grep -q 'event=range-start' "$FERRY_RUN/w1.log" "$FERRY_RUN/w2.log"; }
wait_until 120 ranging || fail "no part range started"
node -e "
const u=require('$TOOLS/s3util'),fs=require('fs');
(async()=>{
  const k='large/big-0.bin';
  const snap=new Map(require('$FERRY_RUN/snapshot.json').map(o=>[o.key,o]));
  await u.put('$FERRY_S3_MAIN','$FAULT_SRC_BUCKET',k,u.bytes(4242,snap.get(k).size));
  fs.writeFileSync('$FERRY_RUN/expect.json',JSON.stringify({[k]:'changed'}));
})().catch(e=>{console.error(e);process.exit(1)})"
up=$(pstat cos 'j.by_op_status["upload-part 200"]||0')
[ "$up" -lt 20 ] || fail "every part was uploaded before the source changed"
ok "source object overwritten after $up part(s) were uploaded"
fault_clear
fault_wait 240
fault_check completed-with-failures "$FERRY_RUN/expect.json"
assert_eq "$FAILED" "1" "objects failed (the fanned-out one, once)"
assert_eq "$(curl -sf "$COS_ADMIN/uploads" | jget 'j.uploads.length')" "0" "uploads left open"
assert_eq "$(curl -sf "$COS_ADMIN/uploads" | jget 'j.aborted')" "1" "uploads aborted"
assert_eq "$(pstat cos 'j.by_op_status["complete 200"]||0')" "0" "completed uploads"
fault_stop_workers
fault_survived "changed=1 aborted=1"
