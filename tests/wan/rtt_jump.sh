#!/usr/bin/env bash
# WAN scenario 5: mid-task the RTT to the destination jumps from 30 ms to
# 300 ms and the inter-cloud link's capacity halves. No false stall (no
# transfer aborted for lack of progress, no watchdog), no failure.
FAULT=wan_rtt_jump
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/tests/lib/wan.sh"
wan_enter "$FERRY_SRC/tests/wan/profiles/default.prof"

wan_setup
wan_conf
wan_fill small:200:1:64 large:4:16
fault_reset_stats
fault_lister || fail "lister exited $?"
wan_worker 1; wan_worker 2
wan_midcopy 60
wan_unfinished "the jump"
# dst's link: 14.8 -> 149.8 ms one way (RTT 0.4 + 299.6 ms), 200 -> 100 Mbit/s (scaled).
wan set dst delay=149.8 rate=100mbit
fault_wait 900
fault_check completed
stalls=$(cat "$FERRY_RUN"/w*.log | grep -cE 'event=stalled|stall' || true)
assert_eq "$stalls" 0 "stall events in the worker logs"
assert_eq "$FAILED" 0 "failed objects"
retries=$(cat "$FERRY_RUN"/w*.log | grep -c 'event=retry' || true)
fault_survived "rtt_ms=30->300 capacity=1->0.5 worker_retries=$retries"
