#!/usr/bin/env bash
# ferry-lister publishing to ferry-devbroker, read back with kcat: segments
# (count, every key once), the task record (listed, totals), a re-run (run 2),
# --retry-failed from hand-made results and failed records (run 3; refused
# while run 2 has no results), and the errors: missing
# bucket (task record "failed"), unknown task (rc 2), broker unreachable.
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
track_pid $!
for _ in $(seq 1 100); do [ -s "$R/bootstrap" ] && break; sleep 0.1; done
[ -s "$R/bootstrap" ] || { cat "$R/devbroker.log"; fail "dev broker did not start"; }
BR="$(cat "$R/bootstrap")"
export FERRY_SRC_ACCESS_KEY=S3RVER FERRY_SRC_SECRET_KEY=S3RVER
export FERRY_DST_ACCESS_KEY=S3RVER FERRY_DST_SECRET_KEY=S3RVER

$U fill "$FERRY_S3_SRC" ferry-src p/ 1185 --odd >"$R/keys.txt"
# One more, deleted after run 2's listing (a retry then finds it vanished).
head -c 77 /dev/zero | curl -sf -X PUT --data-binary @- "$FERRY_S3_SRC/ferry-src/p/gone/vanished.bin" >/dev/null ||
  fail "PUT p/gone/vanished.bin"
echo '"p/gone/vanished.bin"' >>"$R/keys.txt"
NKEYS=$(wc -l <"$R/keys.txt")

cat >"$R/k.conf" <<CONF
kafka = { brokers = ""; bootstrap_file = "$R/bootstrap"; segments_partitions = 8;
          delivery_timeout_ms = 10000; };
stores = (
  { name = "src"; type = "s3"; endpoint = "$FERRY_S3_SRC"; region = "us-east-1"; path_style = true; },
  { name = "dst"; type = "s3"; endpoint = "$FERRY_S3_SRC"; region = "us-east-1"; path_style = true; }
);
lister = { page_size = 100; segment_max_objects = 50; checkpoint_pages = 2; };
tasks = (
  { name = "t"; source = "src:ferry-src/p/"; destination = "dst:ferry-dst"; same_name = "skip"; },
  { name = "nob"; source = "src:no-such-bucket"; destination = "dst:ferry-dst"; }
);
CONF
chmod 600 "$R/k.conf"

