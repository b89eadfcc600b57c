#!/usr/bin/env bash
# The reporter's memory while slow clients download a large failed list:
# GET /api/tasks/T/failed.csv is streamed in chunks, so
# the reporter's RSS may grow by at most 16 MiB whatever the list's length
# and the number of clients, and its consume loop keeps reading meanwhile.
#
# ferry-devbroker and ferry-reporter (--listen 127.0.0.1:0); a task record and
# results whose outcomes are EXPORT_FAILED failed objects, published with kcat
# in batches the reporter is given time to read (the dev broker keeps only
# the newest few MB of a partition). Then EXPORT_CLIENTS curl clients, each
# limited to EXPORT_RATE, download failed.csv at once, and one more client
# is refused (503: at most 4 exports run at once); while they read, one more
# result is published and the time until the reporter counts it is taken.
# RSS (VmRSS) is sampled every 0.1 s. Every download must hold every failed
# key once, sorted. The list must be much larger than what loopback sockets
# buffer (several MiB per connection): a response that fits there leaves
# the server at once, whatever the server holds it in.
#
# usage: FERRY_BIN=build bench/export_rss.sh
# Environment: EXPORT_FAILED=300000  EXPORT_CLIENTS=4  EXPORT_RATE=2M
#   EXPORT_KEY_PAD=0     bytes added to every key (longer rows: a larger list
#                        for fewer objects)
#   FERRY_KEEP_RUN=1 keeps the run directory.
# Prints last:
#   RESULT export_rss_growth_mib=G failed=N clients=C export_s=S consume_idle_ms=I consume_during_export_ms=M
# (G: peak RSS during the downloads minus RSS before them; I and M: from
# publishing a result, before and during the downloads, to the reporter
# counting it, polled every 0.1 s; "after-export" when not before the
# downloads ended.)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FERRY_BIN="${FERRY_BIN:-$ROOT/build}"
N="${EXPORT_FAILED:-300000}"
C="${EXPORT_CLIENTS:-4}"
RATE="${EXPORT_RATE:-2M}"
PAD="${EXPORT_KEY_PAD:-0}"
PER=1000   # outcomes per result
# Failed objects per published batch: about 2 MB of results, which the
# reporter reads before the next (the dev broker keeps only the newest few
# MB of a partition).
BATCH=$(( (2000000 / (250 + PAD) + PER - 1) / PER * PER ))
for b in ferry-devbroker ferry-reporter; do
  [ -x "$FERRY_BIN/$b" ] || { echo "export_rss.sh: $FERRY_BIN/$b missing (build it)" >&2; exit 2; }
done
for c in kcat curl jq python3; do
  command -v "$c" >/dev/null || { echo "export_rss.sh: $c is not installed" >&2; exit 2; }
done
W="$(mktemp -d "${TMPDIR:-/tmp}/ferry-export-rss.XXXXXX")"
PIDS=()
cleanup() {
  local rc=$? p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$rc" -ne 0 ]; then
    for f in "$W"/*.log; do [ -e "$f" ] && { echo "--- $f:" >&2; tail -n 20 "$f" >&2; }; done
  fi
  if [ -n "${FERRY_KEEP_RUN:-}" ]; then echo "run directory kept: $W" >&2; else rm -rf "$W"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "export_rss.sh: $*" >&2; exit 1; }

"$FERRY_BIN/ferry-devbroker" --bootstrap-file "$W/bootstrap" --partitions 1 --exit-with-parent \
  >"$W/devbroker.out" 2>"$W/devbroker.log" &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$W/bootstrap" ] && break; sleep 0.1; done
[ -s "$W/bootstrap" ] || die "no bootstrap file after 10 s"
B="$(cat "$W/bootstrap")"
cat >"$W/ferry.conf" <<EOF
log_level = "info";
kafka = { brokers = ""; bootstrap_file = "$W/bootstrap"; };
reporter = { refresh_s = 1; };
EOF
"$FERRY_BIN/ferry-reporter" -c "$W/ferry.conf" --listen 127.0.0.1:0 >"$W/reporter.out" \
  2>"$W/reporter.log" &
REP=$!
PIDS+=("$REP")
URL=""
for _ in $(seq 1 100); do
  URL=$(sed -n 's|.* http: listening \(http://127\.0\.0\.1:[0-9]*/\) .*|\1|p' "$W/reporter.log" | head -n1)
  [ -n "$URL" ] && break
  sleep 0.1
