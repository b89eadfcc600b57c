#!/usr/bin/env bash
# HTTPS on loopback with a test CA made at test time (tests/lib/tls.sh): the
# test proxy listens with TLS in front of s3rver as an S3 endpoint (IP
# address in the certificate), as OSS and as COS (virtual-hosted names
# matched by wildcard SANs, reached with connect_to). ferry-worker copies over
# HTTPS with ca_file; without ca_file (certificate verification is on by
# default), with the wrong CA, or with a name the certificate does not cover,
# every object fails at once with reason "tls" and a message naming the
# store; insecure = true copies and is warned about.
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/tests/lib/tls.sh"

CERTS="$FERRY_RUN/certs"
tls_make_certs "$CERTS"
TLSARGS=(--tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key")
s3_start main ferry-seed ferry-src ferry-dst-1250000000
proxy_start s3 --upstream "$FERRY_S3_MAIN" --dialect s3 "${TLSARGS[@]}"
proxy_start oss --upstream "$FERRY_S3_MAIN" --dialect oss --ak LTAItlstest --sk oss-tls-0123 \
  --region cn-hangzhou "${TLSARGS[@]}"
proxy_start cos --upstream "$FERRY_S3_MAIN" --dialect cos --ak AKIDtlstest --sk cos-tls-4567 "${TLSARGS[@]}"
S3P=${FERRY_PROXY_S3#http://} OSSP=${FERRY_PROXY_OSS#http://} COSP=${FERRY_PROXY_COS#http://}
COS_ADMIN="https://$COSP/__proxy"

# The fronts speak TLS only, with a certificate that the test CA signed.
curl -sf --cacert "$CERTS/ca.pem" "https://$S3P/__proxy/health" >/dev/null || fail "TLS proxy not reachable with the test CA"
if curl -sf "https://$S3P/__proxy/health" >/dev/null 2>&1; then fail "the test certificate is trusted without the CA"; fi
if curl -sf "http://$S3P/__proxy/health" >/dev/null 2>&1; then fail "the TLS proxy answers plain HTTP"; fi

W="$FERRY_BIN/ferry-worker"
export FERRY_SEED_ACCESS_KEY=S3RVER FERRY_SEED_SECRET_KEY=S3RVER
export FERRY_S3TLS_ACCESS_KEY=S3RVER FERRY_S3TLS_SECRET_KEY=S3RVER
export FERRY_OSS_ACCESS_KEY=LTAItlstest FERRY_OSS_SECRET_KEY=oss-tls-0123
export FERRY_OSSNAME_ACCESS_KEY=LTAItlstest FERRY_OSSNAME_SECRET_KEY=oss-tls-0123
export FERRY_COS_ACCESS_KEY=AKIDtlstest FERRY_COS_SECRET_KEY=cos-tls-4567

# conf FILE TLS_LINE: every HTTPS store gets TLS_LINE ("" = defaults).
# ossname reaches the OSS proxy under a host name its certificate lacks.
conf() {
  cat >"$1" <<CONF
stores = (
  { name = "seed"; type = "s3"; endpoint = "$FERRY_S3_MAIN"; region = "us-east-1"; path_style = true; },
  { name = "s3tls"; type = "s3"; endpoint = "https://$S3P"; region = "us-east-1"; path_style = true; $2 },
  { name = "oss"; type = "oss"; endpoint = "https://oss-cn-hangzhou.aliyuncs.com"; connect_to = "$OSSP"; $2 },
  { name = "ossname"; type = "oss"; endpoint = "https://oss-cn-shanghai.aliyuncs.com"; region = "cn-hangzhou";
    connect_to = "$OSSP"; $2 },
  { name = "cos"; type = "cos"; endpoint = "https://cos.ap-guangzhou.myqcloud.com"; connect_to = "$COSP"; $2 }
);
worker = { concurrency = 8; multipart_threshold = "8M"; part_size = "5M"; max_attempts = 4;
           backoff_base_ms = 50; backoff_max_ms = 500; };
CONF
  chmod 600 "$1"
}
seg() { node "$TOOLS/segments.js" "$FERRY_S3_MAIN" "$1" "$2" "$3" "$4" --per 20 "${@:5}"; }

node "$TOOLS/fill.js" "$FERRY_S3_MAIN" ferry-seed small:60:1:32 large:1:12 key:empty.bin:0 >/dev/null
total=$(node -e "require('$TOOLS/s3util').list('$FERRY_S3_MAIN','ferry-seed').then(l=>console.log(l.length))")

# 1. ca_file: S3 over HTTPS (the certificate names 127.0.0.1) -> OSS over
# HTTPS (virtual-hosted bucket name matched by *.oss-cn-hangzhou.aliyuncs.com).
conf "$FERRY_RUN/ca.conf" "ca_file = \"$CERTS/ca.pem\";"
seg ferry-seed s3tls oss ferry-src >"$FERRY_RUN/s1"
"$W" -c "$FERRY_RUN/ca.conf" --segments-from "$FERRY_RUN/s1" >"$FERRY_RUN/o1" 2>"$FERRY_RUN/e1" \
  || { tail "$FERRY_RUN/e1"; fail "https s3 -> oss exited $?"; }
assert_eq "$(count_status "$FERRY_RUN/o1" copied)" "$total" "s3 -> oss over https copied"
if grep -qi 'warning' "$FERRY_RUN/e1"; then fail "warning without insecure: $(grep -i warning "$FERRY_RUN/e1")"; fi
ok "ca_file: $total objects (one multipart) copied S3 -> OSS, both over HTTPS"

# 2. OSS -> COS, both HTTPS with ca_file; the destination checked independently.
seg ferry-src oss cos ferry-dst-1250000000 >"$FERRY_RUN/s2"
"$W" -c "$FERRY_RUN/ca.conf" --segments-from "$FERRY_RUN/s2" >"$FERRY_RUN/o2" 2>"$FERRY_RUN/e2" \
  || { tail "$FERRY_RUN/e2"; fail "https oss -> cos exited $?"; }
assert_eq "$(count_status "$FERRY_RUN/o2" copied)" "$total" "oss -> cos over https copied"
node "$TOOLS/compare.js" "$FERRY_S3_MAIN" ferry-seed "$FERRY_S3_MAIN" ferry-dst-1250000000 || fail "https copy differs"
ok "ca_file: $total objects copied OSS -> COS over HTTPS, destination verified"

# expect_tls_fail NAME CONF SEGS PATTERN: every object failed at once (exit
# 3, reason tls, one attempt, no retry, at most a request per object and
# side), the message names a store and says what went wrong.
expect_tls_fail() {
  local n="$1" rc=0 reqs
  timeout 300 "$W" -c "$2" --segments-from "$3" >"$FERRY_RUN/o-$n" 2>"$FERRY_RUN/e-$n" || rc=$?
  assert_eq "$rc" "3" "$n: exit status"
  assert_eq "$(count_status "$FERRY_RUN/o-$n" failed)" "$total" "$n: objects failed"
  assert_eq "$(grep -c '"reason":"tls"' "$FERRY_RUN/o-$n")" "$total" "$n: reason tls"
  # A verification failure is never retried. A handshake that timed out is
  # (seen at load 30 in CI: a few objects took 2 attempts, the second one
  # refused): those retries, and only those, are allowed for.
  local other
  if grep 'event=retry' "$FERRY_RUN/e-$n" | grep -q 'SSL\|certificate'; then fail "$n: retried a TLS verification failure"; fi
  other=$(grep -c 'event=retry' "$FERRY_RUN/e-$n" || true)
  [ "$(( $(grep -c '"attempts":1,' "$FERRY_RUN/o-$n") + other ))" -ge "$total" ] || fail "$n: objects took more than one attempt beyond $other timed-out handshakes"
  assert_eq "$(grep -c "\"message\":\"store [a-z0-9]*: $4" "$FERRY_RUN/o-$n")" "$total" "$n: message names the store and the problem"
  reqs=$(sed -n 's/.*event=summary.* requests=\([0-9]*\).*/\1/p' "$FERRY_RUN/e-$n")
  [ -n "$reqs" ] && [ "$reqs" -le "$((2 * total + other))" ] || fail "$n: $reqs requests for $total objects"
}

# 3. No ca_file, no insecure: verification is on by default, the test CA is
# not in the system bundle, so nothing is copied.
conf "$FERRY_RUN/default.conf" ""
expect_tls_fail default "$FERRY_RUN/default.conf" "$FERRY_RUN/s2" "SSL certificate problem: unable to get local issuer certificate (TLS certificate not accepted; a private CA goes in ca_file)"
grep -m1 '"status":"failed"' "$FERRY_RUN/o-default" | grep -q '"message":"store oss: ' || fail "the failing store is not named"
seg ferry-seed s3tls oss ferry-src >"$FERRY_RUN/s3"
expect_tls_fail default-s3 "$FERRY_RUN/default.conf" "$FERRY_RUN/s3" "SSL certificate problem"
grep -m1 '"status":"failed"' "$FERRY_RUN/o-default-s3" | grep -q '"message":"store s3tls: ' || fail "the failing store is not named"
ok "default (no ca_file): all $total refused at once, reason tls, the store named"

# 4. A ca_file of another CA: refused the same way.
conf "$FERRY_RUN/other.conf" "ca_file = \"$CERTS/other-ca.pem\";"
expect_tls_fail other-ca "$FERRY_RUN/other.conf" "$FERRY_RUN/s2" "SSL certificate problem"
ok "wrong CA in ca_file: all $total refused"

# 5. The right CA but a host name the certificate does not cover: the name
# is checked too (the chain alone is not enough).
seg ferry-src ossname cos ferry-dst-1250000000 >"$FERRY_RUN/s5"
expect_tls_fail hostname "$FERRY_RUN/ca.conf" "$FERRY_RUN/s5" "SSL: no alternative certificate subject name matches target host name"
ok "host name not in the certificate: all $total refused"

# 6. insecure = true: copies without verification (even the wrong name), and
# the loader warns for each such store.
conf "$FERRY_RUN/insecure.conf" "insecure = true;"
seg ferry-src ossname cos ferry-dst-1250000000 --dst-prefix insecure/ >"$FERRY_RUN/s6"
"$W" -c "$FERRY_RUN/insecure.conf" --segments-from "$FERRY_RUN/s6" >"$FERRY_RUN/o6" 2>"$FERRY_RUN/e6" \
  || { tail "$FERRY_RUN/e6"; fail "insecure run exited $?"; }
assert_eq "$(count_status "$FERRY_RUN/o6" copied)" "$total" "insecure copied"
for s in s3tls oss ossname cos; do
  grep -q "stores\[[0-9]\]\.insecure: warning: TLS certificates of store \"$s\" are not verified" "$FERRY_RUN/e6" \
    || { cat "$FERRY_RUN/e6" >&2; fail "no insecure warning for store $s"; }
done
n=$(curl -sf --cacert "$CERTS/ca.pem" "$COS_ADMIN/stats" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).by_op.put||0))")
[ "$n" -ge "$total" ] || fail "insecure copy did not reach COS ($n puts)"
ok "insecure = true: $total copied (wrong host name too), a warning per store"

echo "tls: all passed"
