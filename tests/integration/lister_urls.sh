#!/usr/bin/env bash
# URL-list tasks (source "urls:/path"): the lister reads the list (comments,
# explicit and derived destination keys, bad lines reported), HEADs each URL,
# publishes objects whose key is the URL and dst_key the destination key; the
# worker GETs the URLs anonymously from s3rver; a failed URL is exported by
# the reporter like an object and --retry-failed replays it with its
# destination key. Also: filters, --dry-run, --estimate, refused modes.
set -euo pipefail
FERRY_SRC="${FERRY_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
source "$FERRY_SRC/tests/lib/itest.sh"
PY=$(command -v /usr/bin/python3 || command -v python3)
U="$PY $FERRY_SRC/tests/integration/ops_util.py"
L="$FERRY_BIN/ferry-lister"
R="$FERRY_RUN"

devbroker_start --partitions 4
s3_start a web ferry-dst
S3="$FERRY_S3_A"
$U put "$S3" web "pics/a b.jpg" 1000
$U put "$S3" web pics/c.jpg 2000
$U put "$S3" web "docs/ü.txt" 300
$U put "$S3" web big.bin 3000000
$U put "$S3" web huge.bin 11000000
cat >"$R/list.txt" <<L
# photos
$S3/web/pics/a%20b.jpg
  $S3/web/pics/c.jpg    renamed/see me.jpg   
$S3/web/docs/%C3%BC.txt
$S3/web/big.bin?versionId=none&x=1
$S3/web/missing.jpg
$S3/web/huge.bin   huge.bin

ftp://example.com/x
http://user:secretpw@example.com/x
$S3/web/frag.jpg#top
L
printf '%s\r\n' "$S3/web/pics/c.jpg crlf/c.jpg" >>"$R/list.txt"

write_conf "$R/c.conf" "$S3" "$S3"
sed -i 's|^kafka = {|kafka = { consumer_properties = ["session.timeout.ms=6000", "heartbeat.interval.ms=500"];|' "$R/c.conf"
sed -i "s|^tasks = .*|tasks = ( { name = \"t\"; source = \"urls:$R/list.txt\"; destination = \"dst:ferry-dst/u/\"; },\n  { name = \"f\"; source = \"urls:$R/list.txt\"; destination = \"dst:ferry-dst/f/\"; include = [ \"*/pics/*\", \"renamed/*\" ]; max_size = 1500; } );|" "$R/c.conf"
C="$R/c.conf"

# 1. Dry run: what would be copied, from the list and the HEADs.
rc=0; "$L" -c "$C" -t t --dry-run --out "$R/d.csv" 2>"$R/d.err" || rc=$?
assert_eq "$rc" 0 "dry-run rc"
for m in "list.txt:9: not an http:// or https:// URL" "list.txt:10: a user name or password" \
         "list.txt:11: a fragment" "list.txt:6: HEAD $S3/web/missing.jpg failed"; do
  grep -q "$m" "$R/d.err" || { cat "$R/d.err"; fail "message: $m"; }
