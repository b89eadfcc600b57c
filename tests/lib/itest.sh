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
  cat >"$f" <<CONF
log_level = "info";
kafka = { brokers = ""; bootstrap_file = "$FERRY_RUN/bootstrap"; segments_partitions = 8; };
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

# count_status FILE STATUS: outcome lines with that status
count_status() { grep -c "\"status\":\"$2\"" "$1" || true; }
