#!/usr/bin/env bash
# The copy engine across dialects and faults: S3 -> OSS (V4 and V1) -> COS
# through the test proxy, which checks every signature with the official
# SDKs' code and answers with CRC-64 headers as OSS and COS do; then faults
# injected on the path (503 SlowDown with Retry-After, connection resets,
# stalls, corrupted bytes, a COS 200-with-error Complete, a wrong secret),
# and corrupted bytes between two S3 stores (no CRC-64 on either side).
source "$(dirname "$0")/../lib/itest.sh"

s3_start main ferry-seed ferry-src ferry-dst-1250000000 ferry-s3dst
proxy_start oss --upstream "$FERRY_S3_MAIN" --dialect oss --ak LTAIferrytest --sk oss-secret-0123 --region cn-hangzhou
proxy_start cos --upstream "$FERRY_S3_MAIN" --dialect cos --ak AKIDferrytest --sk cos-secret-4567
proxy_start s3p --upstream "$FERRY_S3_MAIN" --dialect s3
OSSP=${FERRY_PROXY_OSS#http://} COSP=${FERRY_PROXY_COS#http://}
W="$FERRY_BIN/ferry-worker"
CONF="$FERRY_RUN/ferry.conf"
export FERRY_SEED_ACCESS_KEY=S3RVER FERRY_SEED_SECRET_KEY=S3RVER
export FERRY_SEEDP_ACCESS_KEY=S3RVER FERRY_SEEDP_SECRET_KEY=S3RVER
export FERRY_OSS_ACCESS_KEY=LTAIferrytest FERRY_OSS_SECRET_KEY=oss-secret-0123
export FERRY_OSSV1_ACCESS_KEY=LTAIferrytest FERRY_OSSV1_SECRET_KEY=oss-secret-0123
export FERRY_COS_ACCESS_KEY=AKIDferrytest FERRY_COS_SECRET_KEY=cos-secret-4567
cat >"$CONF" <<CONF
stores = (
  { name = "seed"; type = "s3"; endpoint = "$FERRY_S3_MAIN"; region = "us-east-1"; path_style = true; },
  { name = "seedp"; type = "s3"; endpoint = "$FERRY_PROXY_S3P"; region = "us-east-1"; path_style = true; },
  { name = "oss"; type = "oss"; endpoint = "http://oss-cn-hangzhou.aliyuncs.com"; region = "cn-hangzhou";
    connect_to = "$OSSP"; },
  { name = "ossv1"; type = "oss"; endpoint = "http://oss-cn-hangzhou.aliyuncs.com"; region = "cn-hangzhou";
    connect_to = "$OSSP"; signature = "v1"; },
  { name = "cos"; type = "cos"; endpoint = "http://cos.ap-guangzhou.myqcloud.com"; region = "ap-guangzhou";
    connect_to = "$COSP"; }
);
worker = { concurrency = 16; multipart_threshold = "8M"; part_size = "5M"; max_attempts = 10;
           backoff_base_ms = 50; backoff_max_ms = 2000; stall_timeout_s = 2; };
CONF
chmod 600 "$CONF"
seg() { node "$TOOLS/segments.js" "$FERRY_S3_MAIN" "$1" "$2" "$3" "$4" --per 40 "${@:5}"; }
fault() { curl -sf -XPOST "$1/faults" -d "$2" >/dev/null; }
clear_faults() { curl -sf -XDELETE "$FERRY_PROXY_OSS_ADMIN/faults" >/dev/null; curl -sf -XDELETE "$FERRY_PROXY_COS_ADMIN/faults" >/dev/null; }
# clean_copies OUT: a copied object carries none of the diagnostics of the
# attempts that failed before it (reason, code, message, http_status);
# "parts" is a part range's reason, not a failure's.
clean_copies() {
  python3 - "$1" <<'PY' || fail "$1: a copied object kept a failed attempt's reason or message"
import json, sys
bad = [o for o in map(json.loads, open(sys.argv[1]))
       if o["status"] == "copied" and (o.get("reason") not in (None, "parts") or o.get("code")
                                       or o.get("message") or o.get("http_status"))]
for o in bad[:5]:
    print("copied with stale diagnostics:", json.dumps(o), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

node "$TOOLS/fill.js" "$FERRY_S3_MAIN" ferry-seed small:120:1:48 large:2:12 odd key:empty.bin:0 key:medium/3mb.bin:3145728
total=$(node -e "require('$TOOLS/s3util').list('$FERRY_S3_MAIN','ferry-seed').then(l=>console.log(l.length))")

# 1. S3 -> OSS (V4 signing): the proxy verifies each request and records CRCs.
seg ferry-seed seed oss ferry-src >"$FERRY_RUN/s1"
"$W" -c "$CONF" --segments-from "$FERRY_RUN/s1" >"$FERRY_RUN/o1" 2>"$FERRY_RUN/e1" || { tail "$FERRY_RUN/e1"; fail "s3->oss exited $?"; }
assert_eq "$(count_status "$FERRY_RUN/o1" copied)" "$total" "s3->oss copied"
ok "s3 -> oss (V4): $total objects, every signature accepted by the OSS SDK's signer"

# 2. OSS -> COS: CRC-64 checked against the source's header and the
# destination's (single PUTs and combined multipart parts).
seg ferry-src oss cos ferry-dst-1250000000 >"$FERRY_RUN/s2"
"$W" -c "$CONF" --segments-from "$FERRY_RUN/s2" >"$FERRY_RUN/o2" 2>"$FERRY_RUN/e2" || { tail "$FERRY_RUN/e2"; fail "oss->cos exited $?"; }
assert_eq "$(count_status "$FERRY_RUN/o2" copied)" "$total" "oss->cos copied"
node "$TOOLS/compare.js" "$FERRY_S3_MAIN" ferry-seed "$FERRY_S3_MAIN" ferry-dst-1250000000 || fail "cos copy differs"
# The COS side must now know a CRC for every object (it answered with one).
crc=$(curl -s "$FERRY_PROXY_COS_ADMIN/crc?bucket=ferry-dst-1250000000&key=large/big-0.bin")
echo "$crc" | grep -q '[0-9]\{5,\}' || fail "no CRC recorded for the multipart copy: $crc"
ok "oss -> cos: $total objects, CRC-64 verified end to end (multipart parts combined)"

# 3. skip-if-same from OSS V1 signing: the destination's CRC-64 proves sameness.
seg ferry-src ossv1 cos ferry-dst-1250000000 --policy skip-if-same >"$FERRY_RUN/s3"
"$W" -c "$CONF" --segments-from "$FERRY_RUN/s3" >"$FERRY_RUN/o3" 2>"$FERRY_RUN/e3" || fail "skip-if-same exited $?"
assert_eq "$(count_status "$FERRY_RUN/o3" skipped)" "$total" "skip-if-same skipped"
ok "oss (V1) -> cos skip-if-same: all $total skipped"

# 4. 503 SlowDown with Retry-After on a third of the destination's writes:
# retried with backoff, everything copied, request count bounded.
fault "$FERRY_PROXY_COS_ADMIN" '{"match":{"op":["put","upload-part"]},"action":"status","status":503,"code":"SlowDown","retry_after":1,"probability":0.33}'
curl -sf -XDELETE "$FERRY_PROXY_COS_ADMIN/stats" >/dev/null
"$W" -c "$CONF" --segments-from "$FERRY_RUN/s2" >"$FERRY_RUN/o4" 2>"$FERRY_RUN/e4" || { tail "$FERRY_RUN/e4"; fail "503 run exited $?"; }
assert_eq "$(count_status "$FERRY_RUN/o4" copied)" "$total" "copied despite 503s"
reqs=$(curl -s "$FERRY_PROXY_COS_ADMIN/stats" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).requests))")
# Each write needs 1/(1-1/3) = 1.5 attempts on average; allow 2.5x the object count plus multipart overhead.
[ "$reqs" -le $(( total * 5 / 2 + 40 )) ] || fail "retry storm: $reqs requests for $total objects"
grep -q 'event=retry' "$FERRY_RUN/e4" || fail "no retries logged"
clean_copies "$FERRY_RUN/o4"
clear_faults
ok "503 SlowDown on 1/3 of writes: all copied, $reqs requests for $total objects"

# 5. Connection resets mid-body and stalls on source reads: cut, retried, completed.
fault "$FERRY_PROXY_OSS_ADMIN" '{"match":{"op":"get","key_prefix":"large/"},"action":"reset","bytes":1000000,"count":3}'
fault "$FERRY_PROXY_OSS_ADMIN" '{"match":{"op":"get","key_prefix":"medium/"},"action":"stall","bytes":1000,"ms":60000,"count":1}'
fault "$FERRY_PROXY_OSS_ADMIN" '{"match":{"op":"get","key_prefix":"small/0"},"action":"reset","probability":0.2}'
"$W" -c "$CONF" --segments-from "$FERRY_RUN/s2" >"$FERRY_RUN/o5" 2>"$FERRY_RUN/e5" || { tail "$FERRY_RUN/e5"; fail "reset/stall run exited $?"; }
assert_eq "$(count_status "$FERRY_RUN/o5" copied)" "$total" "copied despite resets and stalls"
grep -q 'event=retry.*medium/3mb.bin' "$FERRY_RUN/e5" || fail "the stalled transfer was not retried"
clean_copies "$FERRY_RUN/o5"
clear_faults
node "$TOOLS/compare.js" "$FERRY_S3_MAIN" ferry-seed "$FERRY_S3_MAIN" ferry-dst-1250000000 || fail "copy differs after faults"
ok "resets mid-body and a stalled transfer: cut, retried, all copied and verified"

# 6. Corrupted bytes from the source: the CRC-64 catches it, the object fails
# as "integrity" (never copied silently).
fault "$FERRY_PROXY_OSS_ADMIN" '{"match":{"op":"get","key_prefix":"small/01/"},"action":"corrupt","offset":10}'
rc=0; "$W" -c "$CONF" --segments-from "$FERRY_RUN/s2" >"$FERRY_RUN/o6" 2>"$FERRY_RUN/e6" || rc=$?
assert_eq "$rc" "3" "exit status with integrity failures"
n=$(grep '"key":"small/01/' "$FERRY_RUN/o6" | grep -c '"reason":"integrity"' || true)
[ "$n" -ge 1 ] || fail "corruption not detected"
if grep '"key":"small/01/' "$FERRY_RUN/o6" | grep -q '"status":"copied"'; then fail "a corrupted object was copied"; fi
clear_faults
ok "corrupted source bytes: $n objects failed as integrity, none copied"

# 7. COS answers 200 with an <Error> to CompleteMultipartUpload: retried.
fault "$FERRY_PROXY_COS_ADMIN" '{"match":{"op":"complete"},"action":"status","status":200,"code":"InternalError","count":1}'
seg ferry-src oss cos ferry-dst-1250000000 --prefix large/ >"$FERRY_RUN/s7"
"$W" -c "$CONF" --segments-from "$FERRY_RUN/s7" >"$FERRY_RUN/o7" 2>"$FERRY_RUN/e7" || { tail "$FERRY_RUN/e7"; fail "complete-200-error run exited $?"; }
assert_eq "$(count_status "$FERRY_RUN/o7" copied)" "2" "multipart copied after a 200-with-error"
grep -q 'event=retry op=mpu-complete' "$FERRY_RUN/e7" || fail "200-with-error Complete not retried"
clean_copies "$FERRY_RUN/o7"
clear_faults
ok "COS 200-with-Error on Complete: detected and retried"

# 7b. A PUT answered 200 before its body was sent (the rule answers at once):
# "destination PUT ended before all bytes were sent", retried, copied. The
# copied outcome must not keep that failed attempt's reason and message.
fault "$FERRY_PROXY_COS_ADMIN" '{"match":{"op":"put","key_prefix":"3mb"},"action":"status","status":200,"code":"InternalError","count":1}'
seg ferry-src oss cos ferry-dst-1250000000 --prefix medium/ >"$FERRY_RUN/s7b"
"$W" -c "$CONF" --segments-from "$FERRY_RUN/s7b" >"$FERRY_RUN/o7b" 2>"$FERRY_RUN/e7b" || { tail "$FERRY_RUN/e7b"; fail "early-200 run exited $?"; }
assert_eq "$(count_status "$FERRY_RUN/o7b" copied)" "1" "copied after an early 200"
grep -q '"attempts":2' "$FERRY_RUN/o7b" || fail "the early 200 was not retried: $(cat "$FERRY_RUN/o7b")"
clean_copies "$FERRY_RUN/o7b"
clear_faults
ok "a PUT answered before its body was sent: retried, copied, no stale reason"

# 8. A wrong COS secret: every object fails fast with SignatureDoesNotMatch.
rc=0; FERRY_COS_SECRET_KEY=wrong-secret-xyzzy "$W" -c "$CONF" --segments-from "$FERRY_RUN/s2" >"$FERRY_RUN/o8" 2>"$FERRY_RUN/e8" || rc=$?
assert_eq "$rc" "3" "exit status with a wrong secret"
assert_eq "$(grep -c '"code":"SignatureDoesNotMatch"' "$FERRY_RUN/o8")" "$total" "all refused"
grep -q 'retries=0' "$FERRY_RUN/e8" || fail "retried SignatureDoesNotMatch"
if grep -q xyzzy "$FERRY_RUN/o8" "$FERRY_RUN/e8"; then fail "secret leaked"; fi
ok "wrong COS secret: all $total failed fast with SignatureDoesNotMatch, secret not printed"

# 9. S3 -> S3, corrupted bytes from the source: neither store gives a CRC-64,
# and s3rver does not check Content-MD5. The source's MD5 ETag is sent as
# Content-MD5 and the destination's MD5 ETag must equal it, so a buffered
# object and a streamed one both fail as "integrity"; the rest is copied.
fault "$FERRY_PROXY_S3P_ADMIN" '{"match":{"op":"get","key_prefix":"small/01/"},"action":"corrupt","offset":5}'
fault "$FERRY_PROXY_S3P_ADMIN" '{"match":{"op":"get","key_prefix":"medium/"},"action":"corrupt","offset":2000000}'
seg ferry-seed seedp seed ferry-s3dst >"$FERRY_RUN/s9"
rc=0; "$W" -c "$CONF" --segments-from "$FERRY_RUN/s9" >"$FERRY_RUN/o9" 2>"$FERRY_RUN/e9" || rc=$?
assert_eq "$rc" "3" "exit status with corrupted S3 bytes"
nbad=$(grep -c '"key":"small/01/' "$FERRY_RUN/o9" || true)
[ "$nbad" -ge 1 ] || fail "no small/01/ object in the set"
assert_eq "$(grep -E '"key":"(small/01/|medium/)' "$FERRY_RUN/o9" | grep -c '"reason":"integrity"')" "$((nbad + 1))" \
  "corrupted buffered and streamed objects failed as integrity"
assert_eq "$(count_status "$FERRY_RUN/o9" copied)" "$((total - nbad - 1))" "the others copied"
curl -sf -XDELETE "$FERRY_PROXY_S3P_ADMIN/faults" >/dev/null
ok "s3 -> s3, corrupted source bytes: $((nbad + 1)) objects failed as integrity (MD5 ETag), none copied"

echo "engine_dialects: all passed"
