#!/usr/bin/env bash
# ferry's copy engine (ferry-worker --segments-from) against a real S3 server
# (versitygw, scripts/s3real.sh) for what s3rver cannot prove:
#  1. secrets are checked: a wrong secret fails every object, fast, with the
#     service's code, nothing copied;
#  2. a copy with multipart uploads whose parts are 5 MiB except the last (the
#     server refuses smaller non-last parts), real multipart ETags ("-N") at
#     the destination, and a 1023-byte key (path segments under 255 bytes:
#     the posix backend stores keys as paths);
#  3. If-Match on GET: an object changed after listing is reported `changed`
#     (the server answers the listed ETag with 412);
#  4. Content-MD5: the source read through the test proxy (s3 dialect) with one
#     GET body corrupted; the server refuses the PUT (BadDigest); the object
#     is retried and copied, or failed with that code, never stored corrupted:
#     the destination holds the true bytes;
#  5. ListMultipartUploads + AbortMultipartUpload: `ferry-lister --cleanup
#     --older-than 0` aborts the open uploads under the destination (one with
#     a stored part), which the server then no longer lists (ListParts: 404);
#  6. parts under 5 MiB: the server refuses a Complete whose non-last part is
#     1 MiB (EntityTooSmall, by a raw upload); ferry configured with
#     part_size = 1M raises it to 5 MiB (3-part ETags) and copies.
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/scripts/s3real.sh"
s3real_start main ferry-src ferry-dst
S3=$FERRY_S3R_MAIN
export S3UTIL_ACCESS_KEY="$S3REAL_ACCESS_KEY" S3UTIL_SECRET_KEY="$S3REAL_SECRET_KEY"
export FERRY_SRC_ACCESS_KEY="$S3REAL_ACCESS_KEY" FERRY_SRC_SECRET_KEY="$S3REAL_SECRET_KEY"
export FERRY_DST_ACCESS_KEY="$S3REAL_ACCESS_KEY" FERRY_DST_SECRET_KEY="$S3REAL_SECRET_KEY"
W="$FERRY_BIN/ferry-worker"
CONF="$FERRY_RUN/ferry.conf"
write_conf "$CONF" "$S3" "$S3"
seg() { printf 'k%03d%s' "$1" "$(head -c 250 /dev/zero | tr '\0' "$2")"; }
# S3's limit is 1024 bytes; ferry refuses keys over 1023 (lib/store/request.c
# KEY_MAX, OSS's limit): FERRY_KEY_LEN=1024 is key1024.sh, a known defect.
KEYLEN="${FERRY_KEY_LEN:-1023}"
LONG="long/$(seg 1 a)/$(seg 2 b)/$(seg 3 c)/$(seg 4 d)"
LONG="${LONG:0:$KEYLEN}"
assert_eq "${#LONG}" "$KEYLEN" "long key length"
node "$TOOLS/fill.js" "$S3" ferry-src small:60:1:64 large:2:12 "key:$LONG:1000" >/dev/null ||
  fail "fill against the real server failed"
total=$(node -e "require('$TOOLS/s3util').list('$S3','ferry-src').then(l=>console.log(l.length))")
assert_eq "$total" "63" "objects in the source"
node "$TOOLS/segments.js" "$S3" ferry-src src dst ferry-dst --per 20 --policy overwrite >"$FERRY_RUN/segs"

# 1. A wrong secret.
rc=0
FERRY_DST_SECRET_KEY="wrong$S3REAL_SECRET_KEY" "$W" -c "$CONF" --segments-from "$FERRY_RUN/segs" \
  >"$FERRY_RUN/out1" 2>"$FERRY_RUN/err1" || rc=$?
assert_eq "$rc" "3" "exit status with a wrong secret"
assert_eq "$(count_status "$FERRY_RUN/out1" failed)" "$total" "all failed with a wrong secret"
grep -q '"code":"SignatureDoesNotMatch"' "$FERRY_RUN/out1" || fail "service code missing: $(head -c 300 "$FERRY_RUN/out1")"
grep -q "wrong$S3REAL_SECRET_KEY\|$S3REAL_SECRET_KEY" "$FERRY_RUN/out1" "$FERRY_RUN/err1" && fail "a secret in ferry's output"
ok "wrong secret: all $total failed with SignatureDoesNotMatch; no secret in the output"

# 2. The copy.
"$W" -c "$CONF" --segments-from "$FERRY_RUN/segs" >"$FERRY_RUN/out2" 2>"$FERRY_RUN/err2" ||
  fail "copy exited $?: $(grep -v '"status":"copied"' "$FERRY_RUN/out2" | cut -c1-300)"
