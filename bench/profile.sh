#!/usr/bin/env bash
# Profiles one ferry-worker copy of a bench dataset with perf (same servers,
# data and worker settings as bench/copy-vs-rclone.sh).
#
# usage: bench/profile.sh [small|large] [OUTDIR]
# Writes OUTDIR/perf.data (perf record -g, DWARF call graphs), OUTDIR/report.txt
# (flat, self time), OUTDIR/callers.txt (inclusive time per symbol),
# OUTDIR/stat.txt (perf stat of a second, unprofiled copy) and the worker's
# /usr/bin/time figures. OUTDIR defaults to $TMPDIR/ferry-profile-DATASET.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DS="${1:-small}"
OUT="${2:-${TMPDIR:-/tmp}/ferry-profile-$DS}"
FERRY_SRC="$ROOT"
FERRY_BIN="${FERRY_BIN:-$ROOT/build}"
export FERRY_SRC FERRY_BIN
TOOLS="$ROOT/tests/tools"
command -v perf >/dev/null || { echo "profile: perf not found" >&2; exit 1; }
[ -x "$FERRY_BIN/ferry-worker" ] || "$ROOT/scripts/build.sh" >/dev/null
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

# shellcheck source=../scripts/servers.sh
source "$ROOT/scripts/servers.sh"
servers_init
trap servers_stop EXIT INT TERM
export FERRY_SRC_ACCESS_KEY=S3RVER FERRY_SRC_SECRET_KEY=S3RVER
export FERRY_DST_ACCESS_KEY=S3RVER FERRY_DST_SECRET_KEY=S3RVER

s3_start src "bench-$DS"
s3_start dst1 bench-dst
s3_start dst2 bench-dst
SRC="$FERRY_S3_SRC"
case "$DS" in
  small) node "$TOOLS/fill.js" "$SRC" bench-small small:2000:1:64 ;;
  large) node "$TOOLS/fill.js" "$SRC" bench-large large:4:64 ;;
  *) echo "profile: unknown dataset $DS" >&2; exit 2 ;;
esac
node "$TOOLS/segments.js" "$SRC" "bench-$DS" src dst bench-dst --per 1000 >"$FERRY_RUN/segs"

conf() { # DST_ENDPOINT
  cat <<CONF
log_level = "warn";
kafka = { brokers = ""; bootstrap_file = "$FERRY_RUN/bootstrap"; segments_partitions = 8; };
stores = (
  { name = "src"; type = "s3"; endpoint = "$SRC"; region = "us-east-1"; path_style = true; },
  { name = "dst"; type = "s3"; endpoint = "$1"; region = "us-east-1"; path_style = true; }
);
worker = { concurrency = 64; max_host_conns = 64; buffer_size = "1M";
           small_object_threshold = "256K"; multipart_threshold = "64M"; part_size = "16M";
           segments_in_flight = 4; ${FERRY_BENCH_WORKER_EXTRA:-} };
lister = { segment_max_objects = 1000; };
tasks = ( { name = "t"; source = "src:bench-$DS"; destination = "dst:bench-dst"; } );
CONF
}
conf "$FERRY_S3_DST1" >"$FERRY_RUN/p1.conf"
conf "$FERRY_S3_DST2" >"$FERRY_RUN/p2.conf"
chmod 600 "$FERRY_RUN"/p?.conf

perf record -g --call-graph dwarf,16384 -F 2999 -o "$OUT/perf.data" -- \
  /usr/bin/time -f 'wall=%e user=%U sys=%S maxrss_kib=%M' -o "$OUT/time-record.txt" \
  "$FERRY_BIN/ferry-worker" -c "$FERRY_RUN/p1.conf" --segments-from "$FERRY_RUN/segs" \
  >"$FERRY_RUN/out1" 2>"$FERRY_RUN/err1"
perf stat -e task-clock,context-switches,cpu-migrations,page-faults -o "$OUT/stat.txt" -- \
  /usr/bin/time -f 'wall=%e user=%U sys=%S maxrss_kib=%M' -o "$OUT/time-stat.txt" \
  "$FERRY_BIN/ferry-worker" -c "$FERRY_RUN/p2.conf" --segments-from "$FERRY_RUN/segs" \
  >"$FERRY_RUN/out2" 2>"$FERRY_RUN/err2"
perf report -i "$OUT/perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null \
  | grep -v "^$" | head -n 200 >"$OUT/report.txt" || true
perf report -i "$OUT/perf.data" --children --sort symbol --stdio -g none 2>/dev/null \
  | grep -v "^$" | head -n 120 >"$OUT/callers.txt" || true
echo "profile: copied $(grep -c '"status":"copied"' "$FERRY_RUN/out1") objects under perf; $(cat "$OUT/time-record.txt")"
echo "profile: unprofiled: $(cat "$OUT/time-stat.txt")"
echo "profile: $OUT/report.txt $OUT/callers.txt $OUT/stat.txt"
