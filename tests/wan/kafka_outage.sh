#!/usr/bin/env bash
# WAN scenario: Kafka unreachable from every worker for longer than
# kafka.delivery_timeout_ms (10 s here; 300 s by default) while they copy.
# A worker whose result is not delivered in time stops taking work and exits
# 1 (never 2, the one status its unit does not restart); a supervisor loop
# standing in for systemd (Restart=on-failure, RestartPreventExitStatus=2,
# no start limit: compose/systemd/ferry-worker@.service) starts it again,
# and again while Kafka is still away (its start fails after the 10 s
# metadata wait). When the broker is back the task completes, every object
# counted once: the undelivered segments were never committed, so they are
# redone (docs/deploy.md, "Outages").
FAULT=wan_kafka_outage
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/tests/lib/wan.sh"
wan_enter "$FERRY_SRC/tests/wan/profiles/default.prof"

CUT_S="${KAFKA_OUTAGE_S:-45}"
wan_setup
wan_conf
sed -i 's|^kafka = {|kafka = { delivery_timeout_ms = 10000;|' "$CONF"
wan_fill small:300:1:64 large:3:16
fault_reset_stats
fault_lister || fail "lister exited $?"
# supervised N: ferry-worker on wN restarted after any exit but 2, each exit
# status appended to $FERRY_RUN/wN.exits.
supervised() {
  local n="$1"
  ip netns exec "$(wan ns "w$n")" bash -c '
    while :; do
      "$0" -c "$1" --id "w$2" >>"$3/w$2.log" 2>&1; rc=$?
      echo "$rc" >>"$3/w$2.exits"
      [ "$rc" = 2 ] && exit 2
      [ -e "$3/stop" ] && exit 0
      sleep 2
    done' "$FERRY_BIN/ferry-worker" "$CONF" "$n" "$FERRY_RUN" &
  track_pid $!
}
supervised 1; supervised 2
wan_midcopy 40
wan_unfinished "the outage"
wan cut brk
echo "kafka unreachable from $(date +%T) for ${CUT_S} s"
sleep "$CUT_S"
wan heal
exits=$(cat "$FERRY_RUN"/w*.exits 2>/dev/null | tr '\n' ' ')
echo "worker exits during the outage: ${exits:-none}"
[ -n "$exits" ] || fail "no worker exited: the outage did not outlast delivery_timeout_ms (nothing tested)"
grep -qx 2 "$FERRY_RUN"/w*.exits && fail "a worker exited 2 (its unit would not restart it)"
grep -h 'event=undelivered\|event=produce-failed' "$FERRY_RUN"/w*.log | head -2
fault_wait 600
touch "$FERRY_RUN/stop"
fault_check completed
alive=0
for n in 1 2; do pgrep -f -- "--id w$n\$" >/dev/null && alive=$((alive + 1)); done
echo "workers running after the outage: $alive of 2"
[ "$alive" = 2 ] || fail "a worker is not running after the outage ($alive of 2)"
fault_survived "outage_s=$CUT_S delivery_timeout_s=10 worker_exits=\"$exits\""
