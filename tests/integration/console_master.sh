#!/usr/bin/env bash
# The console's master (ferry-lister --serve, docs/lister.md "Master") and the
# CLI's commands to it, on the dev broker with s3rver:
#  1. The master adopts the config task (taskstate: origin config, created).
#  2. --submit of a bad spec is refused (exit 2) with the config loader's own
#     message; of a config task's name, refused ("the config wins").
#  3. A good spec created and started: a worker copies every object.
#  4. retry-failed runs a --retry-failed child;
#     pause / resume / cancel write taskstate as documented; commands on a
#     cancelled task are refused; a command to an unknown task is refused.
#  5. No master: a command exits 1 after --wait-ack.
#  6. Failover: two masters; the acting one and its listing child are killed
#     with SIGKILL mid-listing (a slow source); the standby takes over, the
#     listing resumes from its checkpoint, no segment id is published twice,
#     and every object reaches the destination.
#  7. The acting master alone killed with SIGKILL mid-listing: its child
#     finishes the run holding the task's lease; the next master's child
#     waits and lists nothing again (--resume-only); no segment twice.
#  8. SIGTERM: exit 0, the runtime directory removed.
source "$(dirname "$0")/../lib/itest.sh"

devbroker_start --partitions 4
s3_start src ferry-src
s3_start dst ferry-dst ferry-c1 ferry-big ferry-big2
CONF="$FERRY_RUN/ferry.conf"
write_conf "$CONF" "$FERRY_S3_SRC" "$FERRY_S3_DST"
L="$FERRY_BIN/ferry-lister"
node "$TOOLS/fill.js" "$FERRY_S3_SRC" ferry-src small:70:1:2 >/dev/null

# The failover's source: every listing page of 10 keys delayed 1.5 s.
proxy_start slow --upstream "$FERRY_S3_SRC" --dialect s3
curl -sf -X POST "$FERRY_PROXY_SLOW/__proxy/faults" -H 'content-type: application/json' \
  -d '{"match":{"op":"list"},"action":"delay","ms":1500}' >/dev/null || fail "fault rule"
sed -i "s|^stores = (|stores = (\n  { name = \"slow\"; type = \"s3\"; endpoint = \"$FERRY_PROXY_SLOW\"; region = \"us-east-1\"; path_style = true; },|" "$CONF"
sed -i 's|lister = { segment_max_objects = 100; };|lister = { segment_max_objects = 10; page_size = 10; checkpoint_pages = 1; };|' "$CONF"
export FERRY_SLOW_ACCESS_KEY=S3RVER FERRY_SLOW_SECRET_KEY=S3RVER

# state TASK: "state origin run" of TASK's latest taskstate record
state() {
  kcat -b "$FERRY_BROKERS" -C -t ferry.taskstate -o beginning -e -q -f '%s\n' 2>/dev/null |
    node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{let r=null;for(const l of s.split('\n'))if(l){const x=JSON.parse(l);if(x.task===process.argv[1])r=x}console.log(r?r.state+' '+r.origin+' '+r.run:'none')})" "$1"
}
# seg_ids TASK: segment ids of TASK, one per line, as published (the legacy
# topic and the task's own)
seg_ids() {
  local t
  for t in ferry.segments "ferry.segments.$1"; do
    kcat -b "$FERRY_BROKERS" -C -t "$t" -o beginning -e -q -f '%s\n' 2>/dev/null || true
  done | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{for(const l of s.split('\n'))if(l){const g=JSON.parse(l);if(g.task===process.argv[1])console.log(g.run+':'+g.id)}})" "$1"
}
# cmd ARGS...: a console command; prints its exit status, output in cmd.out
cmd() { local rc=0; "$L" -c "$CONF" --wait-ack 20 "$@" >"$FERRY_RUN/cmd.out" 2>&1 || rc=$?; echo "$rc"; }
wait_for() {  # wait_for SECONDS WHAT CMD...
  local n=$(($1 * 5)) what="$2"; shift 2
  for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.2; done
  fail "$what"
}
state_is() { [ "$(state "$1")" = "$2" ]; }

