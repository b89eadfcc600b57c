#!/usr/bin/env bash
# A destination that fails everything for a while is an outage, not a fault
# of each object (docs/worker.md, "Stores down"). The destination is s3rver
# behind the test proxy (S3 dialect), which answers 503 SlowDown to every
# request while a fault rule lasts.
#  1. 503 to everything for 20 s from the start: the worker marks the store
#     down, probes it, and when it answers copies every object (small,
#     streamed, multipart), verified, none failed, store-down then store-up
#     logged. With max_attempts 3 and 50-500 ms backoff (about a second of
#     retries) every object failed before.
#  2. The same with store_down_max_s = 3 and an outage longer than that:
#     every object ends failed with reason store-down, each one accounted
#     (the summary's failed count is the number of objects).
#  3. Adaptive concurrency (concurrency_max): PUTs answered after 200 ms
#     (latency-bound): the limit rises above concurrency (4), logged, every
#     object is copied, and sooner than at the fixed concurrency.
source "$(dirname "$0")/../lib/itest.sh"

s3_start main ferry-seed ferry-dst
proxy_start s3p --upstream "$FERRY_S3_MAIN" --dialect s3
W="$FERRY_BIN/ferry-worker"
export FERRY_DST_ACCESS_KEY=S3RVER FERRY_DST_SECRET_KEY=S3RVER
conf() { # conf FILE WORKER-LINES
  cat >"$1" <<CONF
stores = (
  { name = "src"; type = "s3"; endpoint = "$FERRY_S3_MAIN"; region = "us-east-1"; path_style = true; },
  { name = "dst"; type = "s3"; endpoint = "$FERRY_PROXY_S3P"; region = "us-east-1"; path_style = true; }
);
worker = { concurrency = ${CONC:-8}; multipart_threshold = "8M"; part_size = "5M"; small_object_threshold = "256K";
           max_attempts = 3; backoff_base_ms = 50; backoff_max_ms = 500; $2 };
CONF
  chmod 600 "$1"
}
seg() { node "$TOOLS/segments.js" "$FERRY_S3_MAIN" ferry-seed src dst ferry-dst --policy "${2:-overwrite}" --prefix "$1" --dst-prefix "$1"; }
fault() { curl -sf -XPOST "$FERRY_PROXY_S3P_ADMIN/faults" -d "$1" >/dev/null || fail "fault rule: $1"; }
clear_faults() { curl -sf -XDELETE "$FERRY_PROXY_S3P_ADMIN/faults" >/dev/null; }
now_ms() { date +%s%3N; }

# Per prefix: 30 small objects, two streamed single PUTs, one 11 MiB
# multipart object (3 parts); 200 small ones for the adaptive case.
specs=()
for p in down gone; do
  for i in $(seq 10 39); do specs+=("key:$p/s/$i.bin:$((1000 + i * 997))"); done
  specs+=("key:$p/mid/a.bin:1048576" "key:$p/mid/b.bin:2097152" "key:$p/big/m.bin:11534336")
done
for i in $(seq 100 299); do specs+=("key:fast/s/$i.bin:$((500 + i * 37))"); done
node "$TOOLS/fill.js" "$FERRY_S3_MAIN" ferry-seed "${specs[@]}" >/dev/null
total=33

# 1. Down for 20 s, then back: every object copied.
conf "$FERRY_RUN/c1" ''
seg down/ >"$FERRY_RUN/s1"
fault '{"match":{"bucket":"ferry-dst"},"action":"status","status":503,"code":"SlowDown","for_ms":20000}'
t0=$(now_ms)
rc=0; "$W" -c "$FERRY_RUN/c1" --segments-from "$FERRY_RUN/s1" >"$FERRY_RUN/o1" 2>"$FERRY_RUN/e1" || rc=$?
secs=$(( ($(now_ms) - t0) / 1000 ))
clear_faults
grep -h 'event=store-\|event=summary' "$FERRY_RUN/e1"
assert_eq "$rc" 0 "worker exit status through the outage"
assert_eq "$(count_status "$FERRY_RUN/o1" copied)" "$total" "objects copied through the outage"
assert_eq "$(count_status "$FERRY_RUN/o1" failed)" 0 "objects failed through the outage"
node "$TOOLS/compare.js" "$FERRY_S3_MAIN" ferry-seed "$FERRY_S3_MAIN" ferry-dst --prefix down/ --dst-prefix down/ ||
  fail "copies made through the outage differ from the source"
