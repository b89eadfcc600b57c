#!/usr/bin/env bash
# The README's test command: installs what is missing, builds ferry twice
# (normal, and with ASan+UBSan), starts the loopback servers the tests need,
# runs every test through ctest, and stops every server it started.
#
# usage: scripts/test.sh [ctest args...]   e.g. scripts/test.sh -L unit
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

"$ROOT/scripts/deps.sh"
"$ROOT/scripts/build.sh"
"$ROOT/scripts/build.sh" --sanitize
"$ROOT/scripts/build.sh" --tsan

export FERRY_SRC="$ROOT"
# shellcheck source=servers.sh
source "$ROOT/scripts/servers.sh"
servers_init
trap servers_stop EXIT INT TERM
s3_start main ferry-test ferry-src ferry-dst
export FERRY_S3_ENDPOINT="$FERRY_S3_MAIN"

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}"
export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# A worker whose watchdog fires (docs/worker.md) prints every thread's stack
# (gdb) into its log before exiting, which the failing test then shows.
export FERRY_STALL_GDB=1

# Integration tests wait on servers more than on the CPU: run a few at once
# (FERRY_TEST_JOBS to change; the rate-measuring ones run alone).
JOBS="${FERRY_TEST_JOBS:-3}"
rc=0
# The fault suite (whole fleets, minutes each) runs once, in the sanitizer
# build, where it also finds memory errors; everything else runs in both.
# The WAN bed's tests (label wan: network namespaces, minutes each) run
# after both, in the plain build only, and only their CI subset (wan_ci);
# the rest by hand: ctest --test-dir build -L wan (docs/testing.md).
# The real-server suites (labels kafka and s3real: a three-node Apache Kafka
# and versitygw, docs/testing.md "Real servers") likewise: on a whole run
# only the CI subset REAL_CI below, gated by FERRY_REAL_SERVERS (0 skips
# it); `scripts/test.sh -L kafka -LE known_defect` runs one suite alone.
# known_defect: tests that show an open ferry defect, run by hand.
PLAIN_ARGS=("$@") ASAN_ARGS=("$@")
# The integration tests run once, in the ASan+UBSan build; the plain build
# runs the unit tests, the lint, the valgrind smoke set, the console's
# browser test and the integration tests labelled plain (CMakeLists.txt:
# FERRY_PLAIN_TOO, whose checks are about the optimized build).
[ $# -eq 0 ] && PLAIN_ARGS=(-L '^(unit|lint|valgrind|plain|console)$' -LE 'fault|wan|kafka|s3real|known_defect') \
  ASAN_ARGS=(-LE 'wan|kafka|s3real|known_defect|console')
REAL_CI='^(kafka\.features|s3real\.(strict|sdk_readback|fanout_damaged))$'
# A test that fails is run once more, alone, before the build counts as
# failed: whole fleets on a 2-CPU machine running three tests at once have
# timing-sensitive checks. A test that passes only on the rerun is named in
# a FLAKY line at the end (and in $ROOT/<build>/flaky.txt), never hidden; one
# that fails twice fails the run. FERRY_TEST_RERUN=0 turns this off.
FLAKY=()
run_ctest() {
  local dir="$1"; shift
  rm -f "$dir/flaky.txt"
  if FERRY_BIN="$dir" ctest --test-dir "$dir" --output-on-failure -j "$JOBS" "$@"; then
    return 0
  fi
  [ "${FERRY_TEST_RERUN:-1}" != 0 ] || return 1
  local failed
  failed=$(sed 's/^[0-9]*://' "$dir/Testing/Temporary/LastTestsFailed.log" 2>/dev/null | tr '\n' ' ')
  echo "== rerun, alone, of what failed in ${dir##*/}: $failed=="
  if FERRY_BIN="$dir" ctest --test-dir "$dir" --output-on-failure --rerun-failed; then
    echo "${dir##*/}: $failed" >"$dir/flaky.txt"
    FLAKY+=("${dir##*/}: $failed")
    return 0
  fi
  return 1
}
echo "== ctest (build) =="
run_ctest "$ROOT/build" "${PLAIN_ARGS[@]}" || rc=1
echo "== ctest (build-asan: ASan+UBSan) =="
run_ctest "$ROOT/build-asan" "${ASAN_ARGS[@]}" || rc=1
if [ $# -eq 0 ]; then
  echo "== ctest (build): the WAN bed's CI subset (label wan_ci) =="
  run_ctest "$ROOT/build" -L wan_ci || rc=1
fi
if [ $# -eq 0 ] && [ "${FERRY_REAL_SERVERS:-1}" != 0 ]; then
  echo "== real servers (build; CI subset: $REAL_CI) =="
  t0=$SECONDS
  "$ROOT/scripts/kafka.sh" fetch && "$ROOT/scripts/s3real.sh" fetch || rc=1
  echo "real servers: fetched and built in $((SECONDS - t0)) s (cached in ${FERRY_TESTBED_CACHE:-/var/cache/ferry-testbed})"
  # One at a time: each Kafka test runs three JVMs on the 2 CPUs.
  JOBS=1 run_ctest "$ROOT/build" -R "$REAL_CI" || rc=1
  echo "real servers: $((SECONDS - t0)) s in all"
fi

# ---- ThreadSanitizer (build-tsan: lister, reporter, dev broker only) ---------
# The multithreaded parts under TSan, in a few chosen tests: the lister's
# shard threads (lister_shards) and the reporter's HTTP thread against its
# consume loop (reporter_export: streamed exports). A race report ends the
# process with status 66, which fails the test. Only on a whole run
# (no ctest arguments); FERRY_TSAN=0 skips. About 3 min.
if [ $# -eq 0 ] && [ "${FERRY_TSAN:-1}" != 0 ]; then
  echo "== ctest (build-tsan: ThreadSanitizer, chosen tests) =="
  TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 suppressions=$ROOT/tests/tsan.supp ${TSAN_OPTIONS:-}" \
    run_ctest "$ROOT/build-tsan" -R '^integration\.(lister_shards|reporter_export)$' || rc=1
fi

# ---- fuzz (tests/fuzz, docs/testing.md "Fuzzing") ----------------------------
# Every libFuzzer target for a short bounded time in build-fuzz/ (clang); a
# crash, leak or broken contract fails the run. Only on a whole run (no
# ctest arguments); FERRY_FUZZ_SECONDS sets the time per target, 0 skips.
FUZZ_SECS="${FERRY_FUZZ_SECONDS:-8}"
if [ $# -eq 0 ] && [ "$FUZZ_SECS" != 0 ]; then
  echo "== fuzz (build-fuzz: clang libFuzzer, ${FUZZ_SECS} s per target) =="
  "$ROOT/scripts/fuzz.sh" "$FUZZ_SECS" || rc=1
fi
for f in "${FLAKY[@]}"; do echo "FLAKY (failed, then passed when rerun alone): $f"; done
exit $rc
