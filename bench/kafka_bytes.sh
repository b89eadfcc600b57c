#!/usr/bin/env bash
# Kafka storage per million objects, per topic, as a real broker stores it
# (docs/sizing.md): a real three-node Apache Kafka on loopback
# (scripts/kafka.sh, topics replicated 3 times), ferry-synths3 as the source
# (KB_OBJECTS keys "p%03d/obj%09d", 17 bytes each), ferry-lister publishing the
# segments (zstd, as always), then ferry-bench-results publishing for every
# segment the result a worker publishes (same codec and producer; every
# KB_FAIL_EVERY-th object failed, with its record on the failed topic), and
# optionally ONE idle ferry-worker for KB_WORKER_S seconds (heartbeats).
# Then the size of every topic's log segments (*.log) on the brokers' disks,
# divided by the replication factor: bytes of ONE replica; also the
# uncompressed size of the records (kcat, key + value).
#   bench/kafka_bytes.sh
# Last line: RESULT segments_mb_per_m=... results_mb_per_m=...
#   failed_mb_per_m_failed=... tasks_kb=... workers_kb_per_worker_hour=...
#   (MB = 10^6 bytes, one replica; *_per_m = per million objects listed,
#   failed per million FAILED objects).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FERRY_SRC="$ROOT"
source "$ROOT/tests/lib/itest.sh"
trap 'rc=$?; itest_exit; exit $rc' EXIT
N="${KB_OBJECTS:-200000}" K="${KB_FAIL_EVERY:-100}" WS="${KB_WORKER_S:-60}"
export FERRY_TEST_BROKER=kafka
source "$ROOT/scripts/kafka.sh"
kafka_start || fail "kafka did not start"
"$FERRY_BIN/ferry-synths3" --port 0 --objects "$N" --prefixes 100 --threads 4 >"$FERRY_RUN/synth.out" 2>"$FERRY_RUN/synth.err" &
track_pid $!
wait_line "$FERRY_RUN/synth.out" '^ready' 30 || fail "synths3 did not start"
SYN=$(awk '/^ready/ {print $2}' "$FERRY_RUN/synth.out")
export FERRY_SYN_ACCESS_KEY=bench FERRY_SYN_SECRET_KEY=bench
CONF="$FERRY_RUN/ferry.conf"
cat >"$CONF" <<CONF
log_level = "warn";
kafka = { brokers = ""; bootstrap_file = "$FERRY_RUN/bootstrap"; segments_partitions = 8; replication_factor = 3; };
stores = ( { name = "syn"; type = "s3"; endpoint = "$SYN"; region = "us-east-1"; path_style = true; } );
lister = { page_size = 1000; segment_max_objects = 1000; };
reporter = { listen = ""; };
tasks = ( { name = "photos-2024"; source = "syn:synth"; destination = "syn:sink/"; } );
CONF
chmod 600 "$CONF"
"$FERRY_BIN/ferry-lister" -c "$CONF" -t photos-2024 2>"$FERRY_RUN/lister.err" || { tail -3 "$FERRY_RUN/lister.err"; fail lister; }
grep -q "listed $N objects" "$FERRY_RUN/lister.err" || fail "lister: $(tail -1 "$FERRY_RUN/lister.err")"
"$FERRY_BIN/ferry-bench-results" -c "$CONF" -t photos-2024 --fail-every "$K" 2>"$FERRY_RUN/results.err" ||
  { tail -3 "$FERRY_RUN/results.err"; fail results; }
if [ "$WS" -gt 0 ]; then
  # Heartbeats: one worker on a topic prefix of its own (an empty segments
  # topic: it copies nothing), whose workers topic is measured the same way.
  sed -e 's|^kafka = {|kafka = { topic_prefix = "hb."; group_id = "hb-workers";|' "$CONF" >"$FERRY_RUN/hb.conf"
  chmod 600 "$FERRY_RUN/hb.conf"
  "$FERRY_BIN/ferry-worker" -c "$FERRY_RUN/hb.conf" --id hb-1 >"$FERRY_RUN/hb.log" 2>&1 &
  HB=$!; track_pid $HB
  sleep "$WS"
  kill -TERM "$HB"; wait "$HB" || true
fi
sleep 2   # the brokers' appends are in the files (page cache) once acknowledged; a margin
# topic_bytes TOPIC: one replica's bytes of its log segments.
topic_bytes() {
  local t="$1" total=0 reps=0 d
  for d in "$KDIR"/node*/data/"$t"-*; do
    [ -d "$d" ] || continue
    reps=$((reps + 1))
    total=$((total + $(find "$d" -name '*.log' -printf '%s\n' | awk '{s+=$1} END{print s+0}')))
  done
  local parts; parts=$(ls -d "$KDIR"/node1/data/"$t"-* "$KDIR"/node2/data/"$t"-* "$KDIR"/node3/data/"$t"-* 2>/dev/null |
    sed 's|.*/||' | sort -u | wc -l)
  [ "$parts" -gt 0 ] || { echo "0 0"; return; }
  echo "$((total * parts / reps)) $((reps / parts))"
}
raw_bytes() { kcat -b "$FERRY_BROKERS" -C -t "$1" -o beginning -e -q -f '%K%s' 2>/dev/null | wc -c; }
NF=$((N / K))
R=()
printf '%-18s %14s %8s %14s %s\n' topic disk_bytes rf raw_bytes per
for t in segments results failed tasks; do
  read -r b rf <<<"$(topic_bytes "ferry.$t")"
  raw=$(raw_bytes "ferry.$t")
  case $t in
    failed) per=$(awk -v b="$b" -v n="$NF" 'BEGIN{printf "%.1f", b / n}'); unit="bytes per failed object";
            R+=("failed_mb_per_m_failed=$(awk -v b="$b" -v n="$NF" 'BEGIN{printf "%.0f", b / n}')") ;;
    tasks)  per="-"; unit="(compacted: a few records per run)"; R+=("tasks_kb=$(awk -v b="$b" 'BEGIN{printf "%.1f", b / 1000}')") ;;
    *)      per=$(awk -v b="$b" -v n="$N" 'BEGIN{printf "%.1f", b / n}'); unit="bytes per object";
            R+=("${t}_mb_per_m=$(awk -v b="$b" -v n="$N" 'BEGIN{printf "%.1f", b / n}')") ;;
  esac
  printf '%-18s %14s %8s %14s %s %s (raw %.1f)\n' "ferry.$t" "$b" "$rf" "$raw" "$per" "$unit" \
    "$(awk -v r="$raw" -v n="$([ "$t" = failed ] && echo "$NF" || echo "$N")" 'BEGIN{print r / n}')"
done
if [ "$WS" -gt 0 ]; then
  read -r b rf <<<"$(topic_bytes hb.workers)"
  echo "hb.workers: $b bytes from one worker in ${WS} s"
  R+=("workers_kb_per_worker_hour=$(awk -v b="$b" -v s="$WS" 'BEGIN{printf "%.0f", b * 3600 / s / 1000}')")
fi
echo "objects=$N failed=$NF keys=17B segment_max_objects=1000"
# Bytes per object = MB (10^6 bytes) per million objects.
echo "RESULT ${R[*]}"
