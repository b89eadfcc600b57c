#!/usr/bin/env bash
# Sharded listings (lister.shards) on s3rver and the dev broker:
#  1. a 4-shard listing publishes exactly the objects of a one-listing run
#     (each key once), with distinct, deterministic segment ids (the same as
#     a sharded --segments-to run), and a final task record whose totals and
#     shards (all done) add up;
#  2. the sharded variant of lister_resume.sh: SIGKILL, then SIGTERM, mid-
#     listing and the same command again: the run resumes in its shards, every
#     key is covered, a republished segment is identical, the distinct segments
#     are exactly an uninterrupted sharded listing's, and each shard republishes
#     only keys after its own checkpoint, at most about one interval;
#  3. degenerate namespaces, each sharded vs one listing into files (same
#     keys): a bucket root where s3rver shows no CommonPrefixes (one listing,
#     said on stderr), a root where it shows some of them (a plan that sees
#     part of the bucket: the last shard takes the rest), keys directly under
#     the prefix (no prefixes), a single prefix holding everything, an empty
#     prefix.
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

s3_start src ferry-src ferry-deep
"$FERRY_BIN/ferry-devbroker" --bootstrap-file "$R/bootstrap" --partitions 8 --exit-with-parent \
  >"$R/devbroker.out" 2>"$R/devbroker.log" &
track_pid $!
for _ in $(seq 1 100); do [ -s "$R/bootstrap" ] && break; sleep 0.1; done
[ -s "$R/bootstrap" ] || { cat "$R/devbroker.log"; fail "dev broker did not start"; }
BR="$(cat "$R/bootstrap")"
export FERRY_SRC_ACCESS_KEY=S3RVER FERRY_SRC_SECRET_KEY=S3RVER
export FERRY_DST_ACCESS_KEY=S3RVER FERRY_DST_SECRET_KEY=S3RVER

# r/obj/00..36/key-*.bin and r/odd/... (nested, unicode, a 400-byte key).
$U fill "$FERRY_S3_SRC" ferry-src r/ 1485 --odd >"$R/keys.txt"
# Only keys two levels down: s3rver's delimited root listing shows nothing.
$U fill "$FERRY_S3_SRC" ferry-deep d/ 120 >/dev/null
# s3rver reports a common prefix "x/" only when some key lies directly in it
# ("x/name", not only "x/y/name"): its directory walk stops one level below
# the prefix. So r/obj/ gets a key of its own, or discovery at r/ would see
# r/odd/ alone (still correct, but one shard would list nearly everything).
echo '"r/obj/index.txt"' >>"$R/keys.txt"
# Flat: keys directly under f/; one prefix: everything under one/sub/.
python3 - "$FERRY_S3_SRC" <<'PY'
import http.client, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
for k in ["r/obj/index.txt"] + [f"f/k{i:03d}" for i in range(60)] + [f"one/sub/x{i:03d}" for i in range(45)]:
    c.request("PUT", "/ferry-src/" + k, body=k.encode())
    r = c.getresponse(); r.read()
    if r.status != 200: sys.exit(f"FAIL: PUT {k}: {r.status}")
PY

