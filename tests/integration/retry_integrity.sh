#!/usr/bin/env bash
# --retry-failed of an object that failed as `integrity` in a task whose
# same-name policy is `skip`, on the dev broker with a real worker. The
# destination is the s3-dialect proxy in front of s3rver (which checks no
# Content-MD5); it damages every PUT of one streamed object on its way in, so
# each attempt stores damaged bytes, ferry sees the ETag differ from the MD5
# of the bytes sent, and after the last attempt the object fails as
# `integrity` — with the damaged object left at the destination. The retry
# must copy it again: before, the retry run's `skip` policy found the key
# and skipped it as `exists`, and the object left the failed list while the
# destination kept bytes ferry knew were wrong.
source "$(dirname "$0")/../lib/itest.sh"

small_fleet
proxy_start s3d --upstream "$FERRY_S3_DST" --dialect s3
write_conf "$CONF" "$FERRY_S3_SRC" "$FERRY_PROXY_S3D" 'small_object_threshold = "64K";'
sed -i 's|^kafka = {|kafka = { consumer_properties = ["session.timeout.ms=6000", "heartbeat.interval.ms=500"];|' "$CONF"
sed -i 's|destination = "dst:ferry-dst"; }|destination = "dst:ferry-dst"; same_name = "skip"; }|' "$CONF"
grep -q 'same_name = "skip"' "$CONF" || fail "conf: same_name not set"
L="$FERRY_BIN/ferry-lister" REP="$FERRY_BIN/ferry-reporter"
json() { node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const t=JSON.parse(s);console.log($1)})"; }
status() { "$REP" -c "$CONF" --task t --once --json | json "$1"; }

node "$TOOLS/fill.js" "$FERRY_S3_SRC" ferry-src small:10:1:4 key:mid/1mb.bin:1048576 >/dev/null
curl -sf -XPOST "$FERRY_PROXY_S3D_ADMIN/faults" \
  -d '{"match":{"op":"put","key_prefix":"mid/"},"action":"corrupt","side":"request","offset":500000,"count":4}' >/dev/null ||
  fail "fault rule"
"$FERRY_BIN/ferry-worker" -c "$CONF" --id w1 >"$FERRY_RUN/w1.log" 2>&1 &
track_pid $!
"$L" -c "$CONF" -t t 2>"$FERRY_RUN/l1.log" || { cat "$FERRY_RUN/l1.log"; fail "run 1: lister exited $?"; }
rc=0; "$REP" -c "$CONF" --task t --wait --timeout 120 >/dev/null 2>&1 || rc=$?
assert_eq "$(status 't.failed + " " + t.copied')" "1 10" "run 1: failed and copied"
assert_eq "$(status 'JSON.stringify(t.failed_by_reason)')" '{"integrity":1}' "run 1: failure reason"
# What run 1 left at the destination: the damaged bytes.
node "$TOOLS/compare.js" "$FERRY_S3_SRC" ferry-src "$FERRY_S3_DST" ferry-dst >"$FERRY_RUN/cmp1.out" 2>&1 &&
  fail "run 1: the destination equals the source (no damaged object left?)"
ok "run 1: mid/1mb.bin failed as integrity, its damaged bytes at the destination"

"$L" -c "$CONF" -t t --retry-failed 2>"$FERRY_RUN/l2.log" || { cat "$FERRY_RUN/l2.log"; fail "retry: lister exited $?"; }
rc=0; "$REP" -c "$CONF" --task t --wait --timeout 120 >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 0 "retry: --wait exit (completed, nothing failed)"
assert_eq "$(status 't.failed + " " + t.skipped')" "0 0" "retry: failed and skipped"
node "$TOOLS/compare.js" "$FERRY_S3_SRC" ferry-src "$FERRY_S3_DST" ferry-dst >"$FERRY_RUN/cmp2.out" 2>&1 ||
  { tail -5 "$FERRY_RUN/cmp2.out"; fail "retry: the destination differs from the source"; }
ok "retry with same_name = skip: the damaged object overwritten, the destination equals the source"