# Task t's segments, on its own topic (docs/architecture.md, "Tasks side by side").
segments() { kcat -b "$BR" -C -t ferry.segments.t -o beginning -e -q -f '%s\n' 2>/dev/null; }
tasks() { kcat -b "$BR" -C -t ferry.tasks -o beginning -e -q -f '%k\t%s\n' 2>/dev/null; }
run_only() { python3 -c '
import json, sys
run = int(sys.argv[1])
for line in sys.stdin:
    if line.strip() and json.loads(line)["run"] == run: sys.stdout.write(line)' "$1"; }

# 1. Run 1: every key once, the totals in the task record.
"$L" -c "$R/k.conf" -t t 2>"$R/1.err" || { cat "$R/1.err"; fail "run 1"; }
grep -q "listed $NKEYS objects" "$R/1.err" || { cat "$R/1.err"; fail "run 1 totals"; }
segments | run_only 1 >"$R/s1.jsonl"
$U check "$R/s1.jsonl" "$R/keys.txt" 50 0 1
NSEG=$(wc -l <"$R/s1.jsonl")
tasks >"$R/tasks.txt"
read -r run state objs bytes segs kind rof _ < <($U task "$R/tasks.txt" t)
[ "$run $state $objs $segs $kind $rof" = "1 listed $NKEYS $NSEG list 0" ] ||
  fail "task record: $run $state $objs $segs $kind $rof (expected 1 listed $NKEYS $NSEG list 0)"
want_bytes=$(python3 -c 'import json,sys; print(sum(o["size"] for l in open(sys.argv[1]) for o in json.loads(l)["objs"]))' "$R/s1.jsonl")
[ "$bytes" = "$want_bytes" ] || fail "listed_bytes $bytes != $want_bytes"
grep -c '"state":"listing"' "$R/tasks.txt" | grep -qv '^0$' || fail "no progress records"
ok "run 1: $NKEYS objects in $NSEG segments on ferry.segments.t; task record listed with totals"
grep -q '"checkpoint"' "$R/tasks.txt" || fail "no checkpoint in progress records"
if grep -qi 'S3RVER' "$R/tasks.txt"; then fail "a credential in the tasks topic"; fi

# 2. A plain re-run of a finished task is run 2 (a fresh copy pass).
"$L" -c "$R/k.conf" -t t 2>"$R/2.err" || { cat "$R/2.err"; fail "run 2"; }
segments | run_only 2 >"$R/s2.jsonl"
$U check "$R/s2.jsonl" "$R/keys.txt" 50 0 2
tasks >"$R/tasks.txt"
read -r run state objs _ < <($U task "$R/tasks.txt" t)
[ "$run $state $objs" = "2 listed $NKEYS" ] || fail "run 2 record: $run $state $objs"
ok "re-run: run 2, $NKEYS objects again"

curl -sf -X DELETE "$FERRY_S3_SRC/ferry-src/p/gone/vanished.bin" >/dev/null || fail "DELETE"

# 3. --retry-failed while run 2 has no result yet: refused (exit 5), no new run.
rc=0; "$L" -c "$R/k.conf" -t t --retry-failed 2>"$R/3.err" || rc=$?
[ "$rc" = 5 ] || { cat "$R/3.err"; fail "retry during run 2: rc=$rc"; }
grep -q "run 2 is still running" "$R/3.err" || { cat "$R/3.err"; fail "busy message"; }
tasks >"$R/tasks.txt"
read -r run _ < <($U task "$R/tasks.txt" t)
[ "$run" = 2 ] || fail "a refused retry published run $run"
ok "--retry-failed while run 2 runs: refused, rc 5"

# Worker-shaped results of run 2: every object copied but two, which failed
# (one with two failed records: deduplicated; one vanished since). Failed
# records also of run 1 (not still failed: run 2 is a full run) and of
# another task (ignored).
$U results "$R/s2.jsonl" "p/obj/03/key-000003.bin=failed:http-503" \
  "p/gone/vanished.bin=vanished:vanished" | kcat -b "$BR" -P -t ferry.results -K '|' 2>/dev/null
failed_rec() {  # task run key size etag
  printf '%s|{"v":1,"task":"%s","segment":"%s-000001","run":%s,"src":{"store":"src","bucket":"ferry-src","prefix":"p/"},"dst":{"store":"dst","bucket":"ferry-dst","prefix":""},"obj":{"key":"%s","size":%s,"etag":"%s","mtime":1705307300},"outcome":{"key":"%s","size":%s,"status":"failed","reason":"http-503","bytes":0,"attempts":5,"duration_ms":30512,"http_status":503,"code":"SlowDown","message":"Please reduce your request rate."},"at_ms":1705307419870}\n' \
    "$1" "$1" "$2" "$2" "$3" "$4" "$5" "$3" "$4"
}
{
  failed_rec t 2 "p/obj/03/key-000003.bin" 1 stale-etag
  failed_rec t 2 "p/obj/03/key-000003.bin" 1 stale-etag
  failed_rec t 2 "p/gone/vanished.bin" 77 0123456789abcdef0123456789abcdef
  failed_rec t 1 "p/obj/04/key-000004.bin" 1 old
  failed_rec other 2 "p/obj/05/key-000005.bin" 1 other
} | kcat -b "$BR" -P -t ferry.failed -K '|' 2>/dev/null
"$L" -c "$R/k.conf" -t t --retry-failed 2>"$R/4.err" || { cat "$R/4.err"; fail "retry"; }
grep -q "p/gone/vanished.bin has vanished" "$R/4.err" || { cat "$R/4.err"; fail "vanished not reported"; }
segments | run_only 3 >"$R/s3.jsonl"
printf '"p/gone/vanished.bin"\n"p/obj/03/key-000003.bin"\n' >"$R/rkeys.txt"
$U check "$R/s3.jsonl" "$R/rkeys.txt" 50 0 3
python3 - "$R/s3.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    for o in json.loads(line)["objs"]:
        if o["key"] == "p/obj/03/key-000003.bin" and (o["etag"] == "stale-etag" or o["size"] == 1):
            sys.exit("FAIL: the retried object was not re-read at the source")
        if o["key"] == "p/gone/vanished.bin" and o["size"] != 77:
            sys.exit("FAIL: the vanished object lost its last known size")
PY
tasks >"$R/tasks.txt"
read -r run state objs _ _ kind rof _ < <($U task "$R/tasks.txt" t)
[ "$run $state $objs $kind $rof" = "3 listed 2 retry 2" ] ||
  fail "retry record: $run $state $objs $kind retry_of=$rof (expected 3 listed 2 retry 2)"
ok "--retry-failed: run 3 replays the 2 still-failed objects (deduplicated, ETag re-read, vanished kept)"

# Run 3's results: both copied. Nothing is still failed: nothing to retry, rc 0.
$U results "$R/s3.jsonl" | kcat -b "$BR" -P -t ferry.results -K '|' 2>/dev/null
"$L" -c "$R/k.conf" -t t --retry-failed 2>"$R/3n.err" || { cat "$R/3n.err"; fail "empty retry rc"; }
grep -q "nothing to retry" "$R/3n.err" || { cat "$R/3n.err"; fail "empty retry message"; }
ok "--retry-failed once everything is copied: nothing to retry, rc 0"

# A mistyped --from-list file publishes nothing (no unfinished run left).
rc=0; "$L" -c "$R/k.conf" -t t --from-list "$R/no-such-export.csv" 2>"$R/4b.err" || rc=$?
[ "$rc" = 1 ] || { cat "$R/4b.err"; fail "missing list file rc=$rc"; }
tasks >"$R/tasks.txt"
read -r run state _ < <($U task "$R/tasks.txt" t)
[ "$run $state" = "3 listed" ] || fail "a missing list file changed the task record: $run $state"
ok "--from-list with a missing file: rc 1, nothing published"

# 4. Errors.
rc=0; "$L" -c "$R/k.conf" -t nob 2>"$R/5.err" || rc=$?
[ "$rc" = 1 ] && grep -q NoSuchBucket "$R/5.err" || { cat "$R/5.err"; fail "missing bucket rc=$rc"; }
tasks >"$R/tasks.txt"
read -r run state _ < <($U task "$R/tasks.txt" nob)
[ "$run $state" = "1 failed" ] || fail "missing bucket: task record $run $state"
ok "missing bucket: rc 1, task record state failed"
rc=0; "$L" -c "$R/k.conf" -t nosuch 2>"$R/6.err" || rc=$?
[ "$rc" = 2 ] || fail "unknown task rc=$rc"
ok "unknown task: rc 2"
port=$(free_port)
sed -e "s|brokers = \"\"; bootstrap_file = \"[^\"]*\";|brokers = \"127.0.0.1:$port\";|" \
    -e 's|delivery_timeout_ms = 10000|delivery_timeout_ms = 2000|' "$R/k.conf" >"$R/down.conf"
chmod 600 "$R/down.conf"
grep -q "127.0.0.1:$port" "$R/down.conf" || fail "down.conf"
t0=$(date +%s)
rc=0; "$L" -c "$R/down.conf" -t t 2>"$R/7.err" || rc=$?
t1=$(date +%s)
[ "$rc" = 1 ] || { cat "$R/7.err"; fail "broker down: rc=$rc"; }
grep -q "unreachable" "$R/7.err" || { cat "$R/7.err"; fail "broker down: message"; }
[ $((t1 - t0)) -le 15 ] || fail "broker down: took $((t1 - t0)) s"
ok "broker unreachable: rc 1 after $((t1 - t0)) s: $(grep unreachable "$R/7.err")"
echo "PASS lister_kafka"
