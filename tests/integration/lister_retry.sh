#!/usr/bin/env bash
# --retry-failed replays exactly what the reporter and the export call still
# failed, on the dev broker with real workers:
#  (b) a retry while run 1 is still running (no worker yet) is refused
#      (exit 5) and publishes nothing;
#  (a) run 1 leaves 5 objects failed (deleted at the source after listing:
#      vanished); 2 are restored and replayed with --from-list (run 2); then
#      --retry-failed must replay the other 3 (the old lister said "run 2 has
#      no failed objects: nothing to retry"); they vanish again, and the next
#      retry exits 4 (every object in it already failed permanently in a
#      retry) — restored meanwhile, they are copied; the task completes and a
#      last --retry-failed says "nothing to retry" (exit 0).
source "$(dirname "$0")/../lib/itest.sh"

small_fleet
sed -i 's|^kafka = {|kafka = { consumer_properties = ["session.timeout.ms=6000", "heartbeat.interval.ms=500"];|' "$CONF"
sed -i 's|lister = { segment_max_objects = 100; };|lister = { segment_max_objects = 10; };|' "$CONF"
L="$FERRY_BIN/ferry-lister"
REP="$FERRY_BIN/ferry-reporter"
json() { node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const t=JSON.parse(s);console.log($1)})"; }
status() { "$REP" -c "$CONF" --task t --once --json | json "$1"; }
runs() { kcat -b "$FERRY_BROKERS" -C -t ferry.tasks -o beginning -e -q -f '%s\n' 2>/dev/null |
  node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{let m=0;for(const l of s.split('\n'))if(l){const r=JSON.parse(l);if(r.task==='t'&&r.run>m)m=r.run}console.log(m)})"; }

run_keys() { kcat -b "$FERRY_BROKERS" -C -t ferry.segments.t -o beginning -e -q -f '%s\n' 2>/dev/null |
  node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const k=[];for(const l of s.split('\n'))if(l){const g=JSON.parse(l);if(g.run===+process.argv[1])for(const o of g.objs)k.push(o.key)}console.log(k.sort().join(' '))})" "$1"; }

