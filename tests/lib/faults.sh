# Sourced by the fault suite (tests/faults/*.sh) after tests/lib/itest.sh: a
# real task on the dev broker (ferry-lister -> ferry-worker(s) ->
# ferry-reporter) from an OSS-dialect proxy to a COS-dialect proxy, both in
# front of one loopback s3rver, with faults injected by the proxies or by
# killing processes; then the independent checks.
#
#   FAULT=name; source tests/lib/itest.sh; source tests/lib/faults.sh
#   fault_setup [devbroker args]      # broker, s3rver, proxies "oss" (source) and "cos"
#   fault_conf [worker.K=V|lister.K=V|task.K=V]...  # $CONF, task "t": oss:ferry-src -> cos:ferry-dst-1250000000
#   fault_fill SPEC...                # fill.js specs into the source; $FERRY_RUN/snapshot.json, $TOTAL
#   fault_rule oss|cos JSON           # install a proxy fault rule
#   fault_lister [args]               # ferry-lister -t t in the foreground
#   fault_worker ID                   # a worker in the background; its pid in WPID[ID]
#   fault_wait [S]                    # ferry-reporter --wait; sets WAIT_RC
#   fault_check STATE [EXPECT.json]   # reporter figures + export + destination; sets LOST, ...
#   fault_survived "k=v ..."          # the scenario's summary line
FAULT_SRC_BUCKET=ferry-src
FAULT_DST_BUCKET=ferry-dst-1250000000
declare -A WPID

# fault_setup [ferry-devbroker args]: s3rver and the two proxies start at
# once (node's start-up is most of the set-up time on a loaded machine), then
# the dev broker; exports FERRY_S3_MAIN, FERRY_PROXY_OSS/COS(_ADMIN) as
# scripts/servers.sh does.
fault_setup() {
  echo "fault-run: $FERRY_RUN"
  local sp op cp
  sp=$(free_port); op=$(free_port); cp=$(free_port)
  while [ "$op" = "$sp" ]; do op=$(free_port); done
  while [ "$cp" = "$sp" ] || [ "$cp" = "$op" ]; do cp=$(free_port); done
  node --openssl-legacy-provider "$FERRY_SRC/tests/servers/s3.js" "$sp" "$FERRY_RUN/s3-main" \
    "$FAULT_SRC_BUCKET" "$FAULT_DST_BUCKET" >"$FERRY_RUN/s3-main.log" 2>&1 &
  track_pid $!
  export FERRY_S3_MAIN="http://127.0.0.1:$sp"
  local oss_args=(--dialect oss --ak LTAIfaultsuite --sk oss-fault-secret --region cn-hangzhou)
  local cos_args=(--dialect cos --ak AKIDfaultsuite --sk cos-fault-secret)
  _fault_proxy oss "$op" "${oss_args[@]}"
  _fault_proxy cos "$cp" "${cos_args[@]}"
  devbroker_start --partitions 8 "$@"
  DEVBROKER_PID=$(tail -1 "$FERRY_RUN/pids")
  wait_line "$FERRY_RUN/s3-main.log" "^ready" 60
  _fault_proxy_wait oss "${oss_args[@]}" || return 1
  _fault_proxy_wait cos "${cos_args[@]}" || return 1
  export FERRY_OSS_ACCESS_KEY=LTAIfaultsuite FERRY_OSS_SECRET_KEY=oss-fault-secret
  export FERRY_COS_ACCESS_KEY=AKIDfaultsuite FERRY_COS_SECRET_KEY=cos-fault-secret
  OSS_ADMIN=$FERRY_PROXY_OSS_ADMIN COS_ADMIN=$FERRY_PROXY_COS_ADMIN
}
# _fault_proxy_wait NAME ARGS...: waits for the proxy to be ready; when the
# free port it was given was taken meanwhile by a parallel test (EADDRINUSE),
# starts it again on another port (up to 5 times).
_fault_proxy_wait() {
  local name="$1"; shift
  local try i
  for try in 1 2 3 4 5; do
    for i in $(seq 1 600); do
      grep -q "^ready" "$FERRY_RUN/proxy-$name.out" 2>/dev/null && return 0
      grep -q EADDRINUSE "$FERRY_RUN/proxy-$name.log" 2>/dev/null && break
      sleep 0.1
    done
    if [ "$try" = 5 ] || ! grep -q EADDRINUSE "$FERRY_RUN/proxy-$name.log" 2>/dev/null; then
      echo "proxy $name did not start:" >&2; cat "$FERRY_RUN/proxy-$name.log" >&2; return 1
    fi
    echo "proxy $name: its port was taken, trying another" >&2
    : >"$FERRY_RUN/proxy-$name.log"
    _fault_proxy "$name" "$(free_port)" "$@"
  done
}
# _fault_proxy NAME PORT ARGS...: starts tests/servers/proxy.js in front of s3rver.
_fault_proxy() {
  local name="$1" port="$2"; shift 2
  node "$FERRY_SRC/tests/servers/proxy.js" --port "$port" --state-dir "$FERRY_RUN/proxy-$name" \
    --upstream "$FERRY_S3_MAIN" "$@" >"$FERRY_RUN/proxy-$name.out" 2>>"$FERRY_RUN/proxy-$name.log" &
  track_pid $!
  local var; var="FERRY_PROXY_$(echo "$name" | tr '[:lower:]' '[:upper:]')"
  export "$var=http://127.0.0.1:$port" "${var}_ADMIN=http://127.0.0.1:$port/__proxy"
}

