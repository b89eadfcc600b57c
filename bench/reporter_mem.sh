#!/usr/bin/env bash
# The reporter's memory and rebuild time at N failed objects: its tally fed
# the records a restarted reporter reads (a full run whose N objects all
# failed, then a retry copying half of them), decoded as from the topics,
# with the failed keys in the on-disk index under a temporary state
# directory (docs/reporter.md, "Memory"). No broker: what is measured is
# the reporter's own work and memory, not Kafka's delivery.
#
# usage: FERRY_BIN=build bench/reporter_mem.sh
# Environment: MEM_FAILED=1000000
# Prints last (ferry-bench-tallymem, bench/tallymem.c says what each is):
#   RESULT tally_mem failures=N rebuild_s=.. feed_cpu_s=.. feed_cpu_us_per_outcome=..
#     rss_mib=.. anon_mib=.. file_mib=.. hwm_mib=.. index_mib=.. view_ms=..
#     view_after_retry_ms=.. export_s=.. exported=.. failed=.. exact=1
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FERRY_BIN="${FERRY_BIN:-$ROOT/build}"
N="${MEM_FAILED:-1000000}"
[ -x "$FERRY_BIN/ferry-bench-tallymem" ] ||
  { echo "reporter_mem.sh: $FERRY_BIN/ferry-bench-tallymem missing (build it)" >&2; exit 2; }
W="$(mktemp -d "${TMPDIR:-/tmp}/ferry-reporter-mem.XXXXXX")"
trap 'rm -rf "$W"' EXIT
"$FERRY_BIN/ferry-bench-tallymem" "$N" "$W" | tee "$W/out"
grep -q ' exact=1$' "$W/out" || { echo "reporter_mem.sh: view, export and counts disagree" >&2; exit 1; }
