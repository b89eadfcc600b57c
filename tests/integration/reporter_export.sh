#!/usr/bin/env bash
# The reporter's failed-list export under load (issue 12 item 6), by
# bench/export_rss.sh at a test's size: 60 000 failed objects, 4 clients at
# 1 MiB/s each (about 8 s of downloads), a fifth refused with 503. Asserts
# what the bench checks (every download is the whole sorted list, the fifth
# export is refused, the consume loop counts a result published during the
# downloads) and that the reporter's RSS grew by at most 16 MiB meanwhile
# (the whole-list rendering this replaced held one copy per client: ~8 MiB
# each here). About 60 s.
set -euo pipefail
: "${FERRY_BIN:?FERRY_BIN must name the build directory}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out=$(EXPORT_FAILED=60000 EXPORT_CLIENTS=4 EXPORT_RATE=1M "$ROOT/bench/export_rss.sh") ||
  { echo "FAIL: bench/export_rss.sh failed"; exit 1; }
echo "$out"
growth=$(echo "$out" | sed -n 's/^RESULT export_rss_growth_mib=\([0-9.]*\) .*/\1/p')
[ -n "$growth" ] || { echo "FAIL: no RESULT line"; exit 1; }
awk -v g="$growth" 'BEGIN { exit !(g <= 16) }' ||
  { echo "FAIL: the reporter's RSS grew by $growth MiB during the exports (limit 16)"; exit 1; }
echo "ok - 4 parallel slow exports of 60000 rows: RSS growth $growth MiB <= 16"
echo "PASS reporter_export"
