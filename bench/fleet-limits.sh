#!/usr/bin/env bash
# One task's limits are that task's: two tasks copied at
# once by a fleet of workers (dev broker, BENCH_WORKERS ferry-workers, two
# s3rver on loopback), one with a fleet-wide limit, one without.
#
# Per kind (BENCH_KINDS, default "qps bandwidth"):
#   1. the unlimited task alone (its run 2; run 1 warms up), on workers
#      whose config does not name the limited tasks: its wall time;
#   2. on workers restarted with the whole config, the limited task and the
#      unlimited one listed together (run 3 of the unlimited one): the
#      limited task's fleet-wide rate (its requests or bytes, summed over
#      the workers' event=task-summary lines, over the span of its
#      segments' results) and the unlimited task's wall time.
# The limited task has few segments (BENCH_SEGMENT_OBJECTS objects each), so
# only some workers hold them: the share must follow the work, not the
# partitions.
#
# Last line:
#   RESULT qps_vs_limit=... qps_free_slowdown=... qps_free_alone_s=... qps_free_beside_s=...
#          bw_vs_limit=... bw_free_slowdown=... bw_free_alone_s=... bw_free_beside_s=...
# *_vs_limit: the limited task's fleet-wide rate / its limit (target 0.8-1.0);
# *_free_slowdown: the unlimited task's wall time beside it / alone (target ~1;
# the limited task's requests still cost the same servers some time).
# tests/integration/fleet_limits.sh runs it small and asserts loose bounds.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export FERRY_SRC="$ROOT" FERRY_BIN="${FERRY_BIN:-$ROOT/build}"
KINDS="${BENCH_KINDS:-qps bandwidth}"
WORKERS="${BENCH_WORKERS:-3}" PARTS="${BENCH_PARTITIONS:-12}"
SEG="${BENCH_SEGMENT_OBJECTS:-100}"
QPS="${BENCH_QPS:-50}" QPS_OBJS="${BENCH_QPS_OBJECTS:-300}" QPS_FREE="${BENCH_QPS_FREE:-600}"
BW_MIB="${BENCH_BW_MIB:-4}" BW_OBJS="${BENCH_BW_OBJECTS:-24}" BW_FREE="${BENCH_BW_FREE:-13}"
[ -x "$FERRY_BIN/ferry-worker" ] || "$ROOT/scripts/build.sh" >/dev/null
source "$ROOT/scripts/servers.sh"
servers_init
trap servers_stop EXIT INT TERM
TOOLS="$ROOT/tests/tools"
devbroker_start --partitions "$PARTS"
s3_start src limq freeq limb freeb
s3_start dst limq freeq limb freeb
export FERRY_SRC_ACCESS_KEY=S3RVER FERRY_SRC_SECRET_KEY=S3RVER FERRY_DST_ACCESS_KEY=S3RVER FERRY_DST_SECRET_KEY=S3RVER
CONF="$FERRY_RUN/bench.conf" BASE="$FERRY_RUN/base.conf"
cat >"$CONF" <<CONF
log_level = "info";
kafka = { brokers = ""; bootstrap_file = "$FERRY_RUN/bootstrap"; segments_partitions = $PARTS;
  consumer_properties = ["session.timeout.ms=6000", "heartbeat.interval.ms=500"]; };
stores = ( { name = "src"; type = "s3"; endpoint = "$FERRY_S3_SRC"; region = "us-east-1"; path_style = true; },
           { name = "dst"; type = "s3"; endpoint = "$FERRY_S3_DST"; region = "us-east-1"; path_style = true; } );
worker = { concurrency = 16; multipart_threshold = "64M"; };
lister = { segment_max_objects = $SEG; };
tasks = (
  { name = "limq"; source = "src:limq"; destination = "dst:limq"; same_name = "overwrite"; qps_limit = $QPS; },
  { name = "freeq"; source = "src:freeq"; destination = "dst:freeq"; same_name = "overwrite"; },
  { name = "limb"; source = "src:limb"; destination = "dst:limb"; same_name = "overwrite"; bandwidth_limit = "${BW_MIB}M"; },
  { name = "freeb"; source = "src:freeb"; destination = "dst:freeb"; same_name = "overwrite"; }
);
CONF
# The workers' config of the first phase: the limited tasks unknown.
grep -v '"lim[qb]"' "$CONF" >"$BASE"
chmod 600 "$CONF" "$BASE"
for k in $KINDS; do
  case $k in
    qps) node "$TOOLS/fill.js" "$FERRY_S3_SRC" limq "small:$QPS_OBJS:1:2" >/dev/null
         node "$TOOLS/fill.js" "$FERRY_S3_SRC" freeq "small:$QPS_FREE:1:2" >/dev/null ;;
    bandwidth) node "$TOOLS/fill.js" "$FERRY_S3_SRC" limb "large:$BW_OBJS:2" >/dev/null
         node "$TOOLS/fill.js" "$FERRY_S3_SRC" freeb "large:$BW_FREE:5" >/dev/null ;;
    *) echo "bench: unknown kind $k (qps, bandwidth)" >&2; exit 2 ;;
  esac
