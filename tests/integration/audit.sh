#!/usr/bin/env bash
# The audit trail end to end (docs/messages.md "audit", docs/reporter.md):
# a task with `audit = true` on the dev broker and loopback s3rver, its
# destination already holding some keys — identical ones (skipped: no record)
# and different ones (overwritten by skip-if-same, a multipart one among
# them). ferry-reporter --export-audit (CSV and JSON lines) must list every
# object copied exactly once, with its size, the CRC-64 of the source's bytes,
# the ETag the destination holds now and overwrote = yes for the replaced
# keys, no for the others; a formula-like key neutralised in the CSV. A task
# with audit off, and a run with the overwrite policy: no records for the
# first, overwrote = unknown for the second (no HEAD made). A huge object
# copied as part ranges (fan-out) has one record, from the worker that
# completed its upload.
source "$(dirname "$0")/../lib/itest.sh"

devbroker_start --partitions 4
s3_start src ferry-src
s3_start dst ferry-dst ferry-dst-1250000000
CONF="$FERRY_RUN/ferry.conf"
write_conf "$CONF" "$FERRY_S3_SRC" "$FERRY_S3_DST"
mock_short_sessions "$CONF"
# Part ranges need ListParts, which s3rver lacks: the fanned-out task writes
# through the COS-dialect proxy in front of the same server.
proxy_start cosd --upstream "$FERRY_S3_DST" --dialect cos --ak AKIDaudittest --sk cos-audit-secret
export FERRY_COSD_ACCESS_KEY=AKIDaudittest FERRY_COSD_SECRET_KEY=cos-audit-secret
sed -i "s|^stores = (|stores = (\\
  { name = \"cosd\"; type = \"cos\"; endpoint = \"http://cos.ap-guangzhou.myqcloud.com\"; region = \"ap-guangzhou\"; connect_to = \"${FERRY_PROXY_COSD#*://}\"; },|" "$CONF"
grep -q 'name = "cosd"' "$CONF" || fail "the test config has no cosd store"
sed -i 's|^tasks = .*|tasks = (\
  { name = "a"; source = "src:ferry-src"; destination = "dst:ferry-dst"; audit = true; exclude = [ "huge/*" ]; },\
  { name = "n"; source = "src:ferry-src"; destination = "dst:ferry-dst/noaudit/"; exclude = [ "huge/*" ]; },\
  { name = "o"; source = "src:ferry-src"; destination = "dst:ferry-dst/over/"; same_name = "overwrite"; audit = true; exclude = [ "huge/*" ]; },\
  { name = "f"; source = "src:ferry-src/huge/"; destination = "cosd:ferry-dst-1250000000/f/"; audit = true; }\
);|' "$CONF"
sed -i 's|^lister = { segment_max_objects = 100; };|lister = { segment_max_objects = 100; fanout_threshold = "16M"; segment_max_bytes = "1M"; };|' "$CONF"
grep -q 'fanout_threshold = "16M"' "$CONF" || fail "the test config has no fanout_threshold"
L="$FERRY_BIN/ferry-lister"
R="$FERRY_BIN/ferry-reporter"

# Source: 40 small objects, one 12 MiB (multipart above 8M), a formula-like key.
node "$TOOLS/fill.js" "$FERRY_S3_SRC" ferry-src small:40:1:16 large:1:12 \
  "key:=cmd|' /C calc'!A0,x.txt:77" key:huge/h.bin:26214400 >/dev/null
# Destination: the first 5 small objects identical (same seeds: skipped), and
# three keys holding other bytes (one of them the multipart object).
node "$TOOLS/fill.js" "$FERRY_S3_DST" ferry-dst small:5:1:16 >/dev/null
node "$TOOLS/fill.js" "$FERRY_S3_DST" ferry-dst key:small/06/obj-000006.bin:10 \
  key:small/07/obj-000007.bin:20 key:large/big-0.bin:100 >/dev/null
total=42

"$FERRY_BIN/ferry-worker" -c "$CONF" --id w1 >"$FERRY_RUN/w1.log" 2>&1 & track_pid $!
run() {  # run TASK: list it and wait until the reporter says it completed
  "$L" -c "$CONF" -t "$1" >"$FERRY_RUN/lister-$1.log" 2>&1 || fail "lister $1 exited $?"
  local rc=0
  timeout 200 "$R" -c "$CONF" --task "$1" --wait --timeout 180 >"$FERRY_RUN/wait-$1.log" \
    2>>"$FERRY_RUN/reporter.err" || rc=$?
  [ "$rc" -eq 0 ] || fail "task $1: reporter --wait exited $rc: $(tail -3 "$FERRY_RUN/wait-$1.log")"
}
run a
run n
run o
run f

timeout 120 "$R" -c "$CONF" --export-audit a --out "$FERRY_RUN/a.csv" 2>>"$FERRY_RUN/reporter.err" ||
  fail "export-audit a (csv) exited $?"
timeout 120 "$R" -c "$CONF" --export-audit a --out "$FERRY_RUN/a.jsonl" --format jsonl \
  2>>"$FERRY_RUN/reporter.err" || fail "export-audit a (jsonl) exited $?"
timeout 120 "$R" -c "$CONF" --export-audit o --out "$FERRY_RUN/o.jsonl" --format jsonl \
  2>>"$FERRY_RUN/reporter.err" || fail "export-audit o exited $?"
timeout 120 "$R" -c "$CONF" --export-audit f --out "$FERRY_RUN/f.jsonl" --format jsonl \
  2>>"$FERRY_RUN/reporter.err" || fail "export-audit f exited $?"
timeout 120 "$R" -c "$CONF" --export-audit n --out "$FERRY_RUN/n.csv" 2>>"$FERRY_RUN/reporter.err" ||
  fail "export-audit n exited $?"

# Every object copied for a, once, with its facts; checked against the stores.
node - "$FERRY_S3_SRC" "$FERRY_S3_DST" "$FERRY_RUN" "$FERRY_SRC" <<'JS' || fail "the audit export of a is wrong"
const [src, dst, run, root] = process.argv.slice(2);
const u = require(root + '/tests/tools/s3util');
const { crc64 } = require(root + '/tests/servers/crc64');
const fs = require('fs');
(async () => {
  const rows = fs.readFileSync(run + '/a.jsonl', 'utf8').trim().split('\n').map(JSON.parse);
  const srcObjs = (await u.list(src, 'ferry-src')).filter((o) => !o.key.startsWith('huge/'));
  const dstObjs = new Map((await u.list(dst, 'ferry-dst')).map((o) => [o.key, o]));
  const skipped = new Set([0, 1, 2, 3, 4].map((i) =>
    `small/${String(i).padStart(2, '0')}/obj-${String(i).padStart(6, '0')}.bin`));
  const replaced = new Set(['small/06/obj-000006.bin', 'small/07/obj-000007.bin', 'large/big-0.bin']);
  const bad = [];
  const seen = new Map();
  for (const r of rows) seen.set(r.key, (seen.get(r.key) || 0) + 1);
  for (const o of srcObjs) {
    const n = seen.get(o.key) || 0;
    if (skipped.has(o.key)) { if (n) bad.push(`${o.key}: skipped but has ${n} record(s)`); continue; }
    if (n !== 1) { bad.push(`${o.key}: ${n} records, want 1`); continue; }
    const r = rows.find((x) => x.key === o.key);
    const body = (await u.get(src, 'ferry-src', o.key)).body;
    const d = dstObjs.get(o.key);
    if (r.size !== o.size) bad.push(`${o.key}: size ${r.size}, source ${o.size}`);
    if (r.dst_key !== o.key) bad.push(`${o.key}: dst_key ${r.dst_key}`);
    if (r.crc64 !== String(crc64(body))) bad.push(`${o.key}: crc64 ${r.crc64}, source ${crc64(body)}`);
    if (!d || !r.dst_etag || r.dst_etag.toLowerCase() !== d.etag.toLowerCase())
      bad.push(`${o.key}: dst_etag ${r.dst_etag}, destination ${d && d.etag}`);
    if (r.src_etag.toLowerCase() !== o.etag.toLowerCase()) bad.push(`${o.key}: src_etag ${r.src_etag}`);
    const want = replaced.has(o.key) ? 'yes' : 'no';
    if (r.overwrote !== want) bad.push(`${o.key}: overwrote ${r.overwrote}, want ${want}`);
    if (r.dst_store !== 'dst' || r.dst_bucket !== 'ferry-dst' || r.worker !== 'w1' || r.run !== 1)
      bad.push(`${o.key}: ${JSON.stringify(r)}`);
  }
  if (rows.length !== srcObjs.length - skipped.size)
    bad.push(`${rows.length} rows, want ${srcObjs.length - skipped.size}`);
  if (bad.length) { console.error(bad.slice(0, 10).join('\n')); process.exit(1); }
  console.log(`${rows.length} records checked`);
})().catch((e) => { console.error(e); process.exit(1); });
JS
ok "audit of a: $((total - 5)) objects copied, each once, size/CRC-64/ETags right; overwrote yes for the 3 replaced, no otherwise; 5 identical skipped without a record"

# The CSV has the same rows (header + one per record) and neutralises the
# formula-like key as the failed export does.
assert_eq "$(head -1 "$FERRY_RUN/a.csv")" \
  "key,dst_store,dst_bucket,dst_key,size,crc64,src_etag,dst_etag,overwrote,written_at,written_at_ms,worker,run,segment" \
  "CSV header"
assert_eq "$(($(wc -l <"$FERRY_RUN/a.csv") - 1))" "$(wc -l <"$FERRY_RUN/a.jsonl")" "CSV rows"
grep -qF "\"'=cmd|' /C calc'!A0,x.txt\",dst,ferry-dst,\"'=cmd|' /C calc'!A0,x.txt\",77," "$FERRY_RUN/a.csv" ||
  fail "the formula-like key is not neutralised in the CSV: $(grep -F calc "$FERRY_RUN/a.csv")"
ok "CSV export: same rows, formula-like key neutralised"

# Audit off: no record at all, an empty export (the header only).
assert_eq "$(cat "$FERRY_RUN/n.csv")" \
  "key,dst_store,dst_bucket,dst_key,size,crc64,src_etag,dst_etag,overwrote,written_at,written_at_ms,worker,run,segment" \
  "export of a task with audit off"
timeout 30 kcat -b "$FERRY_BROKERS" -C -t ferry.audit -o beginning -e -q -f '%k\n' >"$FERRY_RUN/audit.keys"
n_keyed=$(grep -c '^n/' "$FERRY_RUN/audit.keys" || true)
[ "$(grep -c '^a/1-' "$FERRY_RUN/audit.keys")" -ge 1 ] || fail "audit keys are not TASK/SEGMENT: $(head -3 "$FERRY_RUN/audit.keys")"
[ "$(cut -d/ -f1 "$FERRY_RUN/audit.keys" | sort -u | tr '\n' ' ')" = "a f o " ] ||
  fail "audit messages of other tasks than a, f, o: $(cut -d/ -f1 "$FERRY_RUN/audit.keys" | sort -u | tr '\n' ' ')"
assert_eq "$n_keyed" "0" "audit messages of the task with audit off"
ok "audit off: no audit messages, the export is the header only"

# The overwrite policy makes no HEAD: every record says unknown, never a guess.
assert_eq "$(wc -l <"$FERRY_RUN/o.jsonl")" "$total" "records of the overwrite task"
assert_eq "$(grep -c '"overwrote":"unknown"' "$FERRY_RUN/o.jsonl")" "$total" "overwrote unknown without a HEAD"
ok "overwrite policy: $total records, overwrote unknown"

# Part ranges: one record for the object (several ranges, one completes it),
# overwrote unknown (no HEAD), its size, the ETag the destination holds.
node - "$FERRY_S3_SRC" "$FERRY_S3_DST" "$FERRY_RUN" "$FERRY_SRC" <<'JS' || fail "the audit of the fanned-out object is wrong"
const [src, dst, run, root] = process.argv.slice(2);
const u = require(root + '/tests/tools/s3util');
const { crc64 } = require(root + '/tests/servers/crc64');
const fs = require('fs');
(async () => {
  const rows = fs.readFileSync(run + '/f.jsonl', 'utf8').trim().split('\n').map(JSON.parse);
  const d = (await u.list(dst, 'ferry-dst-1250000000', 'f/')).find((o) => o.key === 'f/h.bin');
  const body = (await u.get(src, 'ferry-src', 'huge/h.bin')).body;
  const bad = [];
  if (rows.length !== 1) bad.push(`${rows.length} records, want 1`);
  const r = rows[0];
  if (r.key !== 'huge/h.bin' || r.dst_key !== 'f/h.bin') bad.push(`keys ${r.key} ${r.dst_key}`);
  if (r.size !== 26214400) bad.push(`size ${r.size}`);
  if (r.overwrote !== 'unknown') bad.push(`overwrote ${r.overwrote}`);
  if (!d || !r.dst_etag || r.dst_etag.toLowerCase() !== d.etag.toLowerCase())
    bad.push(`dst_etag ${r.dst_etag}, destination ${d && d.etag}`);
  // The COS dialect gives the object's CRC-64 on HEAD: the record carries it.
  if (r.crc64 !== String(crc64(body))) bad.push(`crc64 ${r.crc64}, source ${crc64(body)}`);
  if (bad.length) { console.error(bad.join('\n')); process.exit(1); }
})().catch((e) => { console.error(e); process.exit(1); });
JS
segs_f=$(timeout 30 kcat -b "$FERRY_BROKERS" -C -t ferry.results -o beginning -e -q | grep -c '"task":"f".*"range"' || true)
[ "$segs_f" -ge 2 ] || fail "the huge object went in $segs_f part range(s), want several"
ok "fan-out: $segs_f part ranges, one record (from the range that completed it), overwrote unknown, size, ETag and CRC-64 right"

# Bad arguments: exit 2 with usage.
for args in "--export-audit a" "--export-audit a --export-failed a --out x" "--export-audit '' --out x"; do
  rc=0
  eval "\"$R\" -c \"$CONF\" $args" >/dev/null 2>"$FERRY_RUN/args.err" || rc=$?
  assert_eq "$rc" "2" "exit of: $args"
done
ok "bad --export-audit arguments exit 2"
echo "PASS audit"
