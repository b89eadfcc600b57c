#!/usr/bin/env bash
# Fault: the source answers 503 SlowDown with Retry-After: 1 to a third of
# all requests (listing, HEAD, GET). Everything must be copied, the retries
# must wait (at least the Retry-After) and the request count stay bounded.
FAULT=slowdown
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/tests/lib/faults.sh"

fault_setup
fault_conf worker.max_attempts=10
fault_fill small:300:1:8 large:1:12
fault_rule oss '{"match":{},"action":"status","status":503,"code":"SlowDown","retry_after":1,"probability":0.333}'
fault_reset_stats

fault_lister || fail "lister exited $?"
fault_worker w1
fault_worker w2
fault_wait 240
fault_check completed

# Bound. Without faults the source sees one request per small object (GET),
# and per multipart object a HEAD and one ranged GET per 5 MiB part, plus the
# listing pages: BASE. With a third refused at random, each request needs
# 1/(1-1/3) = 1.5 attempts on average (variance 0.75 per request), so the
# expected count is 1.5 x BASE, and 2 x BASE lies more than 8 standard
# deviations above it for BASE ~ 300: exceeding it means a retry storm
# (requests retried without waiting, or redone wholesale).
base=$(( 300 + 1 + 3 + 2 ))
ok503=$(pstat oss '(j.by_status["503"]||0)')
ok200=$(pstat oss '(j.by_status["200"]||0)+(j.by_status["206"]||0)')
[ "$ok503" -gt 0 ] || fail "no 503 was injected"
[ "$SRC_REQ" -le $((2 * base)) ] || fail "retry storm: $SRC_REQ source requests, bound $((2 * base)) (2 x $base)"
# Every retry after a 503 waited at least its Retry-After (1 s).
short=$(cat "$FERRY_RUN"/w*.log | grep 'event=retry' | grep 'http=503' | sed -n 's/.*delay_ms=\([0-9]*\).*/\1/p' | awk '$1<1000' | wc -l)
retries=$(cat "$FERRY_RUN"/w*.log | grep 'event=retry' | grep -c 'http=503' || true)
assert_eq "$short" "0" "retries after a 503 that waited less than Retry-After"
fault_survived "slowdowns=$ok503 worker_retries=$retries ok_answers=$ok200 bound=$((2 * base))"
