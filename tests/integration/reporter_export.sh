#!/usr/bin/env bash
# The reporter's failed-list export under load, by
# bench/export_rss.sh at a test's size: 100 000 failed objects with ~290-byte
# keys (a 40 MiB list: far more than loopback sockets buffer), 4 clients at
# 4 MiB/s each, a fifth refused with 503. Asserts what the bench checks
# (every download is the whole sorted list, the fifth export is refused, the
# consume loop counts a result published during the downloads) and that the
# reporter's RSS grew by at most 16 MiB meanwhile (the whole-list rendering
# this replaced held a copy per client). About 2 min on an idle 2-CPU machine.
set -euo pipefail
: "${FERRY_BIN:?FERRY_BIN must name the build directory}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Under ASan or TSan (build-asan, build-tsan) memory is the sanitizer's:
# the same checks at a third of the size, RSS reported but not bounded.
# ldd's output is read whole first: `ldd | grep -q` under pipefail failed
# whenever grep's early exit cut ldd off (SIGPIPE), and a TSan build was
# then measured at full size against the plain build's limit.
N=100000 RATE=4M PAD=240 SAN=""
libs=$(ldd "$FERRY_BIN/ferry-reporter" 2>/dev/null) || libs="wrapper"   # a wrapper script (valgrind)
if [ "$libs" = wrapper ] || grep -q 'lib[at]san' <<<"$libs"; then
  N=20000 RATE=1M PAD=0 SAN=1
fi
out=$(EXPORT_FAILED=$N EXPORT_KEY_PAD=$PAD EXPORT_CLIENTS=4 EXPORT_RATE=$RATE "$ROOT/bench/export_rss.sh") ||
  { echo "FAIL: bench/export_rss.sh failed"; exit 1; }
echo "$out"
growth=$(echo "$out" | sed -n 's/^RESULT export_rss_growth_mib=\([0-9.]*\) .*/\1/p')
[ -n "$growth" ] || { echo "FAIL: no RESULT line"; exit 1; }
if [ -n "$SAN" ]; then
  echo "ok - 4 parallel slow exports of $N rows (sanitizer build: RSS growth $growth MiB not bounded)"
else
  awk -v g="$growth" 'BEGIN { exit !(g <= 16) }' ||
    { echo "FAIL: the reporter's RSS grew by $growth MiB during the exports (limit 16)"; exit 1; }
  echo "ok - 4 parallel slow exports of $N rows: RSS growth $growth MiB <= 16"
fi
echo "PASS reporter_export"
