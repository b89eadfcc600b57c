#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time. libFuzzer first runs every
# input of the seed corpus (tests/fuzz/corpus/TARGET), the kept crashes
# (tests/fuzz/regressions/TARGET) and what earlier runs found (the work
# corpus next to the binary), then mutates until the time is up. Prints one
# line with the executions; on a crash, the report and the crashing input.
#
# usage: tests/fuzz/run.sh BINARY TARGET [SECONDS]
#   SECONDS defaults to $FERRY_FUZZ_SECONDS, else 20.
#   Extra libFuzzer flags may come in $FERRY_FUZZ_FLAGS (e.g. -jobs=2).
set -uo pipefail
bin="$1"
t="$2"
secs="${3:-${FERRY_FUZZ_SECONDS:-20}}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(cd "$(dirname "$bin")" && pwd)/fuzz/$t"
mkdir -p "$work/corpus" "$work/artifacts"

dirs=("$work/corpus" "$here/corpus/$t")
[ -d "$here/regressions/$t" ] && dirs+=("$here/regressions/$t")
dict=()
for d in "$here/dict/$t.dict" "$here/dict/${t%%_*}.dict"; do
  if [ -f "$d" ]; then dict=(-dict="$d"); break; fi
done

# Leaks are findings; one-time state of system libraries is not ours.
export ASAN_OPTIONS="detect_leaks=1:${ASAN_OPTIONS:-}"
export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

# libconfig 1.5 leaks on most syntax errors (lsan.supp), and every input
# that leaks makes libFuzzer stop for a full LeakSanitizer scan: the config
# target ran ~40x slower. It mutates without leak checks, then replays its
# whole corpus (every input that found something new) once with them.
leaks=(); replay=0
case "$t" in
  config) leaks=(-detect_leaks=0); replay=1 ;;
esac

log="$work/last.log"
# shellcheck disable=SC2086
"$bin" -max_total_time="$secs" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "${leaks[@]}" "${dict[@]}" ${FERRY_FUZZ_FLAGS:-} \
  "${dirs[@]}" >"$log" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && [ "$replay" = 1 ]; then
  "$bin" -runs=0 -detect_leaks=1 -rss_limit_mb=1024 -timeout=10 \
    -artifact_prefix="$work/artifacts/" "${dirs[@]}" >"$work/replay.log" 2>&1 || {
    rc=$?
    cat "$work/replay.log" >>"$log"
  }
fi
execs="$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)"
cov="$(grep -o 'cov: [0-9]*' "$log" | tail -1)"
if [ "$rc" -ne 0 ]; then
  tail -n 80 "$log"
  echo "fuzz $t: FAILED (exit $rc) after ${execs:-?} executions; log $log"
  ls -1 "$work/artifacts/" 2>/dev/null | sed "s|^|fuzz $t: input $work/artifacts/|"
  exit 1
fi
echo "fuzz $t: ok, ${execs:-?} executions in ${secs} s (${cov:-cov: ?}," \
  "$(find "$work/corpus" -type f | wc -l) inputs in the work corpus)"