[ "$secs" -ge 20 ] || fail "the run took $secs s: the outage (20 s) did not hold, the test proves nothing"
down_at=$(grep -n 'event=store-down store=dst' "$FERRY_RUN/e1" | head -1 | cut -d: -f1)
up_at=$(grep -n 'event=store-up store=dst' "$FERRY_RUN/e1" | head -1 | cut -d: -f1)
[ -n "$down_at" ] || fail "no event=store-down store=dst logged"
[ -n "$up_at" ] || fail "no event=store-up store=dst logged"
[ "$down_at" -lt "$up_at" ] || fail "store-up logged before store-down"
ok "$total objects copied and verified through a 20 s outage of the destination ($secs s), store-down then store-up logged"

# 2. Down longer than store_down_max_s (3 s): every object failed as
# store-down, each accounted.
conf "$FERRY_RUN/c2" 'store_down_max_s = 3;'
seg gone/ >"$FERRY_RUN/s2"
fault '{"match":{"bucket":"ferry-dst"},"action":"status","status":503,"code":"SlowDown","for_ms":60000}'
rc=0; "$W" -c "$FERRY_RUN/c2" --segments-from "$FERRY_RUN/s2" >"$FERRY_RUN/o2" 2>"$FERRY_RUN/e2" || rc=$?
clear_faults
grep -h 'event=store-\|event=summary' "$FERRY_RUN/e2"
assert_eq "$rc" 3 "worker exit status with failed objects"
assert_eq "$(grep -c '"status":"failed","reason":"store-down"' "$FERRY_RUN/o2" || true)" "$total" \
  "objects failed with reason store-down"
assert_eq "$(grep -c '"status"' "$FERRY_RUN/o2" || true)" "$total" "outcomes (one per object)"
grep -q "event=summary copied=0 skipped=0 failed=$total " "$FERRY_RUN/e2" || fail "the summary does not count $total failed"
grep -q 'event=store-down-expired store=dst' "$FERRY_RUN/e2" || fail "no event=store-down-expired logged"
ok "$total objects failed with reason store-down after store_down_max_s, accounted"

# 3. Latency-bound (every PUT answered after 200 ms): the adaptive limit
# rises above concurrency (4); the same copy at the fixed concurrency takes
# longer.
fault '{"match":{"op":"put"},"action":"delay","ms":200}'
CONC=4 conf "$FERRY_RUN/c3" 'concurrency_max = 64;'
CONC=4 conf "$FERRY_RUN/c4" ''
seg fast/ >"$FERRY_RUN/s3"
t0=$(now_ms)
rc=0; "$W" -c "$FERRY_RUN/c3" --segments-from "$FERRY_RUN/s3" >"$FERRY_RUN/o3" 2>"$FERRY_RUN/e3" || rc=$?
ms_adaptive=$(( $(now_ms) - t0 ))
grep -h 'event=inflight' "$FERRY_RUN/e3" || true
assert_eq "$rc" 0 "adaptive run exit status"
assert_eq "$(count_status "$FERRY_RUN/o3" copied)" 200 "objects copied with the adaptive limit"
node "$TOOLS/compare.js" "$FERRY_S3_MAIN" ferry-seed "$FERRY_S3_MAIN" ferry-dst --prefix fast/ --dst-prefix fast/ ||
  fail "adaptive copies differ"
max=$(sed -n 's/.*event=inflight limit=\([0-9]*\).*/\1/p' "$FERRY_RUN/e3" | sort -n | tail -1)
[ -n "$max" ] && [ "$max" -gt 4 ] || fail "the adaptive limit never rose above concurrency (4): '${max}'"
t0=$(now_ms)
rc=0; "$W" -c "$FERRY_RUN/c4" --segments-from "$FERRY_RUN/s3" >"$FERRY_RUN/o4" 2>"$FERRY_RUN/e4" || rc=$?
ms_fixed=$(( $(now_ms) - t0 ))
clear_faults
assert_eq "$(count_status "$FERRY_RUN/o4" copied)" 200 "objects copied at the fixed concurrency"
if grep -q 'event=inflight' "$FERRY_RUN/e4"; then fail "the limit changed without concurrency_max"; fi
[ "$ms_adaptive" -lt "$ms_fixed" ] || fail "adaptive ${ms_adaptive} ms, not faster than fixed ${ms_fixed} ms"
ok "the adaptive limit rose to $max (concurrency 4) on a latency-bound destination: ${ms_adaptive} ms, fixed ${ms_fixed} ms"
