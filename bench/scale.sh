#!/usr/bin/env bash
# ferry at 10 million objects on one machine ("measured at scale"):
# the lister's peak RSS and listing + publishing rate, one listing and
# sharded, and the reporter's peak RSS and ingest rate, at 1 M and 10 M
# objects. The source is ferry-synths3 (bench/synths3.c, BENCH-ONLY: a
# synthetic S3 server listing a deterministic namespace); the broker is
# ferry-devbroker. Copying 10 M objects is out of reach here, so the results
# the reporter ingests are published by ferry-bench-results (bench/results.c,
# BENCH-ONLY): one worker-shaped result per published segment, all objects
# copied, through the real codec and producer. See bench/README.md.
#
# usage: bench/scale.sh
# Environment:
#   FERRY_BIN=DIR        binaries (default build-rel/ of this checkout; build it
#                        with cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo)
#   SCALE_SIZES="1000000 10000000"   object counts
#   SCALE_SHARDS=4       lister.shards of the sharded runs
#   SCALE_PREFIXES=100   prefixes of the synthetic namespace
#   SCALE_FAIL_EVERY=1000  every K-th object reported failed (0 = none)
#   SCALE_NICE=0         nice level of the measured processes
#   SCALE_LATENCY_MS=30  then list the smallest size again, one listing and
#                        sharded, with every listing page answered after this
#                        delay (a real store's latency; 0 = skip)
#   FANOUT4_VS_SINGLE=R  the fan-out figure for the RESULT line; unset: bench/fanout.sh
#                        measures it first (SCALE_FANOUT=0: skip, n/a)
# Prints a table and last a machine-readable line:
#   RESULT lister_rss_mib_10m=... reporter_rss_mib_10m=... list_objects_per_s=... fanout4_vs_single=...
# (list_objects_per_s: the sharded listing at the largest size; the RSS
# figures: the larger of the one-listing and sharded runs.)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FERRY_BIN="${FERRY_BIN:-$ROOT/build-rel}"
SIZES="${SCALE_SIZES:-1000000 10000000}"
SHARDS="${SCALE_SHARDS:-4}"
PREFIXES="${SCALE_PREFIXES:-100}"
NICE="${SCALE_NICE:-0}"
FAIL_EVERY="${SCALE_FAIL_EVERY:-1000}"
LATENCY="${SCALE_LATENCY_MS:-30}"
FANOUT="${FANOUT4_VS_SINGLE:-}"
for b in ferry-lister ferry-reporter ferry-devbroker ferry-synths3 ferry-bench-results; do
  [ -x "$FERRY_BIN/$b" ] || { echo "scale.sh: $FERRY_BIN/$b missing (build it)" >&2; exit 2; }
done
# The fan-out measurement (bench/fanout.sh: a 4 GiB object, 4 workers vs one)
# unless given, or skipped with SCALE_FANOUT=0.
if [ -z "$FANOUT" ] && [ "${SCALE_FANOUT:-1}" = 1 ]; then
  echo "scale.sh: the fan-out measurement first (bench/fanout.sh)" >&2
  FANOUT=$(FERRY_BIN="$FERRY_BIN" "$ROOT/bench/fanout.sh" | tee /dev/stderr |
    sed -n 's/^RESULT fanout4_vs_single=\([^ ]*\).*/\1/p') || FANOUT=""
fi
FANOUT="${FANOUT:-n/a}"
W="$(mktemp -d "${TMPDIR:-/tmp}/ferry-scale.XXXXXX")"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${FERRY_KEEP_RUN:-}" ] || rm -rf "$W"
}
trap cleanup EXIT INT TERM
export FERRY_SYN_ACCESS_KEY=bench FERRY_SYN_SECRET_KEY=bench
TIME="/usr/bin/time"
[ -x "$TIME" ] || { echo "scale.sh: /usr/bin/time missing (apt install time)" >&2; exit 2; }

