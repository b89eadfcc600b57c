#!/usr/bin/env bash
# The README's demo command: a whole migration on one machine.
#
# Installs what is missing, builds, starts ferry-devbroker (the embedded
# Kafka) and two local S3 servers, fills the source with a generated bucket
# (thousands of objects of mixed sizes, odd keys, a few large objects above
# the multipart threshold), runs the lister, two workers and the reporter with
# a live progress view, prints the final status, verifies the destination
# against the source independently of ferry (flat listings compared by key,
# size and MD5), runs the task again to show every object skipped, and stops
# everything it started.
#
# usage: scripts/demo.sh [--objects N] [--keep]   (--keep: leave the run dir)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N=3000
while [ $# -gt 0 ]; do
  case "$1" in
    --objects) N="$2"; shift 2 ;;
    --keep) export FERRY_KEEP_RUN=1; shift ;;
    *) echo "usage: scripts/demo.sh [--objects N] [--keep]" >&2; exit 2 ;;
  esac
done

"$ROOT/scripts/deps.sh"
"$ROOT/scripts/build.sh" >/dev/null
export FERRY_BIN="$ROOT/build" FERRY_SRC="$ROOT"
# shellcheck source=servers.sh
source "$ROOT/scripts/servers.sh"
servers_init
trap servers_stop EXIT INT TERM
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "starting the dev broker and two local S3 servers"
devbroker_start --partitions 8 --task demo
s3_start src ferry-src
s3_start dst ferry-dst
echo "kafka: $FERRY_BROKERS   source: $FERRY_S3_SRC   destination: $FERRY_S3_DST   run dir: $FERRY_RUN"

CONF="$FERRY_RUN/demo.conf"
sed -e "s|http://127.0.0.1:19001|$FERRY_S3_SRC|; s|http://127.0.0.1:19002|$FERRY_S3_DST|" \
    -e "s|/tmp/ferry-devbroker.bootstrap|$FERRY_RUN/bootstrap|" \
    -e 's|^kafka = {|kafka = {\n  consumer_properties = ["session.timeout.ms=6000", "heartbeat.interval.ms=500"];|' \
    "$ROOT/conf/demo.conf" >"$CONF"
chmod 600 "$CONF"
export FERRY_SRC_ACCESS_KEY=S3RVER FERRY_SRC_SECRET_KEY=S3RVER
export FERRY_DST_ACCESS_KEY=S3RVER FERRY_DST_SECRET_KEY=S3RVER

say "filling the source bucket"
node "$ROOT/tests/tools/fill.js" "$FERRY_S3_SRC" ferry-src "small:$N:1:64" large:3:24 odd \
  key:empty.bin:0 "key:docs/read me (v2).txt:2048" key:music/Sigur_Rós+Hoppípolla.mp3:300000

say "listing the source (ferry-lister)"
"$FERRY_BIN/ferry-lister" -c "$CONF" -t demo 2>&1 | tail -3

say "copying with two workers (ferry-worker x2), live status from ferry-reporter"
for i in 1 2; do
  "$FERRY_BIN/ferry-worker" -c "$CONF" --id "demo-worker-$i" >"$FERRY_RUN/worker-$i.log" 2>&1 &
  track_pid $!
done
rc=0
"$FERRY_BIN/ferry-reporter" -c "$CONF" --task demo --wait --watch --timeout 600 || rc=$?

say "final status"
"$FERRY_BIN/ferry-reporter" -c "$CONF" --task demo --once
[ "$rc" = 0 ] || { echo "demo: the task did not complete cleanly (reporter exit $rc)" >&2; exit 1; }

say "independent check: flat listings of both buckets compared by key, size and MD5"
node "$ROOT/tests/tools/compare.js" "$FERRY_S3_SRC" ferry-src "$FERRY_S3_DST" ferry-dst

say "running the task again: every object is already there and is skipped"
"$FERRY_BIN/ferry-lister" -c "$CONF" -t demo 2>&1 | tail -1
"$FERRY_BIN/ferry-reporter" -c "$CONF" --task demo --wait --timeout 600

say "stopping everything"
echo "demo: done (logs were in $FERRY_RUN)"
