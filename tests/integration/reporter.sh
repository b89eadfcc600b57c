#!/usr/bin/env bash
# ferry-reporter against ferry-devbroker, fed hand-made records with kcat:
# bad arguments and config (exit 2); a task with a duplicate result, poison
# records (ignored, logged), skips and failures; --once --json figures;
# --wait exit codes (0, 3, 4, and blocking until a late result); the failed
# export (CSV quoting of commas, quotes, newlines, UTF-8; JSON lines); a
# retry run moving failed keys to copied; and a reporter that followed the
# topics live showing the same figures as a freshly started one.
#
# Environment: FERRY_BIN (build directory), FERRY_SRC (unused). Starts and
# stops everything itself (EXIT trap; the broker also gets
# --exit-with-parent).
set -euo pipefail

: "${FERRY_BIN:?FERRY_BIN must name the build directory}"
DEVBROKER="$FERRY_BIN/ferry-devbroker"
REPORTER="$FERRY_BIN/ferry-reporter"

RUN="$(mktemp -d /tmp/ferry-reporter-test.XXXXXX)"
BROKER_PID=""
BG_PIDS=()

cleanup() {
  local rc=$? p
  for p in "${BG_PIDS[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [ -n "$BROKER_PID" ] && kill -0 "$BROKER_PID" 2>/dev/null; then
    kill -TERM "$BROKER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ]; then
    for f in "$RUN"/*.log "$RUN"/*.err; do
      [ -e "$f" ] || continue
      echo "--- $f:" >&2
      tail -n 40 "$f" >&2
    done
  fi
  rm -rf "$RUN"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

command -v kcat >/dev/null || fail "kcat is not installed"
command -v jq >/dev/null || fail "jq is not installed"
command -v python3 >/dev/null || fail "python3 is not installed"
[ -x "$DEVBROKER" ] || fail "$DEVBROKER not built"
[ -x "$REPORTER" ] || fail "$REPORTER not built"

# rep ARGS...: the reporter with the test config, bounded in time; its log
# goes to $RUN/reporter.err.
rep() { timeout 60 "$REPORTER" -c "$RUN/ferry.conf" "$@" 2>>"$RUN/reporter.err"; }
# st CMD...: runs CMD, its exit status in $rc, without tripping set -e.
st() { rc=0; "$@" || rc=$?; }

# --- bad arguments and config: exit 2 ----------------------------------------
echo 'kafka = { brokers = "127.0.0.1:1"; };' >"$RUN/dummy.conf"
for args in "--wait" "--once --watch" "--export-failed t" "--out x" \
            "--export-failed t --out x --format xml" "--timeout -1 --once" \
            "--no-such-flag" "--once extra" "--task"; do
  # shellcheck disable=SC2086
  st "$REPORTER" -c "$RUN/dummy.conf" $args >/dev/null 2>"$RUN/args.err"
  [ "$rc" -eq 2 ] || fail "\"$args\" gave exit $rc, want 2"
  grep -q "usage:" "$RUN/args.err" || fail "\"$args\": no usage on stderr"
done
echo 'kafka = { brokers = 17; }; nonsense' >"$RUN/bad.conf"
st "$REPORTER" -c "$RUN/bad.conf" --once >/dev/null 2>"$RUN/args.err"
[ "$rc" -eq 2 ] || fail "a bad config gave exit $rc, want 2"
st "$REPORTER" -c "$RUN/missing.conf" --once >/dev/null 2>"$RUN/args.err"
[ "$rc" -eq 2 ] || fail "a missing config gave exit $rc, want 2"
st env -u FERRY_CONFIG "$REPORTER" --once >/dev/null 2>"$RUN/args.err"
[ "$rc" -eq 2 ] || fail "no config at all gave exit $rc, want 2"
ok "bad arguments and bad config exit 2"

# --- broker -------------------------------------------------------------------
"$DEVBROKER" --bootstrap-file "$RUN/bootstrap" --partitions 4 --exit-with-parent \
  >"$RUN/devbroker.out" 2>"$RUN/devbroker.log" &
BROKER_PID=$!
for _ in $(seq 1 100); do
  [ -s "$RUN/bootstrap" ] && break
  kill -0 "$BROKER_PID" 2>/dev/null || fail "ferry-devbroker exited early"
  sleep 0.1
done
[ -s "$RUN/bootstrap" ] || fail "no bootstrap file after 10 s"
B="$(cat "$RUN/bootstrap")"
cat >"$RUN/ferry.conf" <<EOF
log_level = "info";
kafka = {
  brokers = "";
  bootstrap_file = "$RUN/bootstrap";
};
reporter = { refresh_s = 1; listen = "127.0.0.1:0"; };
EOF
ok "ferry-devbroker at $B"

# pub TOPIC KEY: one message per stdin line (kcat waits for delivery).
pub() { timeout 30 kcat -b "$B" -P -t "ferry.$1" -k "$2"; }

T0=1700000000000
loc='"src":{"store":"src","bucket":"ferry-src","prefix":""},"dst":{"store":"dst","bucket":"ferry-dst","prefix":""},"policy":"skip-if-same"'
task() {   # task NAME RUN RETRY_OF STATE OBJECTS BYTES SEGMENTS MS
  local r=""
  [ "$3" -gt 0 ] && r=",\"retry_of\":$3"
  printf '{"v":1,"task":"%s","run":%d,%s,"state":"%s","listed_objects":%d,"listed_bytes":%d,"segments":%d,"updated_ms":%d%s}\n' \
    "$1" "$2" "$loc" "$4" "$5" "$6" "$7" "$8" "$r"
}
result() { # result TASK SEG RUN N COPIED SKIPPED FAILED BYTES MS OUTCOMES
  printf '{"v":1,"task":"%s","segment":"%s","run":%d,"worker":"w1","n_objects":%d,"n_copied":%d,"n_skipped":%d,"n_failed":%d,"bytes":%d,"started_ms":%d,"finished_ms":%d,"outcomes":[%s]}\n' \
    "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$9" "$(( $9 + 500 ))" "${10}"
}
outcome() { # outcome KEY SIZE STATUS REASON(or -) HTTP
  local reason=""
  [ "$4" != "-" ] && reason=",\"reason\":\"$4\""
  local bytes=0
  [ "$3" = copied ] && bytes=$2
  printf '{"key":"%s","size":%d,"status":"%s"%s,"bytes":%d,"attempts":3,"duration_ms":10,"http_status":%d,"code":"Code%d","message":"msg, \\"%s\\""}' \
    "$1" "$2" "$3" "$reason" "$bytes" "$5" "$5" "$3"
}
failed() { # failed TASK SEG RUN OUTCOME AT_MS
  local key
  key=$(printf '%s' "$4" | jq -c .key)
  printf '{"v":1,"task":"%s","segment":"%s","run":%d,%s,"obj":{"key":%s,"size":1000,"etag":"etag-x","mtime":-1},"outcome":%s,"at_ms":%d}\n' \
    "$1" "$2" "$3" "$loc" "$key" "$4" "$5"
}

# Keys that need quoting in CSV: a comma; a quote and a newline; UTF-8.
K1='a,b.txt'
K2='say \"hi\"\nline2.txt'          # JSON-escaped: say "hi"<LF>line2.txt
K3='数据/é #1.txt'
O1=$(outcome "$K1" 1000 failed access-denied 403)
O2=$(outcome "$K2" 1000 vanished - 404)
O3=$(outcome "$K3" 1000 failed integrity 0)
OS=$(outcome "skip.txt" 1000 skipped same 0)

# --- run 1 of "demo": 10 objects, 3 segments; "clean": all copied ----------
task demo 1 0 listing 4 4000 1 $((T0 + 100)) | pub tasks demo
task demo 1 0 listed 10 10000 3 $((T0 + 200)) | pub tasks demo
task clean 1 0 listed 2 2000 1 $((T0 + 100)) | pub tasks clean
{
  result demo 1-000001 1 4 4 0 0 4000 $((T0 + 1000)) ""
  result demo 1-000002 1 3 1 1 1 1000 $((T0 + 2000)) "$O1,$OS"
  # redelivered segment, another worker's outcome: must not count
  result demo 1-000002 1 3 3 0 0 3000 $((T0 + 2500)) ""
  echo 'this is not json: a poison message'
  result demo 1-000003 1 3 1 0 2 1000 $((T0 + 3000)) "$O2,$O3"
  result clean 1-000001 1 2 2 0 0 2000 $((T0 + 1000)) ""
} | pub results demo
{
  failed demo 1-000002 1 "$O1" $((T0 + 2400))
  failed demo 1-000003 1 "$O2" $((T0 + 2900))
  failed demo 1-000003 1 "$O3" $((T0 + 2950))
  failed demo 1-000003 1 "$O3" $((T0 + 2950))   # redelivered
  echo '{"v":2,"task":"demo"}'
} | pub failed demo
ok "published run 1 (with a duplicate result and two poison records)"

rep --task demo --once --json >"$RUN/once1.json" || fail "--once --json failed"
j() { jq -e "$1" "$RUN/once1.json" >/dev/null || { jq . "$RUN/once1.json" >&2; fail "$2"; }; }
j '.state == "completed-with-failures"' "demo should be completed-with-failures"
j '.total_objects == 10 and .total_bytes == 10000 and .done_objects == 10' "demo totals"
j '.copied == 6 and .skipped == 1 and .failed == 3' "demo copied/skipped/failed"
j '.skipped_by_reason == {"same":1}' "skipped by reason"
j '.failed_by_reason == {"access-denied":1,"integrity":1,"vanished":1}' "failed by reason"
j '.bytes_copied == 6000 and .segments == 3 and .segments_done == 3' "bytes and segments"
j '.runs | length == 1 and .[0].kind == "full"' "one full run"
grep -q 'rejected topic=ferry.results partition=[0-9]* offset=[0-9]* err=' "$RUN/reporter.err" ||
  fail "the poison result was not logged"
grep -q 'rejected topic=ferry.failed .*unsupported version 2' "$RUN/reporter.err" ||
  fail "the poison failed record was not logged"
rep --once --json >"$RUN/all.json" || fail "--once --json (all tasks) failed"
jq -e '.rejected == 2 and .duplicates == 1 and ([.tasks[].task] == ["clean","demo"])' \
  "$RUN/all.json" >/dev/null || { cat "$RUN/all.json" >&2; fail "all-tasks JSON"; }
rep --once >"$RUN/all.txt" || fail "--once (text) failed"
grep -q '^demo  *completed-with-failures' "$RUN/all.txt" || { cat "$RUN/all.txt"; fail "table"; }
grep -q '^clean  *completed ' "$RUN/all.txt" || { cat "$RUN/all.txt"; fail "table (clean)"; }
ok "--once: figures, duplicate counted once, poison records ignored and logged"

# --- --wait -----------------------------------------------------------------
st rep --task demo --wait --timeout 30 >/dev/null
[ "$rc" -eq 3 ] || fail "--wait on demo gave $rc, want 3 (completed with failures)"
st rep --task clean --wait --timeout 30 >/dev/null
[ "$rc" -eq 0 ] || fail "--wait on clean gave $rc, want 0"
task slow 1 0 listed 4 4000 2 $((T0 + 100)) | pub tasks slow
result slow 1-000001 1 2 2 0 0 2000 $((T0 + 1000)) "" | pub results slow
st rep --task slow --wait --timeout 2 >/dev/null
[ "$rc" -eq 4 ] || fail "--wait on an unfinished task gave $rc, want 4 (timeout)"
st rep --task nosuch --wait --timeout 1 >/dev/null
[ "$rc" -eq 4 ] || fail "--wait on an unknown task gave $rc, want 4"
# Interrupted before the task completed: no answer, so not 0 (a script
# waiting for completion must not take a SIGTERM for success).
rep --task slow --wait --timeout 40 >/dev/null &
WPID=$!
BG_PIDS+=("$WPID")
sleep 2
kill -TERM "$(pgrep -P "$WPID")"   # the reporter itself, not timeout(1) around it
rc=0
wait "$WPID" || rc=$?
BG_PIDS=()
[ "$rc" -eq 1 ] || fail "--wait interrupted before completion gave $rc, want 1"
# Blocks until the last result arrives.
rep --task slow --wait --timeout 40 >"$RUN/wait.out" &
WPID=$!
BG_PIDS+=("$WPID")
sleep 2
kill -0 "$WPID" 2>/dev/null || fail "--wait returned before the task completed"
result slow 1-000002 1 2 2 0 0 2000 $((T0 + 2000)) "" | pub results slow
rc=0
wait "$WPID" || rc=$?
BG_PIDS=()
[ "$rc" -eq 0 ] || fail "--wait gave $rc once the task completed, want 0"
grep -q 'state     completed' "$RUN/wait.out" || fail "--wait printed no final status"
ok "--wait: exit 3 with failures, 0 completed, 4 on timeout, 1 interrupted, blocks until done"

# --- export --------------------------------------------------------------------
rep --export-failed demo --out "$RUN/failed.csv" || fail "--export-failed (csv) failed"
rep --export-failed demo --out "$RUN/failed.jsonl" --format jsonl ||
  fail "--export-failed (jsonl) failed"
python3 - "$RUN/failed.csv" "$RUN/failed.jsonl" <<'PY' || fail "export content"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))
want = {"a,b.txt": ("failed", "access-denied", "403"),
        'say "hi"\nline2.txt': ("vanished", "", "404"),
        "数据/é #1.txt": ("failed", "integrity", "0")}
got = {r["key"]: (r["status"], r["reason"], r["http_status"]) for r in rows}
assert got == want, got
r = [r for r in rows if r["key"] == "a,b.txt"][0]
assert r["message"] == 'msg, "failed"' and r["code"] == "Code403", r
assert r["attempts"] == "3" and r["run"] == "1" and r["segment"] == "1-000002", r
assert r["last_attempt"] == "2023-11-14T22:13:22.400Z", r
assert r["size"] == "1000" and r["etag"] == "etag-x", r
lines = open(sys.argv[2], encoding="utf-8").read().splitlines()
assert len(lines) == 3, lines
objs = [json.loads(l) for l in lines]
assert sorted(o["key"] for o in objs) == sorted(want), objs
assert all(o["last_attempt_ms"] > 0 for o in objs)
PY
head -n1 "$RUN/failed.csv" | grep -qx 'key,size,status,reason,http_status,code,message,attempts,last_attempt,run,segment,etag' ||
  fail "CSV header"
rep --export-failed clean --out - >"$RUN/clean.csv" || fail "--export-failed to stdout"
[ "$(wc -l <"$RUN/clean.csv")" -eq 1 ] || fail "clean's export should be the header only"
ok "--export-failed: CSV (quoted commas, quotes, newlines, UTF-8) and JSON lines"

# --- a live reporter, then a retry run ------------------------------------------
# Started directly (not through rep) so that $! is the reporter itself.
"$REPORTER" -c "$RUN/ferry.conf" --task demo --watch --json >"$RUN/watch.out" \
  2>>"$RUN/reporter.err" &
WATCH=$!
BG_PIDS+=("$WATCH")
for _ in $(seq 1 100); do [ -s "$RUN/watch.out" ] && break; sleep 0.1; done
[ -s "$RUN/watch.out" ] || fail "--watch printed nothing"

R1=$(outcome "$K1" 1000 copied - 0)
R2=$(outcome "$K2" 1000 vanished - 404)
R3=$(outcome "$K3" 1000 copied - 0)
{
  task demo 2 1 listing 0 0 0 $((T0 + 10000))
  task demo 2 1 listed 3 3000 1 $((T0 + 10100))
} | pub tasks demo
result demo 2-000001 2 3 2 0 1 2000 $((T0 + 11000)) "$R1,$R2,$R3" | pub results demo
failed demo 2-000001 2 "$R2" $((T0 + 11400)) | pub failed demo
for _ in $(seq 1 100); do
  tail -n1 "$RUN/watch.out" | jq -e '.failed == 1 and .run == 2' >/dev/null 2>&1 && break
  sleep 0.2
done
tail -n1 "$RUN/watch.out" | jq -e '.failed == 1' >/dev/null || fail "--watch did not see the retry"
kill -INT "$WATCH"
rc=0
wait "$WATCH" || rc=$?
BG_PIDS=()
[ "$rc" -eq 0 ] || fail "--watch exited $rc on SIGINT, want 0"

rep --task demo --once --json >"$RUN/once2.json" || fail "--once after the retry"
j2() { jq -e "$1" "$RUN/once2.json" >/dev/null || { jq . "$RUN/once2.json" >&2; fail "$2"; }; }
j2 '.state == "completed-with-failures" and .run == 2 and .base_run == 1' "retry state"
j2 '.copied == 8 and .skipped == 1 and .failed == 1 and .total_objects == 10' "retry moved 2 keys"
j2 '.failed_by_reason == {"vanished":1} and .bytes_copied == 8000' "retry reasons and bytes"
j2 '.runs[1].kind == "retry" and .runs[1].retry_of == 1 and .runs[1].copied == 2' "run 2 figures"
j2 '.runs[0].failed == 3' "run 1 keeps its own figures"
# The live reporter's last refresh and a fresh one agree on every figure.
tail -n1 "$RUN/watch.out" | jq -S . >"$RUN/live.json"
jq -S . "$RUN/once2.json" >"$RUN/fresh.json"
diff "$RUN/live.json" "$RUN/fresh.json" >&2 || fail "a restarted reporter shows other figures"
rep --export-failed demo --out "$RUN/failed2.csv"
python3 - "$RUN/failed2.csv" <<'PY' || fail "export after the retry"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))
assert [(r["key"], r["run"], r["last_attempt"]) for r in rows] == \
    [('say "hi"\nline2.txt', "2", "2023-11-14T22:13:31.400Z")], rows
PY
ok "retry: failed keys move to copied; live and restarted reporters agree"

st rep --task demo --wait --timeout 30 >/dev/null
[ "$rc" -eq 3 ] || fail "--wait after the retry gave $rc, want 3"

# --- default mode logs state changes, stops cleanly on SIGTERM ----------------------
"$REPORTER" -c "$RUN/ferry.conf" >"$RUN/serve.out" 2>"$RUN/serve.log" &
SERVE=$!
BG_PIDS+=("$SERVE")
for _ in $(seq 1 100); do grep -qs 'task=slow state=completed' "$RUN/serve.log" && break; sleep 0.1; done
grep -q 'task=demo state=completed-with-failures' "$RUN/serve.log" || fail "no state line for demo"
kill -TERM "$SERVE"
rc=0
wait "$SERVE" || rc=$?
BG_PIDS=()
[ "$rc" -eq 0 ] || fail "the reporter exited $rc on SIGTERM, want 0"
ok "default mode logs task states and stops on SIGTERM"
