#!/usr/bin/env bash
# The WAN bed's benchmarks (scripts/wan.sh, default profile scaled
# by WAN_SCALE, HTTPS on every store endpoint). Run as root:
#   bench/wan.sh [small] [large] [scaleout] [fanout] [estimate]   (default: all)
#
#   small:    wan_small_vs_rclone — BENCH_SMALL (2000) objects of 1-64 KiB,
#             ferry (one worker host, w1, concurrency 32 = its default) wall
#             time / rclone's (`copy --transfers 32 --checkers 32`, also on
#             w1, through plain S3 proxies with the same TLS on the same
#             hosts). Goal <= 0.5.
#   large:    wan_large_link_util — 4 x BENCH_LARGE_MB (default 32; the issue
#             asks 256, scaled with the rates) MiB: bytes/s over the capacity
#             of the narrowest link on the path; one host (its NIC) and four
#             hosts (the inter-cloud link). Goal >= 0.9.
#   scaleout: scaleout_4_hosts — the large dataset on 4 hosts / on 1 host
#             (from the two runs above). Goal >= 3.5.
#   fanout:   fanout4_hosts_vs_single — one BENCH_FANOUT_MB (256) MiB object
#             at the fan-out threshold, wall time on 4 hosts / on 1. Goal <= 0.35.
#   estimate: estimate_error — --estimate of a mixed task from a trial's rate
#             (a sample of other seeds, same four hosts) / the measured wall
#             time, minus 1. Goal within +-0.20.
# Beside each figure: the machine's CPU busy share (cpu_busy, 1.00 = both
# CPUs saturated, by anything), each store proxy's and the forwarder's CPU
# seconds per wall second (one thread each: near 1.0 means that process, not
# the link, is the bottleneck).
# Last line: RESULT name=value ... (each figure measured; misses included).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export FERRY_SRC="$ROOT" FERRY_BIN="${FERRY_BIN:-$ROOT/build}"
export WAN_PREFIX="${WAN_PREFIX:-fwb}" WAN_SCALE="${WAN_SCALE:-0.2}"
export WAN_S3_PROXIES=1 WAN_DST_BUCKETS="rclone-dst"
export BENCH_PARTS="${BENCH_PARTS:-${*:-small large scaleout fanout estimate}}"   # kept for the re-run on the broker host
FAULT=bench_wan
source "$ROOT/tests/lib/itest.sh"
source "$ROOT/tests/lib/wan.sh"
wan_enter "${BENCH_PROFILE:-$ROOT/tests/wan/profiles/default.prof}"

SMALL="${BENCH_SMALL:-2000}" LARGE_MB="${BENCH_LARGE_MB:-32}" FAN_MB="${BENCH_FANOUT_MB:-256}"
want() { [[ " $BENCH_PARTS " == *" $1 "* ]]; }
now() { date +%s.%N; }
rate_kbit() { wan show | awk -v h="$1" '$1 == h { sub(/rate=/, "", $3); sub(/kbit/, "", $3); print $3 }'; }
# proxy_cpu NAME: its CPU seconds so far: proxy NAME, or with NAME s3rv_src /
# s3rv_dst the s3rver behind a region's proxies (one Node thread each too).
proxy_cpu() {
  local pat="--state-dir $FERRY_RUN/proxy-$1 "
  [[ "$1" != s3rv_* ]] || pat="s3.js 9000 $FERRY_RUN/s3-${1#s3rv_} "
  local pid; pid=$(pgrep -f -- "$pat" | head -1)
  awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / t}' "/proc/$pid/stat"
}
# fwd_cpu: ferry-wanfwd's CPU seconds so far (it moves every packet: near
# 1.0 per wall second means the bed itself is the limit).
fwd_cpu() { awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / t}' "/proc/$(cat "/run/ferry-wan-$WAN_PREFIX/fwd.pid")/stat"; }
snap_cpu() {
  wan_cpu_start; F0=$(fwd_cpu); P0=()
  local p; for p in "$@"; do P0+=("$(proxy_cpu "$p")"); done; PN=("$@")
}
# report_cpu WALL: cpu_busy=... proxy_NAME=cpu_s/wall ...
report_cpu() {
  local out i
  out="cpu_busy=$(wan_cpu_end) wanfwd_load=$(awk -v a="$F0" -v b="$(fwd_cpu)" -v w="$1" 'BEGIN{printf "%.2f", (b - a) / w}')"
  for i in "${!PN[@]}"; do
    out+=" ${PN[$i]}_load=$(awk -v a="${P0[$i]}" -v b="$(proxy_cpu "${PN[$i]}")" -v w="$1" 'BEGIN{printf "%.2f", (b - a) / w}')"
  done
  echo "$out"
}

