#!/usr/bin/env bash
# The fault suite (tests/faults/*.sh; docs/testing.md): runs each scenario
# in turn, or those named, prints its "fault: NAME: survived, ..." line (or
# why it failed, with the end of its log) and a summary line. Needs a build
# (FERRY_BIN, default build/) and the test servers' npm packages.
#
# usage: scripts/faults.sh [NAME...]     e.g. scripts/faults.sh slowdown broker_down
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export FERRY_SRC="$ROOT" FERRY_BIN="${FERRY_BIN:-$ROOT/build}"
# Each scenario keeps its run directory (servers' and services' logs); it is
# removed when the scenario passes, kept (and named) when it fails.
export FERRY_KEEP_RUN=1
LOGS="$(mktemp -d /tmp/ferry-faults.XXXXXX)"
pass=0 failed=0 t0=$SECONDS
for f in "$ROOT"/tests/faults/*.sh; do
  name="$(basename "$f" .sh)"
  if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$name"; then continue; fi
  log="$LOGS/$name.log" start=$SECONDS rc=0
  timeout 600 bash "$f" >"$log" 2>&1 || rc=$?
  line="$(grep "^fault: $name: survived" "$log" | tail -1)"
  run="$(sed -n 's/^fault-run: //p' "$log" | head -1)"
  if [ "$rc" = 0 ] && [ -n "$line" ]; then
    echo "$line"
    case "$run" in /tmp/ferry-run.*) rm -rf "$run" ;; esac
    pass=$((pass + 1))
  else
    echo "fault: $name: FAILED (exit $rc after $((SECONDS - start)) s): $(grep -m1 '^FAIL' "$log" || echo 'no FAIL line')"
    grep -v ' info ' "$log" | tail -25 | sed 's/^/    /'
    echo "    (run directory kept: $run)"
    failed=$((failed + 1))
  fi
done
if [ "$failed" = 0 ]; then rm -rf "$LOGS"; where="logs removed"; else where="logs in $LOGS"; fi
echo "faults: $pass passed, $failed failed ($((SECONDS - t0)) s; $where)"
[ "$failed" = 0 ]
