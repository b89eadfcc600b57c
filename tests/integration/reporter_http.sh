#!/usr/bin/env bash
# ferry-reporter's HTTP server against ferry-devbroker, fed records with
# kcat: --listen 127.0.0.1:0 (a free port, found in the log) overriding
# reporter.listen; /api/tasks and /api/tasks/{name} (URL-decoded names, 404
# JSON for unknown); /metrics (every line in the exposition grammar, values
# equal to the JSON's); 400/404/405, no traversal, HEAD; the failed lists;
# a hostile task name and failure reason (HTML, URL and label escaping); the
# page as served (no JavaScript) and in headless Chromium (--dump-dom after
# a virtual time budget, so the refresh script has run): a bar per task,
# green when completed, yellow with failures, blue while running, and after
# more results the new progress; a screenshot; a second reporter on the same
# port exits 1; --watch serves too, or warns when reporter.listen is taken.
#
# Environment: FERRY_BIN (build directory). FERRY_KEEP_RUN=1 keeps the run
# directory (with page.png, the screenshot) and prints where. Starts and
# stops everything itself (EXIT trap; the broker also gets
# --exit-with-parent, each Chromium runs in its own process group).
REPTEST_NAME=reporter-http
CHROME_PG=""
BG_PIDS=()
reptest_stop_more() {
  local p
  [ -n "$CHROME_PG" ] && kill -KILL -- "-$CHROME_PG" 2>/dev/null || true
  for p in "${BG_PIDS[@]}"; do stop_pid "$p"; done
}
# shellcheck source=../lib/reptest.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/reptest.sh"

for c in kcat jq python3 curl; do
  command -v "$c" >/dev/null || fail "$c is not installed (scripts/deps.sh)"
done
CHROMIUM="$(command -v chromium || true)"
[ -n "$CHROMIUM" ] || fail "chromium is not installed (scripts/deps.sh installs Debian's package)"
[ -x "$DEVBROKER" ] || fail "$DEVBROKER not built"
[ -x "$REPORTER" ] || fail "$REPORTER not built"


# --- bad --listen: exit 2 -----------------------------------------------------
echo 'kafka = { brokers = "127.0.0.1:1"; };' >"$RUN/dummy.conf"
for args in "--listen 127.0.0.1" "--listen 127.0.0.1:65536" "--listen [::1" \
            "--listen 127.0.0.1:-1" "--once --listen :0" "--export-failed t --out x --listen :0" \
            "--task t --wait --listen :0"; do
  # shellcheck disable=SC2086
  st "$REPORTER" -c "$RUN/dummy.conf" $args >/dev/null 2>"$RUN/args.err"
  [ "$rc" -eq 2 ] || fail "\"$args\" gave exit $rc, want 2"
  grep -q -- "--listen" "$RUN/args.err" || fail "\"$args\": the error does not name --listen"
done
echo 'kafka = { brokers = "127.0.0.1:1"; }; reporter = { listen = "127.0.0.1:99999"; };' \
  >"$RUN/badlisten.conf"
st "$REPORTER" -c "$RUN/badlisten.conf" --once >/dev/null 2>"$RUN/args.err"
[ "$rc" -eq 2 ] || fail "reporter.listen with port 99999 gave exit $rc, want 2"
ok "bad --listen and reporter.listen exit 2"

# --- broker and records -----------------------------------------------------------
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
# reporter.listen names an address no local interface has (TEST-NET-1):
# the --listen of every run below must win over it.
cat >"$RUN/ferry.conf" <<EOF
log_level = "info";
kafka = { brokers = ""; bootstrap_file = "$RUN/bootstrap"; };
reporter = { refresh_s = 1; listen = "192.0.2.1:9"; };
EOF

