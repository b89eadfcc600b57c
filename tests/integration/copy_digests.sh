#!/usr/bin/env bash
# Digests on the way into an S3 destination, through
# the whole task (ferry-lister --segments-to, then ferry-worker). The
# destination is the s3-dialect proxy, which checks Content-MD5 as S3 does
# (400 BadDigest, nothing stored).
#  1. A source whose ETags are not MD5s and whose GET headers say so (KMS):
#     ferry must not send them as Content-MD5 (before: BadDigest on every
#     object, never retried).
#  2. A source whose ETags are not MD5s and whose headers do not say so: the
#     first PUT meets BadDigest, the next attempt hashes the bytes.
#  3. Bytes damaged on the way into the destination, in a single PUT and in
#     multipart parts (no CRC-64 on either side): refused, retried, copied
#     intact; never "copied" with the damage (before: parts were stored
#     damaged and reported copied).
#  4. A COS destination (the cos proxy) whose answers lack
#     x-cos-hash-crc64ecma (a rule removes it from PUT and UploadPart
#     answers): nothing checks what was stored, so every object fails as
#     `integrity` naming the header, at once (no retry), and the multipart
#     upload is aborted (before: all reported copied, unchecked).
#  5. A ranged GET of a multipart copy answered with another Content-Range
#     (the source proxy rewrites it once): the object fails as `range`
#     naming it, its upload aborted; the others are copied (before: the
#     answer was taken for the range asked for).
source "$(dirname "$0")/../lib/itest.sh"

s3_start main ferry-src ferry-dst ferry-dst-1250000000
proxy_start osskms --upstream "$FERRY_S3_MAIN" --dialect oss --ak LTAIferrytest --sk oss-secret-0123 \
  --region cn-hangzhou --fake-etags kms
proxy_start osslie --upstream "$FERRY_S3_MAIN" --dialect oss --ak LTAIferrytest --sk oss-secret-0123 \
  --region cn-hangzhou --fake-etags plain
proxy_start s3d --upstream "$FERRY_S3_MAIN" --dialect s3
proxy_start cosd --upstream "$FERRY_S3_MAIN" --dialect cos --ak AKIDferrytest --sk cos-secret-4567
W="$FERRY_BIN/ferry-worker"
L="$FERRY_BIN/ferry-lister"
CONF="$FERRY_RUN/ferry.conf"
export FERRY_OSSKMS_ACCESS_KEY=LTAIferrytest FERRY_OSSKMS_SECRET_KEY=oss-secret-0123
export FERRY_OSSLIE_ACCESS_KEY=LTAIferrytest FERRY_OSSLIE_SECRET_KEY=oss-secret-0123
export FERRY_S3D_ACCESS_KEY=S3RVER FERRY_S3D_SECRET_KEY=S3RVER
export FERRY_COSD_ACCESS_KEY=AKIDferrytest FERRY_COSD_SECRET_KEY=cos-secret-4567
cat >"$CONF" <<CONF
kafka = { brokers = "127.0.0.1:1"; };
stores = (
  { name = "osskms"; type = "oss"; endpoint = "http://oss-cn-hangzhou.aliyuncs.com"; region = "cn-hangzhou";
    connect_to = "${FERRY_PROXY_OSSKMS#http://}"; },
  { name = "osslie"; type = "oss"; endpoint = "http://oss-cn-hangzhou.aliyuncs.com"; region = "cn-hangzhou";
    connect_to = "${FERRY_PROXY_OSSLIE#http://}"; },
  { name = "s3d"; type = "s3"; endpoint = "$FERRY_PROXY_S3D"; region = "us-east-1"; path_style = true; },
  { name = "cosd"; type = "cos"; endpoint = "http://cos.ap-guangzhou.myqcloud.com"; region = "ap-guangzhou";
    connect_to = "${FERRY_PROXY_COSD#http://}"; }
);
worker = { concurrency = 8; multipart_threshold = "12M"; part_size = "5M"; small_object_threshold = "256K";
           max_attempts = 4; backoff_base_ms = 20; backoff_max_ms = 200; };
