#!/usr/bin/env bash
# ferry-lister's operator modes against s3rver on loopback: --estimate (counts,
# histogram, the duration model, a measured rate), --dry-run, --verify (a
# merge-join of two listings through a proxy that shows no HEAD is sent; each
# kind of difference; the CSV report), --incremental (file output, then with
# Kafka: task records and runs), and every task filter in every mode.
# Small datasets; starts everything itself and stops it on exit.
set -euo pipefail
FERRY_SRC="${FERRY_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
source "$FERRY_SRC/tests/lib/itest.sh"
L="$FERRY_BIN/ferry-lister"
W="$FERRY_BIN/ferry-worker"
# The system Python: a version manager's shim costs seconds per start on a busy machine.
PY=$(command -v /usr/bin/python3 || command -v python3)
U="$PY $FERRY_SRC/tests/integration/ops_util.py"
LU="$PY $FERRY_SRC/tests/integration/lister_util.py"
R="$FERRY_RUN"

s3_start a ferry-src ferry-dst
proxy_start p --upstream "$FERRY_S3_A" --dialect s3 --verbose
S3="$FERRY_S3_A"
export FERRY_PSRC_ACCESS_KEY=S3RVER FERRY_PSRC_SECRET_KEY=S3RVER FERRY_PDST_ACCESS_KEY=S3RVER FERRY_PDST_SECRET_KEY=S3RVER

# 40 plain keys + 15 odd ones (spaces, quotes, unicode, a tab, ...) under data/.
$LU fill "$S3" ferry-src data/ 40 --odd >"$R/keys.txt"
N=$(wc -l <"$R/keys.txt")
[ "$N" = 55 ] || fail "fill wrote $N keys"

# The filter fixture: five objects, then (2 s later) the time T, then two more.
$U put "$S3" ferry-src flt/a.txt 10
$U put "$S3" ferry-src flt/b.bin 2000
$U put "$S3" ferry-src flt/c.bin 5000
$U put "$S3" ferry-src flt/d.tmp 100
$U put "$S3" ferry-src flt/sub/e.txt 300
sleep 2
T=$(date -u +%Y-%m-%dT%H:%M:%SZ)
sleep 1.2
$U put "$S3" ferry-src flt/late1.txt 50
$U put "$S3" ferry-src flt/late2.bin 3000

conf() {  # conf FILE BROKER_LINE
  cat >"$1" <<CONF
log_level = "warn";
$2
stores = (
  { name = "src"; type = "s3"; endpoint = "$S3"; region = "us-east-1"; path_style = true; },
  { name = "dst"; type = "s3"; endpoint = "$S3"; region = "us-east-1"; path_style = true; },
  { name = "psrc"; type = "s3"; endpoint = "$FERRY_PROXY_P"; region = "us-east-1"; path_style = true; },
  { name = "pdst"; type = "s3"; endpoint = "$FERRY_PROXY_P"; region = "us-east-1"; path_style = true; }
);
worker = { concurrency = 8; multipart_threshold = "8M"; part_size = "5M"; max_attempts = 3;
           backoff_base_ms = 50; backoff_max_ms = 500; };
lister = { page_size = 7; segment_max_objects = 10; };
tasks = (
  { name = "t"; source = "src:ferry-src/data/"; destination = "dst:ferry-dst/copy/"; },
  { name = "tp"; source = "psrc:ferry-src/data/"; destination = "pdst:ferry-dst/copy/"; },
  { name = "tq"; source = "src:ferry-src/data/"; destination = "dst:ferry-dst/copy/"; qps_limit = 10; },
  { name = "f_inc"; source = "src:ferry-src/flt/"; destination = "dst:ferry-dst/flt/"; include = [ "*.txt" ]; },
  { name = "f_exc"; source = "src:ferry-src/flt/"; destination = "dst:ferry-dst/flt/"; exclude = [ "*.tmp", "sub/*" ]; },
  { name = "f_min"; source = "src:ferry-src/flt/"; destination = "dst:ferry-dst/flt/"; min_size = 1000; },
  { name = "f_max"; source = "src:ferry-src/flt/"; destination = "dst:ferry-dst/flt/"; max_size = "1K"; },
  { name = "f_after"; source = "src:ferry-src/flt/"; destination = "dst:ferry-dst/flt/"; modified_after = "$T"; },
  { name = "f_before"; source = "src:ferry-src/flt/"; destination = "dst:ferry-dst/flt/"; modified_before = "$T"; },
  { name = "f_combo"; source = "src:ferry-src/flt/"; destination = "dst:ferry-dst/flt/";
    include = [ "*.bin" ]; min_size = 2500; modified_before = "$T"; },
  { name = "f_all"; source = "src:ferry-src/flt/"; destination = "dst:ferry-dst/flt/"; }
);
CONF
  chmod 600 "$1"
}
# No broker at all: none of the file modes may need one.
conf "$R/c.conf" 'kafka = { brokers = "127.0.0.1:1"; delivery_timeout_ms = 2000; };'
C="$R/c.conf"
val() { sed -n "s/.*\\<$1=\\([^ ]*\\).*/\\1/p" "$2" | tail -1; }

