#!/usr/bin/env bash
# Sizing figures on the WAN bed (docs/sizing.md; scripts/wan.sh, default
# profile scaled by WAN_SCALE, default 1 here: w1's NIC 50 Mbit/s, the
# inter-cloud link 200 Mbit/s with 30 ms RTT and 0.1 % loss, HTTPS on every
# store endpoint). Run as root:
#   bench/sizing.sh [copy] [list]          (default: both)
#
#   copy: per object size (SIZING_SIZES, "KIB:COUNT ..."), ONE worker on w1
#         at its defaults (concurrency 32) copies COUNT objects of KIB KiB:
#         objects/s and MB/s (10^6 bytes) from the lister's start to the
#         reporter seeing the task complete; the worker's CPU seconds
#         (utime + stime, /proc) per object and per GiB over that span; the
#         share of w1's NIC rate used; and --estimate's duration before the
#         run, with its default (assumed) inputs and with the bed's measured
#         link (--src-rate/--dst-rate = w1's rate, --request-ms = RTT), over
#         the measured wall time.
#   list: ferry-synths3 (SIZING_LIST_OBJECTS keys) on the source host behind
#         the bed's link, listed by ferry-lister on the broker host into the
#         dev broker, 1 shard and SIZING_SHARDS shards, with the store adding
#         SIZING_LIST_DELAY_MS (default 0 and 30) per page: pages/s per shard.
# Beside each figure: cpu_busy (the machine's CPU share over the span, 1.00 =
# both CPUs busy by anything) — the machine is shared, say so with the figure.
# Last line: RESULT name=value ... (per size KIB: objs_s_KIB, MBps_KIB,
# cpu_s_per_kobj_KIB, cpu_s_per_gib_KIB, est_assumed_KIB, est_link_KIB =
# estimate/measured; pages_s_per_shard_sN_dMS).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export FERRY_SRC="$ROOT" FERRY_BIN="${FERRY_BIN:-$ROOT/build}"
export WAN_PREFIX="${WAN_PREFIX:-fws}" WAN_SCALE="${WAN_SCALE:-1}"
export SIZING_PARTS="${SIZING_PARTS:-${*:-copy list}}"   # kept for the re-run on the broker host
FAULT=bench_sizing
source "$ROOT/tests/lib/itest.sh"
source "$ROOT/tests/lib/wan.sh"
wan_enter "$ROOT/tests/wan/profiles/default.prof"