# fault_conf [worker.KEY=VALUE | lister.KEY=VALUE | task.KEY=VALUE]...: small, quick settings,
# each overridable; short consumer sessions (the mock cluster makes a re-join
# wait for departed members' sessions).
fault_conf() {
  declare -A W=([concurrency]=8 [multipart_threshold]='"8M"' [part_size]='"5M"' [max_attempts]=6
    [backoff_base_ms]=50 [backoff_max_ms]=1000 [stall_timeout_s]=2)
  declare -A L=([segment_max_objects]=25)
  declare -A T=()
  local kv k
  for kv in "$@"; do
    k=${kv%%=*}
    case "$k" in
      worker.*) W[${k#worker.}]=${kv#*=} ;;
      lister.*) L[${k#lister.}]=${kv#*=} ;;
      task.*) T[${k#task.}]=${kv#*=} ;;
      *) fail "fault_conf: $kv" ;;
    esac
  done
  local wl="" ll="" tl=""
  for k in "${!W[@]}"; do wl+="  $k = ${W[$k]};"$'\n'; done
  for k in "${!T[@]}"; do tl+=" $k = ${T[$k]};"; done
  for k in "${!L[@]}"; do ll+="  $k = ${L[$k]};"$'\n'; done
  # The proxies speak HTTPS when FAULT_CA_FILE names the CA that signed them
  # (the WAN bed, tests/lib/wan.sh).
  local scheme=http ca=""
  [ -z "${FAULT_CA_FILE:-}" ] || { scheme=https; ca="ca_file = \"$FAULT_CA_FILE\";"; }
  CONF="$FERRY_RUN/ferry.conf"
  cat >"$CONF" <<CONF
log_level = "${FAULT_LOG_LEVEL:-info}";
kafka = { brokers = ""; bootstrap_file = "$FERRY_RUN/bootstrap"; segments_partitions = 8;
  consumer_properties = ["session.timeout.ms=6000", "heartbeat.interval.ms=500"]; };
stores = (
  { name = "oss"; type = "oss"; endpoint = "$scheme://oss-cn-hangzhou.aliyuncs.com"; region = "cn-hangzhou";
    connect_to = "${FERRY_PROXY_OSS#*://}"; $ca },
  { name = "cos"; type = "cos"; endpoint = "$scheme://cos.ap-guangzhou.myqcloud.com"; region = "ap-guangzhou";
    connect_to = "${FERRY_PROXY_COS#*://}"; $ca }
);
worker = {
$wl};
lister = {
$ll};
reporter = { listen = ""; refresh_s = 1; };
tasks = ( { name = "t"; source = "oss:$FAULT_SRC_BUCKET"; destination = "cos:$FAULT_DST_BUCKET";$tl } );
CONF
  chmod 600 "$CONF"
}

# fault_fill SPEC...: the dataset (tests/tools/fill.js specs), written to
# s3rver directly; the listing is kept as the snapshot every check is made
# against. Sets TOTAL.
fault_fill() {
  node "$TOOLS/fill.js" "$FERRY_S3_MAIN" "$FAULT_SRC_BUCKET" "$@" >/dev/null
  fault_snapshot
}
fault_snapshot() {
  node -e "require('$TOOLS/s3util').list('$FERRY_S3_MAIN','$FAULT_SRC_BUCKET').then(l=>
    require('fs').writeFileSync('$FERRY_RUN/snapshot.json',JSON.stringify(l)))"
  TOTAL=$(node -e "console.log(require('$FERRY_RUN/snapshot.json').length)")
}

# fault_rule oss|cos JSON
fault_rule() {
  local admin; admin=$([ "$1" = oss ] && echo "$OSS_ADMIN" || echo "$COS_ADMIN")
  curl -sf -XPOST "$admin/faults" -d "$2" >/dev/null || fail "cannot install fault rule on $1: $2"
}
fault_clear() {
  curl -sf -XDELETE "$OSS_ADMIN/faults" >/dev/null
  curl -sf -XDELETE "$COS_ADMIN/faults" >/dev/null
}
fault_reset_stats() {
  SETUP_S=$SECONDS TASK_T0=$SECONDS
  curl -sf -XDELETE "$OSS_ADMIN/stats" >/dev/null
  curl -sf -XDELETE "$COS_ADMIN/stats" >/dev/null
}
# jget JS-EXPR < JSON: evaluates EXPR with the document as j
jget() { node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const j=JSON.parse(s);console.log($1)})"; }
# pstat oss|cos EXPR: a figure from the proxy's stats (j = the stats)
pstat() {
  local admin; admin=$([ "$1" = oss ] && echo "$OSS_ADMIN" || echo "$COS_ADMIN")
  curl -sf "$admin/stats" | jget "$2"
}

