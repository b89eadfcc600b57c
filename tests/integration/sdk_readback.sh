#!/usr/bin/env bash
# ferry judged by clients it did not write: a source set written with the
# official ali-oss SDK (odd keys, user metadata, Content-Type, a multipart
# object) is copied OSS -> COS by the whole task (ferry-lister
# --segments-to in pages of seven keys, then ferry-worker) through the
# dialect proxies; then
# ali-oss and cos-nodejs-sdk-v5 list both sides (paged) and read back every
# object: key, size, Content-Type, user metadata and the stores' CRC-64
# headers must agree, and the bytes the COS SDK reads must have the
# source's CRC-64 (tests/servers/readback.js). The official Python SDKs
# (oss2, cos-python-sdk-v5) then do the same read-back
# (tests/servers/readback.py). Last, one destination object is overwritten
# behind the proxies with other bytes of the same size, type and metadata:
# both readers must fail on it.
# The proxies stand in front of s3rver; with FERRY_READBACK_UPSTREAM=versitygw
# in front of a real S3 server (scripts/s3real.sh), which they sign their
# requests to (tests/s3real/sdk_readback.sh).
source "$(dirname "$0")/../lib/itest.sh"

# The Python SDKs' virtualenv (scripts/deps.sh makes it).
PY="${FERRY_PYSDK_VENV:-$FERRY_SRC/tests/servers/.venv}/bin/python"
[ -x "$PY" ] || fail "$PY not found: scripts/deps.sh installs the Python SDKs (tests/servers/requirements-sdk.txt)"

# upcurl: curl to the store behind the proxies (signed on versitygw).
case "${FERRY_READBACK_UPSTREAM:-s3rver}" in
  s3rver)
    s3_start main ferry-src ferry-dst-1250000000
    UP=$FERRY_S3_MAIN SIGNED=false
    upcurl() { curl "$@"; } ;;
  versitygw)
    source "$FERRY_SRC/scripts/s3real.sh"
    s3real_start main ferry-src ferry-dst-1250000000
    UP=$FERRY_S3R_MAIN SIGNED=true
    # (the proxies read these; not on their command lines, which
    # proxy_start keeps in the run directory)
    export FERRY_PROXY_UPSTREAM_AK="$S3REAL_ACCESS_KEY" FERRY_PROXY_UPSTREAM_SK="$S3REAL_SECRET_KEY"
    upcurl() {
      curl --aws-sigv4 aws:amz:us-east-1:s3 --user "$S3REAL_ACCESS_KEY:$S3REAL_SECRET_KEY" \
        -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"
    } ;;
  *) fail "FERRY_READBACK_UPSTREAM=$FERRY_READBACK_UPSTREAM: want s3rver or versitygw" ;;
esac
proxy_start oss --upstream "$UP" --dialect oss --ak LTAIferrytest --sk oss-secret-0123 --region cn-hangzhou
proxy_start cos --upstream "$UP" --dialect cos --ak AKIDferrytest --sk cos-secret-4567
curl -s "$FERRY_PROXY_COS_ADMIN/health" | grep -q "\"upstream_signed\": $SIGNED" ||
  fail "the COS proxy's upstream signing is not as configured: $(curl -s "$FERRY_PROXY_COS_ADMIN/health")"
export OSS_AK=LTAIferrytest OSS_SK=oss-secret-0123 COS_AK=AKIDferrytest COS_SK=cos-secret-4567
export FERRY_OSS_ACCESS_KEY=$OSS_AK FERRY_OSS_SECRET_KEY=$OSS_SK
export FERRY_COS_ACCESS_KEY=$COS_AK FERRY_COS_SECRET_KEY=$COS_SK
RB="$FERRY_SRC/tests/servers/readback.js"
RBPY="$FERRY_SRC/tests/servers/readback.py"
CONF="$FERRY_RUN/ferry.conf"
cat >"$CONF" <<CONF
kafka = { brokers = "127.0.0.1:1"; };
# small pages: ferry follows the proxies' continuation tokens past odd keys
lister = { page_size = 7; };
stores = (
  { name = "oss"; type = "oss"; endpoint = "http://oss-cn-hangzhou.aliyuncs.com"; region = "cn-hangzhou";
    connect_to = "${FERRY_PROXY_OSS#http://}"; },
  { name = "cos"; type = "cos"; endpoint = "http://cos.ap-guangzhou.myqcloud.com"; region = "ap-guangzhou";
    connect_to = "${FERRY_PROXY_COS#http://}"; }
);
worker = { concurrency = 8; multipart_threshold = "8M"; part_size = "5M"; small_object_threshold = "256K";
           max_attempts = 4; backoff_base_ms = 20; backoff_max_ms = 200; };
tasks = ( { name = "sdk"; source = "oss:ferry-src"; destination = "cos:ferry-dst-1250000000/copy/"; } );
CONF
chmod 600 "$CONF"

