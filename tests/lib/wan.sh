# Sourced by the WAN bed's tests (tests/wan/*.sh) after tests/lib/itest.sh:
# the bed (scripts/wan.sh) under its own prefix, removed at exit pass or fail.
#
#   wan_up PROFILE        scripts/wan.sh up, with WAN_PREFIX=fwt unless set
#   wan CMD...            scripts/wan.sh CMD... (ip, exec, set, cut, heal)
#   wan_bg HOST LOG CMD...  CMD on HOST in the background (pid tracked)
#   within NAME VALUE LO HI   fails unless LO <= VALUE <= HI
source "$FERRY_SRC/tests/lib/faults.sh"
export WAN_PREFIX="${WAN_PREFIX:-fwt}"
WAN="$FERRY_SRC/scripts/wan.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: the WAN bed needs root (network namespaces)"; exit 77; }

wan() { "$WAN" "$@"; }
wan_up() {
  trap 'rc=$?; itest_exit; "$WAN" down; exit $rc' EXIT
  wan up "$@" || fail "scripts/wan.sh up $*"
}
wan_bg() {
  local h="$1" log="$2"; shift 2
  ip netns exec "$(wan ns "$h")" "$@" >"$log" 2>&1 &
  track_pid $!
}
within() {
  awk -v v="$2" -v lo="$3" -v hi="$4" 'BEGIN{exit !(v >= lo && v <= hi)}' ||
    fail "$1 = $2, outside [$3, $4]"
  ok "$1 = $2 (within [$3, $4])"
}

# ---- a fleet on the bed (the scenarios) ----------------------------------
# wan_enter [PROFILE]: in the root namespace, brings the bed up, runs this
# script again on the broker host (where the dev broker, lister, reporter and
# the checks run; ctest's view of the script's exit is the child's), and
# tears the bed down; only the child returns.
wan_enter() {
  [ -n "${WAN_IN_BED:-}" ] && return 0
  wan_up "$@"
  local rc=0
  ip netns exec "$(wan ns brk)" env WAN_IN_BED=1 bash "$0" || rc=$?
  exit $rc
}

# wan_setup: on the broker host. Source host: s3rver (bucket ferry-src) and
# the OSS-dialect proxy with TLS; destination host: its own s3rver (the
# destination bucket) and the COS-dialect proxy with TLS; the dev broker here,
# shared with every host. Certificates from a throw-away CA (tests/lib/tls.sh)
# that ferry verifies (ca_file). The independent checks read both s3rvers
# directly (plain HTTP, not through the links' proxies).
wan_setup() {
  echo "wan-run: $FERRY_RUN"
  source "$FERRY_SRC/tests/lib/tls.sh"
  SRC_IP=$(wan ip src) DST_IP=$(wan ip dst)
  tls_make_certs "$FERRY_RUN/tls" "IP:$SRC_IP" "IP:$DST_IP" || fail "test certificates"
  export FAULT_CA_FILE="$FERRY_RUN/tls/ca.pem" CURL_CA_BUNDLE="$FERRY_RUN/tls/ca.pem"
  _wan_s3 src "$FAULT_SRC_BUCKET"
  _wan_s3 dst "$FAULT_DST_BUCKET" ${WAN_DST_BUCKETS:-}
  local oss_args=(--dialect oss --ak LTAIwanbed --sk oss-wan-secret --region cn-hangzhou)
  local cos_args=(--dialect cos --ak AKIDwanbed --sk cos-wan-secret)
  _wan_proxy src oss "${oss_args[@]}"
  _wan_proxy dst cos "${cos_args[@]}"
  # WAN_S3_PROXIES=1: also a plain S3 proxy with TLS on port 9444 of each
  # region host (s3rver checks SigV4; for rclone, bench/wan.sh).
  if [ -n "${WAN_S3_PROXIES:-}" ]; then
    _wan_proxy src s3src --dialect s3 --port 9444
    _wan_proxy dst s3dst --dialect s3 --port 9444
  fi
  devbroker_start --partitions 8
  wan share brk "${FERRY_BROKERS##*:}"
  export FERRY_S3_MAIN="http://$SRC_IP:9000" FERRY_S3_DST="http://$DST_IP:9000"
  export FERRY_PROXY_OSS="https://$SRC_IP:9443" FERRY_PROXY_COS="https://$DST_IP:9443"
  OSS_ADMIN="$FERRY_PROXY_OSS/__proxy" COS_ADMIN="$FERRY_PROXY_COS/__proxy"
  local f
  for f in s3-src s3-dst proxy-oss proxy-cos ${WAN_S3_PROXIES:+proxy-s3src proxy-s3dst}; do wait_line "$FERRY_RUN/$f.out" '^ready' 60 || fail "$f did not start"; done
  export FERRY_OSS_ACCESS_KEY=LTAIwanbed FERRY_OSS_SECRET_KEY=oss-wan-secret
  export FERRY_COS_ACCESS_KEY=AKIDwanbed FERRY_COS_SECRET_KEY=cos-wan-secret
}
_wan_s3() {
  mkdir -p "$FERRY_RUN/s3-$1"
  wan_bg "$1" "$FERRY_RUN/s3-$1.out" env FERRY_S3_BIND=0.0.0.0 \
    node --openssl-legacy-provider "$FERRY_SRC/tests/servers/s3.js" 9000 "$FERRY_RUN/s3-$1" "$2"
}
_wan_proxy() {
  local host="$1" name="$2"; shift 2
  # A later --port overrides this one (proxy.js takes the last).
  wan_bg "$host" "$FERRY_RUN/proxy-$name.out" node "$FERRY_SRC/tests/servers/proxy.js" --port 9443 \
    --bind 0.0.0.0 --state-dir "$FERRY_RUN/proxy-$name" --upstream http://127.0.0.1:9000 \
    --tls-cert "$FERRY_RUN/tls/server.pem" --tls-key "$FERRY_RUN/tls/server.key" "$@"
}

