#!/usr/bin/env bash
# A small task beside a big one (docs/architecture.md, "Tasks side by side:
# a segments topic per task"): dev broker, BENCH_WORKERS ferry-workers, two
# s3rver on loopback.
#   1. the small task (BENCH_SMALL objects of 1 KiB) alone, twice (run 1
#      warms up: the task's topic is created then, and the group rebalances):
#      run 2's time from the lister's start to the reporter's --wait seeing
#      it complete;
#   2. the big task (BENCH_BIG objects of 64 KiB, held to BENCH_BIG_BW by its
#      own bandwidth_limit: about a minute of work, with a backlog of segments
#      in Kafka; its topic is created then, a rebalance), then 5 s later the
#      small task again (run 3, overwrite): its time beside the big one,
#      measured the same way.
# Last line:
#   RESULT small_beside_vs_alone=R small_alone_s=A small_beside_s=B big_running_after=yes|no
# R: the small task's time beside the big one / alone (goal <= 2 for 1000
# objects); big_running_after: the big task was still running when the small
# one completed (else the figure says nothing).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export FERRY_SRC="$ROOT" FERRY_BIN="${FERRY_BIN:-$ROOT/build}"
WORKERS="${BENCH_WORKERS:-1}" PARTS="${BENCH_PARTITIONS:-4}"
SMALL="${BENCH_SMALL:-1000}" BIG="${BENCH_BIG:-800}" BIG_BW="${BENCH_BIG_BW:-1M}"
SEG="${BENCH_SEGMENT_OBJECTS:-20}"
[ -x "$FERRY_BIN/ferry-worker" ] || "$ROOT/scripts/build.sh" >/dev/null
source "$ROOT/scripts/servers.sh"
servers_init
trap servers_stop EXIT INT TERM
TOOLS="$ROOT/tests/tools"
# The tasks' topics are made by the lister, as in production (the mock's
# default of 4 partitions: BENCH_PARTITIONS is that of the legacy topic).
devbroker_start --partitions "$PARTS"
s3_start src big small
s3_start dst big small
export FERRY_SRC_ACCESS_KEY=S3RVER FERRY_SRC_SECRET_KEY=S3RVER FERRY_DST_ACCESS_KEY=S3RVER FERRY_DST_SECRET_KEY=S3RVER
CONF="$FERRY_RUN/bench.conf"
cat >"$CONF" <<CONF
log_level = "info";
kafka = { brokers = ""; bootstrap_file = "$FERRY_RUN/bootstrap"; segments_partitions = $PARTS;
  consumer_properties = ["session.timeout.ms=6000", "heartbeat.interval.ms=500"]; };
stores = ( { name = "src"; type = "s3"; endpoint = "$FERRY_S3_SRC"; region = "us-east-1"; path_style = true; },
           { name = "dst"; type = "s3"; endpoint = "$FERRY_S3_DST"; region = "us-east-1"; path_style = true; } );
worker = { concurrency = 16; multipart_threshold = "64M"; };
lister = { segment_max_objects = $SEG; };
tasks = (
  { name = "big"; source = "src:big"; destination = "dst:big"; same_name = "overwrite"; bandwidth_limit = "$BIG_BW"; },
  { name = "small"; source = "src:small"; destination = "dst:small"; same_name = "overwrite"; }
);
CONF
chmod 600 "$CONF"
node "$TOOLS/fill.js" "$FERRY_S3_SRC" small "small:$SMALL:1:1" >/dev/null
node "$TOOLS/fill.js" "$FERRY_S3_SRC" big "small:$BIG:64:64" >/dev/null

for i in $(seq 1 "$WORKERS"); do
  "$FERRY_BIN/ferry-worker" -c "$CONF" --id "w$i" >"$FERRY_RUN/w$i.log" 2>&1 & track_pid $!
done
now_ms() { date +%s%3N; }
state() { "$FERRY_BIN/ferry-reporter" -c "$CONF" --task "$1" --once --json 2>/dev/null |
  node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const j=JSON.parse(s);const t=Array.isArray(j)?j[0]:(j.tasks?j.tasks[0]:j);console.log(t.state)})"; }
# small_run LOG: lists the small task and waits for it; prints its seconds.
small_run() {
  local t0; t0=$(now_ms)
  "$FERRY_BIN/ferry-lister" -c "$CONF" -t small 2>"$FERRY_RUN/lister-small-$1.log"
  "$FERRY_BIN/ferry-reporter" -c "$CONF" --task small --wait --timeout 600 >"$FERRY_RUN/wait-small-$1" 2>&1
  echo "scale=2; ($(now_ms) - $t0) / 1000" | bc
}
warm=$(small_run warm)
echo "small, run 1 (warm-up): ${warm} s" >&2
alone=$(small_run alone)
echo "small alone: ${alone} s" >&2
"$FERRY_BIN/ferry-lister" -c "$CONF" -t big 2>"$FERRY_RUN/lister-big.log"
sleep 5
beside=$(small_run beside)
big_state=$(state big)
echo "small beside big: ${beside} s (big: $big_state)" >&2
running=no; [ "$big_state" != complete ] && running=yes
ratio=$(echo "scale=2; $beside / $alone" | bc)
echo "RESULT small_beside_vs_alone=$ratio small_alone_s=$alone small_beside_s=$beside big_running_after=$running"
