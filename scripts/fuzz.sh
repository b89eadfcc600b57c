#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) into build-fuzz/ with clang and
# runs each for SECONDS (default 20), one after the other, printing the
# executions per target. Exits non-zero if a target crashed, leaked, hit UB
# or broke its contract; the input is kept under build-fuzz/fuzz/TARGET/
# artifacts/ (reproduce: build-fuzz/fuzz_TARGET INPUT).
#
# usage: scripts/fuzz.sh [SECONDS] [TARGET...]   e.g. scripts/fuzz.sh 300 msg config
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECS="${1:-20}"
shift || true
B="$ROOT/build-fuzz"

if ! command -v clang >/dev/null 2>&1; then
  echo "fuzz: clang is not installed (scripts/deps.sh installs it)" >&2
  exit 2
fi
CC=clang cmake -S "$ROOT" -B "$B" -DFERRY_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$B" --target fuzzers -j"$(nproc)" >"$B/fuzz-build.log" 2>&1 || {
  tail -n 40 "$B/fuzz-build.log"
  echo "fuzz: build failed (log $B/fuzz-build.log)" >&2
  exit 1
}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in "$ROOT"/tests/fuzz/fuzz_*.c; do
    t="$(basename "$src" .c)"
    targets+=("${t#fuzz_}")
  done
fi

rc=0
for t in "${targets[@]}"; do
  bash "$ROOT/tests/fuzz/run.sh" "$B/fuzz_$t" "$t" "$SECS" || rc=1
done
exit $rc
