#!/usr/bin/env bash
# Fan-out of one huge object across workers (docs/fanout.md: "a
# 4 GiB object fanned out to 4 workers vs copied by one"). The source and the
# destination are ferry-synths3 (bench/synths3.c, BENCH-ONLY: a synthetic S3
# server serving one generated object and sinking what is written, ListParts
# included); the broker is ferry-devbroker. Two runs of the same task, each
# on a fresh broker, workers joined before the lister starts:
#   single:   1 worker,  lister.fanout_threshold = 0 (the worker's own
#             multipart upload, parts in parallel within its engine)
#   fanout4:  4 workers, the object fanned out in part ranges of
#             FANOUT_RANGE bytes (default 256M: 16 ranges over 4 workers)
# The wall time of a run is from the lister's start to the reporter seeing
# the task completed (ferry-reporter --wait), the object counted once.
#
# usage: bench/fanout.sh
# Environment:
#   FERRY_BIN=DIR        binaries (default build-rel/ of this checkout)
#   FANOUT_SIZE=4G       the object
#   FANOUT_RANGE=256M    lister.segment_max_bytes of the fan-out run
#   FANOUT_WORKERS=4     workers of the fan-out run
#   FANOUT_CONCURRENCY=8 worker.concurrency of every worker (requests; a part holds two)
# Last line:  RESULT fanout4_vs_single=<wall fanout4 / wall single> single_s=... fanout4_s=...
# (below 1: the fan-out is faster). Feed it to bench/scale.sh as
# FANOUT4_VS_SINGLE. On one machine every worker shares its CPUs with the
# others and with synths3: the ratio is this machine's, not a fleet's.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FERRY_BIN="${FERRY_BIN:-$ROOT/build-rel}"
SIZE="${FANOUT_SIZE:-4G}"
RANGE="${FANOUT_RANGE:-256M}"
NW="${FANOUT_WORKERS:-4}"
CONC="${FANOUT_CONCURRENCY:-8}"
for b in ferry-lister ferry-worker ferry-reporter ferry-devbroker ferry-synths3; do
  [ -x "$FERRY_BIN/$b" ] || { echo "fanout.sh: $FERRY_BIN/$b missing (build it)" >&2; exit 2; }
done
W="$(mktemp -d "${TMPDIR:-/tmp}/ferry-fanout.XXXXXX")"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${FERRY_KEEP_RUN:-}" ] || rm -rf "$W"
}
trap cleanup EXIT INT TERM
export FERRY_SYN_ACCESS_KEY=bench FERRY_SYN_SECRET_KEY=bench

"$FERRY_BIN/ferry-synths3" --port 0 --objects 0 --huge "$SIZE" --no-md5 --threads 4 \
  >"$W/synth.out" 2>"$W/synth.err" &
PIDS+=($!)
for _ in $(seq 1 50); do grep -q '^ready' "$W/synth.out" 2>/dev/null && break; sleep 0.1; done
SYNTH_URL=$(awk '/^ready/ {print $2}' "$W/synth.out")
[ -n "$SYNTH_URL" ] || { cat "$W/synth.err" >&2; exit 1; }

