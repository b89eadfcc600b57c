#!/usr/bin/env bash
# WAN scenario 1: a migration like MSP's under the default profile (workers
# in the source region, 30 ms RTT / 0.1 % loss to the destination, HTTPS on
# both stores): small objects, 5-64 MiB ones and one larger (192 MiB: "a few
# GiB" scaled to the bed's rates and CI time) on four worker hosts, all
# copied and verified.
FAULT=wan_mixed_sizes
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/tests/lib/wan.sh"
export WAN_SCALE="${WAN_SCALE:-0.5}"
wan_enter "$FERRY_SRC/tests/wan/profiles/default.prof"

wan_setup
# Production retry settings; request_timeout_s raised because on main it
# still bounds body transfers (the known defect "bodies cut at request_timeout_s"; fleet_bandwidth is the
# test of that), so that this scenario tests the mixed migration only.
wan_conf worker.concurrency=16 worker.multipart_threshold='"16M"' worker.part_size='"8M"' worker.request_timeout_s=900
wan_fill small:200:1:64 key:mid/a:5242880 key:mid/b:12582912 key:mid/c:26214400 key:mid/d:41943040 key:mid/e:67108864 \
  key:big/one:201326592
fault_reset_stats
wan_cpu_start
fault_lister || fail "lister exited $?"
for n in 1 2 3 4; do wan_worker $n; done
fault_wait 600
cpu=$(wan_cpu_end)
fault_check completed
fault_survived "cpu_busy=$cpu scale=$WAN_SCALE"
