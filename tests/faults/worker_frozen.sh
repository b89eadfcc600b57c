#!/usr/bin/env bash
# Fault: a worker frozen (SIGSTOP) for 12 s, twice its consumer session
# timeout, while another copies. The group expels it and hands its
# partitions to the other; when it thaws it finds its assignment lost,
# rejoins and takes work again. Neither worker may hang (a synchronous
# commit made during such a rebalance once blocked a worker for good).
# The task completes; nothing lost, nothing counted twice.
FAULT=worker_frozen
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/tests/lib/faults.sh"

fault_setup
fault_conf worker.qps_limit=20 lister.segment_max_objects=10
fault_fill small:240:1:8
fault_reset_stats
fault_lister || fail "lister exited $?"
fault_worker w1
fault_worker w2
some() { [ "$(results_n)" -ge 3 ]; }
wait_until 120 some || fail "no result before the freeze"
kill -STOP "${WPID[w1]}"
sleep 12
before=$(results_n)
kill -CONT "${WPID[w1]}"
ok "w1 frozen for 12 s; $before segments had results when it thawed"
by_w1() {
  kcat -b "$FERRY_BROKERS" -C -t ferry.results -o beginning -e -q 2>/dev/null >"$FERRY_RUN/results.jsonl"
  [ "$(grep -c '"worker":"w1"' "$FERRY_RUN/results.jsonl")" -gt "${1:-0}" ]
}
by_w1 0 || true
w1_before=$(grep -c '"worker":"w1"' "$FERRY_RUN/results.jsonl" || true)
fault_wait 240
fault_check completed
by_w1 0 || true
w1_after=$(grep -c '"worker":"w1"' "$FERRY_RUN/results.jsonl" || true)
grep -q 'kind=lost\|kind=revoked' "$FERRY_RUN/w1.log" || fail "w1 never lost its partitions (the freeze did not outlast the session)"
grep -q 'kind=assigned' "$FERRY_RUN/w2.log" || fail "w2 was never assigned partitions"
# Both are alive and leave cleanly. (A watchdog exit -- 70, `event=stalled`
# -- would mean a worker blocked: that was the zero-poll wait of -1, fixed;
# it now fails the scenario, its stacks in the log with FERRY_STALL_GDB.)
for w in w1 w2; do
  kill -0 "${WPID[$w]}" 2>/dev/null && continue
  rc=0; wait "${WPID[$w]}" || rc=$?
  fail "$w died (exit $rc): $(grep -h 'event=stalled' "$FERRY_RUN/$w.log" | tail -1)"
done
for w in w1 w2; do kill -TERM "${WPID[$w]}"; done
for w in w1 w2; do
  rc=0
  timeout 150 tail --pid="${WPID[$w]}" -f /dev/null || fail "$w did not leave within 150 s of SIGTERM"
  wait "${WPID[$w]}" || rc=$?
  [ "$rc" = 0 ] || fail "$w exited $rc after SIGTERM"
done
ok "both workers left cleanly; w1 results: $w1_before when thawed, $w1_after at the end"
fault_survived "results_when_thawed=$before w1_results_end=$w1_after"