# run NAME WORKERS FANOUT_THRESHOLD: sets WALL (seconds).
run() {
  local name="$1" nw="$2" thr="$3" i pids=()
  rm -f "$W/bootstrap"
  "$FERRY_BIN/ferry-devbroker" --bootstrap-file "$W/bootstrap" --partitions 8 \
    --exit-with-parent >"$W/devbroker-$name.out" 2>"$W/devbroker-$name.log" &
  local broker=$!
  PIDS+=("$broker")
  for _ in $(seq 1 100); do [ -s "$W/bootstrap" ] && break; sleep 0.1; done
  [ -s "$W/bootstrap" ] || { cat "$W/devbroker-$name.log" >&2; exit 1; }
  cat >"$W/$name.conf" <<CONF
kafka = { brokers = ""; bootstrap_file = "$W/bootstrap"; segments_partitions = 8;
  consumer_properties = ["session.timeout.ms=6000", "heartbeat.interval.ms=500"]; };
stores = ( { name = "syn"; type = "s3"; endpoint = "$SYNTH_URL"; region = "us-east-1";
             path_style = true; } );
worker = { concurrency = $CONC; part_size = "16M"; multipart_threshold = "64M"; };
lister = { fanout_threshold = $thr; segment_max_bytes = "$RANGE"; };
reporter = { listen = ""; refresh_s = 1; };
log_level = "info";
tasks = ( { name = "t"; source = "syn:synth"; destination = "syn:sink-$name/"; same_name = "overwrite"; } );
CONF
  chmod 600 "$W/$name.conf"
  for i in $(seq 1 "$nw"); do
    "$FERRY_BIN/ferry-worker" -c "$W/$name.conf" --id "$name-w$i" >"$W/$name-w$i.log" 2>&1 &
    pids+=($!)
    PIDS+=($!)
  done
  # Every worker in the group, and the group settled (no rebalance for 4 s),
  # before the listing starts: a rebalance mid-run stalls and redoes work.
  local seen=-1 same=0 n
  for _ in $(seq 1 300); do
    n=$(cat "$W/$name"-w*.log | grep -c 'event=rebalance' || true)
    if [ "$n" = "$seen" ] && [ "$(cat "$W/$name"-w*.log | grep -c 'kind=assigned' || true)" -ge "$nw" ]; then
      same=$((same + 1))
      [ "$same" -ge 20 ] && break
    else
      same=0
      seen=$n
    fi
    sleep 0.2
  done
  local t0 t1
  t0=$(date +%s.%N)
  "$FERRY_BIN/ferry-lister" -c "$W/$name.conf" -t t 2>"$W/$name-lister.log" ||
    { cat "$W/$name-lister.log" >&2; exit 1; }
  "$FERRY_BIN/ferry-reporter" -c "$W/$name.conf" --task t --wait --timeout 1800 \
    >"$W/$name-wait.out" 2>"$W/$name-wait.err" ||
    { tail -5 "$W/$name-wait.out" "$W/$name-wait.err" >&2; echo "fanout.sh: $name did not complete" >&2; exit 1; }
  t1=$(date +%s.%N)
  WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  "$FERRY_BIN/ferry-reporter" -c "$W/$name.conf" --task t --once --json >"$W/$name-status.json" \
    2>"$W/$name-status.err"
  python3 - "$W/$name-status.json" <<'PY' || exit 1
import json, sys
doc = json.load(open(sys.argv[1]))
t = doc["tasks"][0] if "tasks" in doc else doc
if (t.get("copied"), t.get("failed"), t.get("state")) != (1, 0, "completed"):
    sys.exit(f"fanout.sh: the reporter saw copied={t.get('copied')} failed={t.get('failed')} "
             f"state={t.get('state')}, expected one object copied")
PY
  RANGES=$(cat "$W/$name"-w*.log | grep -c 'event=range-start' || true)
  BUSY=$( (grep -l 'event=range-start' "$W/$name"-w*.log 2>/dev/null || true) | wc -l)
  for i in "${pids[@]}"; do kill -TERM "$i" 2>/dev/null || true; done
  for i in "${pids[@]}"; do wait "$i" 2>/dev/null || true; done
  kill "$broker" 2>/dev/null || true
  wait "$broker" 2>/dev/null || true
}

printf '# ferry-fanout  %s  %s CPUs  bin=%s  size=%s  range=%s  concurrency=%s\n' \
  "$(date -u +%FT%TZ)" "$(nproc)" "$FERRY_BIN" "$SIZE" "$RANGE" "$CONC"
printf '%-10s %8s %8s %14s\n' run workers wall_s ranges/workers
run single 1 0
SINGLE=$WALL
printf '%-10s %8s %8s %14s\n' single 1 "$SINGLE" "-"
run "fanout$NW" "$NW" '"64M"'
FAN=$WALL
printf '%-10s %8s %8s %14s\n' "fanout$NW" "$NW" "$FAN" "$RANGES/$BUSY"
RATIO=$(awk -v f="$FAN" -v s="$SINGLE" 'BEGIN { printf "%.2f", (s > 0 ? f / s : 0) }')
echo "RESULT fanout${NW}_vs_single=$RATIO single_s=$SINGLE fanout${NW}_s=$FAN"
