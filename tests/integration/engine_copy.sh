#!/usr/bin/env bash
# The copy engine end to end without Kafka: ferry-worker --segments-from
# against two s3rver instances. Covers streaming, buffered and multipart
# copies, odd keys, the three same-name policies, objects changed and deleted
# after listing, and fail-fast on a bad credential. The destination is checked
# independently (flat listings compared by key, size and MD5).
source "$(dirname "$0")/../lib/itest.sh"

s3_start src ferry-src
s3_start dst ferry-dst
SRC=$FERRY_S3_SRC DST=$FERRY_S3_DST
W="$FERRY_BIN/ferry-worker"
CONF="$FERRY_RUN/ferry.conf"
write_conf "$CONF" "$SRC" "$DST"

node "$TOOLS/fill.js" "$SRC" ferry-src small:300:1:64 large:2:20 odd key:empty.bin:0 key:medium/two-mb.bin:2097152
total=$(node -e "require('$TOOLS/s3util').list('$SRC','ferry-src').then(l=>console.log(l.length))")

# 1. overwrite: everything copied.
node "$TOOLS/segments.js" "$SRC" ferry-src src dst ferry-dst --per 50 --policy overwrite >"$FERRY_RUN/segs"
"$W" -c "$CONF" --segments-from "$FERRY_RUN/segs" >"$FERRY_RUN/out1" || fail "first copy exited $?"
assert_eq "$(count_status "$FERRY_RUN/out1" copied)" "$total" "copied count"
node "$TOOLS/compare.js" "$SRC" ferry-src "$DST" ferry-dst || fail "destination differs from source"
ok "copy of $total objects (streamed, buffered, multipart, odd keys) verified"

# 2. skip-if-same: everything skipped as the same.
node "$TOOLS/segments.js" "$SRC" ferry-src src dst ferry-dst --per 50 --policy skip-if-same >"$FERRY_RUN/segs2"
"$W" -c "$CONF" --segments-from "$FERRY_RUN/segs2" >"$FERRY_RUN/out2" || fail "skip-if-same exited $?"
# Multipart copies normally get a "-N" ETag at the destination and S3 gives
# no CRC64, so they cannot be proven the same and are copied again; s3rver
# gives multipart objects the whole MD5, so there they may be skipped too.
skipped=$(count_status "$FERRY_RUN/out2" skipped)
recopied=$(count_status "$FERRY_RUN/out2" copied)
assert_eq "$((skipped + recopied))" "$total" "skip-if-same accounted"
[ "$recopied" -le 2 ] || fail "skip-if-same re-copied $recopied objects"
grep -q '"reason":"same-etag"' "$FERRY_RUN/out2" || fail "skip reason missing"
ok "skip-if-same: $skipped skipped (same-etag), $recopied unverifiable re-copied"

# 3. skip: everything skipped because it exists.
node "$TOOLS/segments.js" "$SRC" ferry-src src dst ferry-dst --per 50 --policy skip >"$FERRY_RUN/segs3"
"$W" -c "$CONF" --segments-from "$FERRY_RUN/segs3" >"$FERRY_RUN/out3" || fail "skip exited $?"
assert_eq "$(grep -c '"reason":"exists"' "$FERRY_RUN/out3")" "$total" "skip: exists"
ok "skip: all $total skipped as existing"

# 4. changed and deleted after listing.
node "$TOOLS/segments.js" "$SRC" ferry-src src dst ferry-dst --per 50 --policy overwrite --prefix small/00/ >"$FERRY_RUN/segs4"
node -e "
const u=require('$TOOLS/s3util');
(async()=>{await u.put('$SRC','ferry-src','small/00/obj-000000.bin',Buffer.from('changed content'));
await u.del('$SRC','ferry-src','small/00/obj-000050.bin');})()"
rc=0; "$W" -c "$CONF" --segments-from "$FERRY_RUN/segs4" >"$FERRY_RUN/out4" || rc=$?
assert_eq "$rc" "3" "exit status with failures"
grep '"key":"small/00/obj-000000.bin"' "$FERRY_RUN/out4" | grep -q '"status":"changed"' || fail "changed object not reported"
grep '"key":"small/00/obj-000050.bin"' "$FERRY_RUN/out4" | grep -q '"status":"vanished"' || fail "deleted object not reported"
ok "changed and vanished objects reported"

# 5. fail fast: a wrong destination key fails every object at once, no
# retries. (s3rver does not check secrets; a wrong secret is tested against
# the signature-checking proxy in engine_dialects.sh.)
rc=0
FERRY_DST_ACCESS_KEY=NOSUCHKEYXYZZY "$W" -c "$CONF" --segments-from "$FERRY_RUN/segs" \
  >"$FERRY_RUN/out5" 2>"$FERRY_RUN/err5" || rc=$?
assert_eq "$rc" "3" "exit status on bad key"
# (the object changed and the one deleted in step 4 are reported as such)
assert_eq "$(count_status "$FERRY_RUN/out5" failed)" "$((total - 2))" "all failed"
grep -q '"code":"InvalidAccessKeyId"' "$FERRY_RUN/out5" || fail "service code missing"
grep -q 'retries=0' "$FERRY_RUN/err5" || fail "retried a non-retryable error"
if grep -q 'event=retry' "$FERRY_RUN/err5"; then fail "retried a non-retryable error"; fi
ok "bad key: all $total failed fast with InvalidAccessKeyId, no retry"

