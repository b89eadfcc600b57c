#!/usr/bin/env bash
# The .deb (CPack, docs/deploy.md "Installing the package"): built from this
# build tree, its Depends are the Debian libraries the binaries link and
# resolve on this machine (apt-get --simulate), it installs with dpkg into a
# scratch root (--root, its own dpkg database) with the binaries, units,
# docs and example config where Debian puts them, and the installed binaries
# with the installed example config — adapted only in what a test host must
# change (broker, endpoints reached through TLS proxies, SASL, dates) — copy
# an object OSS -> COS and skip what the task's filters leave out. Then a
# purge leaves nothing of the package behind.
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/tests/lib/tls.sh"

BUILD="$FERRY_BIN"
[ "${BUILD##*/}" = wrap ] && BUILD="${BUILD%/wrap}"   # valgrind runs: the real tree
[ -f "$BUILD/CPackConfig.cmake" ] || fail "$BUILD has no CPackConfig.cmake"
(cd "$FERRY_RUN" && cpack --config "$BUILD/CPackConfig.cmake" -B "$FERRY_RUN/pkg" >"$FERRY_RUN/cpack.log" 2>&1) ||
  { cat "$FERRY_RUN/cpack.log"; fail "cpack"; }
DEB=$(ls "$FERRY_RUN"/pkg/ferry_*.deb)
VER=$("$BUILD/ferry-worker" --version | cut -d' ' -f2)
[ "${DEB##*/}" = "ferry_${VER}_amd64.deb" ] || fail "package name ${DEB##*/}, want ferry_${VER}_amd64.deb"
deps=$(dpkg-deb -f "$DEB" Depends)
for lib in librdkafka1 libcurl4 libssl3 libjansson4 libconfig9 libexpat1 libisal2 libmicrohttpd12 liblmdb0; do
  [[ "$deps" == *"$lib"* ]] || fail "Depends lacks $lib: $deps"
done
apt-get install --simulate --no-install-recommends "$DEB" >"$FERRY_RUN/apt.log" 2>&1 ||
  { cat "$FERRY_RUN/apt.log"; fail "the package's dependencies do not resolve on Debian 12"; }
ok "${DEB##*/}: Depends $deps (resolves with apt)"

R="$FERRY_RUN/root"
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates"
: >"$R/var/lib/dpkg/status"
# --force-depends: the scratch root's database knows no library; the host
# has them (checked above) and the binaries load them from there.
dpkg --root="$R" --force-depends --force-script-chrootless -i "$DEB" >"$FERRY_RUN/dpkg.log" 2>&1 ||
  { cat "$FERRY_RUN/dpkg.log"; fail "dpkg -i into the scratch root"; }
for f in usr/bin/ferry-worker usr/bin/ferry-lister usr/bin/ferry-reporter usr/bin/ferry-devbroker \
         usr/lib/systemd/system/ferry-worker@.service usr/lib/systemd/system/ferry-reporter.service \
         usr/lib/systemd/system/ferry-lister@.service usr/share/doc/ferry/README.md \
         usr/share/doc/ferry/deploy.md usr/share/doc/ferry/examples/ferry.conf \
         usr/share/doc/ferry/examples/ferry-alerts.yml; do
  [ -e "$R/$f" ] || fail "/$f not installed"
done
grep -q '^ExecStart=/usr/bin/ferry-worker ' "$R/usr/lib/systemd/system/ferry-worker@.service" ||
  fail "the installed unit does not start /usr/bin/ferry-worker"
[ "$("$R/usr/bin/ferry-worker" --version)" = "$("$BUILD/ferry-worker" --version)" ] ||
  fail "installed ferry-worker --version differs from the build's"
ok "dpkg --root: binaries in /usr/bin, units naming them, docs and examples in /usr/share/doc/ferry"

