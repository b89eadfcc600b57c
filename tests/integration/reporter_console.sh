#!/usr/bin/env bash
# ferry-reporter's console against ferry-devbroker (docs/reporter.md,
# "Actions"): an operator's POSTs become commands in the control topic
# (read back with kcat: cmd, task, by = "operator:alice", the create's spec,
# the limits as byte counts, a fresh id per command), bad requests 400 with
# the field named; acks and taskstate records (published with kcat, as the
# master would) show in /api/tasks/{name}/actions, /api/tasks (a created
# task without results is listed), the page and /metrics
# (ferry_taskstate); heartbeats with and without the fleet fields in
# /api/workers; /api/stores names the stores only; a restarted reporter
# rebuilds all of it from the topics; the task's own page (charts from
# results, runs, action log) and the fleet view; --watch shows the states.
#
# Environment: FERRY_BIN (build directory). FERRY_KEEP_RUN=1 keeps the run
# directory.
REPTEST_NAME=reporter-console
# shellcheck source=../lib/reptest.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/reptest.sh"

for c in kcat jq curl openssl; do
  command -v "$c" >/dev/null || fail "$c is not installed (scripts/deps.sh)"
done
[ -x "$DEVBROKER" ] || fail "$DEVBROKER not built"
[ -x "$REPORTER" ] || fail "$REPORTER not built"

OP="op-secret-$(openssl rand -hex 12)"
export FERRY_TEST_TOKENS="alice:operator:$OP"

"$DEVBROKER" --bootstrap-file "$RUN/bootstrap" --partitions 2 --exit-with-parent \
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
kafka = { brokers = ""; bootstrap_file = "$RUN/bootstrap"; };
stores = (
  { name = "oss-hz"; type = "oss"; endpoint = "https://oss-cn-hangzhou.aliyuncs.com"; },
  { name = "cos-gz"; type = "cos"; endpoint = "https://cos.ap-guangzhou.myqcloud.com";
    secret_key_env = "FERRY_TEST_NEVER_SHOWN"; }
);
reporter = { refresh_s = 1; listen = "127.0.0.1:0"; tokens_env = "FERRY_TEST_TOKENS"; };
EOF

start_reporter() {
  local log="$1"
  : >"$log"
  "$REPORTER" -c "$RUN/ferry.conf" >"$RUN/reporter.out" 2>"$log" &
  REP_PID=$!
  URL=""
  for _ in $(seq 1 100); do
    URL=$(sed -n 's|.* http: listening \(http://127\.0\.0\.1:[0-9]*/\) .*|\1|p' "$log" | head -n1)
    [ -n "$URL" ] && break
    kill -0 "$REP_PID" 2>/dev/null || fail "the reporter exited early"
    sleep 0.1
  done
  [ -n "$URL" ] || fail "no \"listening http://\" line after 10 s"
}
# post PATH BODY: an operator's POST; the status on stdout, the body in $RUN/body.
post() {
  curl -s -o "$RUN/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $OP" \
    -H 'Content-Type: application/json' ${2:+--data "$2"} "${URL}$1"
}
get() { curl -sf "${URL}$1"; }
control() {   # the control topic's records, one a line
  timeout 20 kcat -b "$B" -C -t ferry.control -o beginning -e -q 2>/dev/null
}
pub() { timeout 30 kcat -b "$B" -P -t "ferry.$1" -k "$2"; }

start_reporter "$RUN/reporter.log"

# --- actions become commands ----------------------------------------------------
SPEC='{"name":"logs","source":"oss-hz:src/logs/","destination":"cos-gz:dst-1250000000/logs/","same_name":"skip-if-same","bandwidth_limit":"100M","include":["*.log"]}'
[ "$(post api/tasks "$SPEC")" = 202 ] || fail "create: $(cat "$RUN/body")"
CREATE_ID="$(jq -r .id "$RUN/body")"
[[ "$CREATE_ID" =~ ^[0-9a-f]{16}$ ]] || fail "create: id $CREATE_ID"
for v in start pause resume retry-failed cancel; do
  [ "$(post "api/tasks/logs/$v")" = 202 ] || fail "$v: $(cat "$RUN/body")"
  jq -e --arg v "$v" '.cmd == $v and .task == "logs"' "$RUN/body" >/dev/null || fail "$v: $(cat "$RUN/body")"
