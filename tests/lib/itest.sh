# Sourced by integration test scripts: strict mode, servers, assertions.
# Every process a test starts is stopped by the EXIT trap, pass or fail.
set -euo pipefail
FERRY_SRC="${FERRY_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
FERRY_BIN="${FERRY_BIN:-$FERRY_SRC/build}"
export FERRY_SRC FERRY_BIN
# shellcheck source=../../scripts/servers.sh
source "$FERRY_SRC/scripts/servers.sh"
servers_init
TOOLS="$FERRY_SRC/tests/tools"
export FERRY_SRC_ACCESS_KEY=S3RVER FERRY_SRC_SECRET_KEY=S3RVER
export FERRY_DST_ACCESS_KEY=S3RVER FERRY_DST_SECRET_KEY=S3RVER

# itest_dump_logs: the tail of every log the test's processes wrote, so that a
# failure in CI (where the run directory is gone) can be diagnosed.
itest_dump_logs() {
  local f n
  for f in "$FERRY_RUN"/*.log "$FERRY_RUN"/*.err "$FERRY_RUN"/*.stack; do
    [ -s "$f" ] || continue
    n=${FERRY_DUMP_LINES:-40}
    # A stalled worker's log ends with its threads' stacks (FERRY_STALL_GDB).
    grep -q "event=stalled" "$f" && n=250
    echo "---- ${f##*/} (last $n lines) ----"
    tail -n "$n" "$f" | cut -c1-400
  done
}

# A test that outlives FERRY_TEST_DEADLINE seconds (ctest sets it below its
# own TIMEOUT, which kills without a word) prints its logs and is stopped:
# a hang shows where it hung.
ITEST_WATCH=""
if [ "${FERRY_TEST_DEADLINE:-0}" -gt 0 ] 2>/dev/null; then
  (
    sleep "$FERRY_TEST_DEADLINE" </dev/null >/dev/null 2>&1
    echo "FAIL: $(basename "$0") still running after ${FERRY_TEST_DEADLINE} s (FERRY_TEST_DEADLINE); its logs (run dir $FERRY_RUN):" >&2
    itest_dump_logs >&2
    kill -TERM $$ 2>/dev/null
    sleep 10
    # Whatever the script waits on (a process that ignores SIGTERM) goes too.
    while read -r p; do kill -9 "$p" 2>/dev/null; done <"$FERRY_RUN/pids"
  ) &
  ITEST_WATCH=$!
fi
itest_exit() {
  local rc=$?
  if [ -n "$ITEST_WATCH" ]; then
    pkill -P "$ITEST_WATCH" 2>/dev/null || true
    kill "$ITEST_WATCH" 2>/dev/null || true
  fi
  servers_stop
  return $rc
}
trap itest_exit EXIT
trap 'exit 143' INT TERM

# broker_start [ferry-devbroker args...]: the test's Kafka. The dev broker,
# or with FERRY_TEST_BROKER=kafka a real three-node Apache Kafka cluster
# (scripts/kafka.sh; the devbroker args are then ignored: topics get the
# partition counts ferry asks for). Either way $FERRY_RUN/bootstrap and
# FERRY_BROKERS name it.
broker_start() {
  if broker_is_real; then
    # shellcheck source=../../scripts/kafka.sh
    source "$FERRY_SRC/scripts/kafka.sh"
    kafka_start
  else
    devbroker_start "$@"
  fi
}
broker_is_real() { [ "${FERRY_TEST_BROKER:-devbroker}" = kafka ]; }

# mock_short_sessions CONF: short consumer sessions, for the dev broker only
# (the mock cluster makes a re-join wait for departed members); a real
# cluster runs with its defaults (45 s sessions, the real coordinator).
mock_short_sessions() {
  broker_is_real && return 0
  sed -i 's|^kafka = {|kafka = { consumer_properties = ["session.timeout.ms=6000", "heartbeat.interval.ms=500"];|' "$1"
}

fail() {
  echo "FAIL: $*" >&2
  [ -n "${ITEST_DUMPED:-}" ] || { ITEST_DUMPED=1; itest_dump_logs >&2; }
  exit 1
}
ok() { echo "ok: $*"; }
assert_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }

