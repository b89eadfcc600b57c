#!/usr/bin/env bash
# The reporter's memory at N failed objects, through a real Apache Kafka
# cluster (scripts/kafka.sh: three KRaft nodes on loopback, topics replicated
# 3 times, the brokers' own logs on disk). bench/reporter_mem.sh
# measures the reporter's tally fed directly; this one measures the whole
# reporter process reading the topics as in production:
#   1. ferry-synths3 (bench/synths3.c, BENCH-ONLY) lists N objects;
#      ferry-lister publishes run 1's segments to the cluster;
#   2. ferry-bench-results (bench/results.c, BENCH-ONLY) publishes one
#      worker-shaped result per segment with EVERY object failed (--fail-every
#      1), each with its record on the failed topic, as a worker reports it;
#   3. a cold `ferry-reporter --task t --once --json` (reporter.state_dir in
#      this bench's temporary directory): failed must be N, the state
#      completed-with-failures; then `--export-failed t` must write exactly N
#      rows, sorted, distinct;
#   4. a retry: `ferry-lister --retry-failed` publishes run 2 from the failed
#      topic, ferry-bench-results answers run 2 with every second object failed
#      (--run 2 --fail-every 2); a cold reporter again must say N/2 failed and
#      N/2 copied (run 2: retry, N/2 copied, N/2 failed), the export N/2 rows;
#   5. (RK_HTTP=1) the same reporter serving HTTP: /api/tasks/t must give the
#      same figures and /api/tasks/t/failed.csv the same bytes as the last
#      export (run 1's with RK_RETRY=0).
# Every reporter start rebuilds its index from the topics (docs/reporter.md,
# "Memory"): each measured reporter run is a full rebuild.
#
# usage: nice -n 10 bench/reporter_kafka.sh   (the whole script under nice:
#        the Kafka JVMs inherit it)
# Environment:
#   FERRY_BIN=DIR          binaries (default build/; a RelWithDebInfo build)
#   RK_FAILED=1000000      N, the number of objects (all failed in run 1); even
#   RK_PREFIXES=100        prefixes of the synthetic namespace
#   RK_RETRY=1             step 4 (0: skip it, its figures "skipped"; step 5 then
#                          checks run 1's figures)
#   RK_HTTP=1              step 5 (0: skip it, http=skipped in the RESULT)
#   RK_CONSUMER_PROPS=""   librdkafka consumer properties, space-separated k=v, into
#                          kafka.consumer_properties (e.g. queued.max.messages.kbytes=16384)
#   KAFKA_HEAP=384m        each Kafka node's -Xmx (scripts/kafka.sh)
#   FERRY_TESTBED_CACHE    the Kafka jars (default /var/cache/ferry-testbed)
#   FERRY_KEEP_RUN=1       keep the temporary directory (cluster stopped)
# Prints a table (one row per measured process: wall and CPU seconds, peak
# RSS = VmHWM from /usr/bin/time, peak RssAnon = the heap, sampled every
# 0.5 s from /proc/PID/status, and the peak size on disk of the reporter's
# state directory = its LMDB index, sampled likewise with du) and last:
#   RESULT reporter_kafka failures=N
#     view_s view_cpu_s view_hwm_mib view_anon_mib index_mib   the cold reporter, run 1
#     export_s export_hwm_mib exported                         its --export-failed
#     retry_lister_s retry_lister_hwm_mib retry_lister_index_mib  ferry-lister --retry-failed
#                                        (its index in $TMPDIR, set to the bench's directory)
#     retry_view_s retry_view_hwm_mib retry_view_anon_mib retry_index_mib retry_failed
#     retry_export_s retry_export_hwm_mib retry_exported       after the retry
#     http_hwm_mib http                                        step 5 (http=ok / skipped)
#     kafka_failed_mib kafka_results_mib   the failed and results topics' logs, one
#                                          replica (the 3 nodes' sum / 3, du), after
#                                          step 4 (step 3 with RK_RETRY=0); they are
#                                          not compressed (only segments are: lib/bus/bus.c)
#     exact=1                              every figure above was as expected
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FERRY_BIN="${FERRY_BIN:-$ROOT/build}"
N="${RK_FAILED:-1000000}"
PREFIXES="${RK_PREFIXES:-100}"
HTTP="${RK_HTTP:-1}"
RETRY="${RK_RETRY:-1}"
CPROPS=""
for kv in ${RK_CONSUMER_PROPS:-}; do CPROPS+="${CPROPS:+, }\"$kv\""; done
[ $((N % 2)) = 0 ] && [ "$N" -gt 0 ] || { echo "reporter_kafka.sh: RK_FAILED must be even and > 0" >&2; exit 2; }
for b in ferry-lister ferry-reporter ferry-synths3 ferry-bench-results; do
  [ -x "$FERRY_BIN/$b" ] || { echo "reporter_kafka.sh: $FERRY_BIN/$b missing (build it)" >&2; exit 2; }
