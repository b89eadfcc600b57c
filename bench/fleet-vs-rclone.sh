#!/usr/bin/env bash
# The copy-engine benchmark's dataset through the whole fleet (dev broker,
# ferry-lister, two ferry-workers, ferry-reporter --wait) against the engine
# alone (ferry-lister --segments-to + ferry-worker --segments-from) and
# `rclone copy`, side by side, alternating, BENCH_RUNS runs each (default 3),
# on two s3rver instances on loopback. Each run copies into a fresh bucket.
#
# Wall time of the fleet: from the lister's start until the reporter sees the
# task completed. CPU: user+sys of every ferry process involved (the two
# long-running workers are measured from /proc before and after the run).
# Last line (medians): RESULT fleet_vs_engine=... fleet_vs_rclone=... fleet_cpu_vs_rclone=...
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export FERRY_SRC="$ROOT" FERRY_BIN="${FERRY_BIN:-$ROOT/build}"
RUNS="${BENCH_RUNS:-3}"
SMALL="${BENCH_SMALL:-2000}" LARGE="${BENCH_LARGE:-4}" LARGE_MB="${BENCH_LARGE_MB:-64}"
[ -x "$FERRY_BIN/ferry-worker" ] || "$ROOT/scripts/build.sh" >/dev/null
source "$ROOT/scripts/servers.sh"
servers_init
trap servers_stop EXIT INT TERM
TOOLS="$ROOT/tests/tools"
buckets=()
for i in $(seq 1 "$RUNS"); do buckets+=("e$i" "f$i" "r$i"); done
devbroker_start --partitions 16
s3_start src ferry-src
s3_start dst "${buckets[@]}"
export FERRY_SRC_ACCESS_KEY=S3RVER FERRY_SRC_SECRET_KEY=S3RVER FERRY_DST_ACCESS_KEY=S3RVER FERRY_DST_SECRET_KEY=S3RVER
CONF="$FERRY_RUN/bench.conf"
{
  echo "log_level = \"warn\";"
  echo "kafka = { brokers = \"\"; bootstrap_file = \"$FERRY_RUN/bootstrap\"; segments_partitions = 16;"
  echo "  consumer_properties = [\"session.timeout.ms=6000\", \"heartbeat.interval.ms=500\"]; };"
  echo "stores = ( { name = \"src\"; type = \"s3\"; endpoint = \"$FERRY_S3_SRC\"; region = \"us-east-1\"; path_style = true; },"
  echo "           { name = \"dst\"; type = \"s3\"; endpoint = \"$FERRY_S3_DST\"; region = \"us-east-1\"; path_style = true; } );"
  echo "worker = { concurrency = 64; buffer_size = \"1M\"; small_object_threshold = \"256K\"; segments_in_flight = 8; };"
  echo "lister = { segment_max_objects = 100; };"
  echo "tasks = ("
  for b in "${buckets[@]}"; do echo "  { name = \"$b\"; source = \"src:ferry-src\"; destination = \"dst:$b\"; same_name = \"overwrite\"; },"; done
  echo ");"
} | sed -z 's/,\n);/\n);/' >"$CONF"
chmod 600 "$CONF"
RCONF="$FERRY_RUN/rclone.conf"
printf '[src]\ntype = s3\nprovider = Other\naccess_key_id = S3RVER\nsecret_access_key = S3RVER\nendpoint = %s\nregion = us-east-1\nforce_path_style = true\n\n[dst]\ntype = s3\nprovider = Other\naccess_key_id = S3RVER\nsecret_access_key = S3RVER\nendpoint = %s\nregion = us-east-1\nforce_path_style = true\n' "$FERRY_S3_SRC" "$FERRY_S3_DST" >"$RCONF"

echo "bench: filling the source: $SMALL objects of 1-64 KiB and $LARGE of $LARGE_MB MiB"
node "$TOOLS/fill.js" "$FERRY_S3_SRC" ferry-src "small:$SMALL:1:64" "large:$LARGE:$LARGE_MB" >/dev/null

cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # clock ticks
TCK=$(getconf CLK_TCK)
now() { date +%s.%N; }
# timed CMD...: runs CMD (its output discarded) and prints its user+sys seconds.
timed() { /usr/bin/time -f "%U %S" -o "$FERRY_RUN/time" "$@" >/dev/null 2>&1 || true; tail -1 "$FERRY_RUN/time" | awk '{print $1 + $2}'; }

W=()
for i in 1 2; do "$FERRY_BIN/ferry-worker" -c "$CONF" --id "bench-w$i" >"$FERRY_RUN/w$i.log" 2>&1 & W+=($!); track_pid $!; done
sleep 5   # let both join the group
printf '%-8s %4s %9s %9s\n' tool run wall_s cpu_s | tee "$FERRY_RUN/table"
for i in $(seq 1 "$RUNS"); do
  # engine alone
  t0=$(now)
  c1=$(timed "$FERRY_BIN/ferry-lister" -c "$CONF" -t "e$i" --segments-to "$FERRY_RUN/segs-e$i")
  c2=$(timed "$FERRY_BIN/ferry-worker" -c "$CONF" --segments-from "$FERRY_RUN/segs-e$i")
  printf '%-8s %4d %9.2f %9.2f\n' engine "$i" "$(echo "$(now) - $t0" | bc)" "$(echo "$c1 + $c2" | bc)" | tee -a "$FERRY_RUN/table"
  # fleet
  w0=$(( $(cpu_of "${W[0]}") + $(cpu_of "${W[1]}") ))
  t0=$(now)
  c1=$(timed "$FERRY_BIN/ferry-lister" -c "$CONF" -t "f$i")
  c2=$(timed "$FERRY_BIN/ferry-reporter" -c "$CONF" --task "f$i" --wait --timeout 600)
  wall=$(echo "$(now) - $t0" | bc)
  w1=$(( $(cpu_of "${W[0]}") + $(cpu_of "${W[1]}") ))
  printf '%-8s %4d %9.2f %9.2f\n' fleet "$i" "$wall" "$(echo "$c1 + $c2 + ($w1 - $w0) / $TCK" | bc -l)" | tee -a "$FERRY_RUN/table"
  # rclone, one directory at a time: s3rver 3.7.1 returns no CommonPrefixes
  # for a delimited listing of a bucket's root, so rclone would see nothing
  # at the root. AWS_CA_BUNDLE breaks rclone's plain-HTTP S3 transport.
  t0=$(now)
  c1=$(timed env -u AWS_CA_BUNDLE rclone --config "$RCONF" copy src:ferry-src/small "dst:r$i/small" --transfers 32 --checkers 32)
  c2=$(timed env -u AWS_CA_BUNDLE rclone --config "$RCONF" copy src:ferry-src/large "dst:r$i/large" --transfers 32 --checkers 32)
  printf '%-8s %4d %9.2f %9.2f\n' rclone "$i" "$(echo "$(now) - $t0" | bc)" "$(echo "$c1 + $c2" | bc)" | tee -a "$FERRY_RUN/table"
done
node "$TOOLS/compare.js" "$FERRY_S3_SRC" ferry-src "$FERRY_S3_DST" f1 >/dev/null || { echo "bench: fleet copy differs from the source" >&2; exit 1; }
node "$TOOLS/compare.js" "$FERRY_S3_SRC" ferry-src "$FERRY_S3_DST" r1 >/dev/null || { echo "bench: rclone copy differs from the source" >&2; exit 1; }
python3 - "$FERRY_RUN/table" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:]]
med = lambda tool, col: st.median(float(r[col]) for r in rows if r[0] == tool)
ew, fw, rw = med('engine', 2), med('fleet', 2), med('rclone', 2)
fc, rc = med('fleet', 3), med('rclone', 3)
print(f"medians: engine {ew:.2f}s, fleet {fw:.2f}s ({fc:.2f} CPU-s), rclone {rw:.2f}s ({rc:.2f} CPU-s)")
print(f"RESULT fleet_vs_engine={fw/ew:.2f} fleet_vs_rclone={fw/rw:.2f} fleet_cpu_vs_rclone={fc/rc:.2f}")
PY