pub() { timeout 30 kcat -b "$B" -P -t "ferry.$1" -k "$2"; }
NOW=$(date +%s%3N)
# task_rec NAME STATE OBJECTS SEGMENTS
task_rec() {
  jq -nc --arg t "$1" --arg st "$2" --argjson o "$3" --argjson s "$4" --argjson ms "$NOW" \
    '{v:1, task:$t, run:1, src:{store:"src", bucket:"ferry-src", prefix:""},
      dst:{store:"dst", bucket:"ferry-dst", prefix:"in/"}, policy:"skip-if-same",
      state:$st, listed_objects:$o, listed_bytes:($o*1000), segments:$s, updated_ms:$ms}'
}
# result_rec NAME SEGMENT OBJECTS FAILED REASON STARTED_MS: the first FAILED
# objects failed with REASON, the rest copied (1000 bytes each).
result_rec() {
  jq -nc --arg t "$1" --arg seg "$2" --argjson n "$3" --argjson nf "$4" --arg r "$5" \
    --argjson st "$6" \
    '{v:1, task:$t, segment:$seg, run:1, worker:"w1", n_objects:$n, n_copied:($n-$nf),
      n_skipped:0, n_failed:$nf, bytes:(($n-$nf)*1000), started_ms:$st,
      finished_ms:($st+1000),
      outcomes:[range(0;$nf) | {key:"\($seg)/k\(.)<b>", size:1000, status:"failed",
                                reason:$r, bytes:0, attempts:3, duration_ms:10,
                                http_status:403}]}'
}

EVIL=$'<script>alert("x")</script> & \\ \'q\' %2F\nline2'
EVIL_REASON='<img src=x onerror=alert(1)>'
{
  task_rec done listed 4 1
  task_rec yellow listed 10 2
  task_rec grow listed 10 2
} | pub tasks t
task_rec "$EVIL" listed 6 2 | pub tasks "$EVIL"
{
  result_rec done 1-000001 4 0 - $((NOW - 9000))
  result_rec yellow 1-000001 5 2 access-denied $((NOW - 8000))
  result_rec yellow 1-000002 5 1 "$EVIL_REASON" $((NOW - 7000))
  result_rec grow 1-000001 5 0 - $((NOW - 4000))
  result_rec "$EVIL" 1-000001 3 1 integrity $((NOW - 3000))
} | pub results t
ok "published 4 tasks (one with a hostile name) and their results"