done
[ -n "$URL" ] || die "no \"listening http://\" line from the reporter"

pub() { timeout 60 kcat -b "$B" -P -t "ferry.$1" -k t; }
# gen SEG COUNT KEY: results of segments SEG.. with PER failed outcomes each
# (COUNT outcomes in all, keys numbered from KEY); a copied-only segment when
# COUNT is 0.
gen() {
  python3 - "$1" "$2" "${3:-0}" "$PER" "$PAD" <<'PY'
import json, sys, time
first, count, key0, per, pad = (int(a) for a in sys.argv[1:6])
dirs = "data/2024/12/07/" + ("p" * (pad - 1) + "/" if pad else "")
now = int(time.time() * 1000)
if count == 0:
    print(json.dumps({"v": 1, "task": "t", "segment": "1-%06d" % first, "run": 1, "worker": "b",
                      "n_objects": per, "n_copied": per, "n_skipped": 0, "n_failed": 0,
                      "bytes": per, "started_ms": now, "finished_ms": now, "outcomes": []}))
    sys.exit(0)
seg, done = first, 0
while done < count:
    n = min(per, count - done)
    oc = [{"key": dirs + "object-%07d.bin" % (key0 + done + i), "size": 1048576,
           "status": "failed", "reason": "http-503", "bytes": 0, "attempts": 5,
           "duration_ms": 30000, "http_status": 503, "code": "SlowDown",
           "message": "Please reduce your request rate."} for i in range(n)]
    print(json.dumps({"v": 1, "task": "t", "segment": "1-%06d" % seg, "run": 1, "worker": "b",
                      "n_objects": n, "n_copied": 0, "n_skipped": 0, "n_failed": n,
                      "bytes": 0, "started_ms": now, "finished_ms": now, "outcomes": oc},
                     separators=(",", ":")))
    seg += 1
    done += n
PY
}
failed_now() { curl -sf "${URL}api/tasks/t" | jq -r '.failed // 0' 2>/dev/null || echo 0; }
done_now() { curl -sf "${URL}api/tasks/t" | jq -r '.done_objects // 0' 2>/dev/null || echo 0; }
wait_for() {  # wait_for FUNC VALUE SECONDS
  local i
  for i in $(seq 1 $(($3 * 10))); do
    [ "$("$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  die "$1 did not reach $2 in $3 s (at $("$1"))"
}

NSEG=$(((N + PER - 1) / PER + 2))   # the failed ones, then two copied-only
jq -nc --argjson o "$((N + 2 * PER))" --argjson s "$NSEG" \
  '{v:1, task:"t", run:1, src:{store:"src", bucket:"a", prefix:""},
    dst:{store:"dst", bucket:"b", prefix:""}, policy:"skip-if-same",
    state:"listed", listed_objects:$o, listed_bytes:0, segments:$s, updated_ms:0}' | pub tasks
t0=$(date +%s.%N)
for ((first = 0; first < N; first += BATCH)); do
  n=$((N - first < BATCH ? N - first : BATCH))
  gen $((first / PER + 1)) "$n" "$first" | pub results
  wait_for failed_now $((first + n)) 120