assert_eq "$(count_status "$FERRY_RUN/out2" copied)" "$total" "copied count"
node "$TOOLS/compare.js" "$S3" ferry-src "$S3" ferry-dst || fail "destination differs from source"
etag=$(node -e "
const u=require('$TOOLS/s3util');
u.request('$S3','HEAD','/ferry-dst/'+u.encKey('large/big-0.bin')).then(r=>console.log(r.status, r.headers.etag))")
echo "$etag" | grep -Eq '^200 "[0-9a-f]{32}-3"$' || fail "a 12 MiB object in 5 MiB parts should have a 3-part ETag: $etag"
node -e "
const u=require('$TOOLS/s3util');
u.request('$S3','HEAD','/ferry-dst/'+u.encKey(process.argv[1])).then(r=>process.exit(r.status===200?0:1))" "$LONG" ||
  fail "the $KEYLEN-byte key is not at the destination"
ok "copy of $total objects verified; multipart ETag $etag; the $KEYLEN-byte key copied"

# 3. Changed after listing: If-Match on the GET.
node "$TOOLS/segments.js" "$S3" ferry-src src dst ferry-dst --per 20 --policy overwrite --prefix small/00/ --dst-prefix small/00/ >"$FERRY_RUN/segs3"
node -e "require('$TOOLS/s3util').put('$S3','ferry-src','small/00/obj-000000.bin',Buffer.from('changed content'))"
rc=0; "$W" -c "$CONF" --segments-from "$FERRY_RUN/segs3" >"$FERRY_RUN/out3" 2>"$FERRY_RUN/err3" || rc=$?
assert_eq "$rc" "3" "exit status with a changed object"
grep '"key":"small/00/obj-000000.bin"' "$FERRY_RUN/out3" | grep -q '"status":"changed"' ||
  fail "changed object not reported as changed: $(grep 'obj-000000.bin' "$FERRY_RUN/out3")"
grep '"key":"small/00/obj-000000.bin"' "$FERRY_RUN/out3" | grep -q '"http_status":412' ||
  fail "the change was not found by the server's If-Match (412): $(grep 'obj-000000.bin' "$FERRY_RUN/out3")"
ok "changed after listing: the server answered If-Match with 412; reported changed"
# 4. Corrupted bytes on the way: Content-MD5 -> BadDigest -> retried.
proxy_start src --upstream "$S3" --dialect s3
write_conf "$CONF" "$FERRY_PROXY_SRC" "$S3"
node "$TOOLS/segments.js" "$S3" ferry-src src dst ferry-dst --per 20 --policy overwrite --prefix small/01/ --dst-prefix small/01/ >"$FERRY_RUN/segs4"
curl -fsS -XPOST "$FERRY_PROXY_SRC_ADMIN/faults" -d '{"match":{"op":"get","key_prefix":"small/01/"},"action":"corrupt","offset":10,"count":1}' >/dev/null
rc=0; "$W" -c "$CONF" --segments-from "$FERRY_RUN/segs4" >"$FERRY_RUN/out4" 2>"$FERRY_RUN/err4" || rc=$?
case "$rc" in 0|3) ;; *) fail "copy through the corrupting proxy exited $rc" ;; esac
fired=$(curl -fsS "$FERRY_PROXY_SRC_ADMIN/faults" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).rules[0].fired))")
assert_eq "$fired" "1" "corrupt rule fired"
grep -q 'BadDigest' "$FERRY_RUN/out4" "$FERRY_RUN/err4" || fail "the server's BadDigest is not in the worker's output or log"
nf=$(count_status "$FERRY_RUN/out4" failed)
[ "$nf" = 0 ] || grep '"status":"failed"' "$FERRY_RUN/out4" | grep -q '"code":"BadDigest"' || fail "failed without BadDigest: $(grep failed "$FERRY_RUN/out4")"
node "$TOOLS/compare.js" "$S3" ferry-src "$S3" ferry-dst --prefix small/01/ --dst-prefix small/01/ ||
  fail "destination differs after the corrupted GET"