# The installed example, adapted for this host.
CERTS="$FERRY_RUN/certs"
tls_make_certs "$CERTS"
TLSARGS=(--tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key")
s3_start main photos photos-1250000000
proxy_start oss --upstream "$FERRY_S3_MAIN" --dialect oss --ak LTAIpkgtest --sk oss-pkg-0123 \
  --region cn-hangzhou "${TLSARGS[@]}"
proxy_start cos --upstream "$FERRY_S3_MAIN" --dialect cos --ak AKIDpkgtest --sk cos-pkg-4567 "${TLSARGS[@]}"
devbroker_start --brokers 3   # the example's replication_factor is 3
C="$FERRY_RUN/ferry.conf"
sed -e 's|^  brokers = .*|  brokers = "";|' \
    -e "s|^  bootstrap_file = .*|  bootstrap_file = \"$FERRY_RUN/bootstrap\";|" \
    -e '/^  properties = \[/,/^  \];/d' \
    -e "s|\"https://oss-cn-hangzhou-internal.aliyuncs.com\";|\"https://oss-cn-hangzhou.aliyuncs.com\"; connect_to = \"${FERRY_PROXY_OSS#http://}\"; ca_file = \"$CERTS/ca.pem\";|" \
    -e "s|\"https://cos.ap-guangzhou.myqcloud.com\";|\"https://cos.ap-guangzhou.myqcloud.com\"; connect_to = \"${FERRY_PROXY_COS#http://}\"; ca_file = \"$CERTS/ca.pem\";|" \
    -e '/^    modified_after = /d' -e '/^    modified_before = /d' \
    -e "s|^  listen = .*|  listen = \"\";|" \
    "$R/usr/share/doc/ferry/examples/ferry.conf" >"$C"
chmod 600 "$C"
export FERRY_OSS_HZ_ACCESS_KEY=LTAIpkgtest FERRY_OSS_HZ_SECRET_KEY=oss-pkg-0123
export FERRY_COS_GZ_ACCESS_KEY=AKIDpkgtest FERRY_COS_GZ_SECRET_KEY=cos-pkg-4567
node "$TOOLS/fill.js" "$FERRY_S3_MAIN" photos "key:2024/a.jpg:70000" \
  "key:2024/tmp/b.jpg:10" "key:2024/c.txt:10" >/dev/null
B="$R/usr/bin"
"$B/ferry-lister" -c "$C" -t photos-2024 >"$FERRY_RUN/l.log" 2>&1 || { cat "$FERRY_RUN/l.log"; fail "installed lister"; }
"$B/ferry-worker" -c "$C" --id pkg >"$FERRY_RUN/w.log" 2>&1 & track_pid $!
"$B/ferry-reporter" -c "$C" --task photos-2024 --wait --timeout 120 >"$FERRY_RUN/r.out" 2>&1 ||
  { cat "$FERRY_RUN/r.out"; tail -20 "$FERRY_RUN/w.log"; fail "the task did not complete"; }
grep -q 'copied    1 objects' "$FERRY_RUN/r.out" || { cat "$FERRY_RUN/r.out"; fail "want 1 copied"; }
node -e "
const u=require('$TOOLS/s3util');
(async()=>{const a=await u.get('$FERRY_S3_MAIN','photos','2024/a.jpg');
const b=await u.get('$FERRY_S3_MAIN','photos-1250000000','2024/a.jpg');
if(u.md5(a.body)!==u.md5(b.body)) throw new Error('bytes differ');
const l=await u.list('$FERRY_S3_MAIN','photos-1250000000');
if(l.length!==1) throw new Error('destination holds '+l.length+' objects');})()
  .catch(e=>{console.error('FAIL: '+e.message);process.exit(1)})" || fail "destination check"
ok "installed binaries and example config: 2024/a.jpg copied OSS -> COS over TLS, filters honoured"

dpkg --root="$R" --force-script-chrootless --purge ferry >"$FERRY_RUN/purge.log" 2>&1 ||
  { cat "$FERRY_RUN/purge.log"; fail "dpkg --purge"; }
left=$(find "$R" -path "$R/var" -prune -o -type f -print)
[ -z "$left" ] || fail "files left after purge: $left"
ok "dpkg --purge leaves nothing of the package"
