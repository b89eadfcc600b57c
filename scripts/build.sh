#!/usr/bin/env bash
# Builds ferry into build/ (and build-asan/ with --sanitize).
# usage: scripts/build.sh [--sanitize]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ "${1:-}" = "--sanitize" ]; then
  B="$ROOT/build-asan"; EXTRA=(-DFERRY_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
else
  B="$ROOT/build"; EXTRA=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
fi
cmake -S "$ROOT" -B "$B" "${EXTRA[@]}" >/dev/null
cmake --build "$B" -j"$(nproc)"
