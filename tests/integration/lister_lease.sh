#!/usr/bin/env bash
# One lister per task: the task's lease (lib/bus/lease.h).
#  1. Two listers of one task started together, twice over (two plain runs;
#     a plain re-run and a cron --incremental): exactly one proceeds, the other
#     exits 5 saying another lister holds the task, and publishes nothing;
#     each run number is taken once, segment ids are not shared by two
#     listings, and the reporter's figures are those of one listing.
#  2. A lister started while another is listing is refused, and the first
#     one finishes its run.
#  3. A holder killed with SIGKILL: the next lister gets the lease once the
#     session times out (6 s) and resumes the run.
source "$(dirname "$0")/../lib/itest.sh"

small_fleet
sed -i 's|lister = { segment_max_objects = 100; };|lister = { segment_max_objects = 10; page_size = 10; checkpoint_pages = 1; };|' "$CONF"
L="$FERRY_BIN/ferry-lister"
REP="$FERRY_BIN/ferry-reporter"
node "$TOOLS/fill.js" "$FERRY_S3_SRC" ferry-src small:70:1:2

# Each listing page is delayed 3.5 s by a proxy: a listing lasts ~28 s,
# longer than the mock cluster takes to answer a second lister (a session
# timeout, 6 s, when idle; 16 s was seen in a CI run on the loaded 2-CPU
# machine, when a 12 s listing let the second run after it). (A second lister
# whose answer comes after the first has finished gets the lease then and
# runs after it: serialized, never together.)
proxy_start slow --upstream "$FERRY_S3_SRC" --dialect s3
curl -sf -X POST "$FERRY_PROXY_SLOW/__proxy/faults" -H 'content-type: application/json' \
  -d '{"match":{"op":"list"},"action":"delay","ms":3500}' >/dev/null || fail "fault rule"
sed "s|endpoint = \"$FERRY_S3_SRC\"; region = \"us-east-1\"; path_style = true; },|endpoint = \"$FERRY_PROXY_SLOW\"; region = \"us-east-1\"; path_style = true; },|" "$CONF" >"$FERRY_RUN/slow.conf"
chmod 600 "$FERRY_RUN/slow.conf"
grep -q "$FERRY_PROXY_SLOW" "$FERRY_RUN/slow.conf" || fail "slow.conf"

# seg_ids RUN: "segment ids (sorted, one line each)" of run RUN
seg_ids() { kcat -b "$FERRY_BROKERS" -C -t ferry.segments.t -o beginning -e -q -f '%s\n' 2>/dev/null |
  node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const k=[];for(const l of s.split('\n'))if(l){const g=JSON.parse(l);if(g.run===+process.argv[1])k.push(g.id)}console.log(k.sort().join(' '))})" "$1"; }
runs_started() { kcat -b "$FERRY_BROKERS" -C -t ferry.tasks -o beginning -e -q -f '%s\n' 2>/dev/null |
  node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const r=new Set();for(const l of s.split('\n'))if(l){const x=JSON.parse(l);if(x.task==='t')r.add(x.run+':'+(x.kind||'list'))}console.log([...r].sort().join(' '))})"; }

# together CMD_A CMD_B: both started at once; prints "rcA rcB"
together() {
  "$L" -c "$FERRY_RUN/slow.conf" -t t $1 >"$FERRY_RUN/a.log" 2>&1 & local pa=$!
  "$L" -c "$FERRY_RUN/slow.conf" -t t $2 >"$FERRY_RUN/b.log" 2>&1 & local pb=$!
  local ra=0 rb=0
  wait $pa || ra=$?
  wait $pb || rb=$?
  echo "$ra $rb"
}
one_proceeded() {  # rcA rcB what
  case "$1 $2" in
    "0 5") grep -q "another ferry-lister is working on this task" "$FERRY_RUN/b.log" || { cat "$FERRY_RUN/b.log"; fail "$3: message"; } ;;
    "5 0") grep -q "another ferry-lister is working on this task" "$FERRY_RUN/a.log" || { cat "$FERRY_RUN/a.log"; fail "$3: message"; } ;;
    *) cat "$FERRY_RUN/a.log" "$FERRY_RUN/b.log"; fail "$3: exit statuses $1 $2 (want one 0 and one 5)" ;;
  esac
}