start_broker() {  # a fresh dev broker per measurement: memory stays bounded
  rm -f "$W/bootstrap"
  "$FERRY_BIN/ferry-devbroker" --bootstrap-file "$W/bootstrap" --partitions 8 \
    --exit-with-parent >"$W/devbroker.out" 2>"$W/devbroker.log" &
  BROKER=$!
  PIDS+=("$BROKER")
  for _ in $(seq 1 100); do [ -s "$W/bootstrap" ] && return 0; sleep 0.1; done
  cat "$W/devbroker.log" >&2
  echo "scale.sh: the dev broker did not start" >&2
  exit 1
}
stop_broker() { kill "$BROKER" 2>/dev/null || true; wait "$BROKER" 2>/dev/null || true; }

start_synth() {  # N [LIST_DELAY_MS]
  "$FERRY_BIN/ferry-synths3" --port 0 --objects "$1" --prefixes "$PREFIXES" --threads 8 \
    --list-delay-ms "${2:-0}" \
    >"$W/synth.out" 2>"$W/synth.err" &
  SYNTH=$!
  PIDS+=("$SYNTH")
  for _ in $(seq 1 50); do grep -q '^ready' "$W/synth.out" 2>/dev/null && break; sleep 0.1; done
  SYNTH_URL=$(awk '/^ready/ {print $2}' "$W/synth.out")
  [ -n "$SYNTH_URL" ] || { cat "$W/synth.err" >&2; exit 1; }
}
stop_synth() { kill "$SYNTH" 2>/dev/null || true; wait "$SYNTH" 2>/dev/null || true; }

conf() {  # FILE SHARDS
  cat >"$1" <<CONF
kafka = { brokers = ""; bootstrap_file = "$W/bootstrap"; segments_partitions = 8;
          delivery_timeout_ms = 120000; };
stores = ( { name = "syn"; type = "s3"; endpoint = "$SYNTH_URL"; region = "us-east-1";
             path_style = true; } );
lister = { page_size = 1000; segment_max_objects = 1000; checkpoint_pages = 10; shards = $2; };
reporter = { listen = ""; };
log_level = "warn";
tasks = ( { name = "t"; source = "syn:synth"; destination = "syn:sink/"; } );
CONF
  chmod 600 "$1"
}

# measure NAME CMD...: runs CMD under /usr/bin/time; sets WALL and RSS_MIB.
measure() {
  local name="$1"; shift
  if ! nice -n "$NICE" "$TIME" -f "%e %M %U %S" -o "$W/$name.time" "$@" \
       >"$W/$name.out" 2>"$W/$name.err"; then
    tail -5 "$W/$name.err" >&2
    echo "scale.sh: $name failed" >&2
    exit 1
  fi
  read -r WALL RSS_KB USR SYS < <(tail -1 "$W/$name.time")
  RSS_MIB=$(awk -v k="$RSS_KB" 'BEGIN { printf "%.1f", k / 1024 }')
  CPU=$(awk -v u="$USR" -v s="$SYS" 'BEGIN { printf "%.1f", u + s }')
}
rate() { awk -v n="$1" -v w="$2" 'BEGIN { printf "%.0f", (w > 0 ? n / w : 0) }'; }
label() { awk -v n="$1" 'BEGIN { if (n % 1000000 == 0) printf "%dm", n / 1000000; else printf "%d", n }'; }

printf '# ferry-scale  %s  %s CPUs  bin=%s  shards=%s  prefixes=%s  fail_every=%s\n' \
  "$(date -u +%FT%TZ)" "$(nproc)" "$FERRY_BIN" "$SHARDS" "$PREFIXES" "$FAIL_EVERY"
