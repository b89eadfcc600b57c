#!/usr/bin/env bash
# ferry-reporter --export-audit: memory and speed against the number of
# records. The export streams the audit topic to the file, so its peak RSS
# must not grow with the records; this runs it on a small and on a large
# topic and prints both peaks.
#
# ferry-devbroker; audit messages of one task written as a worker writes them
# (AUDIT_PER records per message, keys of about 60 bytes plus
# AUDIT_KEY_PAD, keyed TASK/SEGMENT), published with kcat; plus as many
# records of another task, which the export must skip. The dev broker keeps
# only the newest 5 MiB of each partition (8 for the audit topic), so the
# large run stays under 40 MiB of records: AUDIT_LARGE=60000 is about 25 MiB.
# Each run exports to CSV under /usr/bin/time (peak RSS) and checks the row
# count. Then the average encoded size of a record, from the messages.
#
# usage: FERRY_BIN=build bench/audit_export.sh
# Environment: AUDIT_SMALL=5000 AUDIT_LARGE=60000 AUDIT_PER=200 AUDIT_KEY_PAD=0
#   AUDIT_CONSUMER_PROPS='"queued.max.messages.kbytes=2048"' sets the
#   reporter's kafka.consumer_properties (librdkafka's prefetch queue, 64 MiB
#   by default, is most of what the export's RSS holds beyond its start).
# Prints last:
#   RESULT audit_export rows_small=S rss_small_kib=A rows_large=L rss_large_kib=B
#     export_large_s=T cpu_large_s=C rows_per_s=R record_bytes=Y
# (rows_per_s: large rows over the wall time, which on the dev broker is
# mostly waiting for its fetches; C: the reporter's user + system CPU.)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FERRY_BIN="${FERRY_BIN:-$ROOT/build}"
SMALL="${AUDIT_SMALL:-5000}"
LARGE="${AUDIT_LARGE:-60000}"
PER="${AUDIT_PER:-200}"
PAD="${AUDIT_KEY_PAD:-0}"
export FERRY_SRC="$ROOT" FERRY_BIN
# shellcheck source=../scripts/servers.sh
source "$ROOT/scripts/servers.sh"
servers_init
trap servers_stop EXIT INT TERM

gen() {  # gen TASK FIRST N: N records of TASK from FIRST, as "key<TAB>value" lines
  python3 - "$1" "$2" "$3" "$PER" "$PAD" <<'PY'
import json, sys
task, first, n, per, pad = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
i = first
seg = first // per
while i < first + n:
    recs = []
    for j in range(i, min(i + per, first + n)):
        key = "photos/2024/%02d/%02d/IMG_%09d.jpg" % (j % 12 + 1, j % 28 + 1, j) + "x" * pad
        recs.append({"key": key, "dst_key": key, "size": 2481152 + j,
                     "crc64": str((j * 11400714819323198485) % (1 << 64)),
                     "src_etag": "%032X" % (j * 2654435761), "dst_etag": "%032x" % (j * 2654435761),
                     "overwrote": "no", "at_ms": 1705307419870 + j})
    m = {"v": 1, "task": task, "segment": "1-%06d" % seg, "run": 1, "worker": "worker-7f3a@host-12",
         "dst": {"store": "cos-gz", "bucket": "dst-bucket-1250000000", "prefix": ""},
         "records": recs}
    sys.stdout.write("%s/1-%06d\t%s\n" % (task, seg, json.dumps(m, separators=(",", ":"), ensure_ascii=False)))
    i += per
    seg += 1
PY
}

devbroker_start --partitions 4
cat >"$FERRY_RUN/c.conf" <<CONF
log_level = "warn";
kafka = { brokers = ""; bootstrap_file = "$FERRY_RUN/bootstrap";${AUDIT_CONSUMER_PROPS:+ consumer_properties = [ $AUDIT_CONSUMER_PROPS ];} };
CONF
R="$FERRY_BIN/ferry-reporter"

export_run() {  # export_run TASK ROWS: prints "peak_kib seconds cpu_seconds"
  local t0 t1 rss cpu
  t0=$(date +%s.%N)
  /usr/bin/time -f '%U %S %M' -o "$FERRY_RUN/time.$1" "$R" -c "$FERRY_RUN/c.conf" --export-audit "$1" \
    --out "$FERRY_RUN/$1.csv" 2>>"$FERRY_RUN/reporter.err"
  t1=$(date +%s.%N)
  rss=$(tail -1 "$FERRY_RUN/time.$1" | cut -d" " -f3)
  cpu=$(tail -1 "$FERRY_RUN/time.$1" | awk '{ print $1 + $2 }')
  [ "$(($(wc -l <"$FERRY_RUN/$1.csv") - 1))" -eq "$2" ] ||
    { echo "audit_export: $1: $(($(wc -l <"$FERRY_RUN/$1.csv") - 1)) rows, want $2" >&2; exit 1; }
  echo "$rss $(echo "$t1 - $t0" | bc) $cpu"
}

gen small 0 "$SMALL" >"$FERRY_RUN/small.kv"
gen other 0 "$SMALL" >"$FERRY_RUN/other.kv"
kcat -b "$FERRY_BROKERS" -P -t ferry.audit -K '\t' -l "$FERRY_RUN/small.kv"
kcat -b "$FERRY_BROKERS" -P -t ferry.audit -K '\t' -l "$FERRY_RUN/other.kv"
read -r rss_s secs_s _ <<<"$(export_run small "$SMALL")"
gen large 0 "$LARGE" >"$FERRY_RUN/large.kv"
kcat -b "$FERRY_BROKERS" -P -t ferry.audit -K '\t' -l "$FERRY_RUN/large.kv"
read -r rss_l secs_l cpu_l <<<"$(export_run large "$LARGE")"
if grep -q 'event=records-lost' "$FERRY_RUN/devbroker.log"; then
  echo "audit_export: the dev broker dropped records: lower AUDIT_LARGE" >&2
  exit 1
fi
bytes=$(cut -f2 "$FERRY_RUN/large.kv" | wc -c)
rec=$((bytes / LARGE))
rate=$(echo "$LARGE / $secs_l" | bc)
echo "small: $SMALL rows, peak RSS ${rss_s} KiB, ${secs_s} s; large: $LARGE rows, peak RSS ${rss_l} KiB, ${secs_l} s"
echo "RESULT audit_export rows_small=$SMALL rss_small_kib=$rss_s rows_large=$LARGE rss_large_kib=$rss_l export_large_s=$secs_l cpu_large_s=$cpu_l rows_per_s=$rate record_bytes=$rec"