tasks = (
  { name = "kms"; source = "osskms:ferry-src"; destination = "s3d:ferry-dst/kms/"; },
  { name = "lie"; source = "osslie:ferry-src"; destination = "s3d:ferry-dst/lie/"; },
  { name = "dmg"; source = "osskms:ferry-src"; destination = "s3d:ferry-dst/dmg/"; },
  { name = "nocrc"; source = "osskms:ferry-src"; destination = "cosd:ferry-dst-1250000000/nocrc/"; },
  { name = "rng"; source = "osskms:ferry-src"; destination = "s3d:ferry-dst/rng/"; }
);
CONF
chmod 600 "$CONF"
# Buffered (<= 256K) and streamed single PUTs, and one 13 MiB multipart object
# (3 parts), written straight to s3rver: the proxies know no CRC-64 for them.
node "$TOOLS/fill.js" "$FERRY_S3_MAIN" ferry-src small:20:1:200 key:mid/2mb.bin:2097152 \
  key:big/13mb.bin:13631488 >/dev/null
total=22
stat_of() { curl -s "$1/stats" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s)$2))"; }
run_task() {  # run_task TASK: lists through the source's own API, copies; outcomes in $FERRY_RUN/TASK.out
  "$L" -c "$CONF" -t "$1" --segments-to "$FERRY_RUN/$1.seg" 2>"$FERRY_RUN/$1-lister.err" ||
    fail "lister $1: $(tail -3 "$FERRY_RUN/$1-lister.err")"
  "$W" -c "$CONF" --segments-from "$FERRY_RUN/$1.seg" >"$FERRY_RUN/$1.out" 2>"$FERRY_RUN/$1.err" ||
    fail "worker $1 exited $?: $(grep -m3 '"status":"failed"' "$FERRY_RUN/$1.out")"
}
same() {  # same DST_PREFIX: the destination holds the source's bytes
  node "$TOOLS/compare.js" "$FERRY_S3_MAIN" ferry-src "$FERRY_S3_MAIN" ferry-dst --dst-prefix "$1" ||
    fail "destination $1 differs from the source"
}

# The source really shows ETags that are not the MD5 (and a KMS header).
h=$(curl -sI -H "Host: ferry-src.oss-cn-hangzhou.aliyuncs.com" "$FERRY_PROXY_OSSKMS/mid/2mb.bin" || true)
md5=$(curl -s "$FERRY_S3_MAIN/ferry-src/mid/2mb.bin" | md5sum | cut -c1-32)
case "$h" in *"$md5"*) fail "the kms proxy shows the real MD5" ;; esac

# 1. KMS: trusted never; every object hashed; no BadDigest at all.
curl -sf -XDELETE "$FERRY_PROXY_S3D_ADMIN/stats" >/dev/null
run_task kms
assert_eq "$(count_status "$FERRY_RUN/kms.out" copied)" "$total" "kms: copied"
assert_eq "$(stat_of "$FERRY_PROXY_S3D_ADMIN" .bad_digest)" "0" "kms: BadDigest answers"
same kms/
ok "KMS source (ETag not the MD5, header says so): $total copied, no ETag sent as Content-MD5"

# 2. A source whose ETag lies without a header saying so: BadDigest once per
# object sent whole with the ETag as Content-MD5, then hashed and copied.
curl -sf -XDELETE "$FERRY_PROXY_S3D_ADMIN/stats" >/dev/null
run_task lie
assert_eq "$(count_status "$FERRY_RUN/lie.out" copied)" "$total" "lie: copied"
nbd=$(stat_of "$FERRY_PROXY_S3D_ADMIN" .bad_digest)
assert_eq "$nbd" "21" "lie: BadDigest answers (one per single PUT)"
grep -q 'event=bad-digest' "$FERRY_RUN/lie.err" || fail "lie: no bad-digest event logged"
same lie/
ok "lying ETags: $nbd BadDigest answers (one per single PUT), each object hashed and copied"