done
[ "$(post api/tasks/logs/limits '{"qps":500,"bandwidth":"10M","schedule":["08:00-19:00=10M","19:00-08:00=0"]}')" = 202 ] ||
  fail "limits: $(cat "$RUN/body")"
# A hostile name, %-encoded in the path: the command carries it whole.
[ "$(post 'api/tasks/a%2Fb%20%3Cc%3E/pause')" = 202 ] || fail "pause a/b <c>: $(cat "$RUN/body")"
control >"$RUN/control.jsonl"
[ "$(wc -l <"$RUN/control.jsonl")" -eq 8 ] || { cat "$RUN/control.jsonl" >&2; fail "want 8 commands"; }
jq -se --arg id "$CREATE_ID" --argjson spec "$SPEC" '
  all(.[]; .v == 1 and .type == "command" and .by == "operator:alice" and (.id | test("^[0-9a-f]{16}$"))) and
  ([.[].id] | unique | length) == 8 and
  .[0].id == $id and .[0].cmd == "create" and .[0].task == "logs" and .[0].spec == $spec and
  ([.[1:6][].cmd] == ["start","pause","resume","retry-failed","cancel"]) and
  .[6].cmd == "limits" and .[6].limits == {"qps":500,"bandwidth":10485760,"schedule":["08:00-19:00=10M","19:00-08:00=0"]} and
  .[7].task == "a/b <c>"' "$RUN/control.jsonl" >/dev/null ||
  { cat "$RUN/control.jsonl" >&2; fail "the control topic's commands"; }
# Keyed by task.
timeout 20 kcat -b "$B" -C -t ferry.control -o beginning -e -q -f '%k\n' 2>/dev/null | sort -u >"$RUN/keys"
[ "$(cat "$RUN/keys")" = "$(printf 'a/b <c>\nlogs')" ] || fail "control keys: $(cat "$RUN/keys")"
ok "create, start, pause, resume, retry-failed, cancel, limits: commands in ferry.control, by operator:alice, keyed by task"

# --- bad requests: 400 naming the field, nothing sent ------------------------------------
bad() {   # bad PATH BODY WANT
  [ "$(post "$1" "$2")" = 400 ] || fail "$1 $2: $(cat "$RUN/body"), want 400"
  jq -e --arg w "$3" '.error | contains($w)' "$RUN/body" >/dev/null || fail "$1 $2: $(cat "$RUN/body") lacks \"$3\""
}
bad api/tasks '{"source":"x"}' 'no "name"'
bad api/tasks '[1]' 'not a JSON object'
bad api/tasks 'nope' 'not a JSON object'
bad api/tasks/logs/limits '{"qps":-1}' 'limits.qps'
bad api/tasks/logs/limits '{"bandwidth":"fast"}' 'limits.bandwidth'
bad api/tasks/logs/limits '{"schedule":["25:00-26:00=1M"]}' 'limits.schedule[0]'
bad api/tasks/logs/limits '{"schedule":"08:00-19:00=1M"}' 'limits.schedule: not an array'
control >"$RUN/control2.jsonl"
[ "$(wc -l <"$RUN/control2.jsonl")" -eq 8 ] || fail "a bad request sent a command"
ok "bad specs and limits: 400 naming the field, no command sent"

# --- acks, taskstate and heartbeats, as the master and workers write them ----------------
NOW=$(date +%s%3N)
jq -nc --arg id "$CREATE_ID" --argjson at "$NOW" \
  '{v:1,type:"ack",id:$id,cmd:"create",task:"logs",by:"master:host-1",at_ms:$at,ok:false,
    error:"tasks[logs].source: store \"oss-hz\": bucket \"src\" ..."}' | pub control logs
jq -nc --argjson at "$NOW" --argjson spec "$SPEC" \
  '{v:1,task:"logs",origin:"console",state:"paused",run:1,spec:$spec,
    limits:{qps:500,bandwidth:10485760,schedule:["08:00-19:00=10M"]},updated_ms:$at,
    by:"operator:alice",cmd:"0123456789abcdef"}' | pub taskstate logs
jq -nc --argjson at "$NOW" \
  '{v:1,worker:"w-new",instance:"1-a",at_ms:$at,every_ms:60000,
    tasks:[{task:"logs",objects:3,held:false}],host:"host-a",
    parts:[{topic:"ferry.segments.logs",partitions:[0,3]}],rate:{objects_s:12.5,bytes_s:1048576}}' |
  pub workers w-new
