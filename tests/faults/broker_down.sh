#!/usr/bin/env bash
# Fault: one broker of a three-broker cluster goes down for 10 s in the
# middle of the run (the dev broker's SIGUSR1 / SIGUSR2), while two workers
# copy (held to 15 requests/s each, small segments, so the run outlasts the
# outage). The task completes; nothing lost, nothing counted twice.
FAULT=broker_down
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/tests/lib/faults.sh"

fault_setup --brokers 3
fault_conf worker.qps_limit=15 lister.segment_max_objects=10
fault_fill small:200:1:8 large:1:12
fault_reset_stats
fault_lister || fail "lister exited $?"
fault_worker w1
fault_worker w2
some() { [ "$(results_n)" -ge 2 ]; }
wait_until 120 some || fail "no result before the outage"
before=$(results_n)
kill -USR1 "$DEVBROKER_PID"
sleep 10
kill -USR2 "$DEVBROKER_PID"
during=$(results_n)
ok "broker down for 10 s: $before results before, $during after it came back"
fault_wait 240
fault_check completed
segs=$(jget j.segments <"$FERRY_RUN/status.json")
[ "$during" -lt "$segs" ] || fail "the run was over before the broker came back ($during of $segs results)"
disc=$(cat "$FERRY_RUN"/w*.log | grep -c 'Disconnected\|Connection refused' || true)
# The workers must have seen the outage (else the fault was not injected
# and the run above proves nothing) and said so in their logs.
[ "$disc" -ge 1 ] || fail "no worker logged a lost or refused broker connection during the outage"
fault_survived "results_before_outage=$before results_when_back=$during segments=$segs kafka_disconnect_logs=$disc"