done
t1=$(date +%s.%N)
echo "export_rss.sh: the reporter counts $N failed objects ($(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s to publish and read)" >&2

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$REP/status"; }
# The consume loop without exports: from publishing one copied-only result
# to the reporter counting it.
before=$(done_now)
tp=$(date +%s%3N)
gen $((NSEG - 1)) 0 | pub results
wait_for done_now $((before + PER)) 60
idle=$(($(date +%s%3N) - tp))
sleep 1
BASE=$(rss_kib)
# The peak, sampled every 0.05 s from before the first request to after the
# last byte: a server that renders the whole list does so at the request.
( peak=$BASE
  while [ ! -e "$W/sampler.stop" ]; do
    r=$(rss_kib) || break
    [ "$r" -gt "$peak" ] && { peak=$r; echo "$peak" >"$W/peak"; }
    sleep 0.05
  done ) &
SAMPLER=$!
PIDS+=("$SAMPLER")
CURLS=()
ts=$(date +%s.%N)
for i in $(seq 1 "$C"); do
  curl -s --limit-rate "$RATE" -o "$W/dl$i.csv" -w '%{http_code}' "${URL}api/tasks/t/failed.csv" \
    >"$W/dl$i.code" &
  CURLS+=($!)
done
sleep 0.5
extra=$(curl -s -m 30 -o "$W/extra.json" -w '%{http_code}' "${URL}api/tasks/t/failed.csv" -D "$W/extra.hdr")
if [ "$C" -ge 4 ]; then
  [ "$extra" = 503 ] || die "export $((C + 1)) while $C run: HTTP $extra, want 503"
  grep -qi '^retry-after:' "$W/extra.hdr" || die "the 503 has no Retry-After"
fi
# The consume loop during the downloads: one more result, all copied.
before=$(done_now)
tp=$(date +%s%3N)
gen $((NSEG)) 0 | pub results
consumed=""
while :; do
  if [ -z "$consumed" ] && [ "$(done_now)" -ge $((before + PER)) ]; then
    consumed=$(($(date +%s%3N) - tp))
  fi
  running=0
  for p in "${CURLS[@]}"; do kill -0 "$p" 2>/dev/null && running=1; done
  [ "$running" = 1 ] || break
  sleep 0.1
done
te=$(date +%s.%N)
touch "$W/sampler.stop"
wait "$SAMPLER" 2>/dev/null || true
PEAK=$(cat "$W/peak" 2>/dev/null || echo "$BASE")
for p in "${CURLS[@]}"; do wait "$p" || die "a download failed"; done
[ -n "$consumed" ] || wait_for done_now $((before + PER)) 30
[ -n "$consumed" ] || consumed="after-export"
for i in $(seq 1 "$C"); do
  [ "$(cat "$W/dl$i.code")" = 200 ] || die "download $i: HTTP $(cat "$W/dl$i.code")"
  python3 - "$W/dl$i.csv" "$N" "$PAD" <<'PY' || die "download $i is not the failed list"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
keys = [r[0] for r in rows[1:]]
n, pad = int(sys.argv[2]), int(sys.argv[3])
dirs = "data/2024/12/07/" + ("p" * (pad - 1) + "/" if pad else "")
want = [dirs + "object-%07d.bin" % i for i in range(n)]
if rows[0][0] != "key" or keys != want:
    sys.exit("%d rows, first %r, want %d sorted keys" % (len(keys), keys[:2], n))
PY
done
GROWTH=$(awk -v p="$PEAK" -v b="$BASE" 'BEGIN { printf "%.1f", (p - b) / 1024 }')
echo "export_rss.sh: RSS $((BASE / 1024)) MiB before, peak $((PEAK / 1024)) MiB during $C downloads of $N rows ($(du -m "$W/dl1.csv" | cut -f1) MiB each)" >&2
echo "RESULT export_rss_growth_mib=$GROWTH failed=$N list_mib=$(du -m "$W/dl1.csv" | cut -f1) clients=$C export_s=$(awk -v a="$ts" -v b="$te" 'BEGIN{printf "%.1f", b-a}') consume_idle_ms=$idle consume_during_export_ms=$consumed"
