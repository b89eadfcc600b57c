#!/usr/bin/env bash
# compose/prometheus/ferry-alerts.yml: valid rules (promtool check rules),
# each alert firing on the series it exists for and quiet on a healthy fleet
# (promtool test rules tests/fixtures/ferry-alerts.test.yml), and every ferry
# metric a rule reads documented as exposed (docs/reporter.md, docs/worker.md).
# promtool comes from Debian's prometheus package (scripts/deps.sh).
set -euo pipefail
SRC="${FERRY_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
cd "$SRC"
RULES=compose/prometheus/ferry-alerts.yml
command -v promtool >/dev/null || { echo "FAIL: promtool missing (scripts/deps.sh installs prometheus)" >&2; exit 1; }
promtool check rules "$RULES"
promtool test rules tests/fixtures/ferry-alerts.test.yml
bad=0
for m in $(grep -o 'ferry_[a-z_]*' "$RULES" | sort -u); do
  grep -q "\`$m" docs/reporter.md docs/worker.md ||
    { echo "FAIL: $RULES reads $m, which no doc says ferry exposes" >&2; bad=1; }
done
[ "$bad" = 0 ] && echo "ok - alert rules valid, unit-tested, reading documented metrics"
exit "$bad"