# wan_fill SPEC...: fault_fill, written on the source host itself (not
# through the links).
wan_fill() {
  wan exec src node "$TOOLS/fill.js" http://127.0.0.1:9000 "$FAULT_SRC_BUCKET" "$@" >/dev/null || fail "fill $*"
  fault_snapshot
}

# wan_worker N: a worker on host wN (id wN); its pid in WPID[wN].
wan_worker() {
  ip netns exec "$(wan ns "w$1")" "$FERRY_BIN/ferry-worker" -c "$CONF" --id "w$1" >>"$FERRY_RUN/w$1.log" 2>&1 &
  WPID[w$1]=$!
  track_pid $!
}

# wan_cpu_start / wan_cpu_end: the machine's CPU busy share over the span
# (/proc/stat), printed as cpu_busy=...; the bed's figures are only valid when
# it is well below 1 (not CPU-bound).
wan_cpu_start() { WAN_CPU0=$(awk '/^cpu /{print $2+$3+$4+$6+$7+$8, $5}' /proc/stat); }
wan_cpu_end() {
  local b0 i0 b1 i1
  read -r b0 i0 <<<"$WAN_CPU0"
  read -r b1 i1 <<<"$(awk '/^cpu /{print $2+$3+$4+$6+$7+$8, $5}' /proc/stat)"
  awk -v b=$((b1 - b0)) -v i=$((i1 - i0)) 'BEGIN{printf "%.2f\n", b / (b + i)}'
}

# wan_conf [K=V...]: fault_conf with the worker's production retry and stall
# settings (docs/config.md defaults: 5 attempts, 200 ms..30 s backoff, 60 s
# stall) instead of the fault suite's quick ones: the WAN scenarios test what
# users run. WAN_CONF_EXTRA (K=V words) adds settings by hand, e.g.
# worker.request_timeout_s=900 to see a scenario past the known defect "bodies cut at
# request_timeout_s" on a build without its fix.
wan_conf() {
  # shellcheck disable=SC2086
  fault_conf worker.concurrency=32 worker.max_attempts=5 worker.backoff_base_ms=200 \
    worker.backoff_max_ms=30000 worker.stall_timeout_s=60 "$@" ${WAN_CONF_EXTRA:-}
}
# wan_retrans HOST...: TCP segments retransmitted by those hosts so far.
wan_retrans() {
  local h n=0
  for h in "$@"; do
    n=$((n + $(wan exec "$h" nstat -az TcpRetransSegs | awk '/TcpRetransSegs/{print $2}')))
  done
  echo "$n"
}
# wan_midcopy N: waits until the destination has answered N requests and the
# task is not done (a fault injected now meets a copy in progress).
wan_midcopy() {
  dst_busy() { [ "$(pstat cos j.requests)" -ge "$1" ]; }
  wait_until 300 dst_busy "$1" || fail "the destination saw fewer than $1 requests"
  local done_n; done_n=$(results_n)
  echo "mid-copy: destination requests=$(pstat cos j.requests) segments with results=$done_n"
}
# wan_copied: objects the reporter counts as copied so far.
wan_copied() { "$FERRY_BIN/ferry-reporter" -c "$CONF" --task t --once --json 2>/dev/null | jget j.copied; }
# wan_unfinished WHAT: fails when the task already copied everything (the
# fault WHAT met no copy in progress).
wan_unfinished() {
  local c; c=$(wan_copied)
  [ "$c" -lt "$TOTAL" ] || fail "the task was done before $1 ($c/$TOTAL copied): the scenario tested nothing"
  echo "$1 at copied=$c/$TOTAL"
}