fault_lister() {
  "$FERRY_BIN/ferry-lister" -c "$CONF" -t t "$@" 2>>"$FERRY_RUN/lister.log"
}

# fault_worker ID: starts a worker; WPID[ID] is its pid.
fault_worker() {
  "$FERRY_BIN/ferry-worker" -c "$CONF" --id "$1" >>"$FERRY_RUN/$1.log" 2>&1 &
  WPID[$1]=$!
  track_pid $!
}
fault_stop_workers() {
  local w
  for w in "${!WPID[@]}"; do kill -TERM "${WPID[$w]}" 2>/dev/null || true; done
  for w in "${!WPID[@]}"; do wait "${WPID[$w]}" 2>/dev/null || true; done
}

# Distinct segments with a result so far.
results_n() {
  kcat -b "$FERRY_BROKERS" -C -t ferry.results -o beginning -e -q 2>/dev/null |
    sed -n 's/.*"segment":"\([^"]*\)".*/\1/p' | sort -u | wc -l
}
# wait_until SECONDS CMD...: polls CMD every 0.2 s
wait_until() {
  local s="$1"; shift
  local i
  for i in $(seq 1 $((s * 5))); do "$@" && return 0; sleep 0.2; done
  return 1
}

# fault_wait [TIMEOUT_S]: blocks until the task is done; WAIT_RC is the
# reporter's exit status (0 completed, 3 completed with failures).
fault_wait() {
  WAIT_RC=0
  "$FERRY_BIN/ferry-reporter" -c "$CONF" --task t --wait --timeout "${1:-240}" >"$FERRY_RUN/wait.out" 2>"$FERRY_RUN/wait.err" || WAIT_RC=$?
  TASK_S=$((SECONDS - ${TASK_T0:-0}))
  if [ "$WAIT_RC" = 4 ]; then fault_diagnose; fi
}

# fault_diagnose: when a task does not end, what every live worker is doing
# (thread stacks, if gdb is there) and what the proxies saw, kept in the run
# directory.
fault_diagnose() {
  local w
  echo "fault_diagnose: the task did not end; stacks and stats in $FERRY_RUN" >&2
  for w in "${!WPID[@]}"; do
    kill -0 "${WPID[$w]}" 2>/dev/null || continue
    if command -v gdb >/dev/null; then
      timeout 60 gdb -p "${WPID[$w]}" -batch -ex 'thread apply all bt' >"$FERRY_RUN/$w.stack" 2>&1 || true
    fi
  done
  curl -sf "$OSS_ADMIN/stats" >"$FERRY_RUN/stats-oss.json" || true
  curl -sf "$COS_ADMIN/stats" >"$FERRY_RUN/stats-cos.json" || true
  "$FERRY_BIN/ferry-reporter" -c "$CONF" --task t --once --json >"$FERRY_RUN/status.json" 2>/dev/null || true
}