# --- the reporter -------------------------------------------------------------------
# start_reporter LOG ARGS...: starts it in the background ($! in REP_PID)
# and sets URL from its "listening http://..." log line.
start_reporter() {
  local log="$1"
  shift
  # Made before the background start: its own redirection may come after
  # the first look below (a missing file fails sed, and with pipefail the test).
  : >"$log"
  "$REPORTER" -c "$RUN/ferry.conf" "$@" >"$RUN/reporter.out" 2>"$log" &
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
start_reporter "$RUN/reporter.log" --listen 127.0.0.1:0
for _ in $(seq 1 100); do
  curl -sf "${URL}api/reporter" | jq -e '.caught_up and .tasks == 4' >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "${URL}api/reporter" | jq -e '.caught_up and .lag == 0 and .rejected == 0' \
  >/dev/null || fail "the reporter did not catch up: $(curl -s "${URL}api/reporter")"
ok "serving on $URL (--listen 127.0.0.1:0 over reporter.listen)"

# get PATH OUT: GET, body to OUT, status on stdout; extra curl args after.
get() {
  local path="$1" out="$2"
  shift 2
  curl -s --path-as-is -o "$out" -w '%{http_code}' "$@" "${URL}${path}"
}

# --- JSON ---------------------------------------------------------------------------
[ "$(get api/tasks "$RUN/tasks.json" -D "$RUN/tasks.hdr")" = 200 ] || fail "GET /api/tasks"
grep -qi '^content-type: application/json' "$RUN/tasks.hdr" || fail "/api/tasks content type"
jq -e --arg evil "$EVIL" '
  ([.[].task] == (["done","grow","yellow",$evil] | sort)) and
  (map({(.task): .}) | add) as $t |
  $t.done.state == "completed" and $t.done.copied == 4 and $t.done.percent == 100 and
  $t.yellow.state == "completed-with-failures" and $t.yellow.failed == 3 and
  $t.yellow.failed_by_reason == {"access-denied": 2, "<img src=x onerror=alert(1)>": 1} and
  $t.grow.state == "running" and $t.grow.done_objects == 5 and $t.grow.percent == 50 and
  $t[$evil].state == "running" and $t[$evil].failed == 1' "$RUN/tasks.json" >/dev/null ||
  { jq . "$RUN/tasks.json" >&2; fail "/api/tasks figures"; }
# Each task by its URL-encoded name, and the same figures as in the array.
ENC_EVIL=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$EVIL")
for name in done yellow grow "$ENC_EVIL"; do
  [ "$(get "api/tasks/$name" "$RUN/one.json")" = 200 ] || fail "GET /api/tasks/$name"
  jq -e --slurpfile all "$RUN/tasks.json" \
    '. as $o | ($all[0] | map(select(.task == $o.task)) | length) == 1 and
     ({task, state, copied, failed, done_objects, total_objects} as $f |
      $all[0] | map(select(.task == $o.task))[0] |
      {task, state, copied, failed, done_objects, total_objects} == $f)' \
    "$RUN/one.json" >/dev/null || fail "/api/tasks/$name differs from /api/tasks"
done
jq -e --arg evil "$EVIL" '.task == $evil' "$RUN/one.json" >/dev/null ||
  fail "the hostile name did not decode back: $(cat "$RUN/one.json")"
[ "$(get api/tasks/nosuch "$RUN/err.json")" = 404 ] || fail "unknown task: want 404"
jq -e '.error == "no such task" and .task == "nosuch"' "$RUN/err.json" >/dev/null ||
  fail "unknown task: JSON error $(cat "$RUN/err.json")"
[ "$(get api/tasks/%2e%2e "$RUN/err.json")" = 404 ] || fail "task \"..\": want 404"
[ "$(get api/tasks/bad%zz "$RUN/err.json")" = 400 ] || fail "bad %-escape: want 400"
ok "/api/tasks and /api/tasks/{name}: figures, URL-decoded names, 404 and 400 as JSON"

# --- metrics ------------------------------------------------------------------------
[ "$(get metrics "$RUN/metrics.txt" -D "$RUN/metrics.hdr")" = 200 ] || fail "GET /metrics"
get api/tasks "$RUN/tasks2.json" >/dev/null
get api/reporter "$RUN/reporter.json" >/dev/null
grep -qi '^content-type: text/plain; version=0.0.4' "$RUN/metrics.hdr" ||
  fail "/metrics content type"
GROW_FINISHED_MS=$((NOW - 4000)) python3 - "$RUN/metrics.txt" "$RUN/tasks2.json" "$RUN/reporter.json" "$EVIL" <<'PY' ||
import json, re, sys
text = open(sys.argv[1], encoding="utf-8").read()
tasks = {t["task"]: t for t in json.load(open(sys.argv[2], encoding="utf-8"))}
rep = json.load(open(sys.argv[3]))
evil = sys.argv[4]
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LVAL = r'"(?:[^"\\\n]|\\[\\"n])*"'
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*=" + LVAL
VALUE = r"(?:NaN|[+-]Inf|[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
SAMPLE = re.compile(r"^(" + NAME + r")(?:\{((?:" + LABEL + r")(?:," + LABEL + r")*,?)?\})? (" +
                    VALUE + r")(?: -?\d+)?$")
HELP = re.compile(r"^# HELP (" + NAME + r") .*$")
TYPE = re.compile(r"^# TYPE (" + NAME + r") (counter|gauge|histogram|summary|untyped)$")
assert text.endswith("\n"), "no final newline"
samples, typed, cur = [], {}, None
for line in text[:-1].split("\n"):
    m = HELP.match(line)
    if m:
        cur = m.group(1)
        continue
    m = TYPE.match(line)
    if m:
        assert m.group(1) == cur and cur not in typed, line
        typed[cur] = m.group(2)
        continue
    m = SAMPLE.match(line)
    assert m, "not in the exposition grammar: %r" % line
    assert m.group(1) == cur, "sample outside its family: %r" % line
    labels = {}
    for lm in re.finditer(r"([a-zA-Z_][a-zA-Z0-9_]*)=(" + LVAL + ")", m.group(2) or ""):
        v = re.sub(r'\\([\\"n])', lambda e: "\n" if e.group(1) == "n" else e.group(1),
                   lm.group(2)[1:-1])
        labels[lm.group(1)] = v
    samples.append((m.group(1), labels, float(m.group(3))))

def get(name, **want):
    got = [v for n, l, v in samples if n == name and all(l.get(k) == w for k, w in want.items())]
    return got

def one(name, **want):
    got = get(name, **want)
    assert len(got) == 1, "%s %s: %r" % (name, want, got)
    return got[0]

assert one("ferry_reporter_records_total") == rep["records"]
assert one("ferry_reporter_lag_records") == 0 == rep["lag"]
assert one("ferry_reporter_caught_up") == 1
assert one("ferry_reporter_tasks") == 4
assert typed["ferry_task_bytes_copied_total"] == "counter"
assert evil in {l.get("task") for _, l, _ in samples}, "the hostile name is not a label"
for name, t in tasks.items():
    total = t["total_objects"] if t["totals_known"] else t["listed_objects"]
    assert one("ferry_task_objects_total", task=name, state=t["state"]) == total, name
    assert one("ferry_task_state", task=name, state=t["state"]) == 1
    assert sum(get("ferry_task_state", task=name)) == 1
    for s in ("copied", "skipped", "failed"):
        assert one("ferry_task_objects", task=name, status=s) == t[s], (name, s)
    assert one("ferry_task_bytes_copied_total", task=name) == t["bytes_copied"]
    assert one("ferry_task_bytes_done", task=name) == t["done_bytes"]
    assert one("ferry_task_segments_done", task=name) == t["segments_done"]
    fails = {l["reason"]: v for n, l, v in samples
             if n == "ferry_task_failures" and l["task"] == name}
    assert fails == t["failed_by_reason"], (name, fails, t["failed_by_reason"])
    # Rates move with the clock between the two requests: 10 % and 1 unit.
    for m, k in (("ferry_task_rate_bytes_per_second", "bytes_per_s"),
                 ("ferry_task_rate_objects_per_second", "objects_per_s")):
        a, b = one(m, task=name), t[k]
        assert abs(a - b) <= max(1.0, 0.1 * b), (name, m, a, b)
    eta = get("ferry_task_eta_seconds", task=name)
    if t["eta_s"] is None:
        assert eta == [], (name, eta)
    else:
        assert len(eta) == 1 and abs(eta[0] - t["eta_s"]) <= max(2, 0.2 * t["eta_s"]), \
            (name, eta, t["eta_s"])
# The rate covers the last 30 s: on a machine so loaded that the test took
# longer than that since grow's result, 0 is the right answer.
import os, time
if time.time() * 1000 - int(os.environ["GROW_FINISHED_MS"]) < 28000:
    assert tasks["grow"]["bytes_per_s"] > 0, "the running task should have a rate"
else:
    print("metrics: grow's result is older than the 30 s rate window; its rate is not checked")
print("metrics: %d samples in %d families" % (len(samples), len(typed)))
PY
  fail "/metrics"
ok "/metrics: every line in the exposition grammar, values equal to the JSON's"

# --- methods, unknown paths, traversal, HEAD, failed lists --------------------------
for p in nope api api/task api/tasks/done/extra/x ../etc/passwd api/tasks/done/../../../etc/passwd \
         static/../../etc/passwd metrics/ favicon.ico; do
  [ "$(get "$p" "$RUN/err.json")" = 404 ] || fail "GET /$p: want 404"
  jq -e '.error' "$RUN/err.json" >/dev/null || fail "GET /$p: no JSON error"
done
for m in POST PUT DELETE PATCH OPTIONS; do
  for p in "" api/tasks api/tasks/done metrics; do
    code=$(get "$p" "$RUN/err.json" -X "$m" -D "$RUN/err.hdr" -d 'x=1')
    # POST /api/tasks creates a task: an action, which needs an operator's
    # token (reporter_auth.sh).
    if [ "$m/$p" = POST/api/tasks ]; then
      [ "$code" = 401 ] || fail "POST /api/tasks without a token gave $code, want 401"
      continue
    fi
    [ "$code" = 405 ] || fail "$m /$p gave $code, want 405"
    grep -qi '^allow: GET, HEAD' "$RUN/err.hdr" || fail "$m /$p: no Allow header"
  done
done
[ "$(get nope "$RUN/err.json" -X POST -d x)" = 404 ] || fail "POST to an unknown path: want 404"
[ "$(get api/tasks "$RUN/err.json" -X GET -d x)" = 400 ] || fail "a GET with a body: want 400"
# Keep-alive: two GETs share one connection.
curl -sv -o /dev/null -o /dev/null "${URL}api/tasks" "${URL}metrics" 2>"$RUN/keepalive.log"
grep -qi 're-using existing connection' "$RUN/keepalive.log" ||
  fail "the connection was not kept alive between two GETs"
code=$(curl -s -I -o /dev/null -w '%{http_code} %{size_download}' "$URL")
[ "$code" = "200 0" ] || fail "HEAD / gave \"$code\", want 200 and no body"
# A request line too long for the connection's memory is refused, not served.
LONG=$(head -c 100000 /dev/zero | tr '\0' a)
code=$(get "api/tasks/$LONG" "$RUN/err.json"); LONGCODE=$code
[ "$code" = 414 ] || [ "$code" = 431 ] || [ "$code" = 400 ] || fail "a 100 kB path gave $code"
[ "$(get api/tasks/yellow/failed.csv "$RUN/failed.csv" -D "$RUN/failed.hdr")" = 200 ] ||
  fail "GET failed.csv"
grep -qi '^content-disposition: attachment; filename="yellow-failed.csv"' "$RUN/failed.hdr" ||
  fail "failed.csv: Content-Disposition"
[ "$(get api/tasks/yellow/failed.jsonl "$RUN/failed.jsonl")" = 200 ] || fail "GET failed.jsonl"
python3 - "$RUN/failed.csv" "$RUN/failed.jsonl" <<'PY' || fail "failed lists"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))
assert sorted((r["key"], r["reason"]) for r in rows) == [
    ("1-000001/k0<b>", "access-denied"), ("1-000001/k1<b>", "access-denied"),
    ("1-000002/k0<b>", "<img src=x onerror=alert(1)>")], rows