done
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "reporter_kafka.sh: /usr/bin/time missing (apt install time)" >&2; exit 2; }
W="$(mktemp -d "${TMPDIR:-/tmp}/ferry-reporter-kafka.XXXXXX")"
PIDS=()
# shellcheck source=../scripts/kafka.sh
source "$ROOT/scripts/kafka.sh"
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -d "$W/kafka" ] && kafka_cluster_stop "$W/kafka"
  wait 2>/dev/null || true
  [ -n "${FERRY_KEEP_RUN:-}" ] || rm -rf "$W"
}
trap cleanup EXIT INT TERM
export FERRY_SYN_ACCESS_KEY=bench FERRY_SYN_SECRET_KEY=bench
die() { echo "reporter_kafka.sh: $*" >&2; exit 1; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# sample PID DIR OUT: until PID ends, every 0.5 s, the peak RssAnon and VmHWM
# (KiB) of PID and the peak size of DIR (KiB, du) into OUT.
sample() {
  local pid="$1" dir="$2" out="$3" anon=0 hwm=0 disk=0 a h d
  while kill -0 "$pid" 2>/dev/null; do
    read -r a h < <(awk '/^RssAnon:/ {a = $2} /^VmHWM:/ {h = $2} END {print a + 0, h + 0}' \
      "/proc/$pid/status" 2>/dev/null || echo "0 0")
    [ "$a" -gt "$anon" ] && anon=$a
    [ "$h" -gt "$hwm" ] && hwm=$h
    if [ -n "$dir" ]; then
      d=$(du -sk "$dir" 2>/dev/null | cut -f1); d=${d:-0}
      [ "$d" -gt "$disk" ] && disk=$d
    fi
    echo "$anon $hwm $disk" >"$out"
    sleep 0.5
  done
}

# measure NAME [--ok RC] CMD...: CMD under /usr/bin/time with the sampler on
# its process and on $SAMPLE_DIR (default $W/state); sets WALL CPU HWM (MiB)
# ANON (MiB) DISK (MiB). Exit codes other than 0 (and RC) fail the bench.
measure() {
  local name="$1" ok=0 tpid pid rc=0 spid=""; shift
  if [ "$1" = --ok ]; then ok="$2"; shift 2; fi
  "$TIME" -f "%e %M %U %S" -o "$W/$name.time" "$@" >"$W/$name.out" 2>"$W/$name.err" &
  tpid=$!
  pid=""
  for _ in $(seq 1 100); do pid=$(pgrep -P "$tpid" | head -1) && [ -n "$pid" ] && break; sleep 0.02; done
  echo "0 0 0" >"$W/$name.sample"
  if [ -n "$pid" ]; then sample "$pid" "${SAMPLE_DIR:-$W/state}" "$W/$name.sample" & spid=$!; fi
  wait "$tpid" || rc=$?
  [ -z "$spid" ] || wait "$spid" || true   # the sampler ends with the process
  if [ "$rc" != 0 ] && [ "$rc" != "$ok" ]; then
    tail -5 "$W/$name.err" >&2
    die "$name exited $rc"
  fi
  RC=$rc
  local rss usr sys a d
  read -r WALL rss usr sys < <(grep -E '^[0-9.]+ [0-9]+ ' "$W/$name.time" | tail -1)
  read -r a _ d <"$W/$name.sample"
  HWM=$(mib "$rss"); ANON=$(mib "$a"); DISK=$(mib "$d")
  CPU=$(awk -v u="$usr" -v s="$sys" 'BEGIN { printf "%.1f", u + s }')
  printf '%-16s %9s %9s %9s %9s %10s\n' "$name" "$WALL" "$CPU" "$HWM" "$ANON" "$DISK" | tee -a "$W/table"
}

# check_view FILE FAILED COPIED RUN2: the task object of `--json` (or the
# API) against the expected figures.
check_view() {
  python3 - "$@" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
t = doc["tasks"][0] if isinstance(doc, dict) and "tasks" in doc else doc
failed, copied, run2 = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
n = failed + copied
bad = []
def want(what, got, exp):
    if got != exp: bad.append(f"{what} {got!r}, expected {exp!r}")
want("state", t.get("state"), "completed-with-failures")
want("total_objects", t.get("total_objects"), n)
want("failed", t.get("failed"), failed)
want("copied", t.get("copied"), copied)
want("incomplete", t.get("incomplete"), None)
runs = {r["run"]: r for r in t.get("runs", [])}
if run2:
    r = runs.get(2, {})
    want("run 2 kind", r.get("kind"), "retry")
    want("run 2 copied", r.get("copied"), n // 2)
    want("run 2 failed", r.get("failed"), n // 2)
if bad: sys.exit("reporter_kafka.sh: " + sys.argv[1] + ": " + "; ".join(bad))
PY
}

# check_export FILE ROWS: a CSV export with a header and exactly ROWS rows,
# keys strictly ascending (so distinct).
check_export() {
  local rows
  head -1 "$1" | grep -q '^key,size,status,' || die "$1: no CSV header"
  rows=$(($(wc -l <"$1") - 1))
  [ "$rows" = "$2" ] || die "$1: $rows rows, expected $2"
  tail -n +2 "$1" | cut -d, -f1 | LC_ALL=C sort -c -u || die "$1: keys not sorted and distinct"
  ! tail -n +2 "$1" | cut -d, -f3 | grep -qv '^failed$' || die "$1: a row whose status is not failed"
}

# kafka_mib TOPIC: the topic's partitions' log dirs over the three nodes, / 3.
kafka_mib() {
  local k
  k=$(du -sk "$W"/kafka/node*/data/"$1"-* 2>/dev/null | awk '{s += $1} END {print s + 0}')
  awk -v k="$k" 'BEGIN { printf "%.1f", k / 3 / 1024 }'
}

printf "# ferry-reporter-kafka  %s  %s CPUs  nice=%s  bin=%s  N=%s  retry=%s  http=%s  consumer_properties=[%s]  uptime:%s\n" \
  "$(date -u +%FT%TZ)" "$(nproc)" "$(nice)" "$FERRY_BIN" "$N" "$RETRY" "$HTTP" "$CPROPS" "$(uptime | sed 's/.*load/ load/')"
t0=$(date +%s)
# A second attempt on fresh ports if a start fails (a port taken between
# free_port and the node's bind, by another process on this shared machine).
for try in 1 2; do
  kafka_cluster_start "$W/kafka" >"$W/kafka.log" 2>&1 && break
  kafka_cluster_stop "$W/kafka"
  grep -h -m3 -E 'ERROR|Exception' "$W/kafka.log" "$W"/kafka/node*/server.log >&2 || true
  [ "$try" = 2 ] && die "the Kafka cluster did not start (twice)"
  echo "reporter_kafka.sh: the Kafka cluster did not start; once more" >&2
  rm -rf "$W/kafka"
done
for n in 1 2 3; do PIDS+=("$(cat "$W/kafka/node$n/pid")"); done
echo "# kafka cluster ready in $(( $(date +%s) - t0 )) s: $(cat "$W/kafka/bootstrap")"

"$FERRY_BIN/ferry-synths3" --port 0 --objects "$N" --prefixes "$PREFIXES" --threads 4 \
  >"$W/synth.out" 2>"$W/synth.err" &
PIDS+=("$!")
for _ in $(seq 1 50); do grep -q '^ready' "$W/synth.out" 2>/dev/null && break; sleep 0.1; done
SYNTH_URL=$(awk '/^ready/ {print $2}' "$W/synth.out")
[ -n "$SYNTH_URL" ] || { cat "$W/synth.err" >&2; die "ferry-synths3 did not start"; }

mkdir -p "$W/state"
CONF="$W/ferry.conf"
write_conf() {  # LISTEN
  cat >"$CONF" <<CONF
kafka = { brokers = "$(cat "$W/kafka/bootstrap")"; segments_partitions = 8; replication_factor = 3;
          delivery_timeout_ms = 120000; consumer_properties = [ $CPROPS ]; };
stores = ( { name = "syn"; type = "s3"; endpoint = "$SYNTH_URL"; region = "us-east-1";
             path_style = true; } );
lister = { page_size = 1000; segment_max_objects = 1000; checkpoint_pages = 10; };
reporter = { listen = "$1"; state_dir = "$W/state"; };
log_level = "warn";
tasks = ( { name = "t"; source = "syn:synth"; destination = "syn:sink/"; } );
CONF
  chmod 600 "$CONF"
}
write_conf ""

printf '%-16s %9s %9s %9s %9s %10s\n' process wall_s cpu_s hwm_mib anon_mib state_mib | tee "$W/table"
# 1. run 1's segments; 2. every object failed.
measure lister "$FERRY_BIN/ferry-lister" -c "$CONF" -t t
grep -q "listed $N objects" "$W/lister.err" || { cat "$W/lister.err" >&2; die "the lister did not list $N objects"; }
measure results1 "$FERRY_BIN/ferry-bench-results" -c "$CONF" -t t --run 1 --fail-every 1
grep -q "results: .* $N objects ($N failed)" "$W/results1.err" || { cat "$W/results1.err" >&2; die "run 1's results are not $N failed"; }

# 3. The cold reporter and its export.
measure view1 "$FERRY_BIN/ferry-reporter" -c "$CONF" --task t --once --json
V1=("$WALL" "$CPU" "$HWM" "$ANON" "$DISK")
check_view "$W/view1.out" "$N" 0 0
measure export1 "$FERRY_BIN/ferry-reporter" -c "$CONF" --export-failed t --out "$W/export1.csv"
E1=("$WALL" "$HWM")
check_export "$W/export1.csv" "$N"
# What step 5 expects: run 1's figures, or after step 4 the retry's.
EXP_FAILED=$N EXP_COPIED=0 EXP_RUN2=0 EXP_CSV="$W/export1.csv"
KF=$(kafka_mib ferry.failed); KR=$(kafka_mib ferry.results)
R=(skipped skipped skipped) V2=(skipped skipped skipped skipped skipped) E2=(skipped skipped)
RF=skipped RX=skipped

# 4. The retry, half of it failed again.
if [ "$RETRY" = 1 ]; then
rm -f "$W/export1.csv"
# The lister builds its own index in $TMPDIR (docs/lister.md): sampled there.
mkdir -p "$W/ltmp"
TMPDIR="$W/ltmp" SAMPLE_DIR="$W/ltmp" measure retry "$FERRY_BIN/ferry-lister" -c "$CONF" -t t --retry-failed
grep -q "$N objects still failed since run 1" "$W/retry.err" ||
  { tail -5 "$W/retry.err" >&2; die "the retry did not replay $N objects"; }
R=("$WALL" "$HWM" "$DISK")
measure results2 "$FERRY_BIN/ferry-bench-results" -c "$CONF" -t t --run 2 --fail-every 2
grep -q "results: .* $N objects ($((N / 2)) failed)" "$W/results2.err" ||
  { cat "$W/results2.err" >&2; die "run 2's results are not $N objects, $((N / 2)) failed"; }
KF=$(kafka_mib ferry.failed); KR=$(kafka_mib ferry.results)
measure view2 "$FERRY_BIN/ferry-reporter" -c "$CONF" --task t --once --json
V2=("$WALL" "$CPU" "$HWM" "$ANON" "$DISK")
check_view "$W/view2.out" "$((N / 2))" "$((N / 2))" 1
measure export2 "$FERRY_BIN/ferry-reporter" -c "$CONF" --export-failed t --out "$W/export2.csv"
E2=("$WALL" "$HWM")
check_export "$W/export2.csv" "$((N / 2))"
EXP_FAILED=$((N / 2)) EXP_COPIED=$((N / 2)) EXP_RUN2=1 EXP_CSV="$W/export2.csv"
RF=$((N / 2)) RX=$((N / 2))
fi

# 5. The same through the HTTP API.
HTTP_HWM=n/a
if [ "$HTTP" = 1 ]; then
  port=$(free_port)
  write_conf "127.0.0.1:$port"
  "$FERRY_BIN/ferry-reporter" -c "$CONF" >"$W/http.out" 2>"$W/http.err" &
  hp=$!
  PIDS+=("$hp")
  echo "0 0 0" >"$W/http.sample"
  sample "$hp" "$W/state" "$W/http.sample" &
  t0=$(date +%s.%N)
  until curl -sf "http://127.0.0.1:$port/api/reporter" 2>/dev/null | grep -q '"caught_up": *true'; do
    kill -0 "$hp" 2>/dev/null || { tail -5 "$W/http.err" >&2; die "the serving reporter exited"; }
    sleep 1
  done
  t1=$(date +%s.%N)
  curl -sf "http://127.0.0.1:$port/api/tasks/t" >"$W/api.json" || die "GET /api/tasks/t failed"
  check_view "$W/api.json" "$EXP_FAILED" "$EXP_COPIED" "$EXP_RUN2"
  curl -sf "http://127.0.0.1:$port/api/tasks/t/failed.csv" >"$W/api.csv" || die "GET failed.csv failed"
  cmp -s "$W/api.csv" "$EXP_CSV" || die "/api/tasks/t/failed.csv differs from --export-failed"
  sleep 1
  read -r a HTTP_HWM _ <"$W/http.sample"
  HTTP_HWM=$(mib "$HTTP_HWM")
  kill "$hp"; wait "$hp" 2>/dev/null || true
  printf '%-16s %9s %9s %9s %9s %10s\n' http-caught-up "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" \
    - "$HTTP_HWM" "$(mib "$a")" - | tee -a "$W/table"
  HTTP=ok
else
  HTTP=skipped
fi
rm -f "$W/export1.csv" "$W/export2.csv" "$W/api.csv"
echo "# kafka logs, one replica: ferry.failed ${KF} MiB, ferry.results ${KR} MiB; segments.t $(kafka_mib ferry.segments.t) MiB"
echo "RESULT reporter_kafka failures=$N view_s=${V1[0]} view_cpu_s=${V1[1]} view_hwm_mib=${V1[2]}" \
  "view_anon_mib=${V1[3]} index_mib=${V1[4]} export_s=${E1[0]} export_hwm_mib=${E1[1]} exported=$N" \
  "retry_lister_s=${R[0]} retry_lister_hwm_mib=${R[1]} retry_lister_index_mib=${R[2]} retry_view_s=${V2[0]} retry_view_cpu_s=${V2[1]}" \
  "retry_view_hwm_mib=${V2[2]} retry_view_anon_mib=${V2[3]} retry_index_mib=${V2[4]} retry_failed=$RF" \
  "retry_export_s=${E2[0]} retry_export_hwm_mib=${E2[1]} retry_exported=$RX http_hwm_mib=$HTTP_HWM" \
  "http=$HTTP kafka_failed_mib=$KF kafka_results_mib=$KR exact=1"
