#!/usr/bin/env bash
# ferry-lister without Kafka (--segments-to): a bucket of ~2500 objects with
# odd keys is listed page by page into JSON lines; every key appears exactly
# once and every segment respects the limits. Also: filters, a missing bucket,
# bad credentials, an unknown task, --from-list (CSV and JSONL).
# Starts its own s3rver and stops it on exit.
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
export FERRY_SRC_ACCESS_KEY=S3RVER FERRY_SRC_SECRET_KEY=S3RVER
export FERRY_DST_ACCESS_KEY=S3RVER FERRY_DST_SECRET_KEY=S3RVER

# 2472 plain keys + 15 odd ones + 13 large (300 KiB .. 1.5 MiB) under data/,
# and decoys outside the prefix.
$U fill "$FERRY_S3_SRC" ferry-src data/ 2472 --odd --big >"$R/keys.txt"
$U fill "$FERRY_S3_SRC" ferry-src other/ 5 >/dev/null
[ "$(wc -l <"$R/keys.txt")" = 2500 ] || fail "fill wrote $(wc -l <"$R/keys.txt") keys"

conf() {  # conf FILE PAGE MAX_OBJECTS MAX_BYTES [task lines]
  cat >"$1" <<CONF
kafka = { brokers = "127.0.0.1:1"; };
stores = (
  { name = "src"; type = "s3"; endpoint = "$FERRY_S3_SRC"; region = "us-east-1"; path_style = true; },
  { name = "dst"; type = "s3"; endpoint = "$FERRY_S3_SRC"; region = "us-east-1"; path_style = true; },
  { name = "bad"; type = "s3"; endpoint = "$FERRY_S3_SRC"; region = "us-east-1"; path_style = true;
    access_key = "NOTAKEY"; secret_key = "wrong"; }
);
lister = { page_size = $2; segment_max_objects = $3; segment_max_bytes = $4; };
tasks = (
  { name = "t"; source = "src:ferry-src/data/"; destination = "dst:ferry-dst/copy/"; },
  { name = "filtered"; source = "src:ferry-src/data/"; destination = "dst:ferry-dst";
    include = [ "obj/0*" ]; exclude = [ "*5.bin" ]; },
  { name = "nobucket"; source = "src:no-such-bucket/x/"; destination = "dst:ferry-dst"; },
  { name = "badcreds"; source = "bad:ferry-src"; destination = "dst:ferry-dst"; }
);
CONF
  chmod 600 "$1"
}

# 1. The whole prefix, small pages (250 requests), object and byte limits.
conf "$R/a.conf" 10 37 '"1M"'
"$L" -c "$R/a.conf" -t t --segments-to "$R/a.jsonl" 2>"$R/a.err" || { cat "$R/a.err"; fail "list"; }
grep -q "listed 2500 objects" "$R/a.err" || { cat "$R/a.err"; fail "totals line"; }
$U check "$R/a.jsonl" "$R/keys.txt" 37 1048576 1
grep -q '"objs":\[{"key":"data/obj/huge.bin"[^]]*\]}$' "$R/a.jsonl" || fail "huge.bin not alone"
ok "2500 keys, page_size 10, limits 37 objects / 1 MiB (1.5 MiB object alone)"

# Same listing, big pages: the same segments (the cut depends only on the objects).
conf "$R/b.conf" 1000 37 '"1M"'
"$L" -c "$R/b.conf" -t t --segments-to - 2>/dev/null >"$R/b.jsonl"
cmp -s "$R/a.jsonl" "$R/b.jsonl" || fail "page size changed the segments"
ok "page size does not change the segments"

# Large limits (1000 objects, 1G); --run.
conf "$R/c.conf" 1000 1000 '"1G"'
"$L" -c "$R/c.conf" -t t --segments-to "$R/c.jsonl" --run 7 2>/dev/null
$U check "$R/c.jsonl" "$R/keys.txt" 1000 1073741824 7
[ "$(wc -l <"$R/c.jsonl")" = 3 ] || fail "expected 3 segments of <= 1000"
grep -q '"dst":{"store":"dst","bucket":"ferry-dst","prefix":"copy/"}' "$R/c.jsonl" || fail "dst"
ok "limits 1000 / 1G: 3 segments, run 7"

# 2. Filters: include obj/0*, exclude *5.bin, relative to the prefix.
python3 - "$R/keys.txt" >"$R/fkeys.txt" <<'PY'
import json, sys, fnmatch
for line in open(sys.argv[1], encoding="utf-8"):
    k = json.loads(line)
    rel = k[len("data/"):]
    if fnmatch.fnmatchcase(rel, "obj/0*") and not fnmatch.fnmatchcase(rel, "*5.bin"):
        print(json.dumps(k))
PY
"$L" -c "$R/a.conf" -t filtered --segments-to "$R/f.jsonl" 2>/dev/null
$U check "$R/f.jsonl" "$R/fkeys.txt" 37 1048576
ok "filters: $(wc -l <"$R/fkeys.txt") keys pass"