# ---------------------------------------------------------------- estimate
"$L" -c "$C" -t t --estimate >"$R/e1.out" 2>"$R/e1.err" || { cat "$R/e1.err"; fail "estimate"; }
assert_eq "$(val objects "$R/e1.out")" 55 "estimate objects"
B=$(val bytes "$R/e1.out")
hsum=$(awk '/^size histogram/{h=1;next} h&&/^  \[|^  0 B/{n+=$(NF-3)} /^inputs/{h=0} END{print n}' "$R/e1.out")
assert_eq "$hsum" 55 "histogram rows sum to the objects"
grep -q "^  \[16 B, 32 B) " "$R/e1.out" || { cat "$R/e1.out"; fail "histogram buckets"; }
# 55 objects x (HEAD destination + GET + PUT) = 165 requests at 20 ms over 4
# copies in flight (concurrency 8).
assert_eq "$(val requests "$R/e1.out")" 165 "requests"
assert_eq "$(val estimate_seconds "$R/e1.out")" 0.825 "model: 165 x 0.020 / 4"
grep -q "bound: request overhead" "$R/e1.out" || fail "bound"
# Every input says where it comes from: with no options the rates, the
# request time and the fleet are defaults nobody measured.
for w in "objects, bytes, sizes: measured" "workers: 1 (assumed" "source read per worker: 100 MiB/s (assumed" \
  "destination write per worker: 100 MiB/s (assumed" "per request: 20.0 ms (assumed" "rate of a trial: none"; do
  grep -qF "  $w" "$R/e1.out" || { cat "$R/e1.out"; fail "--estimate does not label: $w"; }
