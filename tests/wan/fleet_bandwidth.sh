#!/usr/bin/env bash
# WAN scenario 2: a task with a fleet-wide bandwidth limit (200 KiB/s over
# two worker hosts) so that single transfers last minutes: a 12 MiB single
# PUT and a 20 MiB object in 10 MiB parts, each part over a minute. Every
# transfer far outlasts request_timeout_s (30 s), which bounds only body-less
# requests (docs/config.md): all copied and verified. Not in the CI subset
# until the fix of the known defect "bodies cut at request_timeout_s" lands.
FAULT=wan_fleet_bandwidth
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/tests/lib/wan.sh"
wan_enter "$FERRY_SRC/tests/wan/profiles/default.prof"

wan_setup
wan_conf worker.multipart_threshold='"16M"' worker.part_size='"10M"' task.bandwidth_limit='"200K"'
wan_fill key:single/a:12582912 key:multi/b:20971520
fault_reset_stats
fault_lister || fail "lister exited $?"
wan_worker 1; wan_worker 2
fault_wait 840
fault_check completed
assert_eq "$FAILED" 0 "failed objects"
fault_survived "task_bandwidth_limit=200K"
