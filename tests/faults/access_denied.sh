#!/usr/bin/env bash
# Fault: the destination refuses every request with 403 AccessDenied. Every
# object fails fast (one attempt: AccessDenied is not retryable) with reason
# access-denied, the task ends completed-with-failures, the export holds
# every key, and the destination sees about one request per object.
FAULT=access_denied
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/tests/lib/faults.sh"

fault_setup
fault_conf
fault_fill small:300:1:8 large:1:12
fault_rule cos '{"match":{},"action":"status","status":403,"code":"AccessDenied","message":"Access Denied."}'
fault_reset_stats
echo '{"*":"access-denied"}' >"$FERRY_RUN/expect.json"

fault_lister || fail "lister exited $?"
# One worker: no rebalance, so no segment is legitimately redone and the
# request count is exact.
fault_worker w1
fault_wait 240

fault_check completed-with-failures "$FERRY_RUN/expect.json"
assert_eq "$(wc -l <"$FERRY_RUN/failed.keys")" "$TOTAL" "exported keys"
# No endless retries: one attempt per object, one destination request each.
multi=$(jget 'j.length' <<<"[$(grep -v '"attempts":1,' "$FERRY_RUN/failed.jsonl" | paste -sd, -)]")
assert_eq "$multi" "0" "failed objects with more than one attempt"
assert_eq "$(cat "$FERRY_RUN"/w*.log | grep -c 'event=retry' || true)" "0" "retries"
[ "$DST_REQ" -le $((TOTAL + TOTAL / 10)) ] || fail "$DST_REQ destination requests for $TOTAL objects (bound 1.1 x)"
fault_survived "denied=$(jget '(j.by_status["403"]||0)' <"$FERRY_RUN/stats-cos.json")"