printf '%-9s %-10s %9s %9s %8s %12s\n' objects run wall_s cpu_s rss_mib objects_per_s | tee "$W/table"
declare -A LRSS RRSS LRATE
for N in $SIZES; do
  start_synth "$N"
  for S in 1 "$SHARDS"; do
    start_broker
    conf "$W/c$S.conf" "$S"
    measure "lister-$N-$S" "$FERRY_BIN/ferry-lister" -c "$W/c$S.conf" -t t
    grep -q "listed $N objects" "$W/lister-$N-$S.err" ||
      { cat "$W/lister-$N-$S.err" >&2; echo "scale.sh: the lister did not list $N objects" >&2; exit 1; }
    r=$(rate "$N" "$WALL")
    printf '%-9s %-10s %9s %9s %8s %12s\n' "$N" "lister-s$S" "$WALL" "$CPU" "$RSS_MIB" "$r" | tee -a "$W/table"
    k="$(label "$N")"
    LRSS[$k]=$(awk -v a="${LRSS[$k]:-0}" -v b="$RSS_MIB" 'BEGIN { print (b > a ? b : a) }')
    LRATE["$k-$S"]=$r
    if [ "$S" = 1 ]; then
      # The reporter: results for every segment first, then a cold start
      # that reads the topics to their ends (--once): its ingest.
      # The dev broker keeps only the newest few MB of each partition (at
      # 10 M objects most segments are gone by now): the same listing into
      # a file gives the segments back (deterministic: the same ids).
      "$FERRY_BIN/ferry-lister" -c "$W/c1.conf" -t t --segments-to "$W/segs.jsonl" \
        2>"$W/lister-file-$N.err" || { cat "$W/lister-file-$N.err" >&2; exit 1; }
      "$FERRY_BIN/ferry-bench-results" -c "$W/c1.conf" -t t --fail-every "$FAIL_EVERY" \
        --segments-from "$W/segs.jsonl" 2>"$W/results-$N.err" ||
        { cat "$W/results-$N.err" >&2; exit 1; }
      measure "reporter-$N" "$FERRY_BIN/ferry-reporter" -c "$W/c1.conf" --task t --once --json
      python3 - "$W/reporter-$N.out" "$N" "$FAIL_EVERY" <<'PY' || exit 1
import json, sys
doc = json.load(open(sys.argv[1]))
t = doc["tasks"][0] if "tasks" in doc else doc
run = t["runs"][0] if "runs" in t else t
n, k = int(sys.argv[2]), int(sys.argv[3])
nf = n // k if k else 0
want = "completed-with-failures" if nf else "completed"
if (run.get("copied"), run.get("failed")) != (n - nf, nf) or run.get("state") != want:
    sys.exit(f"scale.sh: the reporter saw {run.get('copied')} copied, {run.get('failed')} failed, "
             f"state {run.get('state')}, expected {n - nf} + {nf} completed")
PY
      r=$(rate "$N" "$WALL")
      printf '%-9s %-10s %9s %9s %8s %12s\n' "$N" "reporter" "$WALL" "$CPU" "$RSS_MIB" "$r" | tee -a "$W/table"
      RRSS[$k]=$RSS_MIB
    fi
    stop_broker
    rm -f "$W/segs.jsonl"
  done
  stop_synth
done
if [ "$LATENCY" != 0 ]; then
  # The listing rate against a store that answers a page in LATENCY ms:
  # one listing waits for every page in turn, shards wait in parallel.
  N="$(echo "$SIZES" | awk '{print $1}')"
  start_synth "$N" "$LATENCY"
  for S in 1 "$SHARDS"; do
    start_broker
    conf "$W/c$S.conf" "$S"
    measure "lister-lat-$N-$S" "$FERRY_BIN/ferry-lister" -c "$W/c$S.conf" -t t
    grep -q "listed $N objects" "$W/lister-lat-$N-$S.err" || { cat "$W/lister-lat-$N-$S.err" >&2; exit 1; }
    printf '%-9s %-10s %9s %9s %8s %12s\n' "$N" "s$S+${LATENCY}ms" "$WALL" "$CPU" "$RSS_MIB" \
      "$(rate "$N" "$WALL")" | tee -a "$W/table"
    stop_broker
  done
  stop_synth
fi
last="$(label "$(echo "$SIZES" | awk '{print $NF}')")"
echo "RESULT lister_rss_mib_${last}=${LRSS[$last]} reporter_rss_mib_${last}=${RRSS[$last]} list_objects_per_s=${LRATE[$last-$SHARDS]} fanout4_vs_single=$FANOUT"