# 6. Metadata preserved (standard headers and user metadata), and the
# source ETag recorded when asked.
node -e "
const u=require('$TOOLS/s3util');
u.put('$SRC','ferry-src','meta/doc.html',Buffer.from('<p>hi</p>'),{'Content-Type':'text/html; charset=utf-8',
 'Cache-Control':'max-age=600','Content-Disposition':'attachment; filename=\"doc.html\"',
 'Content-Encoding':'identity','Content-Language':'zh-CN','x-amz-meta-owner':'ops team','x-amz-meta-tag':'a=b'})"
write_conf "$FERRY_RUN/meta.conf" "$SRC" "$DST" "record_source_etag = true;"
node "$TOOLS/segments.js" "$SRC" ferry-src src dst ferry-dst --prefix meta/ >"$FERRY_RUN/segs6"
"$W" -c "$FERRY_RUN/meta.conf" --segments-from "$FERRY_RUN/segs6" >"$FERRY_RUN/out6" || fail "metadata copy exited $?"
# (the source prefix "meta/" maps to the destination root)
curl -sI "$DST/ferry-dst/doc.html" | tr -d '\r' >"$FERRY_RUN/head6"
for h in 'content-type: text/html; charset=utf-8' 'cache-control: max-age=600' \
         'content-disposition: attachment; filename="doc.html"' 'content-language: zh-CN' \
         'x-amz-meta-owner: ops team' 'x-amz-meta-tag: a=b' 'x-amz-meta-ferry-src-etag: '; do
  grep -qiF "$h" "$FERRY_RUN/head6" || { cat "$FERRY_RUN/head6"; fail "metadata lost: $h"; }
done
ok "metadata preserved; source ETag recorded"

# 7. Limits: a bandwidth limit of 2 MiB/s on ~12 MiB, and 40 requests/s on
# ~120 requests, each held within bounds (token buckets, no sleeps).
write_conf "$FERRY_RUN/bw.conf" "$SRC" "$DST" 'bandwidth_limit = "2M";'
node "$TOOLS/fill.js" "$SRC" ferry-src key:limits/a.bin:4194304 key:limits/b.bin:4194304 key:limits/c.bin:4194304 >/dev/null
node "$TOOLS/segments.js" "$SRC" ferry-src src dst ferry-dst --prefix limits/ >"$FERRY_RUN/segs7"
t0=$(date +%s.%N)
"$W" -c "$FERRY_RUN/bw.conf" --segments-from "$FERRY_RUN/segs7" >"$FERRY_RUN/out7" || fail "bandwidth run exited $?"
t=$(echo "$(date +%s.%N) - $t0" | bc)
# 12 MiB at 2 MiB/s with a 0.2 s burst: at least 5.5 s; well under 12 s.
echo "$t" | awk '{ exit !($1 >= 5.5 && $1 <= 12) }' || fail "bandwidth limit not held: ${t}s for 12 MiB at 2 MiB/s"
ok "bandwidth limit: 12 MiB in ${t}s at 2 MiB/s"
write_conf "$FERRY_RUN/qps.conf" "$SRC" "$DST" 'qps_limit = 40;'
head -n 2 "$FERRY_RUN/segs" >"$FERRY_RUN/segs8"   # 100 small objects, 200 requests
n8=$(grep -o '"key"' "$FERRY_RUN/segs8" | wc -l)
t0=$(date +%s.%N)
# These segments hold the object changed and the one deleted in step 4: the
# run ends "completed with failures" (3), those two reported, the rest copied.
rc=0; "$W" -c "$FERRY_RUN/qps.conf" --segments-from "$FERRY_RUN/segs8" >"$FERRY_RUN/out8" 2>"$FERRY_RUN/err8" || rc=$?
t=$(echo "$(date +%s.%N) - $t0" | bc)
[ "$rc" = 3 ] || { tail "$FERRY_RUN/err8"; fail "qps run exited $rc, want 3"; }
assert_eq "$(count_status "$FERRY_RUN/out8" copied)" "$((n8 - 2))" "qps run copied"
assert_eq "$(count_status "$FERRY_RUN/out8" changed) $(count_status "$FERRY_RUN/out8" vanished)" "1 1" \
  "qps run: the changed and the deleted object"
reqs=$(sed -n 's/.*event=summary .*requests=\([0-9]*\).*/\1/p' "$FERRY_RUN/err8")
[ -n "$reqs" ] && [ "$reqs" -ge "$n8" ] || fail "qps run: no request count (or fewer requests than objects) in its log: '$reqs'"
min=$(echo "($reqs - 4) / 40" | bc -l)
echo "$t $min" | awk '{ exit !($1 >= $2 * 0.9 && $1 <= $2 * 1.5 + 2) }' || fail "qps limit not held: $reqs requests in ${t}s at 40/s"
ok "qps limit: $reqs requests in ${t}s at 40/s"

echo "engine_copy: all passed"
