#!/usr/bin/env bash
# Runs the integration tests (and, asked for, the fault suite) with every
# ferry binary under valgrind memcheck, then sums up the per-process reports.
# Slow (each test several times longer than usual): not part of
# scripts/test.sh. docs/testing.md "Valgrind".
#
# usage: scripts/valgrind.sh [ctest args...]
#   scripts/valgrind.sh                          # -L integration, one test at a time
#   scripts/valgrind.sh -R 'fleet|worker_kafka'  # a part
#   scripts/valgrind.sh -L fault                 # the fault suite
#
# build-vg/ is a Debug build without sanitizers configured with
# FERRY_WRAP=tests/lib/vgwrap.sh: the C integration tests run under it and
# the shell tests get build-vg/wrap/ as FERRY_BIN (CMakeLists.txt). Each
# process writes build-vg/vg-logs/<binary>.<pid>.log (FERRY_VG_LOGS); the run
# fails when a test fails or any log reports an error or a definite/indirect
# leak. FERRY_VG_JOBS runs tests in parallel (default 1); FERRY_VG_BUILD
# names another build directory (two parts at once).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
B="${FERRY_VG_BUILD:-$ROOT/build-vg}"
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }

nice -n 10 cmake -S "$ROOT" -B "$B" -DCMAKE_BUILD_TYPE=Debug -DFERRY_SANITIZE=OFF \
  -DFERRY_WRAP="$ROOT/tests/lib/vgwrap.sh" >/dev/null
nice -n 10 cmake --build "$B" -j2

export FERRY_VG_LOGS="${FERRY_VG_LOGS:-$B/vg-logs}"
rm -rf "$FERRY_VG_LOGS"
mkdir -p "$FERRY_VG_LOGS"
# Give stopped services time to shut down and write their leak reports.
export FERRY_STOP_GRACE="${FERRY_STOP_GRACE:-60}"

export FERRY_SRC="$ROOT"
# shellcheck source=servers.sh
source "$ROOT/scripts/servers.sh"
servers_init
trap servers_stop EXIT INT TERM
s3_start main ferry-test ferry-src ferry-dst
export FERRY_S3_ENDPOINT="$FERRY_S3_MAIN"

[ $# -gt 0 ] || set -- -L integration
rc=0
nice -n 10 ctest --test-dir "$B" --output-on-failure -j "${FERRY_VG_JOBS:-1}" "$@" || rc=1

# The summary: one line per process that reported something.
logs=0 bad=0
for f in "$FERRY_VG_LOGS"/*.log; do
  [ -e "$f" ] || continue
  logs=$((logs + 1))
  n=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$f" | tail -1)
  if [ -z "$n" ]; then
    : # killed (SIGKILL) before valgrind could report: nothing to count
  elif [ "$n" != 0 ]; then
    bad=$((bad + 1))
    echo "valgrind: $(basename "$f"): $n errors"
  fi
done
reported=$(grep -l 'ERROR SUMMARY' "$FERRY_VG_LOGS"/*.log 2>/dev/null | wc -l)
echo "valgrind: $logs processes, $reported reported, $bad with errors or leaks (logs: $FERRY_VG_LOGS)"
[ "$bad" = 0 ] || rc=1
exit $rc