node "$TOOLS/fill.js" "$FERRY_S3_SRC" ferry-src small:60:1:4
GONE="small/01/obj-000001.bin small/02/obj-000002.bin small/03/obj-000003.bin small/04/obj-000004.bin small/05/obj-000005.bin"
stash() { node -e "
const u=require('$TOOLS/s3util'),fs=require('fs');
(async()=>{for(const k of process.argv.slice(1)){const r=await u.get('$FERRY_S3_SRC','ferry-src',k);
 fs.writeFileSync('$FERRY_RUN/'+encodeURIComponent(k),r.body);await u.del('$FERRY_S3_SRC','ferry-src',k);}})()" "$@"; }
restore() { node -e "
const u=require('$TOOLS/s3util'),fs=require('fs');
(async()=>{for(const k of process.argv.slice(1))
 await u.put('$FERRY_S3_SRC','ferry-src',k,fs.readFileSync('$FERRY_RUN/'+encodeURIComponent(k)));})()" "$@"; }

"$L" -c "$CONF" -t t 2>"$FERRY_RUN/l1.log" || { cat "$FERRY_RUN/l1.log"; fail "run 1: lister exited $?"; }
# shellcheck disable=SC2086
stash $GONE

# (b) Run 1 is listed, no worker has reported: a retry would miss what is
# still to fail. Refused, exit 5, nothing published.
rc=0; "$L" -c "$CONF" -t t --retry-failed 2>"$FERRY_RUN/r0.log" || rc=$?
assert_eq "$rc" 5 "--retry-failed while run 1 runs: exit status"
grep -q "run 1 is still running (0 of 6 segments have a result)" "$FERRY_RUN/r0.log" ||
  { cat "$FERRY_RUN/r0.log"; fail "refusal message"; }
assert_eq "$(runs)" 1 "no run published by the refused retry"
ok "(b) --retry-failed while run 1 is still running: refused (exit 5), nothing published"

"$FERRY_BIN/ferry-worker" -c "$CONF" --id w1 >"$FERRY_RUN/w1.log" 2>&1 &
track_pid $!
rc=0; "$REP" -c "$CONF" --task t --wait --timeout 120 >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 3 "run 1: completed with failures"
assert_eq "$(status 't.failed')" 5 "run 1: 5 failed"
ok "run 1: 55 copied, 5 vanished"

# (a) Restore 2 and replay them from an edited export (the guide's --from-list).
restore small/01/obj-000001.bin small/02/obj-000002.bin
"$REP" -c "$CONF" --export-failed t --out "$FERRY_RUN/failed.csv"
assert_eq "$(($(wc -l <"$FERRY_RUN/failed.csv") - 1))" 5 "export rows after run 1"
{ head -1 "$FERRY_RUN/failed.csv"; grep -E '^small/0[12]/' "$FERRY_RUN/failed.csv"; } >"$FERRY_RUN/two.csv"
"$L" -c "$CONF" -t t --from-list "$FERRY_RUN/two.csv" 2>"$FERRY_RUN/l2.log" ||
  { cat "$FERRY_RUN/l2.log"; fail "--from-list exited $?"; }
rc=0; "$REP" -c "$CONF" --task t --wait --timeout 120 >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 3 "run 2: completed with failures"
assert_eq "$(status 't.failed')" 3 "after --from-list: 3 still failed"
ok "run 2 (--from-list) copied 2; the reporter shows 3 still failed"

# --retry-failed must replay exactly the other 3 (not restored yet: they
# vanish again). The first retry of a permanent failure exits 0.
rc=0; "$L" -c "$CONF" -t t --retry-failed 2>"$FERRY_RUN/r1.log" || rc=$?
grep -q "3 objects still failed since run 1 (vanished 3)" "$FERRY_RUN/r1.log" ||
  { cat "$FERRY_RUN/r1.log"; fail "still-failed line"; }
assert_eq "$rc" 0 "first --retry-failed of 3 vanished: exit status"
assert_eq "$(runs)" 3 "the retry is run 3"
assert_eq "$(run_keys 3)" "small/03/obj-000003.bin small/04/obj-000004.bin small/05/obj-000005.bin" "run 3 replays the 3 still failed"
rc=0; "$REP" -c "$CONF" --task t --wait --timeout 120 >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 3 "run 3: completed with failures"
assert_eq "$(status 't.failed')" 3 "after run 3: 3 still failed"
ok "(a) --retry-failed after a partial --from-list replays the other 3 (exit 0)"

# A retry already failed them permanently: the next one says so (exit 4),
# still replaying them — restored meanwhile, they are copied.
restore small/03/obj-000003.bin small/04/obj-000004.bin small/05/obj-000005.bin
rc=0; "$L" -c "$CONF" -t t --retry-failed 2>"$FERRY_RUN/r1b.log" || rc=$?
assert_eq "$rc" 4 "--retry-failed of 3 already failed permanently in a retry: exit status"
grep -q "every replayed object had already failed permanently in a retry (vanished 3)" "$FERRY_RUN/r1b.log" ||
  { cat "$FERRY_RUN/r1b.log"; fail "permanent message"; }
assert_eq "$(run_keys 4)" "small/03/obj-000003.bin small/04/obj-000004.bin small/05/obj-000005.bin" "run 4 replays the 3"
rc=0; "$REP" -c "$CONF" --task t --wait --timeout 120 >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 0 "after run 4: completed"
assert_eq "$(status 't.failed')" 0 "nothing failed after run 4"
node "$TOOLS/compare.js" "$FERRY_S3_SRC" ferry-src "$FERRY_S3_DST" ferry-dst || fail "destination differs"
ok "permanent failures retried once already: exit 4 (still replayed); restored, the task completes"

rc=0; "$L" -c "$CONF" -t t --retry-failed 2>"$FERRY_RUN/r2.log" || rc=$?
assert_eq "$rc" 0 "nothing left: exit status"
grep -q "nothing to retry" "$FERRY_RUN/r2.log" || { cat "$FERRY_RUN/r2.log"; fail "nothing to retry message"; }
assert_eq "$(runs)" 4 "no run published when nothing is failed"
ok "everything copied: --retry-failed says nothing to retry (exit 0), publishes nothing"
echo "lister_retry: all passed"
