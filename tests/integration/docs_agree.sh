#!/usr/bin/env bash
# The docs, config comments, units and --help agree with the code and with
# each other, where a script can tell (docs/testing.md). Each check names what
# drifted. Needs only the build (FERRY_BIN); no server.
set -euo pipefail
SRC="${FERRY_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
BIN="${FERRY_BIN:?FERRY_BIN: the build directory}"
cd "$SRC"
bad=0
no() { echo "FAIL: $*" >&2; bad=1; }

# Files name no work items: a reader of a clone cannot look them up (upstream
# projects' issue numbers are facts about those projects and stay).
hits=$(grep -rnE '[Ii]ssue #?[0-9]+' README.md docs conf compose lib worker lister reporter \
         devbroker scripts tests bench --exclude-dir=node_modules --exclude-dir=.venv --include='*.md' --include='*.c' --include='*.h' \
         --include='*.sh' --include='*.js' --include='*.py' --include='*.conf' --include='*.yml' \
         --include='*.service' 2>/dev/null | grep -viE 'upstream issue|librdkafka issue' || true)
[ -z "$hits" ] || no "work items named in the project's files:"$'\n'"$hits"

# Every binary has --version (the release) and --help; the exit codes a
# supervisor or a script acts on are in --help.
for b in worker lister reporter devbroker; do
  v=$("$BIN/ferry-$b" --version) || no "ferry-$b --version failed"
  [[ "$v" =~ ^ferry-$b\ [0-9]+\.[0-9]+\.[0-9]+ ]] || no "ferry-$b --version printed '$v'"
  "$BIN/ferry-$b" --help | grep -q -- '--version' || no "ferry-$b --help lacks --version"
done
"$BIN/ferry-worker" --help | grep -q '^70 \|[ ,]70 ' || no "ferry-worker --help lacks exit 70 (watchdog)"
"$BIN/ferry-worker" --help | grep -q -- '--id' || no "ferry-worker --help lacks --id"
"$BIN/ferry-reporter" --help | grep -q '1 the listing failed' || no "ferry-reporter --help lacks --wait's exit 1"
ver=$(sed -n 's/^project(ferry VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
"$BIN/ferry-worker" --version | grep -qF " $ver " || no "ferry-worker --version is not CMake's $ver"

# Worker memory: one model (docs/worker.md "Memory"): concurrency / 2 buffers.
hits=$(grep -rnE 'concurrency (x|×|\*) (worker\.)?buffer_size' docs conf compose README.md || true)
[ -z "$hits" ] || no "worker memory given as concurrency x buffer_size (it is concurrency/2):"$'\n'"$hits"

# The read-ahead the worker sets is what deploy.md states.
kb=$(grep -o '"queued.max.messages.kbytes", "[0-9]*"' lib/bus/bus.c | grep -o '[0-9]*"$' | tr -d '"')
[ -n "$kb" ] || no "lib/bus/bus.c no longer sets queued.max.messages.kbytes"
grep -q "queued.max.messages.kbytes\` = $((kb / 1024)) MiB" docs/deploy.md ||
  no "docs/deploy.md does not give the worker's queued.max.messages.kbytes ($((kb / 1024)) MiB)"
grep -q "queued.max.messages.kbytes=$kb" docs/worker.md ||
  no "docs/worker.md does not give queued.max.messages.kbytes=$kb"

# The Kafka password file: every unit reads it, the docs name it.
for u in compose/systemd/*.service; do
  grep -q '^EnvironmentFile=-/etc/ferry/kafka.env' "$u" || no "$u does not read /etc/ferry/kafka.env"
done
for d in docs/deploy.md docs/security.md; do
  grep -q '/etc/ferry/kafka.env' "$d" || no "$d does not name /etc/ferry/kafka.env"
done

# One spelling of the SASL mechanism property in what we show.
hits=$(grep -rn 'sasl\.mechanisms=' docs conf compose || true)
[ -z "$hits" ] || no "sasl.mechanisms (the docs use sasl.mechanism):"$'\n'"$hits"

# The guide's least-privilege policies are security.md's.
grep -q 'oss:GetBucketInfo' docs/guide.md && no "docs/guide.md grants oss:GetBucketInfo, security.md does not"
grep -q 'cos:ListMultipartUploads' docs/guide.md || no "docs/guide.md's COS policy lacks ListMultipartUploads"
grep -q -- '--cleanup' docs/deploy.md || no "docs/deploy.md does not say how to --cleanup"

# Long outages: a unit that restarts must never reach a start limit and stay
# dead; bad config (exit 2) is the one exit not restarted.
for u in compose/systemd/*.service; do
  grep -q '^Restart=on-failure' "$u" || continue
  grep -q '^StartLimitIntervalSec=0' "$u" || no "$u can reach a start limit and stay dead after an outage"
  grep -q '^RestartPreventExitStatus=2' "$u" || no "$u restarts on a bad config (exit 2)"
done

# The package file name the docs give is this release's.
grep -q "ferry_${ver}_amd64.deb" docs/deploy.md || no "docs/deploy.md does not name ferry_${ver}_amd64.deb"

# docs/architecture.md names files a newcomer will open: each must exist.
for f in $(grep -o '`[a-z][a-z_/]*\.\(c\|h\|sh\|js\|md\)`' docs/architecture.md | tr -d '`' | sort -u); do
  case "$f" in */*) [ -e "$f" ] || no "docs/architecture.md names $f, which does not exist" ;; esac
done

[ "$bad" = 0 ] && echo "ok - docs, units, config comments and --help agree"
exit "$bad"