SIZES="${SIZING_SIZES:-16:3000 512:400 8192:30}"
want() { [[ " $SIZING_PARTS " == *" $1 "* ]]; }
now() { date +%s.%N; }
rate_kbit() { wan show | awk -v h="$1" '$1 == h { sub(/rate=/, "", $3); sub(/kbit/, "", $3); print $3 }'; }
pid_cpu() { awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat"; }
calc() { awk "BEGIN{printf \"$1\", $2}"; }
RESULT=()

wan_setup
wan_conf worker.concurrency=32 worker.multipart_threshold='"64M"' worker.part_size='"16M"' lister.segment_max_objects=1000
# One task per size, each from its own source prefix into its own destination prefix.
add_task() { sed -i "s|^tasks = ( |tasks = ( { name = \"$1\"; source = \"oss:$FAULT_SRC_BUCKET/$1/\"; destination = \"cos:$FAULT_DST_BUCKET/$1/\"; same_name = \"overwrite\"; }, |" "$CONF"; }

if want copy; then
  w_kbit=$(rate_kbit w1)
  # one-way delays of the path w1 -> dst (profile) x 2: the request round trip
  rtt_ms=$(awk '$1=="link" && ($2=="w1" || $2=="dst") {s += $4} END {print 2 * s}' "$ROOT/tests/wan/profiles/default.prof")
  for sc in $SIZES; do
    kib=${sc%%:*} n=${sc##*:} task="s${sc%%:*}k"
    add_task "$task"
    specs=()
    for i in $(seq 1 "$n"); do specs+=("key:$task/$((i % 20))/obj-$(printf %06d "$i").bin:$((kib * 1024))"); done
    wan exec src node "$TOOLS/fill.js" http://127.0.0.1:9000 "$FAULT_SRC_BUCKET" "${specs[@]}" >/dev/null || fail "fill $task"
    bytes=$((n * kib * 1024))
    est() { "$FERRY_BIN/ferry-lister" -c "$CONF" -t "$task" --estimate --workers 1 "$@" 2>>"$FERRY_RUN/est.log" |
      sed -n 's/^estimate_seconds=\([^ ]*\).*/\1/p'; }
    e_def=$(est)
    e_link=$(est --src-rate "$((w_kbit * 125))" --dst-rate "$((w_kbit * 125))" --request-ms "$rtt_ms")
    wan_worker 1
    sleep 8   # the group settles before the clock starts
    wan_cpu_start
    c0=$(pid_cpu "${WPID[w1]}") t0=$(now)
    "$FERRY_BIN/ferry-lister" -c "$CONF" -t "$task" 2>>"$FERRY_RUN/lister.log" || fail "lister $task"
    "$FERRY_BIN/ferry-reporter" -c "$CONF" --task "$task" --wait --timeout 1800 >"$FERRY_RUN/wait-$task.out" 2>&1 ||
      fail "task $task did not complete: $(tail -2 "$FERRY_RUN/wait-$task.out")"
    wall=$(echo "$(now) - $t0" | bc) c1=$(pid_cpu "${WPID[w1]}") busy=$(wan_cpu_end)
    fault_stop_workers; WPID=()
    node "$TOOLS/compare.js" "$FERRY_S3_MAIN" "$FAULT_SRC_BUCKET" "$FERRY_S3_DST" "$FAULT_DST_BUCKET" \
      --prefix "$task/" --dst-prefix "$task/" >"$FERRY_RUN/compare-$task.out" 2>&1 ||
      { tail -5 "$FERRY_RUN/compare-$task.out"; fail "$task: the copy differs from the source"; }
    cpu=$(calc %.2f "$c1 - $c0")
    ops=$(calc %.1f "$n / $wall") mbps=$(calc %.2f "$bytes / $wall / 1e6")
    util=$(calc %.2f "$bytes * 8 / $wall / ($w_kbit * 1000)")
    cpk=$(calc %.3f "$cpu * 1000 / $n") cpg=$(calc %.2f "$cpu / ($bytes / 1073741824)")
    ea=$(calc %.2f "$e_def / $wall") el=$(calc %.2f "$e_link / $wall")
    echo "copy ${kib}KiB x $n: wall_s=$wall objects_s=$ops MB_s=$mbps w1_nic_util=$util worker_cpu_s=$cpu" \
      "cpu_s_per_1000_obj=$cpk cpu_s_per_GiB=$cpg estimate_assumed_s=$e_def estimate_link_s=$e_link cpu_busy=$busy"
    RESULT+=("objs_s_$kib=$ops" "MBps_$kib=$mbps" "nic_util_$kib=$util" "cpu_s_per_kobj_$kib=$cpk"
      "cpu_s_per_gib_$kib=$cpg" "est_assumed_$kib=$ea" "est_link_$kib=$el" "cpu_busy_$kib=$busy")
  done
fi

if want list; then
  LN="${SIZING_LIST_OBJECTS:-300000}" SH="${SIZING_SHARDS:-4}"
  for delay in ${SIZING_LIST_DELAY_MS:-0 30}; do
    port=$((19100 + delay))
    wan_bg src "$FERRY_RUN/synth-$delay.out" "$FERRY_BIN/ferry-synths3" --port "$port" --objects "$LN" \
      --prefixes 100 --threads 8 --list-delay-ms "$delay"
    wait_line "$FERRY_RUN/synth-$delay.out" '^ready' 30 || fail "synths3 did not start"
    wan share src "$port"
    export FERRY_SYN_ACCESS_KEY=bench FERRY_SYN_SECRET_KEY=bench
    for s in 1 "$SH"; do
      lc="$FERRY_RUN/list-$delay-$s.conf"
      sed -e "s|^stores = (|stores = ( { name = \"syn\"; type = \"s3\"; endpoint = \"http://127.0.0.1:$port\"; region = \"us-east-1\"; path_style = true; },|" \
        -e "s|^lister = {|lister = { shards = $s; page_size = 1000; checkpoint_pages = 10;|" \
        -e "s|^tasks = ( |tasks = ( { name = \"l$delay-$s\"; source = \"syn:synth\"; destination = \"cos:$FAULT_DST_BUCKET/l/\"; }, |" \
        "$CONF" >"$lc"
      wan_cpu_start; t0=$(now)
      "$FERRY_BIN/ferry-lister" -c "$lc" -t "l$delay-$s" 2>"$FERRY_RUN/list-$delay-$s.err" ||
        { tail -3 "$FERRY_RUN/list-$delay-$s.err"; fail "listing l$delay-$s"; }
      wall=$(echo "$(now) - $t0" | bc) busy=$(wan_cpu_end)
      grep -q "listed $LN objects" "$FERRY_RUN/list-$delay-$s.err" || { tail -3 "$FERRY_RUN/list-$delay-$s.err"; fail "l$delay-$s: not $LN objects"; }
      pages=$(( (LN + 999) / 1000 ))
      pps=$(calc %.1f "$pages / $wall / $s")
      echo "list ${LN} objects, $s shard(s), store +${delay} ms/page: wall_s=$wall pages_s_per_shard=$pps objects_s=$(calc %.0f "$LN / $wall") cpu_busy=$busy"
      RESULT+=("pages_s_per_shard_s${s}_d${delay}=$pps")
    done
  done
fi
echo "RESULT ${RESULT[*]} scale=$WAN_SCALE"