objs = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
assert sorted(o["key"] for o in objs) == sorted(r["key"] for r in rows), objs
PY
[ "$(get "api/tasks/$ENC_EVIL/failed.csv" "$RUN/evil.csv" -D "$RUN/evil.hdr")" = 200 ] ||
  fail "the hostile task's failed.csv"
grep -q '^1-000001/k0<b>,' "$RUN/evil.csv" || fail "the hostile task's failed.csv content"
grep -qi '^content-disposition: attachment; filename="[A-Za-z0-9._-]*-failed.csv"' \
  "$RUN/evil.hdr" || fail "the hostile task's file name is not reduced to safe bytes"
[ "$(get api/tasks/nosuch/failed.csv "$RUN/err.json")" = 404 ] || fail "unknown failed.csv"
ok "404 unknown paths (no traversal), 405 + Allow, 400 GET body, HEAD, keep-alive, a long path refused ($LONGCODE), failed lists"

# --- the page: served HTML, then in Chromium ----------------------------------------
cat >"$RUN/page.py" <<'PY'
# page.py FILE TASKS_JSON MODE EXPECT...: checks a page (MODE "html": as
# served; "js": Chromium's DOM after the refresh script ran) against the
# API's tasks; EXPECT is NAME=COLOR... for named tasks' bars.
import json, sys
from html.parser import HTMLParser

