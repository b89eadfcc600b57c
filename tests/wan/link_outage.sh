#!/usr/bin/env bash
# WAN scenario 3: the inter-cloud link (the destination host's) drops every
# packet for 20 s in the middle of the copy, then recovers. The workers run
# with production retry and stall settings; the task completes, everything
# verified and accounted.
FAULT=wan_link_outage
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/tests/lib/wan.sh"
wan_enter "$FERRY_SRC/tests/wan/profiles/default.prof"

wan_setup
wan_conf
wan_fill small:150:1:64 large:4:16
fault_reset_stats
fault_lister || fail "lister exited $?"
wan_worker 1; wan_worker 2
wan_midcopy 60
wan_unfinished "the outage"
wan cut dst
sleep 20
wan heal
echo "outage over at copied=$(wan_copied)/$TOTAL"
fault_wait 600
fault_check completed
retries=$(cat "$FERRY_RUN"/w*.log | grep -c 'event=retry' || true)
fault_survived "outage_s=20 worker_retries=$retries"
