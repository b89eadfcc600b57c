#!/usr/bin/env bash
# ferry-devbroker used as Kafka by a stock client (kcat): the five topics and
# their partition counts, produce (zstd, idempotent) and consume on the
# segments topic, consumer-group commits that a later member resumes from,
# and a clean stop on SIGTERM. Starts and stops everything itself; the EXIT
# trap stops the broker even when a check fails, and --exit-with-parent
# stops it if this script is killed outright.
#
# Environment: FERRY_BIN (build directory), FERRY_SRC (unused here).
set -euo pipefail

: "${FERRY_BIN:?FERRY_BIN must name the build directory}"
DEVBROKER="$FERRY_BIN/ferry-devbroker"
PARTS=6

RUN="$(mktemp -d /tmp/ferry-devbroker-test.XXXXXX)"
PID=""

cleanup() {
  local rc=$?
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ]; then
    echo "--- ferry-devbroker log:" >&2
    cat "$RUN/devbroker.log" >&2 2>/dev/null || true
    echo "--- kcat consumer-group stderr:" >&2
    cat "$RUN/kcat.err" >&2 2>/dev/null || true
  fi
  rm -rf "$RUN"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

command -v kcat >/dev/null || fail "kcat is not installed"
[ -x "$DEVBROKER" ] || fail "$DEVBROKER not built"

# --- command line errors are refused ------------------------------------
set +e
"$DEVBROKER" --partitions 0 >/dev/null 2>"$RUN/err"; rc=$?
set -e
[ "$rc" -ne 0 ] && grep -q -- "--partitions" "$RUN/err" || fail "--partitions 0 accepted"
set +e
"$DEVBROKER" --no-such-flag >/dev/null 2>&1; rc=$?
set -e
[ "$rc" -eq 2 ] || fail "unknown flag gave rc=$rc, want 2"
ok "bad arguments refused"

# --- start ----------------------------------------------------------------
"$DEVBROKER" --bootstrap-file "$RUN/bootstrap" --partitions "$PARTS" \
  --exit-with-parent >"$RUN/stdout" 2>"$RUN/devbroker.log" &
PID=$!
for _ in $(seq 1 100); do
  [ -s "$RUN/bootstrap" ] && break
  kill -0 "$PID" 2>/dev/null || fail "ferry-devbroker exited early"
  sleep 0.1
done
[ -s "$RUN/bootstrap" ] || fail "no bootstrap file after 10 s"
B="$(cat "$RUN/bootstrap")"
[[ "$B" =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "bootstrap \"$B\" is not 127.0.0.1:PORT"
[ "$(head -n1 "$RUN/stdout")" = "$B" ] || fail "stdout and bootstrap file differ"
ok "started, bootstrap $B"

# Short sessions: librdkafka 2.0.2's mock coordinator makes the next join
# wait for a departed member's session timeout (see docs/testing.md).
KC=(timeout 60 kcat -b "$B")
KG=("${KC[@]}" -X session.timeout.ms=3000 -X heartbeat.interval.ms=300)

# --- metadata -------------------------------------------------------------
"${KC[@]}" -L >"$RUN/meta"
n=$(grep -c '^  topic "ferry\.' "$RUN/meta" || true)
[ "$n" -eq 9 ] || { cat "$RUN/meta"; fail "$n ferry topics, want 9"; }
for t in tasks:1 segments:$PARTS results:4 failed:4 dlq:1 workers:1 control:1 taskstate:1; do
  grep -q "^  topic \"ferry.${t%%:*}\" with ${t##*:} partitions:" "$RUN/meta" ||
    { cat "$RUN/meta"; fail "topic ferry.${t%%:*} should have ${t##*:} partitions"; }
done
ok "6 topics, segments has $PARTS partitions"

# --- produce and consume ----------------------------------------------------
for i in $(seq 1 10); do
  printf 'seg-%02d|{"v":1,"n":%d,"k":"\xe6\x95\xb0 \\"%d\\""}\n' "$i" "$i" "$i"
done >"$RUN/sent"
"${KC[@]}" -P -t ferry.segments -K '|' -z zstd -X enable.idempotence=true <"$RUN/sent"
"${KC[@]}" -C -t ferry.segments -o beginning -e -q -f '%k|%s\n' | sort >"$RUN/got"
sort "$RUN/sent" | diff - "$RUN/got" || fail "consumed messages differ from produced"
parts_used=$("${KC[@]}" -C -t ferry.segments -o beginning -e -q -f '%p\n' | sort -u | wc -l)
[ "$parts_used" -gt 1 ] || fail "all keys landed in one partition"
ok "10 messages round-trip (zstd, idempotent), over $parts_used partitions"

# --- consumer group commits -----------------------------------------------
group() {   # group NAME: consume what the group has not committed, print keys
  "${KG[@]}" -G "$1" -X auto.offset.reset=earliest -e -q -f '%k\n' ferry.segments \
    2>>"$RUN/kcat.err" | sort
}
[ "$(group g1 | wc -l)" -eq 10 ] || fail "first member of g1 did not read 10"
printf 'seg-11|{"v":1}\nseg-12|{"v":1}\n' |
  "${KC[@]}" -P -t ferry.segments -K '|'
got=$(group g1 | tr '\n' ' ')
[ "$got" = "seg-11 seg-12 " ] || fail "g1 re-join read \"$got\", want only seg-11 seg-12"
[ "$(group g2 | wc -l)" -eq 12 ] || fail "a new group g2 should read all 12"
got=$(group g1 | tr '\n' ' ')
[ -z "$got" ] || fail "g1 read \"$got\" after committing everything"
ok "consumer groups commit; a later member resumes at the committed offsets"

# --- clean stop --------------------------------------------------------------
kill -TERM "$PID"
set +e
wait "$PID"; rc=$?
set -e
PID=""
[ "$rc" -eq 0 ] || fail "ferry-devbroker exited $rc on SIGTERM"
[ ! -e "$RUN/bootstrap" ] || fail "bootstrap file left behind"
grep -q 'shutting down' "$RUN/devbroker.log" || fail "no shutdown line in the log"
ok "SIGTERM: clean exit, bootstrap file removed"