# 5. No master yet: no ack.
rc=0; "$L" -c "$CONF" --wait-ack 3 --start t >"$FERRY_RUN/nomaster.out" 2>&1 || rc=$?
assert_eq "$rc" 1 "a command without a master"
grep -q "no ack within 3 s" "$FERRY_RUN/nomaster.out" || { cat "$FERRY_RUN/nomaster.out"; fail "no-ack message"; }
ok "no master: exit 1 after --wait-ack"

# 1. The master; the command sent before it started is applied when it does.
"$L" -c "$CONF" --serve >"$FERRY_RUN/m1.log" 2>&1 & m1=$!
track_pid $m1
wait_for 60 "master 1 acting" grep -q 'acting master' "$FERRY_RUN/m1.log"
wait_for 30 "the pending start applied" state_is t "running config 1"
ok "master acting; the config task adopted and the pending start applied (taskstate: running config 1)"

# 2. Bad specs.
echo '{"name":"c1","source":"scr:ferry-src","destination":"dst:ferry-c1"}' >"$FERRY_RUN/bad.json"
assert_eq "$(cmd --submit "$FERRY_RUN/bad.json")" 2 "a bad spec"
grep -qF 'refused: tasks[0].source: unknown store "scr"; did you mean "src"?' "$FERRY_RUN/cmd.out" ||
  { cat "$FERRY_RUN/cmd.out"; fail "bad spec message"; }
# The loader's words for the same entry in a file:
sed 's|^tasks = .*|tasks = ( { name = "c1"; source = "scr:ferry-src"; destination = "dst:ferry-c1"; } );|' "$CONF" >"$FERRY_RUN/bad.conf"
"$L" -c "$FERRY_RUN/bad.conf" -t c1 >"$FERRY_RUN/bad.out" 2>&1 || true
grep -qF 'tasks[0].source: unknown store "scr"; did you mean "src"?' "$FERRY_RUN/bad.out" ||
  { cat "$FERRY_RUN/bad.out"; fail "the loader's message differs"; }
echo '{"name":"t","source":"src:ferry-src","destination":"dst:ferry-c1"}' >"$FERRY_RUN/dup.json"
assert_eq "$(cmd --submit "$FERRY_RUN/dup.json")" 2 "a config task's name"
grep -qF 'refused: task "t" is defined in the config file; the config wins' "$FERRY_RUN/cmd.out" ||
  { cat "$FERRY_RUN/cmd.out"; fail "config-wins message"; }
ok "bad spec refused with the loader's message; a config task's name refused"

# 3. A good spec, created and started; a worker copies it.
echo '{"name":"c1","source":"src:ferry-src","destination":"dst:ferry-c1","qps_limit":500}' >"$FERRY_RUN/c1.json"
assert_eq "$(cmd --submit "$FERRY_RUN/c1.json")" 0 "create c1"
assert_eq "$(state c1)" "created console 0" "c1 created"
assert_eq "$(cmd --submit "$FERRY_RUN/c1.json")" 2 "create c1 again"
assert_eq "$(cmd --pause c1)" 2 "pause of a task never started"
assert_eq "$(cmd --start c1)" 0 "start c1"
assert_eq "$(state c1)" "running console 1" "c1 running"
"$FERRY_BIN/ferry-worker" -c "$CONF" --id w1 >"$FERRY_RUN/w1.log" 2>&1 &
track_pid $!
wait_for 60 "c1 listed" grep -q "task c1 run 1 (list): listed 70 objects" "$FERRY_RUN/m1.log"
"$FERRY_BIN/ferry-reporter" -c "$CONF" --task c1 --wait --timeout 300 >"$FERRY_RUN/wait-c1" 2>&1 ||
  fail "c1 did not complete ($(cat "$FERRY_RUN/wait-c1"))"
node "$TOOLS/compare.js" "$FERRY_S3_SRC" ferry-src "$FERRY_S3_DST" ferry-c1 || fail "c1: destination differs"
ok "c1 created, started (child lister), copied by a worker: destination equals the source"

# retry-failed: a child with --retry-failed; nothing failed, so nothing to retry.
assert_eq "$(cmd --retry c1)" 0 "retry c1"
assert_eq "$(state c1)" "running console 2" "c1 after retry"
retry_ended() { sed -n '/task=c1 .*mode=retry-failed/,$p' "$FERRY_RUN/m1.log" | grep -q 'task=c1 pid=[0-9]* msg="listing ended" exit=0'; }
wait_for 60 "c1's retry child" retry_ended
grep -q "task c1: .*nothing to retry" "$FERRY_RUN/m1.log" || { tail -20 "$FERRY_RUN/m1.log"; fail "c1's retry said nothing"; }
ok "retry-failed: run 2 in taskstate, a --retry-failed child (nothing to retry), exit 0"