# 1a. Two plain listings at once: run 1 taken once, 7 segments.
read -r ra rb < <(together "" "")
one_proceeded "$ra" "$rb" "two plain listings"
assert_eq "$(runs_started)" "1:list" "runs recorded"
assert_eq "$(seg_ids 1)" "1-000001 1-000002 1-000003 1-000004 1-000005 1-000006 1-000007" "run 1 segment ids"
ok "two listers at once: one listed run 1 (7 segments), the other exited 5 without publishing"

"$FERRY_BIN/ferry-worker" -c "$CONF" --id w1 >"$FERRY_RUN/w1.log" 2>&1 &
track_pid $!
rc=0; "$REP" -c "$CONF" --task t --wait --timeout 120 >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 0 "run 1 completed"

# 1b. A plain re-run and a cron --incremental at once: run 2 taken once.
read -r ra rb < <(together "" "--incremental")
one_proceeded "$ra" "$rb" "a re-run and an --incremental"
# The incremental run is a full run of what differs: nothing here.
if [ "$ra" = 0 ]; then want="1:list 2:list" n=70; else want="1:list 2:incremental" n=0; fi
assert_eq "$(runs_started)" "$want" "runs after a re-run and an --incremental at once"
rc=0; "$REP" -c "$CONF" --task t --wait --timeout 120 >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 0 "completed"
"$REP" -c "$CONF" --task t --once --json >"$FERRY_RUN/st.json"
node -e "const t=JSON.parse(require('fs').readFileSync('$FERRY_RUN/st.json'));
 if(t.done_objects!==$n||t.total_objects!==$n||t.percent!==100||t.copied+t.skipped!==$n||t.overcount)
   {console.error('FAIL: figures',t.done_objects,t.total_objects,t.percent);process.exit(1)}" || fail "figures"
ok "a re-run and an --incremental at once: one proceeded ($want), the other exited 5; done $n/$n (100%)"

# 2. A listing under way; another lister started meanwhile is refused; the
# first one completes.
"$L" -c "$FERRY_RUN/slow.conf" -t t >"$FERRY_RUN/first.log" 2>&1 & first=$!
for _ in $(seq 1 100); do grep -q '"run":3' <(kcat -b "$FERRY_BROKERS" -C -t ferry.tasks -o beginning -e -q 2>/dev/null) && break; sleep 0.1; done
rc=0; "$L" -c "$CONF" -t t --retry-failed >"$FERRY_RUN/second.log" 2>&1 || rc=$?
assert_eq "$rc" 5 "a lister while another lists"
grep -q "another ferry-lister is working on this task" "$FERRY_RUN/second.log" || { cat "$FERRY_RUN/second.log"; fail "message"; }
rc=0; wait $first || rc=$?
assert_eq "$rc" 0 "the first lister"
grep -q "task t run 3 (list): listed 70 objects" "$FERRY_RUN/first.log" || { cat "$FERRY_RUN/first.log"; fail "run 3"; }
ok "a lister started while another lists run 3: refused (exit 5); run 3 listed whole"

# 3. The holder killed with SIGKILL mid-listing: the same command, started
# again, gets the lease after the session timeout and resumes the run.
"$L" -c "$FERRY_RUN/slow.conf" -t t >"$FERRY_RUN/k.log" 2>&1 & victim=$!
for _ in $(seq 1 300); do
  kcat -b "$FERRY_BROKERS" -C -t ferry.tasks -o beginning -e -q 2>/dev/null | grep '"run":4' | grep -q '"checkpoint"' && break
  sleep 0.1
done
kill -KILL $victim; wait $victim 2>/dev/null || true
t0=$(date +%s)
"$L" -c "$CONF" -t t >"$FERRY_RUN/k2.log" 2>&1 || { cat "$FERRY_RUN/k2.log"; fail "after a killed holder"; }
took=$(($(date +%s) - t0))
grep -q "resuming run 4 after its checkpoint" "$FERRY_RUN/k2.log" || { cat "$FERRY_RUN/k2.log"; fail "no resume of run 4"; }
grep -q "task t run 4 (list): listed 70 objects" "$FERRY_RUN/k2.log" || { cat "$FERRY_RUN/k2.log"; fail "run 4 not finished"; }
[ "$took" -le 40 ] || fail "lease of a killed holder taken after ${took}s"
ok "holder killed: the next lister got the lease after ${took}s and resumed run 4"
echo "lister_lease: all passed"