ok "a corrupted GET body: the server refused the PUT with BadDigest; $nf failed (with that code), the rest copied; the destination holds the true bytes"
# 5. --cleanup against the server's ListMultipartUploads.
write_conf "$CONF" "$S3" "$S3"
node -e "
const u=require('$TOOLS/s3util');
(async()=>{const ids=[];
for (const k of ['orphan/a.bin','orphan/b.bin','orphan/c.bin']) {
  const r=await u.request('$S3','POST','/ferry-dst/'+u.encKey(k)+'?uploads',null);
  const id=/<UploadId>([^<]+)</.exec(r.body.toString())[1]; ids.push(k+' '+id);
}
const [k,id]=ids[0].split(' ');
const p=await u.request('$S3','PUT','/ferry-dst/'+u.encKey(k)+'?partNumber=1&uploadId='+encodeURIComponent(id),u.bytes(7,5<<20));
if (p.status!==200) throw new Error('UploadPart '+p.status);
require('fs').writeFileSync('$FERRY_RUN/uploads.txt',ids.join('\n')+'\n');})().catch(e=>{console.error(e);process.exit(1)})" || fail "could not open uploads"
open_uploads() { node -e "require('$TOOLS/s3util').request('$S3','GET','/ferry-dst?uploads',null).then(r=>console.log((r.body.toString().match(/<Upload>/g)||[]).length))"; }
assert_eq "$(open_uploads)" "3" "open uploads before the cleanup"
"$FERRY_BIN/ferry-lister" -c "$CONF" -t t --cleanup --older-than 0 2>"$FERRY_RUN/cleanup.log" || fail "cleanup exited $?: $(tail -3 "$FERRY_RUN/cleanup.log")"
grep -q "3 open uploads aborted" "$FERRY_RUN/cleanup.log" || fail "cleanup: $(tail -2 "$FERRY_RUN/cleanup.log")"
assert_eq "$(open_uploads)" "0" "open uploads after the cleanup"
read -r k id < "$FERRY_RUN/uploads.txt"
st=$(node -e "const u=require('$TOOLS/s3util');u.request('$S3','GET','/ferry-dst/'+u.encKey('$k')+'?uploadId='+encodeURIComponent('$id'),null).then(r=>console.log(r.status))")
assert_eq "$st" "404" "ListParts of an aborted upload"
ok "--cleanup: 3 open uploads (one with a 5 MiB part) listed and aborted; ListParts then 404"

# 6. Parts under 5 MiB.
write_conf "$CONF" "$S3" "$S3"
sed -i 's|multipart_threshold = "8M";|multipart_threshold = "2M";|; s|part_size = "5M";|part_size = "1M";|' "$CONF"
node "$TOOLS/segments.js" "$S3" ferry-src src dst ferry-dst --per 20 --policy overwrite --prefix large/ --dst-prefix small1m/ >"$FERRY_RUN/segs6"
rc=0; "$W" -c "$CONF" --segments-from "$FERRY_RUN/segs6" >"$FERRY_RUN/out6" 2>"$FERRY_RUN/err6" || rc=$?
etag6=$(node -e "
const u=require('$TOOLS/s3util');
u.request('$S3','HEAD','/ferry-dst/small1m/big-0.bin').then(r=>console.log(r.status, r.headers.etag))")
assert_eq "$rc" "0" "exit status with part_size 1M"
assert_eq "$(count_status "$FERRY_RUN/out6" copied)" "2" "copied with part_size 1M"
echo "$etag6" | grep -Eq '^200 "[0-9a-f]{32}-3"$' || fail "12 MiB with part_size 1M: ETag $etag6, expected 3 parts of 5 MiB"
node "$TOOLS/compare.js" "$S3" ferry-src "$S3" ferry-dst --prefix large/ --dst-prefix small1m/ || fail "part_size 1M: destination differs"
code=$(node -e "
const u=require('$TOOLS/s3util');
(async()=>{const k='raw/small-parts.bin';
const r=await u.request('$S3','POST','/ferry-dst/'+k+'?uploads',null);
const id=encodeURIComponent(/<UploadId>([^<]+)</.exec(r.body.toString())[1]);
const e=[];
for (const n of [1,2]) { const p=await u.request('$S3','PUT','/ferry-dst/'+k+'?partNumber='+n+'&uploadId='+id,u.bytes(n,1<<20)); e.push(p.headers.etag); }
const x='<CompleteMultipartUpload>'+e.map((t,i)=>'<Part><PartNumber>'+(i+1)+'</PartNumber><ETag>'+t+'</ETag></Part>').join('')+'</CompleteMultipartUpload>';
const c=await u.request('$S3','POST','/ferry-dst/'+k+'?uploadId='+id,x);
console.log(c.status, (/<Code>([^<]+)</.exec(c.body.toString())||[])[1]);
await u.request('$S3','DELETE','/ferry-dst/'+k+'?uploadId='+id,null);})()")
assert_eq "$code" "400 EntityTooSmall" "the server's answer to a Complete with a 1 MiB non-last part"
ok "parts under 5 MiB: the server refuses them (400 EntityTooSmall); ferry with part_size 1M used 5 MiB parts ($etag6)"
echo "strict: all passed"
