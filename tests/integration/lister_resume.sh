#!/usr/bin/env bash
# ferry-lister checkpoints: a lister killed with SIGKILL mid-listing
# and started again with the same command resumes after its last checkpoint.
# Checked with kcat: the union of the segments covers every key; a segment id
# published twice has the same objects both times; the distinct segments are
# exactly those of an uninterrupted listing (--segments-to); republished keys
# all sort after the checkpoint and fit in one checkpoint interval. The same
# after SIGTERM (the lister records its exact position and exits 1). Last, the
# broker dies mid-listing: the lister exits 1 once delivery_timeout_ms passes.
# Starts s3rver and the dev broker itself and stops them on exit.
set -euo pipefail
FERRY_SRC="${FERRY_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
FERRY_BIN="${FERRY_BIN:-$FERRY_SRC/build}"
export FERRY_SRC
# shellcheck source=../../scripts/servers.sh
source "$FERRY_SRC/scripts/servers.sh"
servers_init
trap servers_stop EXIT INT TERM
U="python3 $FERRY_SRC/tests/integration/lister_util.py"
L="$FERRY_BIN/ferry-lister"
R="$FERRY_RUN"
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

s3_start src ferry-src
"$FERRY_BIN/ferry-devbroker" --bootstrap-file "$R/bootstrap" --partitions 8 --exit-with-parent \
  >"$R/devbroker.out" 2>"$R/devbroker.log" &
DEVBROKER=$!
track_pid $DEVBROKER
for _ in $(seq 1 100); do [ -s "$R/bootstrap" ] && break; sleep 0.1; done
[ -s "$R/bootstrap" ] || { cat "$R/devbroker.log"; fail "dev broker did not start"; }
BR="$(cat "$R/bootstrap")"
export FERRY_SRC_ACCESS_KEY=S3RVER FERRY_SRC_SECRET_KEY=S3RVER
export FERRY_DST_ACCESS_KEY=S3RVER FERRY_DST_SECRET_KEY=S3RVER

$U fill "$FERRY_S3_SRC" ferry-src r/ 1485 --odd >"$R/keys.txt"

# Small pages, segments that straddle pages, a checkpoint every 4 pages
# (20 keys): one interval republishes at most 20 + 7 keys.
PAGE=5; SEGMAX=7; CPP=4; MAXDUP=$((PAGE * CPP + SEGMAX))
cat >"$R/r.conf" <<CONF
kafka = { brokers = ""; bootstrap_file = "$R/bootstrap"; segments_partitions = 8;
          delivery_timeout_ms = 10000; };
stores = (
  { name = "src"; type = "s3"; endpoint = "$FERRY_S3_SRC"; region = "us-east-1"; path_style = true; },
  { name = "dst"; type = "s3"; endpoint = "$FERRY_S3_SRC"; region = "us-east-1"; path_style = true; }
);
lister = { page_size = $PAGE; segment_max_objects = $SEGMAX; checkpoint_pages = $CPP; };
tasks = (
  { name = "k"; source = "src:ferry-src/r/"; destination = "dst:ferry-dst"; },
  { name = "s"; source = "src:ferry-src/r/"; destination = "dst:ferry-dst"; }
);
CONF
chmod 600 "$R/r.conf"