PAGE=5; SEGMAX=7; CPP=4; SHARDS=4
conf() {  # conf FILE SHARDS
  cat >"$1" <<CONF
kafka = { brokers = ""; bootstrap_file = "$R/bootstrap"; segments_partitions = 8;
          delivery_timeout_ms = 10000; };
stores = (
  { name = "src"; type = "s3"; endpoint = "$FERRY_S3_SRC"; region = "us-east-1"; path_style = true; },
  { name = "dst"; type = "s3"; endpoint = "$FERRY_S3_SRC"; region = "us-east-1"; path_style = true; }
);
lister = { page_size = $PAGE; segment_max_objects = $SEGMAX; checkpoint_pages = $CPP; shards = $2; };
tasks = (
  { name = "one"; source = "src:ferry-src/r/"; destination = "dst:ferry-dst"; },
  { name = "a"; source = "src:ferry-src/r/"; destination = "dst:ferry-dst"; },
  { name = "k"; source = "src:ferry-src/r/"; destination = "dst:ferry-dst"; },
  { name = "s"; source = "src:ferry-src/r/"; destination = "dst:ferry-dst"; },
  { name = "root"; source = "src:ferry-deep"; destination = "dst:ferry-dst"; },
  { name = "mixed"; source = "src:ferry-src"; destination = "dst:ferry-dst"; },
  { name = "flat"; source = "src:ferry-src/f/"; destination = "dst:ferry-dst"; },
  { name = "single"; source = "src:ferry-src/one/"; destination = "dst:ferry-dst"; },
  { name = "empty"; source = "src:ferry-src/none/"; destination = "dst:ferry-dst"; }
);
CONF
  chmod 600 "$1"
}
conf "$R/c1.conf" 1
conf "$R/c4.conf" $SHARDS