done
grep -q secretpw "$R/d.err" && fail "a password from the list was printed"
grep -q "x=1" "$R/d.err" && fail "a query string was printed"
$PY - "$R/d.csv" "$S3" <<'PY'
import csv, sys
rows = {r["key"]: r for r in csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8"))}
s3 = sys.argv[2]
want = {
    s3 + "/web/pics/a%20b.jpg": ("u/web/pics/a b.jpg", "1000"),
    s3 + "/web/pics/c.jpg": ("u/renamed/see me.jpg", "2000"),
    s3 + "/web/docs/%C3%BC.txt": ("u/web/docs/ü.txt", "300"),
    s3 + "/web/big.bin?versionId=none&x=1": ("u/web/big.bin", "3000000"),
    s3 + "/web/missing.jpg": ("u/web/missing.jpg", "0"),
}
got = {k: (r["dst_key"], r["size"]) for k, r in rows.items()}
# The CRLF line names the same URL with another key: two rows, one URL.
want[s3 + "/web/huge.bin"] = ("u/huge.bin", "11000000")
if len(rows) != 6 or any(got.get(k) != v and k != s3 + "/web/pics/c.jpg" for k, v in want.items()):
    sys.exit(f"FAIL: dry-run rows {got}")
PY
assert_eq "$($U count "$R/d.csv")" 7 "dry-run rows (the CRLF line too)"
ok "URL list read: derived, explicit and spaced keys, CRLF, bad lines reported (no password, no query), 404 kept"

"$L" -c "$C" -t t --estimate >"$R/e.out" 2>/dev/null
grep -q "objects=7 bytes=14005300 " "$R/e.out" || { cat "$R/e.out"; fail "estimate"; }
"$L" -c "$C" -t f --dry-run --out "$R/f.csv" 2>/dev/null
assert_eq "$($U csv "$R/f.csv" dst_key | tr '\n' ' ')" '"f/web/pics/a b.jpg" ' "filters on the destination key and size"
for opt in "--verify" "--incremental --segments-to -" "--from-list $R/d.csv --segments-to -"; do
  rc=0; "$L" -c "$C" -t t $opt >/dev/null 2>"$R/x.err" || rc=$?
  assert_eq "$rc" 2 "$opt on a URL list"
done
ok "--estimate, filters and refused modes (--verify, --incremental, --from-list: exit 2)"

# 2. Published to Kafka; the worker copies anonymously from s3rver.
rc=0; "$L" -c "$C" -t t 2>"$R/l.err" || rc=$?
assert_eq "$rc" 1 "lister rc with bad lines"
grep -q "run 1 (list): listed 7 objects, 14005300 bytes" "$R/l.err" || { cat "$R/l.err"; fail "lister totals"; }
grep -q "3 entries not published" "$R/l.err" || fail "bad lines count"
kcat -C -b "$FERRY_BROKERS" -t ferry.segments.t -e -q >"$R/segs"
grep -q '"src":{"store":"urls","bucket":"'"$R"'/list.txt","prefix":""}' "$R/segs" || { head -c 600 "$R/segs"; fail "segment source"; }
grep -q '"dst_key":"u/renamed/see me.jpg"' "$R/segs" || fail "dst_key in the segment"
"$FERRY_BIN/ferry-worker" -c "$C" --id w1 >"$R/w1.log" 2>&1 & W1=$!; track_pid $W1
rc=0; "$FERRY_BIN/ferry-reporter" -c "$C" --task t --wait --timeout 180 >"$R/rep.out" 2>"$R/rep.err" || rc=$?
assert_eq "$rc" 3 "reporter: completed with failures"
dst() { curl -s "$S3/ferry-dst?list-type=2&prefix=u/" | grep -o '<Key>[^<]*' | sed 's/<Key>//' | sort | tr '\n' '|'; }
assert_eq "$(dst)" "u/crlf/c.jpg|u/huge.bin|u/renamed/see me.jpg|u/web/big.bin|u/web/docs/ü.txt|u/web/pics/a b.jpg|" "copied objects"
[ "$(curl -s "$S3/ferry-dst/u/web/big.bin" | md5sum)" = "$(curl -s "$S3/web/big.bin" | md5sum)" ] || fail "big.bin content"
[ "$(curl -s "$S3/ferry-dst/u/huge.bin" | md5sum)" = "$(curl -s "$S3/web/huge.bin" | md5sum)" ] || fail "huge.bin content"
"$FERRY_BIN/ferry-reporter" -c "$C" --export-failed t --out "$R/failed.csv" 2>/dev/null
assert_eq "$($U csv "$R/failed.csv" key)" "\"$S3/web/missing.jpg\"" "exported failed URL"
ok "published and copied: 6 URLs to their keys (3 MB streamed, 11 MB in parts by ranged GETs), the missing URL exported as failed"

# 3. The URL appears; --retry-failed replays it with its destination key.
$U put "$S3" web missing.jpg 77
"$L" -c "$C" -t t --retry-failed 2>"$R/r.err" || { cat "$R/r.err"; fail "retry"; }
grep -q "run 2 (retry): listed 1 objects, 77 bytes" "$R/r.err" || { cat "$R/r.err"; fail "retry totals"; }
rc=0; "$FERRY_BIN/ferry-reporter" -c "$C" --task t --wait --timeout 180 >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 0 "reporter after the retry"
curl -sf -o /dev/null "$S3/ferry-dst/u/web/missing.jpg" || fail "retried URL not at its key"
kill -TERM $W1; wait $W1 || fail "worker exit status $?"
ok "--retry-failed: the URL copied to u/web/missing.jpg; the task turns completed"
