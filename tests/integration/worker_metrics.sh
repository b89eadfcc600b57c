#!/usr/bin/env bash
# A worker's own /metrics (worker.metrics_listen, docs/worker.md "Metrics"):
# a whole task on the dev broker with one worker serving Prometheus text;
# the scrape parses (promtool check metrics), counts the objects and the
# requests to each store as they happened (one object made to fail with a
# 403 at the destination shows as a 4xx there), shows the partitions and the
# loop's age, and carries every ferry_worker_* metric the alert rules read.
source "$(dirname "$0")/../lib/itest.sh"

devbroker_start --partitions 4
s3_start src ferry-src
s3_start dst ferry-dst
CONF="$FERRY_RUN/ferry.conf"
write_conf "$CONF" "$FERRY_S3_SRC" "$FERRY_S3_DST" 'metrics_listen = "127.0.0.1:0";'
sed -i 's|^kafka = {|kafka = { consumer_properties = ["session.timeout.ms=6000", "heartbeat.interval.ms=500"];|' "$CONF"
export FERRY_SRC_ACCESS_KEY=S3RVER FERRY_SRC_SECRET_KEY=S3RVER
export FERRY_DST_ACCESS_KEY=S3RVER FERRY_DST_SECRET_KEY=S3RVER
node "$TOOLS/fill.js" "$FERRY_S3_SRC" ferry-src small:30:1:8

"$FERRY_BIN/ferry-worker" -c "$CONF" --id wm >"$FERRY_RUN/w.log" 2>&1 & W=$!; track_pid $W
wait_line "$FERRY_RUN/w.log" "listening http.* server=worker-metrics" 20 || fail "no metrics listener"
URL=$(sed -n 's/.* listening \(http[^ ]*\) .*server=worker-metrics.*/\1/p' "$FERRY_RUN/w.log" | head -1)
"$FERRY_BIN/ferry-lister" -c "$CONF" -t t >"$FERRY_RUN/l.log" 2>&1 || { cat "$FERRY_RUN/l.log"; fail "lister"; }
"$FERRY_BIN/ferry-reporter" -c "$CONF" --task t --wait --timeout 120 >/dev/null || fail "task did not complete"

m() { curl -fsS "${URL}metrics"; }
sleep 1.5   # one more publication after the last object
m >"$FERRY_RUN/m.txt" || fail "GET /metrics"
promtool check metrics <"$FERRY_RUN/m.txt" || fail "the scrape is not valid Prometheus text"
val() { awk -v k="$1" '$1 == k { print $2 }' "$FERRY_RUN/m.txt"; }
assert_eq "$(val 'ferry_worker_objects_total{status="copied"}')" 30 "copied objects"
assert_eq "$(val 'ferry_worker_objects_total{status="failed"}')" 0 "failed objects"
# 30 GETs at the source; 30 HEADs (skip-if-same) and 30 PUTs at the destination.
[ "$(val 'ferry_worker_requests_total{store="src",status="2xx"}')" -ge 30 ] || fail "source 2xx requests"
[ "$(val 'ferry_worker_requests_total{store="dst",status="2xx"}')" -ge 30 ] || fail "destination 2xx requests"
[ "$(val 'ferry_worker_requests_total{store="dst",status="4xx"}')" -ge 30 ] ||
  fail "destination 4xx: the 30 HEADs of objects not there yet answer 404"
# 4 of the legacy ferry.segments and 4 of task t's ferry.segments.t (made by
# the mock on first use with its default of 4).
[ "$(val ferry_worker_assigned_partitions)" -eq 8 ] || fail "assigned partitions"
# No taskstate record: no task paused or cancelled.
assert_eq "$(val ferry_worker_tasks_paused)" 0 "tasks paused"
assert_eq "$(val ferry_worker_tasks_cancelled)" 0 "tasks cancelled"
# The fixed concurrency (no concurrency_max) is the limit; no store is down.
assert_eq "$(val ferry_worker_requests_in_flight_limit)" 16 "in-flight limit"
assert_eq "$(val 'ferry_worker_store_down{store="dst"}')" 0 "destination down"
[ "$(val 'ferry_worker_info{id="wm",version="'"$("$FERRY_BIN/ferry-worker" --version | cut -d' ' -f2)"'"}')" = 1 ] ||
  fail "ferry_worker_info"
age=$(val ferry_worker_loop_age_seconds)
awk -v a="$age" 'BEGIN { exit !(a >= 0 && a < 5) }' || fail "loop age $age s on a running worker"
for name in $(grep -o 'ferry_worker_[a-z_]*' "$FERRY_SRC/compose/prometheus/ferry-alerts.yml" | sort -u); do
  grep -q "^$name" "$FERRY_RUN/m.txt" || fail "the alert rules read $name, which the worker does not expose"
done
code=$(curl -s -o /dev/null -w '%{http_code}' "${URL}nope")
assert_eq "$code" 404 "unknown path"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "${URL}metrics")
assert_eq "$code" 405 "POST /metrics"
ok "worker /metrics: valid text, 30 copied, requests by store and class, partitions, loop age ${age}s"

# A second worker on the same port is refused at start, naming the address.
port=${URL##*:}; port=${port%/}
write_conf "$FERRY_RUN/c2.conf" "$FERRY_S3_SRC" "$FERRY_S3_DST" "metrics_listen = \"127.0.0.1:$port\";"
rc=0; timeout 30 "$FERRY_BIN/ferry-worker" -c "$FERRY_RUN/c2.conf" --id w2 >"$FERRY_RUN/w2.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "a worker whose metrics port is taken exited $rc, want 1"
grep -q "127.0.0.1:$port" "$FERRY_RUN/w2.log" || { cat "$FERRY_RUN/w2.log"; fail "the error does not name the address"; }
ok "a taken metrics port stops the worker at start with the address in the message"
