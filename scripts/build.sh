#!/usr/bin/env bash
# Builds ferry into build/ (build-asan/ with --sanitize, build-tsan/ with --tsan).
# usage: scripts/build.sh [--sanitize | --tsan]
# --tsan builds only the services the ThreadSanitizer tests run (lister,
# reporter) into build-tsan/, and copies build/'s dev broker beside them
# (test infrastructure; librdkafka's mock cluster crashes under TSan), so
# build/ comes first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGETS=()
if [ "${1:-}" = "--sanitize" ]; then
  B="$ROOT/build-asan"; EXTRA=(-DFERRY_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
elif [ "${1:-}" = "--tsan" ]; then
  B="$ROOT/build-tsan"; EXTRA=(-DFERRY_TSAN=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo)
  TARGETS=(--target ferry-lister ferry-reporter)
else
  B="$ROOT/build"; EXTRA=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
fi
cmake -S "$ROOT" -B "$B" "${EXTRA[@]}" >/dev/null
cmake --build "$B" -j"$(nproc)" "${TARGETS[@]}"
if [ "${1:-}" = "--tsan" ]; then
  [ -x "$ROOT/build/ferry-devbroker" ] ||
    { echo "build.sh --tsan: build/ferry-devbroker missing: run scripts/build.sh first" >&2; exit 1; }
  cp "$ROOT/build/ferry-devbroker" "$B/ferry-devbroker"
fi