class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.row, self.tags, self.body = [], None, [], {}
        self.updated, self.in_updated = "", False
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        self.tags.append(tag)
        if tag == "body":
            self.body = a
        if tag == "tr" and "task" in cls:
            self.row = {"task": a.get("data-task"), "state": a.get("data-state"),
                        "links": [], "text": ""}
            self.rows.append(self.row)
        if self.row is not None:
            if tag == "div" and "bar" in cls:
                self.row["percent"] = float(a["data-percent"])
            if tag == "div" and "fill" in cls:
                self.row["color"] = " ".join(c for c in cls if c != "fill")
                self.row["style"] = a.get("style", "")
            if tag == "a":
                self.row["links"].append(a.get("href"))
        if tag == "p" and a.get("id") == "updated":
            self.in_updated = True
    def handle_endtag(self, tag):
        if tag == "tr":
            self.row = None
        if tag == "p":
            self.in_updated = False
    def handle_data(self, data):
        if self.row is not None:
            self.row["text"] += data
        if self.in_updated:
            self.updated += data

COLORS = {"completed": "green", "completed-with-failures": "yellow", "running": "blue",
          "listing-failed": "red"}
p = Page()
p.feed(open(sys.argv[1], encoding="utf-8").read())
tasks = json.load(open(sys.argv[2], encoding="utf-8"))
mode = sys.argv[3]
expect = dict(e.split("=", 1) for e in sys.argv[4:])
# Record text never became markup: the page's own script element only.
assert p.tags.count("script") == 1, p.tags.count("script")
assert "img" not in p.tags and "b" not in p.tags, "markup from record text"
rows = {r["task"]: r for r in p.rows}
assert len(rows) == len(p.rows) == len(tasks), (list(rows), [t["task"] for t in tasks])
for t in tasks:
    r = rows[t["task"]]
    pct = t["percent"] if t["totals_known"] else None
    assert r["state"] == t["state"], (t["task"], r)
    assert r["color"] == COLORS.get(t["state"], "grey"), (t["task"], r)
    if pct is not None:
        assert abs(r["percent"] - pct) < 0.06, (t["task"], r["percent"], pct)
    total = t["total_objects"] if t["totals_known"] else "?"
    assert "%d / %s" % (t["done_objects"], total) in r["text"], (t["task"], r["text"])
    assert t["task"] in r["text"], (t["task"], r["text"])
    for reason in t["failed_by_reason"]:
        assert reason in r["text"], (t["task"], reason)
    # The failed list as CSV and JSON lines (empty when nothing failed), the
    # task's own page.
    assert len(r["links"]) == 3, (t["task"], r["links"])
    assert r["links"][0].endswith("/failed.csv") and r["links"][1].endswith("/failed.jsonl")
    assert r["links"][2].startswith("task/"), r["links"]
