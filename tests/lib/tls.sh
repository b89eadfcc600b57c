# Sourced by tests that need TLS on loopback: makes a throw-away CA and a
# server certificate signed by it, with the openssl CLI, at test time.
#
#   tls_make_certs DIR [EXTRA_SAN...]
#     DIR/ca.pem      the test CA's certificate (what ferry's ca_file points to)
#     DIR/ca.key      its key
#     DIR/server.pem  server certificate: IP 127.0.0.1 and ::1, localhost, and
#                     the OSS and COS host names the tests use (virtual-hosted
#                     buckets match the wildcards), plus EXTRA_SAN entries
#                     ("DNS:name" or "IP:addr")
#     DIR/server.key  its key
#     DIR/other-ca.pem  a second CA that signed nothing here (a wrong ca_file)
#
# Keys are P-256 (fast to make); certificates are valid for two days and are
# never reused: every test run makes its own.

tls_make_certs() {
  local dir="$1"; shift
  local san="IP:127.0.0.1,IP:::1,DNS:localhost"
  san="$san,DNS:oss-cn-hangzhou.aliyuncs.com,DNS:*.oss-cn-hangzhou.aliyuncs.com"
  san="$san,DNS:cos.ap-guangzhou.myqcloud.com,DNS:*.cos.ap-guangzhou.myqcloud.com"
  local extra
  for extra in "$@"; do san="$san,$extra"; done
  mkdir -p "$dir"
  (
    set -e
    cd "$dir"
    _tls_ca ca "ferry test CA"
    _tls_ca other-ca "ferry unrelated test CA"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout server.key -out server.csr -subj "/CN=ferry test server" 2>/dev/null
    cat >server.ext <<EXT
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $san
EXT
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" \
      -days 2 -sha256 -extfile server.ext -out server.pem 2>/dev/null
    rm -f server.csr server.ext other-ca.key
    chmod 600 ca.key server.key
    openssl verify -CAfile ca.pem server.pem >/dev/null
  )
}

# _tls_ca NAME SUBJECT_CN: a self-signed CA certificate NAME.pem and key NAME.key.
_tls_ca() {
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$1.key" -out "$1.pem" -days 2 -sha256 -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