done
# Two workers: the 55 objects are 6 segments of at most 10 (lister.segment_max_objects),
# round-robin over 64 partitions, so one worker gets 3 of them (30 objects, 90
# requests) and the other 25: the slowest share, 90 x 0.040 / 4 = 0.9 s, bounds
# the task, not the balanced 165 x 0.040 / (2 x 4) = 0.825 s.
"$L" -c "$C" -t t --estimate --workers 2 --request-ms 40 >"$R/e2.out" 2>/dev/null
assert_eq "$(val estimate_seconds "$R/e2.out")" 0.900 "model: the slowest worker's 90 x 0.040 / 4"
grep -q "bound: slowest worker's share" "$R/e2.out" || { cat "$R/e2.out"; fail "placement bound named"; }
grep -qF "6 segments round-robin over 64 partitions, 2 workers" "$R/e2.out" || { cat "$R/e2.out"; fail "placement line"; }
grep -qF "  per request: 40.0 ms (given: --request-ms)" "$R/e2.out" || fail "--request-ms not labelled given"
grep -qF "  workers: 2 (given: --workers)" "$R/e2.out" || fail "--workers not labelled given"
# A slow destination makes the transfer the bound: B / (W x r_dst).
"$L" -c "$C" -t t --estimate --workers 1 --dst-rate 1K >"$R/e3.out" 2>/dev/null
exp=$($PY -c "print('%.3f' % ($B / 1024))")
assert_eq "$(val estimate_seconds "$R/e3.out")" "$exp" "transfer bound"
grep -q "bound: transfer" "$R/e3.out" || fail "transfer bound named"
# A fleet-wide qps limit of 10: 165 requests take 16.5 s whatever the fleet.
"$L" -c "$C" -t tq --estimate --workers 8 >"$R/e4.out" 2>/dev/null
assert_eq "$(val estimate_seconds "$R/e4.out")" 16.500 "qps bound"
grep -q "bound: qps limit" "$R/e4.out" || fail "qps bound named"
# A measured rate (the reporter's JSON): 5 objects/s per worker.
echo '{"task":"t","objects_per_s":5,"bytes_per_s":1000000000}' >"$R/rate1.json"
"$L" -c "$C" -t t --estimate --rate-from-json "$R/rate1.json" >"$R/e5.out" 2>/dev/null
assert_eq "$(val estimate_seconds "$R/e5.out")" 11.000 "measured: 55 / 5"
grep -q "bound: measured rate" "$R/e5.out" || fail "measured bound named"
grep -qF "  rate of a trial: measured" "$R/e5.out" || fail "--rate-from-json not labelled measured"
echo '{"tasks":[{"task":"other","objects_per_s":1},{"task":"t","objects_per_s":20,"bytes_per_s":null}]}' >"$R/rate2.json"
"$L" -c "$C" -t t --estimate --rate-from-json "$R/rate2.json" --rate-workers 2 --workers 4 >"$R/e6.out" 2>/dev/null
# 10 objects/s per worker; balanced 55 / (4 x 10) = 1.375 s, but the first
# worker's share is segments 1 and 5 (20 objects): 2.0 s.
assert_eq "$(val estimate_seconds "$R/e6.out")" 2.000 "measured, placed: 20 / (20/2)"
# A finished trial: window rates null, its copy span gives the rate (110 objects in 11 s).
echo '{"task":"t","objects_per_s":null,"bytes_per_s":null,"first_ms":1000,"last_ms":12000,"done_objects":110,"done_bytes":11000000000}' >"$R/rate4.json"
"$L" -c "$C" -t t --estimate --rate-from-json "$R/rate4.json" >"$R/e7.out" 2>/dev/null || fail "--rate-from-json of a finished trial"
assert_eq "$(val estimate_seconds "$R/e7.out")" 5.500 "measured over the span: 55 / (110 / 11 s)"
grep -q "copy span" "$R/e7.out" || fail "the span rate not named"
# The workers' busy time (reporter's worker_busy_ms): 110 objects in 22 busy
# worker-seconds = 5 objects/s per worker, whatever --rate-workers says; the
# trial's first copy began 1.5 s after its listing, which the estimate adds.
echo '{"task":"t","first_ms":2500,"last_ms":12000,"started_ms":1000,"workers":4,"worker_busy_ms":22000,"done_objects":110,"done_bytes":11000000000}' >"$R/rate5.json"
"$L" -c "$C" -t t --estimate --rate-from-json "$R/rate5.json" --rate-workers 4 >"$R/e8.out" 2>/dev/null || fail "--rate-from-json with busy time"
assert_eq "$(val estimate_seconds "$R/e8.out")" 12.500 "measured over busy time: 55 / 5 + 1.5 s start"
grep -q "busy time" "$R/e8.out" || { cat "$R/e8.out"; fail "the busy-time rate not named"; }
grep -q "^start: 1.5 s" "$R/e8.out" || { cat "$R/e8.out"; fail "the start not shown"; }
ok "--estimate: 55 objects, histogram, model bounds (requests, transfer, qps, the slowest worker's share of the segments), measured rates (window, a finished trial's span, its workers' busy time, its start), inputs labelled"

rc=0; "$L" -c "$C" -t t --estimate --workers 0 2>"$R/x.err" || rc=$?; assert_eq $rc 2 "--workers 0"
rc=0; "$L" -c "$C" -t t --estimate --verify 2>"$R/x.err" || rc=$?; assert_eq $rc 2 "--estimate --verify"
rc=0; "$L" -c "$C" -t t --estimate --out x 2>"$R/x.err" || rc=$?; assert_eq $rc 2 "--estimate --out"
rc=0; "$L" -c "$C" -t t --workers 3 --segments-to - 2>"$R/x.err" >/dev/null || rc=$?; assert_eq $rc 2 "--workers without --estimate"
rc=0; "$L" -c "$C" -t t --estimate --retry-failed 2>"$R/x.err" || rc=$?; assert_eq $rc 2 "--estimate --retry-failed"
rc=0; "$L" -c "$C" -t t --verify --incremental 2>"$R/x.err" || rc=$?; assert_eq $rc 2 "--verify --incremental"
echo '{"task":"t","objects_per_s":null,"bytes_per_s":null}' >"$R/rate3.json"
rc=0; "$L" -c "$C" -t t --estimate --rate-from-json "$R/rate3.json" 2>"$R/x.err" >/dev/null || rc=$?
assert_eq $rc 2 "no measured rate"; grep -q "no measured rate" "$R/x.err" || fail "no rate message"
rc=0; "$L" -c "$C" -t t --estimate --rate-from-json "$R/nonexistent.json" 2>"$R/x.err" >/dev/null || rc=$?
assert_eq $rc 2 "missing rate file"
ok "bad option combinations and rate files: exit 2"