for name, color in expect.items():
    assert rows[name]["color"] == color, (name, rows[name])
if mode == "js":
    assert int(p.body.get("data-refreshes", "0")) >= 1, "the refresh script did not run"
    assert p.updated.startswith("updated "), p.updated
print("\n".join(sorted(r["links"][0] for r in p.rows if r["links"])))
PY

chrome() {   # chrome OUT ARGS...: headless Chromium, in its own process group
  local out="$1" ud rc=0
  shift
  ud="$(mktemp -d "$RUN/chrome.XXXXXX")"
  # timeout runs it in a process group of its own: killing the group
  # leaves no renderer or helper behind, whatever happened.
  HOME="$ud" timeout -k 5 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
    --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --disable-dev-shm-usage \
    --user-data-dir="$ud" "$@" >"$out" 2>>"$RUN/chromium.log" &
  CHROME_PG=$!
  wait "$CHROME_PG" || rc=$?
  kill -KILL -- "-$CHROME_PG" 2>/dev/null || true
  CHROME_PG=""
  rm -rf "$ud"
  return "$rc"
}

[ "$(get "" "$RUN/page.html" -D "$RUN/page.hdr")" = 200 ] || fail "GET /"
grep -qi "^content-security-policy: default-src 'none'; script-src 'sha256-" "$RUN/page.hdr" ||
  fail "the page has no CSP"
grep -qi '^content-type: text/html; charset=utf-8' "$RUN/page.hdr" || fail "page content type"
get api/tasks "$RUN/tasks3.json" >/dev/null
python3 "$RUN/page.py" "$RUN/page.html" "$RUN/tasks3.json" html done=green yellow=yellow \
  grow=blue >"$RUN/links.txt" || fail "the page as served"
# The hostile task's link works: its name is %-encoded in the href.
while read -r href; do
  [ "$(get "$href" "$RUN/link.csv")" = 200 ] || fail "the page's link $href"
done <"$RUN/links.txt"
grep -qx 'api/tasks/%3Cscript%3Ealert%28%22x%22%29%3C%2Fscript%3E%20%26%20%5C%20%27q%27%20%252F%0Aline2/failed.csv' \
  "$RUN/links.txt" || { cat "$RUN/links.txt" >&2; fail "the hostile task's link"; }
ok "the page as served: a bar per task, colours by state, escaped names, working links"

chrome "$RUN/dom1.html" --virtual-time-budget=5000 --dump-dom "$URL" ||
  fail "chromium --dump-dom failed"
get api/tasks "$RUN/tasks4.json" >/dev/null
python3 "$RUN/page.py" "$RUN/dom1.html" "$RUN/tasks4.json" js done=green yellow=yellow \
  grow=blue >/dev/null || fail "the page in Chromium"
ok "Chromium: the page loads, the script refreshes it, bars green/yellow/blue as they should"