# 4. pause / resume / limits / cancel.
assert_eq "$(cmd --pause c1)" 0 "pause"
assert_eq "$(state c1)" "paused console 2" "paused"
assert_eq "$(cmd --start c1)" 2 "start while paused"
assert_eq "$(cmd --resume c1)" 0 "resume"
assert_eq "$(state c1)" "running console 2" "resumed"
assert_eq "$(cmd --limits c1 --qps 5000000)" 2 "limits out of range"
grep -q "limits.qps" "$FERRY_RUN/cmd.out" || { cat "$FERRY_RUN/cmd.out"; fail "limits message"; }
assert_eq "$(cmd --limits c1 --qps 20 --bandwidth 10M --schedule 08:00-19:00=1M)" 0 "limits"
kcat -b "$FERRY_BROKERS" -C -t ferry.taskstate -o -1 -e -q | grep -q '"limits":{"qps":20,"bandwidth":10485760,"schedule":\["08:00-19:00=1M"\]}' ||
  fail "limits not in taskstate"
assert_eq "$(cmd --cancel c1)" 0 "cancel"
assert_eq "$(state c1)" "cancelled console 2" "cancelled"
assert_eq "$(cmd --resume c1)" 2 "resume of a cancelled task"
grep -qF 'task "c1" is cancelled' "$FERRY_RUN/cmd.out" || { cat "$FERRY_RUN/cmd.out"; fail "cancelled message"; }
assert_eq "$(cmd --start nosuch)" 2 "unknown task"
ok "pause, resume, limits, cancel change taskstate; refusals as documented"

# 6. Failover. A standby master, then a big listing on the slow source.
"$L" -c "$CONF" --serve >"$FERRY_RUN/m2.log" 2>&1 & m2=$!
track_pid $m2
wait_for 60 "master 2 standby" grep -q 'standby' "$FERRY_RUN/m2.log"
echo '{"name":"big","source":"slow:ferry-src","destination":"dst:ferry-big"}' >"$FERRY_RUN/big.json"
assert_eq "$(cmd --submit "$FERRY_RUN/big.json")" 0 "create big"
assert_eq "$(cmd --start big)" 0 "start big"
for _ in $(seq 1 300); do
  kcat -b "$FERRY_BROKERS" -C -t ferry.tasks -o beginning -e -q 2>/dev/null | grep '"task":"big"' | grep -q '"checkpoint"' && break
  sleep 0.1
done
child=$(pgrep -P $m1 -f -- '-t big' || true)
[ -n "$child" ] || fail "no listing child of master 1"
kill -KILL $m1 $child
t0=$(date +%s)
wait_for 60 "master 2 acting" grep -q 'acting master' "$FERRY_RUN/m2.log"
took=$(($(date +%s) - t0))
wait_for 120 "big resumed and listed" grep -q "task big run 1 (list): listed 70 objects" "$FERRY_RUN/m2.log"
grep -q "resuming run 1 after its checkpoint" "$FERRY_RUN/m2.log" || { tail -30 "$FERRY_RUN/m2.log"; fail "no resume from the checkpoint"; }
"$FERRY_BIN/ferry-reporter" -c "$CONF" --task big --wait --timeout 300 >"$FERRY_RUN/wait-big" 2>&1 ||
  fail "big did not complete ($(cat "$FERRY_RUN/wait-big"))"
node "$TOOLS/compare.js" "$FERRY_S3_SRC" ferry-src "$FERRY_S3_DST" ferry-big || fail "big: destination differs"
n=$(seg_ids big | wc -l); u=$(seg_ids big | sort -u | wc -l)
assert_eq "$u" 7 "big: distinct segments"
assert_eq "$n" "$u" "big: segments published twice"
ok "failover: master 2 acted ${took}s after the kill, resumed big from its checkpoint; 7 segments, none twice; destination complete"