# fault_check STATE [EXPECT.json]: the reporter's figures and export against
# the snapshot and the destination (tests/tools/account.js), and the contents
# (tests/tools/compare.js; failed keys may be missing). Sets COPIED SKIPPED
# FAILED LOST REASONS SRC_REQ DST_REQ.
fault_check() {
  local state="$1" expect="${2:-}"
  local want_rc=0
  [ "$state" = completed-with-failures ] && want_rc=3
  [ "$WAIT_RC" = "$want_rc" ] || { tail -n 5 "$FERRY_RUN/wait.out" "$FERRY_RUN/wait.err" >&2; fail "reporter --wait exit $WAIT_RC, want $want_rc ($state)"; }
  "$FERRY_BIN/ferry-reporter" -c "$CONF" --task t --once --json >"$FERRY_RUN/status.json" || fail "reporter --once failed"
  "$FERRY_BIN/ferry-reporter" -c "$CONF" --export-failed t --format jsonl --out "$FERRY_RUN/failed.jsonl" || fail "export failed"
  "$FERRY_BIN/ferry-reporter" -c "$CONF" --export-failed t --out "$FERRY_RUN/failed.csv" || fail "CSV export failed"
  local out rc=0
  # The destination bucket's own server: the one s3rver, or FERRY_S3_DST (the WAN bed's second).
  local dst_s3="${FERRY_S3_DST:-$FERRY_S3_MAIN}"
  out=$(node "$TOOLS/account.js" --snapshot "$FERRY_RUN/snapshot.json" --dst "$dst_s3" "$FAULT_DST_BUCKET" \
    --status "$FERRY_RUN/status.json" --export "$FERRY_RUN/failed.jsonl" --state "$state" \
    ${expect:+--expect-failed "$expect"} --missing-out "$FERRY_RUN/failed.keys") || rc=$?
  echo "$out"
  LOST=$(echo "$out" | sed -n 's/.* lost=\([0-9]*\) .*/\1/p' | tail -1)
  [ "$rc" = 0 ] || fail "accounting (lost=${LOST:-?})"
  # The CSV export has the same rows (one per failed key, plus the header).
  assert_eq "$(($(node -e "
    const t=require('fs').readFileSync('$FERRY_RUN/failed.csv','utf8');let n=0,q=false;
    for(const c of t){if(c=='\"')q=!q;else if(c=='\n'&&!q)n++;}console.log(n)") - 1))" \
    "$(wc -l <"$FERRY_RUN/failed.keys")" "CSV export rows"
  node "$TOOLS/compare.js" "$FERRY_S3_MAIN" "$FAULT_SRC_BUCKET" "$dst_s3" "$FAULT_DST_BUCKET" \
    --allow-missing-file "$FERRY_RUN/failed.keys" >"$FERRY_RUN/compare.out" || { cat "$FERRY_RUN/compare.out"; fail "destination differs from the source"; }
  tail -1 "$FERRY_RUN/compare.out"
  read -r COPIED SKIPPED FAILED <<<"$(jget 'j.copied+" "+j.skipped+" "+j.failed' <"$FERRY_RUN/status.json")"
  REASONS=$(echo "$out" | sed -n 's/.* reasons=\([^ ]*\) .*/\1/p' | tail -1)
  curl -sf "$OSS_ADMIN/stats" >"$FERRY_RUN/stats-oss.json"
  curl -sf "$COS_ADMIN/stats" >"$FERRY_RUN/stats-cos.json"
  SRC_REQ=$(jget j.requests <"$FERRY_RUN/stats-oss.json") DST_REQ=$(jget j.requests <"$FERRY_RUN/stats-cos.json")
  echo "source requests by op/status: $(jget 'JSON.stringify(j.by_op_status)' <"$FERRY_RUN/stats-oss.json")"
  echo "destination requests by op/status: $(jget 'JSON.stringify(j.by_op_status)' <"$FERRY_RUN/stats-cos.json")"
}

# fault_survived "extra k=v ...": the scenario's line for scripts/faults.sh.
fault_survived() {
  echo "fault: $FAULT: survived, objects=$TOTAL lost=${LOST:-?} copied=$COPIED skipped=$SKIPPED failed=$FAILED" \
    "reasons=$REASONS src_requests=$SRC_REQ dst_requests=$DST_REQ ${1:-} setup_s=${SETUP_S:-?} task_s=${TASK_S:-?} wall_s=$SECONDS"
}