wan_setup
# ferry at its defaults (wan_conf: production retries; the sizes below undo
# fault_conf's test sizes). BENCH_CONF_EXTRA: more "key=value" settings, e.g.
# worker.concurrency_max=256.
# shellcheck disable=SC2086
wan_conf worker.multipart_threshold='"64M"' worker.part_size='"16M"' lister.segment_max_objects=1000 \
  ${BENCH_SEGMENT_MAX_BYTES:+lister.segment_max_bytes=\"$BENCH_SEGMENT_MAX_BYTES\"} \
  lister.fanout_threshold="\"${FAN_MB}M\"" ${BENCH_CONF_EXTRA:-}
# One task per measured run, each into its own prefix of the destination.
add_task() { sed -i "s|^tasks = ( |tasks = ( { name = \"$1\"; source = \"oss:$FAULT_SRC_BUCKET/$2/\"; destination = \"cos:$FAULT_DST_BUCKET/$1/\"; }, |" "$CONF"; }
for t in small large1 large4 fan1 fan4; do add_task "$t" "${t%%[0-9]*}"; done
add_task mixt mixt; add_task mix mix
# ferry_run TASK HOSTS...: workers on those hosts, the task, its wall time in WALL.
ferry_run() {
  local task="$1"; shift
  local n
  for n in "$@"; do wan_worker "$n"; done
  sleep 8   # the group settles before the clock starts
  local t0; t0=$(now)
  "$FERRY_BIN/ferry-lister" -c "$CONF" -t "$task" 2>>"$FERRY_RUN/lister.log" || fail "lister $task"
  "$FERRY_BIN/ferry-reporter" -c "$CONF" --task "$task" --wait --timeout 1800 >"$FERRY_RUN/wait-$task.out" 2>&1 ||
    fail "task $task did not complete: $(tail -2 "$FERRY_RUN/wait-$task.out")"
  WALL=$(echo "$(now) - $t0" | bc)
  fault_stop_workers
  WPID=()
}
# verify PREFIX DST_BUCKET DST_PREFIX: the copy equals the source.
verify() {
  node "$TOOLS/compare.js" "$FERRY_S3_MAIN" "$FAULT_SRC_BUCKET" "$FERRY_S3_DST" "$2" --prefix "$1/" --dst-prefix "$3/" \
    >"$FERRY_RUN/compare-$3.out" 2>&1 || { tail -5 "$FERRY_RUN/compare-$3.out"; fail "$3: the copy differs from the source"; }
}
RESULT=()
if want small; then
  wan exec src node "$TOOLS/fill.js" http://127.0.0.1:9000 "$FAULT_SRC_BUCKET" "small:$SMALL:1:64" >/dev/null
  snap_cpu oss cos s3rv_src s3rv_dst
  ferry_run small 1
  fw=$WALL; echo "small: ferry (w1) wall_s=$fw $(report_cpu "$fw")"
  printf '[src]\ntype = s3\nprovider = Other\naccess_key_id = S3RVER\nsecret_access_key = S3RVER\nendpoint = https://%s:9444\nregion = us-east-1\nforce_path_style = true\n\n[dst]\ntype = s3\nprovider = Other\naccess_key_id = S3RVER\nsecret_access_key = S3RVER\nendpoint = https://%s:9444\nregion = us-east-1\nforce_path_style = true\n' \
    "$SRC_IP" "$DST_IP" >"$FERRY_RUN/rclone.conf"
  snap_cpu s3src s3dst s3rv_src s3rv_dst
  t0=$(now)
  # AWS_CA_BUNDLE (set on some machines) breaks rclone 1.60.1's S3 transport
  # ("unsupported transport"); --ca-cert gives it the test CA.
  wan exec w1 env -u AWS_CA_BUNDLE rclone --config "$FERRY_RUN/rclone.conf" --ca-cert "$FAULT_CA_FILE" copy "src:$FAULT_SRC_BUCKET/small" \
    "dst:rclone-dst/small" --transfers 32 --checkers 32 >"$FERRY_RUN/rclone.log" 2>&1 || { tail "$FERRY_RUN/rclone.log"; fail rclone; }
  rw=$(echo "$(now) - $t0" | bc); echo "small: rclone (w1) wall_s=$rw $(report_cpu "$rw")"
  verify small "$FAULT_DST_BUCKET" small
  verify small rclone-dst small
  bytes=$(node -e "let s=0;for(const o of require('$FERRY_RUN/snapshot.json'))if(o.key.startsWith('small/'))s+=o.size;console.log(s)" 2>/dev/null || echo 0)
  RESULT+=("wan_small_vs_rclone=$(awk -v a="$fw" -v b="$rw" 'BEGIN{printf "%.2f", a / b}')")
fi
if want large || want scaleout; then
  wan exec src node "$TOOLS/fill.js" http://127.0.0.1:9000 "$FAULT_SRC_BUCKET" "large:4:$LARGE_MB" >/dev/null
  bytes=$((4 * LARGE_MB * 1048576))
  w_kbit=$(rate_kbit w1) d_kbit=$(rate_kbit dst)
  snap_cpu oss cos s3rv_src s3rv_dst
  ferry_run large1 1
  u1=$(awk -v b="$bytes" -v w="$WALL" -v k="$w_kbit" 'BEGIN{printf "%.2f", b * 8 / w / (k * 1000)}')
  r1=$(awk -v b="$bytes" -v w="$WALL" 'BEGIN{printf "%.3f", b / w / 1048576}')
  echo "large, 1 host: wall_s=$WALL MiB_s=$r1 narrowest=w1 NIC ${w_kbit} kbit/s util=$u1 $(report_cpu "$WALL")"
  verify large "$FAULT_DST_BUCKET" large1
  snap_cpu oss cos s3rv_src s3rv_dst
  ferry_run large4 1 2 3 4
  u4=$(awk -v b="$bytes" -v w="$WALL" -v k="$d_kbit" 'BEGIN{printf "%.2f", b * 8 / w / (k * 1000)}')
  r4=$(awk -v b="$bytes" -v w="$WALL" 'BEGIN{printf "%.3f", b / w / 1048576}')
  echo "large, 4 hosts: wall_s=$WALL MiB_s=$r4 narrowest=inter-cloud ${d_kbit} kbit/s util=$u4 $(report_cpu "$WALL")"
  verify large "$FAULT_DST_BUCKET" large4
  want large && RESULT+=("wan_large_link_util_1host=$u1" "wan_large_link_util_4hosts=$u4")
  want scaleout && RESULT+=("scaleout_4_hosts=$(awk -v a="$r4" -v b="$r1" 'BEGIN{printf "%.2f", a / b}')")
fi
if want fanout; then
  # One object at lister.fanout_threshold (BENCH_FANOUT_MB, default 256 MiB;
  # the issue's 4 GiB scaled with the rates): its part ranges copied by one
  # host, then by four, each host behind its own NIC cap.
  wan exec src node "$TOOLS/fill.js" http://127.0.0.1:9000 "$FAULT_SRC_BUCKET" "key:fan/huge.bin:$((FAN_MB * 1048576))" >/dev/null
  snap_cpu oss cos s3rv_src s3rv_dst
  ferry_run fan1 1; f1=$WALL
  echo "fanout, 1 host: wall_s=$f1 $(report_cpu "$f1")"
  verify fan "$FAULT_DST_BUCKET" fan1
  snap_cpu oss cos s3rv_src s3rv_dst
  ferry_run fan4 1 2 3 4; f4=$WALL
  echo "fanout, 4 hosts: wall_s=$f4 $(report_cpu "$f4")"
  verify fan "$FAULT_DST_BUCKET" fan4
  RESULT+=("fanout4_hosts_vs_single=$(awk -v a="$f4" -v b="$f1" 'BEGIN{printf "%.2f", a / b}')")
fi
if want estimate; then
  # estimate_error: a trial over a sample (mixt: 1/3 of the mix, other
  # seeds) on four hosts, its reporter view saved; then --estimate of the
  # task (mix: small 1-64 KiB, medium 5-16 MiB, 64 MiB multipart objects, the
  # mixed-sizes scenario's kinds scaled) from the trial's rate, against the
  # task's measured duration (lister start to the reporter seeing it done).
  mixspecs() {  # PREFIX SEED SMALL MEDIUM BIG
    awk -v p="$1" -v seed="$2" -v ns="$3" -v nm="$4" -v nb="$5" 'BEGIN { srand(seed)
      for (i = 0; i < ns; i++) printf "key:%s/s/%04d.bin:%d\n", p, i, 1024 + int(rand() * 63 * 1024)
      for (i = 0; i < nm; i++) printf "key:%s/m/%03d.bin:%d\n", p, i, 5242880 + int(rand() * 11 * 1048576)
      for (i = 0; i < nb; i++) printf "key:%s/b/%02d.bin:%d\n", p, i, 67108864 }'
  }
  mapfile -t specs < <(mixspecs mixt 7 100 4 1; mixspecs mix 11 300 12 3)
  wan exec src node "$TOOLS/fill.js" http://127.0.0.1:9000 "$FAULT_SRC_BUCKET" "${specs[@]}" >/dev/null
  ferry_run mixt 1 2 3 4; echo "estimate: trial wall_s=$WALL"
  "$FERRY_BIN/ferry-reporter" -c "$CONF" --task mixt --once --json >"$FERRY_RUN/trial.json" || fail "trial view"
  "$FERRY_BIN/ferry-lister" -c "$CONF" -t mix --estimate --workers 4 --rate-from-json "$FERRY_RUN/trial.json" \
    --rate-workers 4 >"$FERRY_RUN/estimate.out" 2>>"$FERRY_RUN/lister.log" || fail "--estimate"
  est=$(sed -n 's/^estimate_seconds=\([^ ]*\).*/\1/p' "$FERRY_RUN/estimate.out")
  grep -E '^measured per worker|^  slowest worker|^start:|^estimated duration' "$FERRY_RUN/estimate.out" || true
  cp "$FERRY_RUN/trial.json" "$FERRY_RUN/estimate.out" "${BENCH_KEEP:-/tmp}/" 2>/dev/null || true
  snap_cpu oss cos s3rv_src s3rv_dst
  ferry_run mix 1 2 3 4; mw=$WALL
  echo "estimate: estimate_s=$est measured_s=$mw $(report_cpu "$mw")"
  verify mix "$FAULT_DST_BUCKET" mix
  RESULT+=("estimate_error=$(awk -v e="$est" -v m="$mw" 'BEGIN{printf "%+.2f", e / m - 1}')")
fi
echo "RESULT ${RESULT[*]} scale=$WAN_SCALE"