# 7. The acting master killed alone: its listing child goes on, holding the
# task's lease; the next master's child for the task waits (or finds the run
# finished) and the run is not listed again.
"$L" -c "$CONF" --serve >"$FERRY_RUN/m3.log" 2>&1 & m3=$!
track_pid $m3
wait_for 60 "master 3 standby" grep -q 'standby' "$FERRY_RUN/m3.log"
curl -sf -X POST "$FERRY_PROXY_SLOW/__proxy/faults" -H 'content-type: application/json' \
  -d '{"replace":true,"rules":[{"match":{"op":"list"},"action":"delay","ms":4000}]}' >/dev/null || fail "fault rule 2"
echo '{"name":"big2","source":"slow:ferry-src","destination":"dst:ferry-big2"}' >"$FERRY_RUN/big2.json"
assert_eq "$(cmd --submit "$FERRY_RUN/big2.json")" 0 "create big2"
assert_eq "$(cmd --start big2)" 0 "start big2"
for _ in $(seq 1 300); do
  kcat -b "$FERRY_BROKERS" -C -t ferry.tasks -o beginning -e -q 2>/dev/null | grep '"task":"big2"' | grep -q '"checkpoint"' && break
  sleep 0.1
done
child=$(pgrep -P $m2 -f -- '-t big2' || true)
[ -n "$child" ] || fail "no listing child of master 2"
kill -KILL $m2
wait_for 60 "master 3 acting" grep -q 'acting master' "$FERRY_RUN/m3.log"
kill -0 "$child" 2>/dev/null || fail "the old child ended before master 3 acted (listing too fast for this check)"
wait_for 120 "the old child's listing" grep -q "task big2 run 1 (list): listed 70 objects" "$FERRY_RUN/m2.log"
wait_for 60 "master 3 settled on big2" grep -Eq 'task=big2 .*(finished by the lister that held it|listing ended)' "$FERRY_RUN/m3.log"
"$FERRY_BIN/ferry-reporter" -c "$CONF" --task big2 --wait --timeout 300 >"$FERRY_RUN/wait-big2" 2>&1 ||
  fail "big2 did not complete ($(cat "$FERRY_RUN/wait-big2"))"
node "$TOOLS/compare.js" "$FERRY_S3_SRC" ferry-src "$FERRY_S3_DST" ferry-big2 || fail "big2: destination differs"
n=$(seg_ids big2 | wc -l); u=$(seg_ids big2 | sort -u | wc -l)
assert_eq "$u" 7 "big2: distinct segments"
assert_eq "$n" "$u" "big2: segments published twice"
seg_ids big2 | grep -qv '^1:' && fail "big2: a second run was listed"
grep -q "task big2 run 2" "$FERRY_RUN/m3.log" && fail "big2: master 3 listed run 2"
how="its child found the run finished (--resume-only)"
grep -q 'task=big2 .*another lister holds the task' "$FERRY_RUN/m3.log" && how="its child exited 5 (the old child held the task) and was tried again"
ok "master killed alone: its child finished big2 run 1; master 3: $how; nothing listed again; 7 segments, none twice"

# Every listing child the masters ran ended well, and no sanitizer spoke
# (ASan build). c1's cancel ran the cleanup child (s3rver answers its
# ListMultipartUploads with 501, so it exits 1 here; docs/lister.md).
if grep -E 'listing failed|Sanitizer|runtime error' "$FERRY_RUN"/m[123].log; then
  fail "a child of a master failed"
fi
grep -q 'task=c1 .*msg="cleanup ended"' "$FERRY_RUN/m1.log" || fail "no cleanup after c1's cancel"
grep -q 'task c1: cleanup of dst:ferry-c1/' "$FERRY_RUN/m1.log" || fail "c1's cleanup child did not run"

# SIGTERM: the master stops cleanly and removes its runtime directory.
kill -TERM $m3
rc=0; wait $m3 || rc=$?
assert_eq "$rc" 0 "master 3 on SIGTERM"
rundir=$(sed -n 's/.*rundir=\([^ ]*\).*/\1/p' "$FERRY_RUN/m3.log" | head -1)
[ -n "$rundir" ] || fail "master 3 made no runtime directory"
[ ! -e "$rundir" ] || fail "runtime directory $rundir left behind"
ok "SIGTERM: master 3 stopped (exit 0), its runtime directory removed"
echo "console_master: all passed"
