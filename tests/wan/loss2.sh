#!/usr/bin/env bash
# WAN scenario 6: 2 % loss each way on the inter-cloud link for the whole
# task. TCP retransmits (counted on the worker hosts), ferry retries what
# fails, everything is verified and accounted.
FAULT=wan_loss2
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/tests/lib/wan.sh"
wan_enter "$FERRY_SRC/tests/wan/profiles/default.prof"

wan_setup
wan set dst loss=2
wan_conf
wan_fill small:200:1:64 large:3:16
fault_reset_stats
r0=$(wan_retrans w1 w2)
fault_lister || fail "lister exited $?"
wan_worker 1; wan_worker 2
fault_wait 600
fault_check completed
retrans=$(( $(wan_retrans w1 w2) - r0 ))
[ "$retrans" -gt 0 ] || fail "no TCP retransmission on the worker hosts: was the loss in effect?"
retries=$(cat "$FERRY_RUN"/w*.log | grep -c 'event=retry' || true)
fault_survived "loss_pct=2 tcp_retransmits=$retrans worker_retries=$retries"
