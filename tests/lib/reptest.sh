# Sourced by the reporter's integration tests (reporter_http, reporter_auth,
# reporter_console), which start a dev broker and a reporter themselves:
# the run directory, stopping what they started, and the logs of a failed run.
# Set REPTEST_NAME before sourcing; define reptest_stop_more to stop more
# (it runs first, before the reporter and the broker). FERRY_KEEP_RUN=1
# keeps the run directory.
set -euo pipefail

: "${FERRY_BIN:?FERRY_BIN must name the build directory}"
DEVBROKER="$FERRY_BIN/ferry-devbroker"
REPORTER="$FERRY_BIN/ferry-reporter"

RUN="$(mktemp -d "/tmp/ferry-${REPTEST_NAME:-reporter}.XXXXXX")"
BROKER_PID=""
REP_PID=""

stop_pid() {   # stop_pid PID: TERM, up to 5 s, then KILL
  local p="$1"
  [ -n "$p" ] || return 0
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}

reptest_cleanup() {
  local rc=$? f
  if declare -F reptest_stop_more >/dev/null; then reptest_stop_more; fi
  stop_pid "$REP_PID"
  stop_pid "$BROKER_PID"
  if [ "$rc" -ne 0 ]; then
    for f in "$RUN"/*.log; do
      [ -e "$f" ] || continue
      echo "--- $f:" >&2
      tail -n 30 "$f" >&2
    done
  fi
  if [ "${FERRY_KEEP_RUN:-}" = 1 ]; then echo "run directory kept: $RUN" >&2; else rm -rf "$RUN"; fi
  exit "$rc"
}
trap reptest_cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
st() { rc=0; "$@" || rc=$?; }
