#!/usr/bin/env bash
# The console end to end, as docs/reporter.md "The console" describes it: a
# master started once (and a standby), two workers, the reporter with tokens,
# and headless Chromium (tests/console/console.js) doing what an operator
# does on the page: log in; a create refused for a config task's name and
# for a bad value (in the config loader's words); create "photos" and start
# it; see its failures (the destination refuses one key prefix), export them
# with the button, fix the destination, kill the acting master, press Retry
# on the standby's watch and see the bar turn green; pause "big" (nothing
# more done while paused) and resume it to the end; cancel "third". Then the
# accounting, from the reporter and the stores: every object of every task
# copied, failed or skipped with a reason, exactly once; no upload left
# open; and an action without a token is refused.
# FERRY_TEST_BROKER=kafka runs it on the three-node Apache Kafka cluster
# (tests/kafka/console.sh).
source "$(dirname "$0")/../lib/itest.sh"

broker_start --partitions 4
s3_start main ferry-src ferry-dst
proxy_start dstp --upstream "$FERRY_S3_MAIN" --dialect s3
export FERRY_DST_ACCESS_KEY=S3RVER FERRY_DST_SECRET_KEY=S3RVER
PHOTOS_N=200 BIG_N=12
# small/NN/obj-*.bin (NN = i mod 50): keys with NN = 07 are refused below.
node "$TOOLS/fill.js" "$FERRY_S3_MAIN" ferry-src small:$PHOTOS_N:1:8 large:$BIG_N:2 >/dev/null
PHOTOS_BAD=$(( (PHOTOS_N - 7 + 49) / 50 ))
curl -sf -XPOST "$FERRY_PROXY_DSTP_ADMIN/faults" \
  -d '{"match":{"op":"put","key_prefix":"photos/07/"},"action":"status","status":403}' >/dev/null ||
  fail "fault rule"

CONF="$FERRY_RUN/ferry.conf"
PORT=$(free_port)
cat >"$CONF" <<CONF
log_level = "info";
kafka = { brokers = ""; bootstrap_file = "$FERRY_RUN/bootstrap"; segments_partitions = 4; };
stores = (
  { name = "src"; type = "s3"; endpoint = "$FERRY_S3_MAIN"; region = "us-east-1"; path_style = true; },
  { name = "dst"; type = "s3"; endpoint = "$FERRY_PROXY_DSTP"; region = "us-east-1"; path_style = true; }
);
worker = { concurrency = 8; max_attempts = 2; backoff_base_ms = 50; backoff_max_ms = 200; };
lister = { segment_max_objects = 20; };
reporter = { listen = "127.0.0.1:$PORT"; tokens_env = "FERRY_TEST_TOKENS"; };
tasks = ( { name = "legacy"; source = "src:ferry-src/small/"; destination = "dst:ferry-dst/legacy/"; } );
CONF
chmod 600 "$CONF"
broker_is_real || mock_short_sessions "$CONF"
OP_SECRET="op-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
VIEW_SECRET="view-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export FERRY_TEST_TOKENS="alice:operator:$OP_SECRET,bob:viewer:$VIEW_SECRET"

B="$FERRY_BIN"
"$B/ferry-lister" -c "$CONF" --serve >"$FERRY_RUN/master1.log" 2>&1 & M1=$!; track_pid $M1
wait_line "$FERRY_RUN/master1.log" 'event=master-acting\|event=lease-held\|acting' 60 ||
  fail "the first master did not start acting"
"$B/ferry-lister" -c "$CONF" --serve >"$FERRY_RUN/master2.log" 2>&1 & M2=$!; track_pid $M2
for i in 1 2; do
  "$B/ferry-worker" -c "$CONF" --id "w$i" >"$FERRY_RUN/w$i.log" 2>&1 & track_pid $!
done
"$B/ferry-reporter" -c "$CONF" >"$FERRY_RUN/reporter.log" 2>&1 & track_pid $!
wait_line "$FERRY_RUN/reporter.log" "listen" 30 || fail "reporter not listening"
URL="http://127.0.0.1:$PORT/"

# An action without a token, with a viewer's token, from another origin.
code=$(curl -s -o /dev/null -w '%{http_code}' -XPOST "${URL}api/tasks/legacy/pause")
[ "$code" = 401 ] || fail "POST without a token: HTTP $code, want 401"
code=$(curl -s -o /dev/null -w '%{http_code}' -XPOST -H "Authorization: Bearer $VIEW_SECRET" "${URL}api/tasks/legacy/pause")
[ "$code" = 403 ] || fail "POST with a viewer token: HTTP $code, want 403"
ok "actions refused without an operator token (401, 403)"

mkdir -p "$FERRY_RUN/downloads"
URL="$URL" OPERATOR_TOKEN="$OP_SECRET" DOWNLOADS="$FERRY_RUN/downloads" \
  PHOTOS_BAD=$PHOTOS_BAD BIG_N=$BIG_N \
  FIX_CMD="curl -sf -XDELETE $FERRY_PROXY_DSTP_ADMIN/faults >/dev/null" \
  FAILOVER_CMD="kill -KILL $M1" \
  timeout 900 node "$FERRY_SRC/tests/console/console.js" | tee "$FERRY_RUN/console.out"
[ "${PIPESTATUS[0]}" = 0 ] || fail "the browser session failed: $(grep FAIL "$FERRY_RUN/console.out")"
grep -q 'acting\|lease-held' "$FERRY_RUN/master2.log" || fail "the standby master never acted"
ok "the standby master took over when the first was killed"

# The accounting, task by task.
rep() { "$B/ferry-reporter" -c "$CONF" "$@"; }
task_complete photos "$PHOTOS_N" ferry-dst 2>/dev/null || true
node "$TOOLS/compare.js" "$FERRY_S3_MAIN" ferry-src "$FERRY_S3_MAIN" ferry-dst --prefix small/ --dst-prefix photos/ ||
  fail "photos: the destination differs from the source"
node "$TOOLS/compare.js" "$FERRY_S3_MAIN" ferry-src "$FERRY_S3_MAIN" ferry-dst --prefix large/ --dst-prefix big/ ||
  fail "big: the destination differs from the source"
rep --task third --wait --timeout 120 >/dev/null 2>&1 || true
rep --task third --once --json >"$FERRY_RUN/third.json"
python3 - "$FERRY_RUN/third.json" "$PHOTOS_N" <<'PY' || fail "third: accounting after cancel"
import json, sys
j = json.load(open(sys.argv[1])); t = j[0] if isinstance(j, list) else j.get("tasks", [j])[0]
n = int(sys.argv[2])
acc = t["copied"] + t["skipped"] + t["failed"]
assert t["total_objects"] == n, t
assert acc == n, "copied %d + skipped %d + failed %d != %d" % (t["copied"], t["skipped"], t["failed"], n)
print("ok: third cancelled: copied %d, skipped %d (cancelled), failed %d of %d" % (t["copied"], t["skipped"], t["failed"], n))
PY
ok "every object of every task accounted once"
echo "console: all passed"