jq -nc --argjson at "$NOW" '{v:1,worker:"w-old",instance:"2-b",at_ms:$at,every_ms:60000,tasks:[]}' |
  pub workers w-old
for _ in $(seq 1 100); do
  get api/tasks/logs/actions | jq -e '.actions[0].ack != null' >/dev/null 2>&1 &&
    get api/workers | jq -e '.workers | length == 2' >/dev/null 2>&1 && break
  sleep 0.1
done
get api/tasks/logs/actions >"$RUN/actions.json"
jq -e --arg id "$CREATE_ID" '.task == "logs" and (.actions | length) == 7 and
  .actions[0].id == $id and .actions[0].cmd == "create" and .actions[0].by == "operator:alice" and
  .actions[0].ack.ok == false and (.actions[0].ack.error | startswith("tasks[logs].source")) and
  .actions[0].ack.by == "master:host-1" and .actions[1].ack == null and
  .actions[6].limits.bandwidth == 10485760' "$RUN/actions.json" >/dev/null ||
  { jq . "$RUN/actions.json" >&2; fail "/api/tasks/logs/actions"; }
get api/tasks >"$RUN/tasks.json"
jq -e 'map(select(.task == "logs"))[0].taskstate |
  .state == "paused" and .origin == "console" and .run == 1 and .limits.qps == 500 and
  .by == "operator:alice"' "$RUN/tasks.json" >/dev/null ||
  { jq . "$RUN/tasks.json" >&2; fail "/api/tasks: the created task with its taskstate"; }
get api/tasks/logs | jq -e '.taskstate.state == "paused"' >/dev/null || fail "/api/tasks/logs"
get metrics >"$RUN/metrics.txt"
grep -qx 'ferry_taskstate{task="logs",state="paused"} 1' "$RUN/metrics.txt" || fail "metrics: paused 1"
grep -qx 'ferry_taskstate{task="logs",state="running"} 0' "$RUN/metrics.txt" || fail "metrics: running 0"
grep -qx 'ferry_workers 2' "$RUN/metrics.txt" || fail "metrics: ferry_workers"
# (Bodies go to files before grep -q: an early exit of grep would fail curl's
# write, and the pipeline with it.)
get "" >"$RUN/page.html"
grep -q 'data-task="logs" data-state="pending" data-ctl-state="paused"' "$RUN/page.html" ||
  fail "the page's row has no data-ctl-state"
get api/workers >"$RUN/workers.json"
jq -e '.workers[0].worker == "w-new" and .workers[0].host == "host-a" and
  .workers[0].parts == [{"topic":"ferry.segments.logs","partitions":[0,3]}] and
  .workers[0].rate.objects_s == 12.5 and .workers[0].tasks[0].task == "logs" and
  .workers[1].worker == "w-old" and .workers[1].host == null and .workers[1].rate == null and
  .workers[1].parts == [] and (.workers[0].stale | not)' "$RUN/workers.json" >/dev/null ||
  { jq . "$RUN/workers.json" >&2; fail "/api/workers"; }
get api/stores >"$RUN/stores.json"
jq -e '.stores == ["oss-hz","cos-gz"]' "$RUN/stores.json" >/dev/null || fail "/api/stores: $(cat "$RUN/stores.json")"
! grep -q 'aliyuncs\|FERRY_TEST' "$RUN/stores.json" || fail "/api/stores shows more than names"
ok "acks in the action log, taskstate in /api/tasks, the page and ferry_taskstate, workers (with and without fleet fields), store names"

# A leaving heartbeat takes the worker out.
jq -nc --argjson at "$((NOW + 1))" '{v:1,worker:"w-old",instance:"2-b",at_ms:$at,every_ms:1000,tasks:[],leaving:true}' |
  pub workers w-old
for _ in $(seq 1 50); do
  get api/workers | jq -e '.workers | length == 1' >/dev/null && break
  sleep 0.1
done
get api/workers | jq -e '.workers | length == 1' >/dev/null || fail "a leaving worker stays"