# small_fleet: a dev broker (4 segment partitions), s3rver src (ferry-src)
# and dst (ferry-dst), and CONF=$FERRY_RUN/ferry.conf written for them.
small_fleet() {
  devbroker_start --partitions 4
  s3_start src ferry-src
  s3_start dst ferry-dst
  CONF="$FERRY_RUN/ferry.conf"
  write_conf "$CONF" "$FERRY_S3_SRC" "$FERRY_S3_DST"
}

# write_conf FILE SRC_ENDPOINT DST_ENDPOINT [extra worker lines]
write_conf() {
  local f="$1" se="$2" de="$3" extra="${4:-}"
  local rf=""
  # On the real cluster topics are replicated as docs/deploy.md says.
  [ "${FERRY_TEST_BROKER:-}" = kafka ] && rf=" replication_factor = 3;"
  cat >"$f" <<CONF
log_level = "info";
kafka = { brokers = ""; bootstrap_file = "$FERRY_RUN/bootstrap"; segments_partitions = 8;$rf };
stores = (
  { name = "src"; type = "s3"; endpoint = "$se"; region = "us-east-1"; path_style = true; },
  { name = "dst"; type = "s3"; endpoint = "$de"; region = "us-east-1"; path_style = true; }
);
worker = {
  concurrency = 16;
  multipart_threshold = "8M";
  part_size = "5M";
  max_attempts = 4;
  backoff_base_ms = 50;
  backoff_max_ms = 1000;
  $extra
};
lister = { segment_max_objects = 100; };
tasks = ( { name = "t"; source = "src:ferry-src"; destination = "dst:ferry-dst"; } );
CONF
  chmod 600 "$f"
}

# real_kafka_setup: the start of a tests/kafka scenario: the real cluster
# (kafka_start args, e.g. --prop k=v), buckets src/ferry-src and dst with
# ferry-dst plus any extra destination buckets in REAL_DST_BUCKETS, and
# $CONF written for them (topics replicated 3 times).
real_kafka_setup() {
  export FERRY_TEST_BROKER=kafka
  # shellcheck source=../../scripts/kafka.sh
  source "$FERRY_SRC/scripts/kafka.sh"
  kafka_start "$@"
  s3_start src ferry-src
  # shellcheck disable=SC2086
  s3_start dst ferry-dst ${REAL_DST_BUCKETS:-}
  CONF="$FERRY_RUN/ferry.conf"
  write_conf "$CONF" "$FERRY_S3_SRC" "$FERRY_S3_DST"
}

# task_complete TASK TOTAL DST_BUCKET: waits (600 s) for TASK to complete, then
# checks the reporter's accounting (TOTAL objects, none failed, each counted
# once) and the destination against the source; sets COPIED and SKIPPED.
task_complete() {
  "$FERRY_BIN/ferry-reporter" -c "$CONF" --task "$1" --wait --timeout 600 >"$FERRY_RUN/wait-$1" 2>&1 ||
    fail "task $1 did not complete cleanly ($?)"
  "$FERRY_BIN/ferry-reporter" -c "$CONF" --task "$1" --once --json >"$FERRY_RUN/st-$1.json"
  local failed objs
  read -r COPIED SKIPPED failed objs <<<"$(node -e "const j=JSON.parse(require('fs').readFileSync('$FERRY_RUN/st-$1.json'));const t=Array.isArray(j)?j[0]:(j.tasks?j.tasks[0]:j);console.log(t.copied,t.skipped,t.failed,t.total_objects)")"
  assert_eq "$objs" "$2" "task $1: reporter total = source listing"
  assert_eq "$failed" "0" "task $1: objects failed"
  assert_eq "$((COPIED + SKIPPED))" "$2" "task $1: every object counted exactly once"
  node "$TOOLS/compare.js" "$FERRY_S3_SRC" ferry-src "$FERRY_S3_DST" "$3" || fail "task $1: destination differs"
}

# count_status FILE STATUS: outcome lines with that status
count_status() { grep -c "\"status\":\"$2\"" "$1" || true; }
