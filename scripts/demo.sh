#!/usr/bin/env bash
# The README's demo command. For now: builds ferry and runs a one-shot copy
# between two local S3 servers; see README.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/deps.sh"
"$ROOT/scripts/build.sh"
echo "demo: not yet wired; see issue tracker" >&2