# --- the task's own page and the fleet view ------------------------------------------
# result NAME SEGMENT N NFAILED REASON: N objects, the first NFAILED failed.
result() {
  jq -nc --arg t "$1" --arg seg "$2" --argjson n "$3" --argjson nf "$4" --arg r "$5" --argjson st "$NOW" \
    '{v:1, task:$t, segment:$seg, run:1, worker:"w-new", n_objects:$n, n_copied:($n-$nf),
      n_skipped:0, n_failed:$nf, bytes:(($n-$nf)*1000), started_ms:$st, finished_ms:($st+1000),
      outcomes:[range(0;$nf) | {key:"k\(.)", size:1000, status:"failed", reason:$r, bytes:0,
                                attempts:3, duration_ms:10, http_status:403}]}'
}
{ result logs 1-000001 30 2 access-denied; result logs 1-000002 30 0 -; } | pub results logs
for _ in $(seq 1 100); do
  get api/tasks/logs | jq -e '.done_objects == 60' >/dev/null 2>&1 && break
  sleep 0.1
done
curl -s -o "$RUN/task.html" -w '%{http_code}' "${URL}task/logs" >"$RUN/code"
[ "$(cat "$RUN/code")" = 200 ] || fail "GET /task/logs: $(cat "$RUN/code")"
for want in '<h1 id="task-name">logs</h1>' '<svg id="chart-objects"' '<svg id="chart-bytes"' \
            '<svg id="chart-failures"' 'access-denied' '<table id="runs">' 'data-run="1"' \
            "data-id=\"$CREATE_ID\" data-cmd=\"create\" data-result=\"refused\"" \
            'refused: tasks[logs].source' 'data-testid="ctl-state">paused</span>' \
            'id="task-eta"' 'qps 500 · bandwidth 10.0 MiB/s' 'href="../api/tasks/logs/failed.csv"'; do
  grep -qF -- "$want" "$RUN/task.html" || { sed 's/></>\n</g' "$RUN/task.html" | head -80 >&2; fail "/task/logs lacks $want"; }
done
curl -s -o "$RUN/evil.html" -w '%{http_code}' "${URL}task/a%2Fb%20%3Cc%3E" >"$RUN/code"
[ "$(cat "$RUN/code")" = 200 ] || fail "GET the hostile task's page: $(cat "$RUN/code")"
grep -qF '<h1 id="task-name">a/b &lt;c&gt;</h1>' "$RUN/evil.html" || fail "the hostile name on its page"
[ "$(curl -s -o /dev/null -w '%{http_code}' "${URL}task/nosuch")" = 404 ] || fail "/task/nosuch: want 404"
get fleet >"$RUN/fleet.html"
grep -qF '<tr class="worker" data-worker="w-new" data-stale="false"><td>w-new</td><td class="host">host-a</td>' "$RUN/fleet.html" ||
  fail "/fleet: no row for w-new"
grep -qF 'ferry.segments.logs: 0,3' "$RUN/fleet.html" || fail "/fleet: partitions"
grep -qF '1.0 MiB/s · 12.5 obj/s' "$RUN/fleet.html" || fail "/fleet: rate"
ok "/task/logs: state, limits, ETA, runs, charts (objects/s, bytes/s, failures by reason), action log; /fleet: host, partitions, rate"

# --- a restarted reporter rebuilds it from the topics -----------------------------------
stop_pid "$REP_PID"; REP_PID=""
start_reporter "$RUN/reporter2.log"
for _ in $(seq 1 100); do
  get api/reporter | jq -e '.caught_up' >/dev/null 2>&1 && break
  sleep 0.1
done
get api/tasks/logs/actions | jq -S . >"$RUN/actions2.json"
jq -S . "$RUN/actions.json" | diff - "$RUN/actions2.json" >&2 || fail "the action log after a restart differs"
get api/tasks/logs | jq -e '.taskstate.state == "paused"' >/dev/null || fail "taskstate after a restart"
get task/logs >"$RUN/task2.html"
grep -qF 'access-denied' "$RUN/task2.html" && grep -qF '<svg id="chart-failures"' "$RUN/task2.html" ||
  fail "the charts after a restart"
stop_pid "$REP_PID"; REP_PID=""
ok "a restarted reporter has the same action log and states"

# --- --watch shows the console's states ---------------------------------------------
timeout 20 "$REPORTER" -c "$RUN/ferry.conf" --watch --listen "" >"$RUN/watch.out" 2>"$RUN/watch.log" &
REP_PID=$!
for _ in $(seq 1 100); do grep -q 'logs: paused' "$RUN/watch.out" && break; sleep 0.1; done
grep -q 'logs: paused (by operator:alice)' "$RUN/watch.out" || { cat "$RUN/watch.out" >&2; fail "--watch: no state"; }
stop_pid "$REP_PID"; REP_PID=""
ok "--watch shows the states"