# ---------------------------------------------------------------- dry-run
"$L" -c "$C" -t t --dry-run --out "$R/d.csv" 2>"$R/d.err" || { cat "$R/d.err"; fail "dry-run"; }
grep -q "55 objects, $B bytes would be copied; nothing published" "$R/d.err" || { cat "$R/d.err"; fail "dry-run summary"; }
$U csv "$R/d.csv" key >"$R/d.keys"
$PY -c "
import json,sys
a=sorted(json.loads(l) for l in open('$R/keys.txt',encoding='utf-8'))
b=[json.loads(l) for l in open('$R/d.keys',encoding='utf-8')]
sys.exit(0 if a==b else 'FAIL: dry-run keys differ from the filled keys')"
assert_eq "$($U csv "$R/d.csv" dst_key key=data/obj/00/key-000000.bin)" '"copy/obj/00/key-000000.bin"' "dst_key"
ok "--dry-run: every key once (odd ones too), destination keys, nothing published"

# ---------------------------------------------------------------- filters in every mode
declare -A EXP=(
  [f_inc]='a.txt late1.txt sub/e.txt'
  [f_exc]='a.txt b.bin c.bin late1.txt late2.bin'
  [f_min]='b.bin c.bin late2.bin'
  [f_max]='a.txt d.tmp late1.txt sub/e.txt'
  [f_after]='late1.txt late2.bin'
  [f_before]='a.txt b.bin c.bin d.tmp sub/e.txt'
  [f_combo]='c.bin'
)
for task in f_inc f_exc f_min f_max f_after f_before f_combo; do
  exp="${EXP[$task]}"; n=$(wc -w <<<"$exp")
  "$L" -c "$C" -t $task --segments-to "$R/$task.seg" 2>/dev/null              # normal run
  "$L" -c "$C" -t $task --estimate >"$R/$task.est" 2>/dev/null
  assert_eq "$(val objects "$R/$task.est")" "$n" "$task: estimate"
  "$L" -c "$C" -t $task --dry-run --out "$R/$task.csv" 2>/dev/null
  # verify: nothing at the destination yet, every object in scope is missing
  rc=0; "$L" -c "$C" -t $task --verify --out "$R/$task.v" >"$R/$task.vout" 2>&1 || rc=$?
  assert_eq "$rc" 3 "$task: verify rc"
  "$L" -c "$C" -t $task --incremental --dry-run --out "$R/$task.i" 2>/dev/null
  "$L" -c "$C" -t $task --incremental --segments-to "$R/$task.iseg" 2>/dev/null
  $U expect flt/ "$exp" "$R/$task.seg:seg" "$R/$task.csv:csv" "$R/$task.v:missing" \
    "$R/$task.i:csv" "$R/$task.iseg:seg" || fail "$task"
done
ok "filters (include, exclude, min_size, max_size, modified_after, modified_before, combined) in 6 modes each"

# Copy the whole fixture; a filtered verify then sees its objects in step and
# no extras (the other objects are outside its scope on both sides).
"$L" -c "$C" -t f_all --segments-to "$R/f_all.seg" 2>/dev/null
"$W" -c "$C" --segments-from "$R/f_all.seg" >"$R/f_all.out" 2>"$R/f_all.err" || { cat "$R/f_all.err"; fail "copy f_all"; }
for task in f_inc f_min f_after f_combo; do
  n=$(wc -w <<<"${EXP[$task]}")
  rc=0; "$L" -c "$C" -t $task --verify >"$R/$task.v2" 2>&1 || rc=$?
  assert_eq "$rc" 0 "$task: verify after the copy"
  grep -q "^in-step: $n$" "$R/$task.v2" || { cat "$R/$task.v2"; fail "$task: in-step count"; }
  grep -q "^extra: 0$" "$R/$task.v2" || { cat "$R/$task.v2"; fail "$task: extras out of scope"; }