# A task's segments, on its own topic.
segments() { kcat -b "$BR" -C -t "ferry.segments.$1" -o beginning -e -q -f '%s\n' 2>/dev/null; }
tasks() { kcat -b "$BR" -C -t ferry.tasks -o beginning -e -q -f '%k\t%s\n' 2>/dev/null; }
of_task() { python3 -c '
import json, sys
for line in sys.stdin:
    if line.strip() and json.loads(line)["task"] == sys.argv[1]: sys.stdout.write(line)' "$1"; }

# The reference: the same listing without interruption, into a file.
"$L" -c "$R/r.conf" -t k --segments-to "$R/ref.jsonl" 2>/dev/null
NREF=$(wc -l <"$R/ref.jsonl")

# interrupt TASK SIGNAL: starts the lister, waits until it has recorded three
# checkpoints (its debug log says so), sends SIGNAL; prints its exit status.
interrupt() {
  local task="$1" sig="$2" pid n rc
  "$L" -c "$R/r.conf" -t "$task" --log-level debug 2>"$R/$task-1.err" &
  pid=$!
  for _ in $(seq 1 600); do
    n=$(grep -c "checkpoint recorded" "$R/$task-1.err" || true)
    [ "$n" -ge 3 ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.02
  done
  kill "-$sig" "$pid" 2>/dev/null ||
    { tail -3 "$R/$task-1.err" >&2; fail "$task: the lister ended before it could be interrupted"; }
  rc=0; wait "$pid" || rc=$?
  echo "$rc"
}

check_resumed() {  # task
  local task="$1" run state objs segs kind cp
  tasks >"$R/tasks.txt"
  read -r run state objs _ segs kind _ cp < <($U task "$R/tasks.txt" "$task")
  [ "$run $state" = "1 listing" ] || fail "$task: record after the stop: $run $state"
  [ -n "$cp" ] && [ "$segs" -gt 0 ] || fail "$task: no checkpoint recorded"
  echo "$cp" >"$R/$task.cp"
  "$L" -c "$R/r.conf" -t "$task" 2>"$R/$task-2.err" || { cat "$R/$task-2.err"; fail "$task: resume"; }
  grep -q "resuming run 1 after its checkpoint ($segs segments" "$R/$task-2.err" ||
    { cat "$R/$task-2.err"; fail "$task: did not resume"; }
  segments "$task" | of_task "$task" >"$R/$task.jsonl"
  $U resume "$R/$task.jsonl" "$R/keys.txt" "$cp" "$MAXDUP"
  # The distinct segments are exactly the uninterrupted listing's, ids included.
  python3 - "$R/$task.jsonl" "$R/ref.jsonl" <<'PY'
import json, sys
got = {}
for line in open(sys.argv[1], encoding="utf-8"):
    s = json.loads(line)
    got[s["id"]] = s["objs"]
ref = {}
for line in open(sys.argv[2], encoding="utf-8"):
    s = json.loads(line)
    ref[s["id"]] = s["objs"]
if got != ref:
    diff = sorted(set(got) ^ set(ref)) or [i for i in ref if got.get(i) != ref[i]]
    sys.exit("FAIL: segments differ from the uninterrupted listing, e.g. %s" % diff[:3])
PY
  tasks >"$R/tasks.txt"
  read -r run state objs _ segs kind _ cp < <($U task "$R/tasks.txt" "$task")
  [ "$run $state $objs $segs" = "1 listed $(wc -l <"$R/keys.txt") $NREF" ] ||
    fail "$task: final record $run $state $objs $segs"
}

rc=$(interrupt k KILL)
[ "$rc" = 137 ] || fail "kill -9: rc=$rc"
check_resumed k
ok "SIGKILL mid-listing, resumed after checkpoint $(cat "$R/k.cp" | head -c 60): $NREF segments, identical to an uninterrupted listing"

rc=$(interrupt s TERM)
[ "$rc" = 1 ] || { cat "$R/s-1.err"; fail "SIGTERM: rc=$rc"; }
grep -q "interrupted after" "$R/s-1.err" || { cat "$R/s-1.err"; fail "SIGTERM: message"; }
check_resumed s
ok "SIGTERM: rc 1, position recorded, resumed, identical segments"
# The broker dies mid-listing: deliveries fail after delivery_timeout_ms.
sed 's|delivery_timeout_ms = 10000|delivery_timeout_ms = 3000|' "$R/r.conf" >"$R/d.conf"
chmod 600 "$R/d.conf"
"$L" -c "$R/d.conf" -t k --log-level debug 2>"$R/d.err" &
pid=$!
for _ in $(seq 1 600); do
  [ "$(grep -c "checkpoint recorded" "$R/d.err" || true)" -ge 2 ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.02
done
kill -9 "$DEVBROKER"
t0=$(date +%s)
rc=0; wait "$pid" || rc=$?
t1=$(date +%s)
[ "$rc" = 1 ] || { tail -3 "$R/d.err"; fail "broker gone: rc=$rc"; }
grep -q "^ferry-lister: task k: kafka" "$R/d.err" || { tail -3 "$R/d.err"; fail "broker gone: message"; }
[ $((t1 - t0)) -le 20 ] || fail "broker gone: the lister took $((t1 - t0)) s to give up"
ok "broker killed mid-listing: rc 1 after $((t1 - t0)) s: $(grep '^ferry-lister: task k: kafka' "$R/d.err")"
echo "PASS lister_resume"
