#!/usr/bin/env bash
# Fault: the destination answers 500 InternalError to every request for 2.5 s
# in the middle of the run (installed once it has served 60 requests), then
# is healthy again. The workers retry with backoff (max_attempts 12, up to
# 2 s apart: a budget of several seconds per request) and the task completes.
FAULT=dst_500
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/tests/lib/faults.sh"

fault_setup
fault_conf worker.max_attempts=12 worker.backoff_base_ms=100 worker.backoff_max_ms=2000
fault_fill small:300:1:8 large:1:12
fault_reset_stats

fault_lister || fail "lister exited $?"
fault_worker w1
fault_worker w2
dst_busy() { [ "$(pstat cos j.requests)" -ge 60 ]; }
wait_until 120 dst_busy || fail "the destination saw no traffic"
# The window must meet traffic: the dev broker's group sometimes takes a
# worker's partitions away for seconds (a re-join), so a window that met no
# request is opened again (at most 5 times).
before=$(results_n)
for i in 1 2 3 4 5; do
  fault_rule cos '{"match":{},"action":"status","status":500,"code":"InternalError","for_ms":2500}'
  sleep 2.7
  [ "$(curl -sf "$COS_ADMIN/faults" | jget 'j.rules.reduce((a,r)=>a+r.fired,0)')" -gt 0 ] && break
done
windows=$i
fault_wait 240
fault_check completed
n500=$(jget '(j.by_status["500"]||0)' <"$FERRY_RUN/stats-cos.json")
[ "$n500" -gt 0 ] || fail "no 500 was answered"
retries=$(cat "$FERRY_RUN"/w*.log | grep 'event=retry' | grep -c 'http=500' || true)
[ "$retries" -gt 0 ] || fail "no retry after a 500"
fault_survived "windows=$windows errors_500=$n500 worker_retries=$retries results_before_outage=$before"