# 3. Errors: one clear line, non-zero exit.
rc=0; "$L" -c "$R/a.conf" -t nobucket --segments-to "$R/x.jsonl" 2>"$R/x.err" || rc=$?
[ "$rc" = 1 ] || fail "missing bucket: rc=$rc"
grep -q "NoSuchBucket" "$R/x.err" || { cat "$R/x.err"; fail "missing bucket: message"; }
ok "missing bucket: rc 1, $(grep NoSuchBucket "$R/x.err")"
rc=0; "$L" -c "$R/a.conf" -t badcreds --segments-to "$R/x.jsonl" 2>"$R/x.err" || rc=$?
[ "$rc" = 1 ] || fail "bad credentials: rc=$rc"
grep -Eq "HTTP 403" "$R/x.err" || { cat "$R/x.err"; fail "bad credentials: message"; }
grep -q "wrong" "$R/x.err" && fail "the secret appears in the error"
ok "bad credentials: rc 1, $(grep 'HTTP 403' "$R/x.err")"
rc=0; "$L" -c "$R/a.conf" -t nosuchtask --segments-to "$R/x.jsonl" 2>"$R/x.err" || rc=$?
[ "$rc" = 2 ] || fail "unknown task: rc=$rc"
grep -q 'unknown task "nosuchtask"' "$R/x.err" || fail "unknown task: message"
ok "unknown task: rc 2"
rc=0; "$L" -c "$R/a.conf" -t t --retry-failed --segments-to - 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "--retry-failed with --segments-to: rc=$rc"

# 4. --from-list: a CSV export (quoted keys with commas, quotes, newlines) and
# JSONL; each key is re-read at the source (HEAD), a vanished one is still
# replayed, a key outside the prefix is refused (rc 1).
python3 - "$R" <<'PY'
import csv, json, sys
r = sys.argv[1]
keys = ["data/odd/semi;colon,comma=eq@at$dollar.txt", "data/odd/tilde~quote'\"<>.txt",
        "data/odd/tab\there.txt", "data/obj/00/key-000000.bin", "data/gone/vanished.bin"]
with open(r + "/f.csv", "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(["key", "size", "status", "reason", "http_status", "code", "message",
                "attempts", "last_attempt"])
    for k in keys:
        w.writerow([k, 1, "failed", "http-503", 503, "SlowDown", "Reduce, \"please\"", 5,
                    "2024-01-15T08:30:00Z"])
with open(r + "/f.jsonl", "w", encoding="utf-8") as f:
    for k in keys:
        f.write(json.dumps({"key": k, "size": 1, "status": "failed"}) + "\n")
with open(r + "/fl-keys.txt", "w", encoding="utf-8") as f:
    for k in keys:
        f.write(json.dumps(k) + "\n")
PY
for fmt in csv jsonl; do
  "$L" -c "$R/a.conf" -t t --from-list "$R/f.$fmt" --segments-to "$R/fl.jsonl" --run 2 \
    2>"$R/fl.err" || { cat "$R/fl.err"; fail "--from-list $fmt"; }
  $U check "$R/fl.jsonl" "$R/fl-keys.txt" 37 1048576 2
  grep -q "data/gone/vanished.bin has vanished" "$R/fl.err" || fail "vanished not reported"
  # Sizes and ETags come from the source, not from the file.
  python3 - "$R/fl.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    for o in json.loads(line)["objs"]:
        if o["key"] != "data/gone/vanished.bin" and (o["size"] == 1 or "etag" not in o):
            sys.exit("FAIL: %r not refreshed from the source" % o["key"])
PY
done
ok "--from-list CSV and JSONL: 5 keys, refreshed by HEAD, vanished one kept"
printf 'key\n"data/obj/00/key-000000.bin"\nelsewhere/x.bin\n"unterminated\n' >"$R/bad.csv"
rc=0; "$L" -c "$R/a.conf" -t t --from-list "$R/bad.csv" --segments-to "$R/fl.jsonl" 2>"$R/fl.err" || rc=$?
[ "$rc" = 1 ] || fail "bad list: rc=$rc"
grep -q "outside the source prefix" "$R/fl.err" || fail "outside-prefix message"
grep -q "unterminated quoted field" "$R/fl.err" || fail "CSV error message"
[ "$(wc -l <"$R/fl.jsonl")" = 1 ] || fail "the good entry was not published"
ok "--from-list: bad entries reported, rc 1, good ones published"
rc=0; "$L" -c "$R/a.conf" -t t --from-list "$R/nonexistent.csv" --segments-to "$R/fl.jsonl" 2>"$R/fl.err" || rc=$?
[ "$rc" = 1 ] && grep -q "nonexistent.csv: No such file" "$R/fl.err" || { cat "$R/fl.err"; fail "missing list file rc=$rc"; }
ok "--from-list with a missing file: rc 1"
echo "PASS lister_segments"