# The segments of the tasks named, each on its own topic.
segments() { local t; for t in "$@"; do kcat -b "$BR" -C -t "ferry.segments.$t" -o beginning -e -q -f '%s\n' 2>/dev/null; done; }
tasks() { kcat -b "$BR" -C -t ferry.tasks -o beginning -e -q -f '%k\t%s\n' 2>/dev/null; }
of_task() { python3 -c '
import json, sys
for line in sys.stdin:
    if line.strip() and json.loads(line)["task"] == sys.argv[1]: sys.stdout.write(line)' "$1"; }
# same_keys A.jsonl B.jsonl: the same keys, each exactly once in both.
same_keys() { python3 - "$1" "$2" <<'PY'
import json, sys
def keys(p):
    ks = [o["key"] for l in open(p, encoding="utf-8") if l.strip() for o in json.loads(l)["objs"]]
    if len(ks) != len(set(ks)): sys.exit(f"FAIL: {p}: a key published twice")
    return ks
a, b = keys(sys.argv[1]), keys(sys.argv[2])
if sorted(a) != sorted(b):
    sys.exit(f"FAIL: key sets differ: {len(a)} vs {len(b)}, e.g. {sorted(set(a) ^ set(b))[:3]}")
print(len(a))
PY
}
# last_record TASK: the latest task record's JSON.
last_record() { tasks | python3 -c '
import sys
last = None
for line in sys.stdin:
    k, _, v = line.rstrip("\n").partition("\t")
    if k == sys.argv[1] and v: last = v
print(last or "")' "$1"; }

# ---- 1. sharded vs one listing, to Kafka ----
"$L" -c "$R/c1.conf" -t one 2>"$R/one.err" || { cat "$R/one.err"; fail "one listing"; }
"$L" -c "$R/c4.conf" -t a --log-level info 2>"$R/a.err" || { cat "$R/a.err"; fail "sharded listing"; }
grep -q 'msg="shard plan" shards=4' "$R/a.err" || { cat "$R/a.err"; fail "no 4-shard plan"; }
segments one a >"$R/all.jsonl"
of_task one <"$R/all.jsonl" >"$R/one.jsonl"
of_task a <"$R/all.jsonl" >"$R/a.jsonl"
N=$(same_keys "$R/one.jsonl" "$R/a.jsonl")
[ "$N" = "$(wc -l <"$R/keys.txt")" ] || fail "sharded: $N keys, expected $(wc -l <"$R/keys.txt")"
$U check "$R/a.jsonl" "$R/keys.txt" $SEGMAX 0 1 >/dev/null
# The same ids and contents as a sharded listing into a file (deterministic).
"$L" -c "$R/c4.conf" -t a --segments-to "$R/ref4.jsonl" 2>/dev/null
python3 - "$R/a.jsonl" "$R/ref4.jsonl" "$(last_record a)" "$SHARDS" <<'PY'
import json, sys
def segs(p):
    return {s["id"]: s["objs"] for s in map(json.loads, filter(str.strip, open(p, encoding="utf-8")))}
got, ref = segs(sys.argv[1]), segs(sys.argv[2])
if got != ref:
    sys.exit("FAIL: Kafka segments differ from the sharded file listing: %s" % sorted(set(got) ^ set(ref))[:3])
shard_ids = sorted({i.split("/")[0] for i in got})
if shard_ids != ["s%03d" % i for i in range(int(sys.argv[4]))]:
    sys.exit(f"FAIL: shard id prefixes {shard_ids}")
rec = json.loads(sys.argv[3])
sh = rec.get("shards") or []
if rec["state"] != "listed" or len(sh) != int(sys.argv[4]) or not all(s["done"] for s in sh):
    sys.exit(f"FAIL: final record {rec['state']} shards {sh}")
n = sum(len(o) for o in got.values())
if (rec["listed_objects"], rec["segments"]) != (n, len(got)) or \
   sum(s["objects"] for s in sh) != n or sum(s["segments"] for s in sh) != len(got):
    sys.exit(f"FAIL: totals {rec['listed_objects']} {rec['segments']} vs {n} {len(got)}")
for a, b in zip(sh, sh[1:]):
    if a["hi"] != b["lo"]: sys.exit("FAIL: shard ranges not contiguous")
print(f"{len(got)} segments, ranges {[s.get('hi') for s in sh[:-1]]}")
PY
ok "4 shards publish the same $N objects as one listing, ids deterministic, record totals add up"

# ---- 2. kill / resume, sharded ----
# interrupt TASK SIGNAL: waits for three checkpoints, signals; prints rc.
interrupt() {
  local task="$1" sig="$2" pid n rc
  "$L" -c "$R/c4.conf" -t "$task" --log-level debug 2>"$R/$task-1.err" &
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
  local task="$1"
  last_record "$task" >"$R/$task.rec1"
  python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["run"] == 1 and r["state"] == "listing", (r["run"], r["state"])
assert len(r.get("shards") or []) == int(sys.argv[2]), "no shards in the record"
assert r["segments"] > 0, "no checkpoint"
assert not all(s["done"] for s in r["shards"]), "every shard done already"' "$R/$task.rec1" $SHARDS ||
    fail "$task: record after the stop: $(cat "$R/$task.rec1")"
  "$L" -c "$R/c4.conf" -t "$task" 2>"$R/$task-2.err" || { cat "$R/$task-2.err"; fail "$task: resume"; }
  grep -q "resuming run 1 in its $SHARDS shards" "$R/$task-2.err" ||
    { cat "$R/$task-2.err"; fail "$task: did not resume in shards"; }
  segments "$task" | of_task "$task" >"$R/$task.jsonl"
  # Per shard: keys published twice all sort after that shard's checkpoint
  # and number at most one shard's checkpoint interval (2 x checkpoint_pages
  # pages at most), plus the straddling segment and its queue of two.
  python3 - "$R/$task.jsonl" "$R/ref4.jsonl" "$R/$task.rec1" "$R/keys.txt" \
    $((PAGE * (2 * CPP + 1) + SEGMAX * 3)) <<'PY'
import json, sys
segs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
ref = {s["id"]: s["objs"] for s in map(json.loads, filter(str.strip, open(sys.argv[2], encoding="utf-8")))}
rec = json.load(open(sys.argv[3]))
keys = [json.loads(l) for l in open(sys.argv[4], encoding="utf-8") if l.strip()]
bound = int(sys.argv[5])
by_id, count = {}, {}
for s in segs:
    if s["id"] in by_id and by_id[s["id"]] != s["objs"]:
        sys.exit(f"FAIL: segment {s['id']} republished with other objects")
    by_id[s["id"]] = s["objs"]
    for o in s["objs"]:
        count[o["key"]] = count.get(o["key"], 0) + 1
if by_id != ref:
    sys.exit("FAIL: distinct segments differ from an uninterrupted sharded listing: %s"
             % sorted(set(by_id) ^ set(ref))[:3])
missing = [k for k in keys if k not in count]
if missing: sys.exit(f"FAIL: {len(missing)} keys missing, e.g. {missing[0]!r}")
if any(c > 2 for c in count.values()): sys.exit("FAIL: a key published more than twice")
total = 0
for i, sh in enumerate(rec["shards"]):
    cp = (sh.get("checkpoint") or "").encode()
    ids = {s for s in by_id if s.startswith("s%03d/" % i)}
    dups = [o["key"] for s in ids for o in by_id[s] if count[o["key"]] > 1]
    early = [k for k in dups if cp and k.encode() <= cp]
    if early: sys.exit(f"FAIL: shard {i}: {early[0]!r} at or before its checkpoint republished")
    if sh["done"] and dups: sys.exit(f"FAIL: shard {i} was done but republished {len(dups)} keys")
    if len(dups) > bound: sys.exit(f"FAIL: shard {i}: {len(dups)} keys republished > {bound}")
    total += len(dups)
print(f"{len(keys)} keys covered, {len(by_id)} distinct segments, {total} keys republished")
PY
  last_record "$task" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
n = int(sys.argv[1])
assert (r["run"], r["state"], r["listed_objects"]) == (1, "listed", n), (r["run"], r["state"], r["listed_objects"])
assert all(s["done"] for s in r["shards"])' "$(wc -l <"$R/keys.txt")" || fail "$task: final record"
}

rc=$(interrupt k KILL)
[ "$rc" = 137 ] || fail "kill -9: rc=$rc"
check_resumed k
ok "sharded: SIGKILL mid-listing, resumed in its shards: identical to an uninterrupted sharded listing"
rc=$(interrupt s TERM)
[ "$rc" = 1 ] || { cat "$R/s-1.err"; fail "SIGTERM: rc=$rc"; }
grep -q "interrupted after" "$R/s-1.err" || { cat "$R/s-1.err"; fail "SIGTERM: message"; }
check_resumed s
ok "sharded: SIGTERM: rc 1, positions recorded, resumed, identical segments"

# ---- 3. degenerate namespaces (files, no broker) ----
for t in root mixed flat single empty; do
  "$L" -c "$R/c1.conf" -t $t --segments-to "$R/$t-1.jsonl" 2>"$R/$t-1.err" ||
    { cat "$R/$t-1.err"; fail "$t: one listing"; }
  "$L" -c "$R/c4.conf" -t $t --segments-to "$R/$t-4.jsonl" --log-level info 2>"$R/$t-4.err" ||
    { cat "$R/$t-4.err"; fail "$t: sharded"; }
  n=$(same_keys "$R/$t-1.jsonl" "$R/$t-4.jsonl")
  plan=$(grep -o 'shard plan" shards=[0-9]* entries=[0-9]*' "$R/$t-4.err" || true)
  case $t in
    root)   grep -q "one listing" "$R/$t-4.err" || { cat "$R/$t-4.err"; fail "root: no note"; }
            [ "$n" = 120 ] || fail "root: $n keys" ;;
    mixed)  [ -n "$plan" ] && [ "$n" = 1606 ] || fail "mixed: $n keys, $plan" ;;
    flat)   [ "$plan" = 'shard plan" shards=4 entries=60' ] || fail "flat: $plan"; [ "$n" = 60 ] ;;
    single) [ "$plan" = 'shard plan" shards=4 entries=45' ] || fail "single: $plan"; [ "$n" = 45 ] ;;
    empty)  [ "$n" = 0 ] || fail "empty: $n keys" ;;
  esac
  ok "$t: sharded = one listing ($n keys; ${plan:-one listing})"
done
echo "PASS lister_shards"