done

# workers CONF PHASE: starts them, returns when the group has settled
# (every worker has its partitions).
workers() {
  local i n
  W=()
  for i in $(seq 1 "$WORKERS"); do
    "$FERRY_BIN/ferry-worker" -c "$1" --id "lw$i" >"$FERRY_RUN/lw$i-$2.log" 2>&1 & W+=($!); track_pid $!
  done
  for _ in $(seq 1 60); do
    # At least its share of the legacy topic's partitions (the tasks'
    # segments topics add theirs to the count).
    n=0
    for f in "$FERRY_RUN"/lw*-"$2".log; do
      a=$(grep -oE "event=rebalance kind=assigned.* assigned=[0-9]+" "$f" 2>/dev/null | tail -1 | grep -oE "[0-9]+$" || true)
      [ "${a:-0}" -ge $((PARTS / WORKERS)) ] && n=$((n + 1))
    done
    [ "$n" -ge "$WORKERS" ] && break
    sleep 0.5
  done
}

list() { "$FERRY_BIN/ferry-lister" -c "$CONF" -t "$1" 2>>"$FERRY_RUN/lister-$1.log"; }
await() {
  "$FERRY_BIN/ferry-reporter" -c "$CONF" --task "$1" --wait --timeout 300 >/dev/null 2>&1 ||
    { echo "bench: task $1 did not complete" >&2; exit 1; }
}
# span TASK RUN: seconds from its first segment's start to its last one's end.
span() {
  kcat -b "$FERRY_BROKERS" -C -t ferry.results -o beginning -e -q | node -e "
let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{
const r=s.trim().split('\n').map(JSON.parse).filter(x=>x.task==='$1'&&x.run===$2);
console.log(((Math.max(...r.map(x=>x.finished_ms))-Math.min(...r.map(x=>x.started_ms)))/1000).toFixed(3))})"
}
declare -A ALONE JOINT
# Phase 1: the unlimited tasks alone, on workers that know of no limit.
workers "$BASE" alone
for k in $KINDS; do
  free=freeq; [ "$k" = bandwidth ] && free=freeb
  # Run 1 warms the servers and connections up; run 2 is measured.
  list "$free"; await "$free"
  list "$free"; await "$free"
  ALONE[$k]=$(span "$free" 2)
done
kill -TERM "${W[@]}"; wait "${W[@]}" || true
# Phase 2: each beside a limited task, on workers with the whole config.
workers "$CONF" beside
for k in $KINDS; do
  lim=limq; free=freeq; [ "$k" = bandwidth ] && { lim=limb; free=freeb; }
  list "$lim" & lp=$!
  list "$free"; wait "$lp"
  await "$lim"; await "$free"
  JOINT[$k]=$(span "$free" 3)
done
kill -TERM "${W[@]}"; wait "${W[@]}" || true

result=""
for k in $KINDS; do
  lim=limq; field=requests; limit=$QPS; tag=qps
  [ "$k" = bandwidth ] && { lim=limb; field=bytes; limit=$((BW_MIB * 1048576)); tag=bw; }
  spent=$(sed -n "s/.*event=task-summary task=$lim $([ $field = bytes ] && echo 'requests=[0-9]* ')$field=\([0-9]*\).*/\1/p" "$FERRY_RUN"/lw*-beside.log | paste -sd+ | bc)
  if [ -z "$spent" ]; then
    # A worker without per-task counters (before this bench): from the
    # results, a GET and a PUT per object copied (retries not counted).
    spent=$(kcat -b "$FERRY_BROKERS" -C -t ferry.results -o beginning -e -q | node -e "
let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{
const r=s.trim().split('\n').map(JSON.parse).filter(x=>x.task==='$lim');
console.log(r.reduce((a,x)=>a+('$field'==='bytes'?x.bytes:2*x.n_copied),0))})")
  fi
  holders=$(grep -l "event=limits task=$lim " "$FERRY_RUN"/lw*-beside.log | wc -l || true)
  secs=$(span "$lim" 1)
  rate=$(echo "$spent / $secs" | bc -l)
  vs=$(echo "$rate / $limit" | bc -l)
  slow=$(echo "${JOINT[$k]} / ${ALONE[$k]}" | bc -l)
  printf 'bench: %-9s limited task: %s %s in %ss on %d workers = %.1f/s, limit %s/s (%.2f); unlimited task alone %ss, beside it %ss (x%.2f)\n' \
    "$k" "$spent" "$field" "$secs" "$holders" "$rate" "$limit" "$vs" "${ALONE[$k]}" "${JOINT[$k]}" "$slow"
  result="$result ${tag}_vs_limit=$(printf %.2f "$vs") ${tag}_free_slowdown=$(printf %.2f "$slow")"
  result="$result ${tag}_free_alone_s=${ALONE[$k]} ${tag}_free_beside_s=${JOINT[$k]}"
done
echo "RESULT$result"