# 3. Damage on the way in: the second byte-run of a buffered PUT, a streamed
# PUT and two multipart parts, once each. Refused (BadDigest, or the part's
# MD5 ETag differing from the bytes sent), retried, copied intact.
fault() { curl -sf -XPOST "$FERRY_PROXY_S3D_ADMIN/faults" -d "$1" >/dev/null; }
fault '{"match":{"op":"put","key_prefix":"dmg/small/01/"},"action":"corrupt","side":"request","offset":100,"count":1}'
fault '{"match":{"op":"put","key_prefix":"dmg/mid/"},"action":"corrupt","side":"request","offset":1500000,"count":1}'
fault '{"match":{"op":"upload-part","key_prefix":"dmg/big/"},"action":"corrupt","side":"request","offset":4000000,"count":2}'
run_task dmg
assert_eq "$(count_status "$FERRY_RUN/dmg.out" copied)" "$total" "dmg: copied"
fired=$(curl -s "$FERRY_PROXY_S3D_ADMIN/faults" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const j=JSON.parse(s);console.log((j.rules||j).reduce((a,r)=>a+r.fired,0))})")
assert_eq "$fired" "4" "dmg: damage injected"
n=$(grep -c 'event=retry op=copy key="big/13mb.bin".*code=DigestMismatch' "$FERRY_RUN/dmg.err" || true)
assert_eq "$n" "2" "dmg: damaged parts retried"
same dmg/
ok "bytes damaged on the way into S3 (single PUTs and 2 parts): refused, retried, all $total copied intact"

# 4. No CRC-64 in the COS destination's answers.
for op in put upload-part; do
  curl -sf -XPOST "$FERRY_PROXY_COSD_ADMIN/faults" \
    -d "{\"match\":{\"op\":\"$op\",\"key_prefix\":\"nocrc/\"},\"action\":\"header\",\"name\":\"x-cos-hash-crc64ecma\",\"remove\":true}" \
    >/dev/null || fail "nocrc: fault rule for $op"
done
"$L" -c "$CONF" -t nocrc --segments-to "$FERRY_RUN/nocrc.seg" 2>"$FERRY_RUN/nocrc-lister.err" || fail "lister nocrc"
rc=0
"$W" -c "$CONF" --segments-from "$FERRY_RUN/nocrc.seg" >"$FERRY_RUN/nocrc.out" 2>"$FERRY_RUN/nocrc.err" || rc=$?
[ "$rc" != 0 ] || fail "nocrc: the worker exited 0"
assert_eq "$(count_status "$FERRY_RUN/nocrc.out" copied)" "0" "nocrc: copied"
assert_eq "$(grep -c '"reason":"integrity".*without x-cos-hash-crc64ecma' "$FERRY_RUN/nocrc.out")" "$total" "nocrc: failed as integrity, naming the header"
grep -q '"key":"big/13mb.bin".*"attempts":1,' "$FERRY_RUN/nocrc.out" ||
  ! grep -q 'event=retry op=copy key="big/13mb.bin"' "$FERRY_RUN/nocrc.err" || fail "nocrc: the multipart copy was retried"
grep -q 'event=retry' "$FERRY_RUN/nocrc.err" && fail "nocrc: an object was retried: $(grep -m1 'event=retry' "$FERRY_RUN/nocrc.err")"
ups=$(curl -s "$FERRY_PROXY_COSD_ADMIN/uploads" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const j=JSON.parse(s);console.log(j.open+' '+j.aborted)})")
assert_eq "$ups" "0 1" "nocrc: uploads open and aborted"
ok "COS destination without its CRC-64: all $total failed as integrity naming the header, none retried"

# 5. Another range than asked for.
curl -sf -XDELETE "$FERRY_PROXY_S3D_ADMIN/faults" >/dev/null || true
curl -sf -XPOST "$FERRY_PROXY_OSSKMS_ADMIN/faults" \
  -d '{"match":{"op":"get","key_prefix":"big/"},"action":"header","name":"Content-Range","value":"bytes 1-5242880/13631488","count":1}' \
  >/dev/null || fail "rng: fault rule"
"$L" -c "$CONF" -t rng --segments-to "$FERRY_RUN/rng.seg" 2>"$FERRY_RUN/rng-lister.err" || fail "lister rng"
rc=0
"$W" -c "$CONF" --segments-from "$FERRY_RUN/rng.seg" >"$FERRY_RUN/rng.out" 2>"$FERRY_RUN/rng.err" || rc=$?
[ "$rc" != 0 ] || fail "rng: the worker exited 0"
assert_eq "$(count_status "$FERRY_RUN/rng.out" copied)" "$((total - 1))" "rng: copied"
grep -q '"key":"big/13mb.bin".*"reason":"range".*answered Content-Range' "$FERRY_RUN/rng.out" ||
  fail "rng: big/13mb.bin not failed as range: $(grep big/13mb "$FERRY_RUN/rng.out")"
ok "a ranged GET answered with another Content-Range: the object failed as range, $((total - 1)) others copied"

echo "copy_digests: all passed"