done
ok "filtered verify after a copy: in step, objects out of scope are not extras"

# ---------------------------------------------------------------- verify
"$L" -c "$C" -t t --segments-to "$R/t.seg" 2>/dev/null
"$W" -c "$C" --segments-from "$R/t.seg" >"$R/t.out" 2>"$R/t.err" || { cat "$R/t.err"; fail "copy t"; }
: >"$R/proxy-p.log"
rc=0; "$L" -c "$C" -t tp --verify >"$R/v1.out" 2>&1 || rc=$?
[ "$rc" = 0 ] || { cat "$R/v1.out"; fail "verify after copy: rc $rc"; }
grep -q "^in-step: 55$" "$R/v1.out" || { cat "$R/v1.out"; fail "in-step 55"; }
grep -q "^result: in step" "$R/v1.out" || fail "result line"
heads=$(grep -c " HEAD " "$R/proxy-p.log" || true)
lists=$(grep -c "list-type=2" "$R/proxy-p.log" || true)
[ "$heads" = 0 ] || fail "verify sent $heads HEAD requests"
[ "$lists" -ge 16 ] || { head "$R/proxy-p.log"; fail "verify listed only $lists pages"; }
ok "--verify after a copy: 55 in step, exit 0, $lists listing pages and no HEAD (seen by the proxy)"

# Differences of every kind the listings show.
$U delete "$S3" ferry-dst copy/obj/00/key-000000.bin
$U delete "$S3" ferry-dst "copy/odd/with space.txt"
$U put "$S3" ferry-dst copy/obj/02/key-000002.bin 7 changed
size3=$($U csv "$R/d.csv" size key=data/obj/03/key-000003.bin | tr -d '"')
$U put "$S3" ferry-src data/obj/03/key-000003.bin "$size3" other-bytes
$U put "$S3" ferry-dst copy/extra/1.bin 5
$U put "$S3" ferry-dst 'copy/zz extra "2".bin' 5
rc=0; "$L" -c "$C" -t t --verify --out "$R/v2.csv" >"$R/v2.out" 2>&1 || rc=$?
assert_eq "$rc" 3 "verify with differences"
for kv in "missing: 2" "size: 1" "etag: 1" "extra: 2" "in-step: 51" "crc64: 0" "newer: 0"; do
  grep -qx "$kv" "$R/v2.out" || { cat "$R/v2.out"; fail "verify counts: $kv"; }
done
assert_eq "$($U count "$R/v2.csv")" 6 "report rows"
assert_eq "$($U csv "$R/v2.csv" key status=missing | tr '\n' ' ')" '"data/obj/00/key-000000.bin" "data/odd/with space.txt" ' "missing rows"
assert_eq "$($U csv "$R/v2.csv" dst_key status=size)" '"copy/obj/02/key-000002.bin"' "size row"
assert_eq "$($U csv "$R/v2.csv" key status=etag)" '"data/obj/03/key-000003.bin"' "etag row"
assert_eq "$($U csv "$R/v2.csv" dst_key status=extra | tr '\n' ' ')" '"copy/extra/1.bin" "copy/zz extra \"2\".bin" ' "extra rows"
assert_eq "$($U csv "$R/v2.csv" dst_size status=size)" '"7"' "dst size in the report"
# The report on stdout, the summary on stderr.
rc=0; "$L" -c "$C" -t t --verify --out - >"$R/v3.csv" 2>"$R/v3.err" || rc=$?
assert_eq "$rc" 3 "verify --out -"
cmp -s "$R/v2.csv" "$R/v3.csv" || fail "--out - differs from --out FILE"
grep -q "^result: NOT in step (4 differences; 2 extra at the destination)" "$R/v3.err" || fail "summary on stderr"
ok "--verify: missing 2, size 1, etag 1, extra 2 (quoted keys), CSV report, exit 3"