node "$RB" seed --oss "$FERRY_PROXY_OSS" --oss-bucket ferry-src >"$FERRY_RUN/seed.out" ||
  fail "seeding with ali-oss: $(cat "$FERRY_RUN/seed.out")"
total=$(sed -n 's/^seeded \([0-9]*\) .*/\1/p' "$FERRY_RUN/seed.out")

"$FERRY_BIN/ferry-lister" -c "$CONF" -t sdk --segments-to "$FERRY_RUN/sdk.seg" 2>"$FERRY_RUN/lister.err" ||
  fail "lister: $(tail -3 "$FERRY_RUN/lister.err")"
# op_count ADMIN OP: requests of that kind a proxy has seen
op_count() {
  curl -s "$1/stats" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).by_op['$2']||0))"
}
n=$(op_count "$FERRY_PROXY_OSS_ADMIN" list)
[ "$n" -ge $(((total + 6) / 7)) ] || fail "the lister listed $total keys in $n pages, expected pages of 7"
"$FERRY_BIN/ferry-worker" -c "$CONF" --segments-from "$FERRY_RUN/sdk.seg" >"$FERRY_RUN/sdk.out" 2>"$FERRY_RUN/worker.err" ||
  fail "worker exited $?: $(grep -m3 '"status":"failed"' "$FERRY_RUN/sdk.out")"
assert_eq "$(count_status "$FERRY_RUN/sdk.out" copied)" "$total" "copied"

# The destination's multipart object went up in parts (its CRC-64 combined
# by the COS proxy from ferry's parts, not one PUT).
n=$(op_count "$FERRY_PROXY_COS_ADMIN" upload-part)
[ "$n" -ge 3 ] || fail "the COS side saw $n UploadPart requests, expected the 13 MiB object in parts"

node "$RB" check --oss "$FERRY_PROXY_OSS" --oss-bucket ferry-src --cos "$FERRY_PROXY_COS" \
  --cos-bucket ferry-dst-1250000000 --cos-prefix copy/ --expect "$total" >"$FERRY_RUN/check.out" 2>&1 ||
  { cat "$FERRY_RUN/check.out" >&2; fail "the official SDKs read back something other than the source"; }
ok "$(tail -1 "$FERRY_RUN/check.out")"

CHECK_ARGS=(--oss "$FERRY_PROXY_OSS" --oss-bucket ferry-src --cos "$FERRY_PROXY_COS"
            --cos-bucket ferry-dst-1250000000 --cos-prefix copy/ --expect "$total")
"$PY" "$RBPY" check "${CHECK_ARGS[@]}" >"$FERRY_RUN/check-py.out" 2>&1 ||
  { cat "$FERRY_RUN/check-py.out" >&2; fail "the official Python SDKs read back something other than the source"; }
grep -q "^readback.py: $total objects .* 0 differences" "$FERRY_RUN/check-py.out" ||
  fail "readback.py: $(tail -1 "$FERRY_RUN/check-py.out")"
ok "$(tail -1 "$FERRY_RUN/check-py.out")"

# Damage one destination object directly in the store: same size, Content-Type
# and user metadata, one byte different, so only the bytes (and the CRC-64
# the COS proxy no longer vouches for) tell. Both readers must fail on it,
# and on nothing else.
victim=mid/3mb.bin
vurl="$UP/ferry-dst-1250000000/copy/$victim"
upcurl -sf "$vurl" -o "$FERRY_RUN/victim" || fail "reading $victim from the store"
printf '\xff' | dd of="$FERRY_RUN/victim" bs=1 seek=1000 conv=notrunc status=none
vhead=()
while IFS= read -r h; do vhead+=(-H "$h"); done < <(upcurl -sfI "$vurl" | tr -d '\r' | grep -i '^\(content-type\|x-amz-meta-[^:]*\):')
upcurl -sf -X PUT "${vhead[@]}" --data-binary @"$FERRY_RUN/victim" "$vurl" >/dev/null || fail "overwriting $victim in the store"
for reader in node python; do
  out="$FERRY_RUN/damaged-$reader.out"
  rc=0
  if [ $reader = node ]; then node "$RB" check "${CHECK_ARGS[@]}" >"$out" 2>&1 || rc=$?
  else "$PY" "$RBPY" check "${CHECK_ARGS[@]}" >"$out" 2>&1 || rc=$?; fi
  [ $rc = 1 ] || { cat "$out" >&2; fail "the $reader reader exited $rc on a damaged destination, expected 1"; }
  grep -q "^DIFF \"$victim\": CRC-64 of the bytes read back" "$out" ||
    { cat "$out" >&2; fail "the $reader reader did not find the damaged bytes of $victim"; }
  others=$(grep '^DIFF' "$out" | grep -vc "^DIFF \"$victim\"" || true)
  [ "$others" = 0 ] || { cat "$out" >&2; fail "the $reader reader found $others differences besides $victim"; }
  ok "the $reader reader fails on the damaged $victim: $(grep -c '^DIFF' "$out") differences, all on it"
done
echo "sdk_readback: all passed"
