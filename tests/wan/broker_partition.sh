#!/usr/bin/env bash
# WAN scenario 4: one worker host (w1) is cut off from the broker for 20 s,
# longer than the consumer session timeout (6 s), while copying (the stores
# stay reachable). Its partitions move to the others, it rejoins when the
# path is back, and every object is counted once.
FAULT=wan_broker_partition
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/tests/lib/wan.sh"
wan_enter "$FERRY_SRC/tests/wan/profiles/default.prof"

wan_setup
wan_conf
wan_fill small:300:1:64 large:3:16
fault_reset_stats
fault_lister || fail "lister exited $?"
wan_worker 1; wan_worker 2; wan_worker 3
wan_midcopy 60
wan_unfinished "the partition"
reb_others0=$(cat "$FERRY_RUN"/w2.log "$FERRY_RUN"/w3.log | grep -c 'event=rebalance' || true)
w1_lines=$(wc -l <"$FERRY_RUN/w1.log")
wan cut w1 brk
sleep 20
reb_others=$(( $(cat "$FERRY_RUN"/w2.log "$FERRY_RUN"/w3.log | grep -c 'event=rebalance' || true) - reb_others0 ))
wan heal
echo "partition over at copied=$(wan_copied)/$TOTAL; rebalances seen by w2+w3 during it: $reb_others"
[ "$reb_others" -gt 0 ] || fail "w1's partitions did not move (no rebalance on w2/w3 during the partition)"
fault_wait 600
fault_check completed
# w1 lost its partitions during the cut and was given some again after it.
# The task may finish before that rebalance does (in one run the rebalance
# that gave w1 partitions again began 12-19 s after the heal): wait for it.
rejoin=0
for _ in $(seq 1 60); do
  rejoin=$(tail -n +"$w1_lines" "$FERRY_RUN/w1.log" | grep 'event=rebalance' | sed -n '/kind=lost\|kind=revoked/,$p' |
    grep -c 'kind=assigned partitions=[1-9]' || true)
  [ "$rejoin" -gt 0 ] && break
  sleep 1
done
tail -n +"$w1_lines" "$FERRY_RUN/w1.log" | grep 'event=rebalance' | head -8
[ "$rejoin" -gt 0 ] || fail "w1 did not rejoin (no assignment after losing its partitions)"
# Objects w1 copied while cut off are found at the destination when its
# segments are redone: skipped (exists), never counted twice.
dups=$(grep -ho 'duplicates=[0-9]*' "$FERRY_RUN/wait.err" "$FERRY_RUN/wait.out" 2>/dev/null | tail -1)
fault_survived "objects_skipped_as_existing=$SKIPPED cut_s=20 session_timeout_s=6 rebalances_during=$reb_others w1_rejoined=$rejoin reporter_$dups"
