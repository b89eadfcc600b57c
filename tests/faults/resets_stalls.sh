#!/usr/bin/env bash
# Fault: connections reset mid-body (source GETs of single objects and of
# multipart part ranges; destination writes reset before the request is read,
# or after the store did the work) and transfers that stall with no byte
# (a source GET after 1000 bytes, a destination answer after its headers).
# All are retried and completed; the stalls are cut after stall_timeout_s
# (2 s), not after the 60 s the proxy would hold them.
FAULT=resets_stalls
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/tests/lib/faults.sh"

fault_setup
fault_conf worker.max_attempts=8
fault_fill small:300:1:8 large:1:12 key:medium/3mb.bin:3145728
fault_rule oss '{"match":{"op":"get","key_prefix":"large/"},"action":"reset","bytes":1000000,"count":2}'
fault_rule oss '{"match":{"op":"get","key_prefix":"medium/"},"action":"stall","bytes":1000,"ms":60000,"count":1}'
fault_rule oss '{"match":{"op":"get","key_prefix":"small/0"},"action":"reset","bytes":512,"probability":0.3}'
fault_rule cos '{"match":{"op":"upload-part"},"action":"reset","count":1}'
fault_rule cos '{"match":{"op":"put","key_prefix":"small/2"},"action":"reset","forward":true,"count":3}'
fault_rule cos '{"match":{"op":"put","key_prefix":"small/3"},"action":"stall","ms":60000,"count":1}'
fault_reset_stats

fault_lister || fail "lister exited $?"
fault_worker w1
fault_worker w2
fault_wait 240

fault_check completed

# Every rule fired (as often as it may), and each cut was retried.
fired() { curl -sf "$1/faults" | jget "j.rules.map(r=>r.fired).join(' ')"; }
read -r f_large f_stall f_small <<<"$(fired "$OSS_ADMIN")"
read -r f_part f_fwd f_dstall <<<"$(fired "$COS_ADMIN")"
assert_eq "$f_large $f_stall $f_part $f_fwd $f_dstall" "2 1 1 3 1" "fired counts (large reset, src stall, part reset, forwarded reset, dst stall)"
[ "$f_small" -gt 0 ] || fail "no small GET was reset"
grep -h 'event=retry' "$FERRY_RUN"/w*.log | grep -q 'medium/3mb.bin' || fail "the stalled transfer was not retried"
[ "$TASK_S" -lt 60 ] || fail "the task took $TASK_S s: a stall was not cut by stall_timeout_s"
retries=$(cat "$FERRY_RUN"/w*.log | grep -c 'event=retry' || true)
fault_survived "resets=$((f_large + f_small + f_part + f_fwd)) stalls=$((f_stall + f_dstall)) worker_retries=$retries"