# More results: grow completes (all copied), and a new task starts listing.
{
  result_rec grow 1-000002 5 0 - $((NOW + 1000))
} | pub results t
task_rec late listing 3 1 | pub tasks late
for _ in $(seq 1 100); do
  curl -sf "${URL}api/tasks/grow" | jq -e '.state == "completed"' >/dev/null 2>&1 && break
  sleep 0.1
done
chrome "$RUN/dom2.html" --virtual-time-budget=5000 --dump-dom "$URL" ||
  fail "chromium --dump-dom (2) failed"
get api/tasks "$RUN/tasks5.json" >/dev/null
jq -e 'map(select(.task == "grow"))[0].percent == 100' "$RUN/tasks5.json" >/dev/null ||
  fail "grow did not complete in the API"
python3 "$RUN/page.py" "$RUN/dom2.html" "$RUN/tasks5.json" js done=green yellow=yellow \
  grow=green late=grey >/dev/null || fail "the page in Chromium after more results"
ok "Chromium: after more results the page shows grow completed (green) and the new task"

# For the picture: a task in full swing, with a rate and an ETA.
task_rec busy listed 4000 40 | pub tasks busy
NOW2=$(date +%s%3N)
for i in 1 2 3 4 5 6; do
  result_rec busy "1-00000$i" 100 $((i == 4)) http-503 $((NOW2 - 7000 + i * 1000))
done | pub results busy
for _ in $(seq 1 100); do
  curl -sf "${URL}api/tasks/busy" | jq -e '.done_objects == 600' >/dev/null 2>&1 && break
  sleep 0.1
done
chrome "$RUN/shot.out" --virtual-time-budget=3000 --window-size=1400,760 \
  --screenshot="$RUN/page.png" "$URL" || fail "chromium --screenshot failed"
[ -s "$RUN/page.png" ] || fail "no screenshot"
ok "screenshot in $RUN/page.png"

# --- the same port twice; clean stop --------------------------------------------------
PORT=${URL#http://127.0.0.1:}
PORT=${PORT%/}
st timeout 30 "$REPORTER" -c "$RUN/ferry.conf" --listen "127.0.0.1:$PORT" \
  >/dev/null 2>"$RUN/twice.log"
[ "$rc" -eq 1 ] || fail "a second reporter on port $PORT gave exit $rc, want 1"
grep -q "cannot serve HTTP" "$RUN/twice.log" || fail "no clear error for a port in use"
kill -TERM "$REP_PID"
rc=0
wait "$REP_PID" || rc=$?
REP_PID=""
[ "$rc" -eq 0 ] || fail "the reporter exited $rc on SIGTERM, want 0"
st curl -s -o /dev/null --max-time 5 "$URL"
[ "$rc" -ne 0 ] || fail "the port still answers after the reporter stopped"
ok "a port in use is exit 1 with a clear error; SIGTERM stops the server"

# --- --watch: serves on --listen; warns and goes on when reporter.listen fails ---------
start_reporter "$RUN/watch.log" --watch --json --listen 127.0.0.1:0
for _ in $(seq 1 100); do
  curl -sf "${URL}api/tasks" | jq -e 'length == 6' >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "${URL}api/tasks" | jq -e 'length == 6' >/dev/null || fail "--watch did not serve"
kill -INT "$REP_PID"
rc=0
wait "$REP_PID" || rc=$?
REP_PID=""
[ "$rc" -eq 0 ] || fail "--watch exited $rc on SIGINT, want 0"
"$REPORTER" -c "$RUN/ferry.conf" --task grow --watch --json >"$RUN/watch2.out" \
  2>"$RUN/watch2.log" &
REP_PID=$!
for _ in $(seq 1 100); do [ -s "$RUN/watch2.out" ] && break; sleep 0.1; done
tail -n1 "$RUN/watch2.out" | jq -e '.state == "completed"' >/dev/null ||
  fail "--watch without a page did not show the task"
grep -q 'no status page from this --watch' "$RUN/watch2.log" ||
  fail "--watch did not warn that reporter.listen could not be served"
kill -INT "$REP_PID"
rc=0
wait "$REP_PID" || rc=$?
REP_PID=""
[ "$rc" -eq 0 ] || fail "--watch (no page) exited $rc on SIGINT, want 0"
ok "--watch serves on --listen, and goes on without a page when reporter.listen fails"