# ---------------------------------------------------------------- incremental (files)
"$L" -c "$C" -t t --incremental --dry-run --out "$R/i.csv" 2>"$R/i.err"
assert_eq "$($U count "$R/i.csv")" 4 "incremental dry-run rows"
assert_eq "$($U csv "$R/i.csv" reason | tr '\n' ' ')" '"etag" "missing" "missing" "size" ' "reasons"
grep -q "51 in step" "$R/i.err" || { cat "$R/i.err"; fail "in-step count"; }
"$L" -c "$C" -t t --incremental --estimate >"$R/i.est" 2>/dev/null
assert_eq "$(val objects "$R/i.est")" 4 "incremental estimate objects"
assert_eq "$(val requests "$R/i.est")" 8 "incremental estimate: no HEAD (overwrite)"
"$L" -c "$C" -t t --incremental --segments-to "$R/i.seg" 2>"$R/i.err"
grep -q "listed 4 objects" "$R/i.err" || { cat "$R/i.err"; fail "incremental totals"; }
assert_eq "$($U segkeys "$R/i.seg" policy | sort -u)" '"overwrite"' "incremental policy"
"$W" -c "$C" --segments-from "$R/i.seg" >"$R/i.out" 2>"$R/i.werr" || { cat "$R/i.werr"; fail "copy incremental"; }
assert_eq "$(count_status "$R/i.out" copied)" 4 "incremental copies"
rc=0; "$L" -c "$C" -t t --verify >"$R/v4.out" 2>&1 || rc=$?
assert_eq "$rc" 0 "only the extras are left: in step (extras are reported, never a difference)"
grep -qx "extra: 2" "$R/v4.out" && grep -qx "in-step: 55" "$R/v4.out" &&
  grep -q "^result: in step (0 differences; 2 extra at the destination)" "$R/v4.out" || { cat "$R/v4.out"; fail "after incremental"; }
$U delete "$S3" ferry-dst copy/extra/1.bin
$U delete "$S3" ferry-dst 'copy/zz extra "2".bin'
rc=0; "$L" -c "$C" -t t --verify >"$R/v5.out" 2>&1 || rc=$?
assert_eq "$rc" 0 "in step again"
ok "--incremental: the 4 differing objects, policy overwrite, copied; verify in step"

# ---------------------------------------------------------------- incremental (Kafka)
devbroker_start --partitions 4
conf "$R/k.conf" "kafka = { brokers = \"\"; bootstrap_file = \"$R/bootstrap\"; delivery_timeout_ms = 20000; };"
K="$R/k.conf"
"$L" -c "$K" -t t 2>"$R/k1.err" || { cat "$R/k1.err"; fail "kafka run 1"; }
"$L" -c "$K" -t t --incremental 2>"$R/k2.err" || { cat "$R/k2.err"; fail "kafka incremental"; }
grep -q "run 2 (incremental): listed 0 objects" "$R/k2.err" || { cat "$R/k2.err"; fail "nothing to copy"; }
$U delete "$S3" ferry-dst copy/obj/05/key-000005.bin
"$L" -c "$K" -t t --incremental 2>"$R/k3.err" || { cat "$R/k3.err"; fail "kafka incremental 2"; }
grep -q "run 3 (incremental): listed 1 objects" "$R/k3.err" || { cat "$R/k3.err"; fail "one to copy"; }
kcat -C -b "$FERRY_BROKERS" -t ferry.tasks -e -q -f '%k\t%s\n' >"$R/tasks.txt"
read -r run state objs _ segs kind retry_of _ < <($LU task "$R/tasks.txt" t)
assert_eq "$run $state $objs $segs $kind $retry_of" "3 listed 1 1 incremental 0" "task record"
kcat -C -b "$FERRY_BROKERS" -t ferry.segments.t -e -q -f '%k\t%s\n' | grep '^3-' >"$R/segs3.txt"
assert_eq "$(wc -l <"$R/segs3.txt")" 1 "run 3 segments"
grep -q '"policy":"overwrite"' "$R/segs3.txt" && grep -q '"key":"data/obj/05/key-000005.bin"' "$R/segs3.txt" \
  || { cat "$R/segs3.txt"; fail "run 3 segment"; }
# A plain re-run after it is a full run 4.
"$L" -c "$K" -t t 2>"$R/k4.err"; grep -q "run 4 (list): listed 55 objects" "$R/k4.err" || { cat "$R/k4.err"; fail "run 4"; }
ok "--incremental with Kafka: full runs of kind incremental (0, then 1 object), overwrite"
