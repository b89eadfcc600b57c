#!/usr/bin/env bash
# Builds ferry into build/ (build-asan/ with --sanitize, build-tsan/ with --tsan).
# usage: scripts/build.sh [--sanitize | --tsan]
# --tsan builds only the services the ThreadSanitizer tests run (lister,
# reporter, dev broker) into build-tsan/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGETS=()
if [ "${1:-}" = "--sanitize" ]; then
  B="$ROOT/build-asan"; EXTRA=(-DFERRY_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
elif [ "${1:-}" = "--tsan" ]; then
  B="$ROOT/build-tsan"; EXTRA=(-DFERRY_TSAN=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo)
  TARGETS=(--target ferry-lister ferry-reporter ferry-devbroker)
else
  B="$ROOT/build"; EXTRA=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
fi
cmake -S "$ROOT" -B "$B" "${EXTRA[@]}" >/dev/null
cmake --build "$B" -j"$(nproc)" "${TARGETS[@]}"
