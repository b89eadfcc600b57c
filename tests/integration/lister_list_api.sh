#!/usr/bin/env bash
# Listing a store that ignores ListObjectsV2's continuation:
# the OSS proxy with --list-v1-only drops list-type=2, start-after and
# continuation-token, as a V1-only store does, and answers page one to each.
# Before: the lister re-published page one for ever. Now: list_api = "v2" is
# an error naming the store; "auto" falls back to V1 (marker) and lists every
# key once; "v1" lists with markers from the start; the same for --dry-run
# (the other listing loop). And --estimate takes a listing out of byte order
# (s3rver lists `size/5MiB-1` before `size/5MiB`), which only the merge-joins
# refuse.
source "$(dirname "$0")/../lib/itest.sh"

s3_start main ferry-src
proxy_start oss1 --upstream "$FERRY_S3_MAIN" --dialect oss --ak LTAIferrytest --sk oss-secret-0123 \
  --region cn-hangzhou --list-v1-only
L="$FERRY_BIN/ferry-lister"
CONF="$FERRY_RUN/ferry.conf"
for s in OSSV2 OSSAUTO OSSV1; do
  export "FERRY_${s}_ACCESS_KEY=LTAIferrytest" "FERRY_${s}_SECRET_KEY=oss-secret-0123"
done
store() {  # store NAME LIST_API
  echo "{ name = \"$1\"; type = \"oss\"; endpoint = \"http://oss-cn-hangzhou.aliyuncs.com\";
    region = \"cn-hangzhou\"; connect_to = \"${FERRY_PROXY_OSS1#http://}\"; list_api = \"$2\"; },"
}
cat >"$CONF" <<CONF
kafka = { brokers = "127.0.0.1:1"; };
stores = (
  $(store ossv2 v2)
  $(store ossauto auto)
  $(store ossv1 v1)
  { name = "dst"; type = "s3"; endpoint = "$FERRY_S3_MAIN"; region = "us-east-1"; path_style = true; }
);
lister = { page_size = 10; };
worker = { max_attempts = 2; backoff_base_ms = 10; backoff_max_ms = 50; };
tasks = (
  { name = "v2"; source = "ossv2:ferry-src/k/"; destination = "dst:ferry-dst"; },
  { name = "auto"; source = "ossauto:ferry-src/k/"; destination = "dst:ferry-dst"; },
  { name = "v1"; source = "ossv1:ferry-src/k/"; destination = "dst:ferry-dst"; },
  { name = "order"; source = "ossauto:ferry-src/size/"; destination = "dst:ferry-dst"; }
);
CONF
chmod 600 "$CONF"
specs=()
for i in $(seq -w 1 35); do specs+=("key:k/obj-$i:$((10#$i * 10))"); done
node "$TOOLS/fill.js" "$FERRY_S3_MAIN" ferry-src "${specs[@]}" key:size/5MiB-1:5 key:size/5MiB:6 >/dev/null
keys_in() { grep -o '"key":"[^"]*"' "$1" | sort | uniq -c | awk '$1 != 1 {bad++} END {print NR, bad + 0}'; }

# v2: an error naming the store, at once (before: for ever).
rc=0; timeout 60 "$L" -c "$CONF" -t v2 --segments-to "$FERRY_RUN/v2.seg" 2>"$FERRY_RUN/v2.err" || rc=$?
assert_eq "$rc" "1" "v2: lister exit status (124 = it looped until the timeout)"
grep -q 'ossv2:ferry-src/k/.*did not advance.*list_api = "v1"' "$FERRY_RUN/v2.err" ||
  fail "v2: no error naming the store: $(tail -2 "$FERRY_RUN/v2.err")"
ok "list_api = v2 on a store that ignores it: an error naming the store"

# auto and v1: each of the 35 keys exactly once.
for t in auto v1; do
  timeout 60 "$L" -c "$CONF" -t $t --segments-to "$FERRY_RUN/$t.seg" 2>"$FERRY_RUN/$t.err" ||
    fail "$t: lister exited $?: $(tail -2 "$FERRY_RUN/$t.err")"
  assert_eq "$(keys_in "$FERRY_RUN/$t.seg")" "35 0" "$t: keys listed, and keys listed more than once"
done
grep -q 'event=list-v1-fallback' "$FERRY_RUN/auto.err" || fail "auto: no fallback logged"
if grep -q 'event=list-v1-fallback' "$FERRY_RUN/v1.err"; then fail "v1: fell back from V2"; fi
ok "list_api = auto falls back to V1 and lists every key once; v1 likewise"

# The other listing loop (lister/scan.c): --dry-run.
timeout 60 "$L" -c "$CONF" -t auto --dry-run --out "$FERRY_RUN/dry.csv" 2>"$FERRY_RUN/dry.err" ||
  fail "dry-run exited $?: $(tail -2 "$FERRY_RUN/dry.err")"
assert_eq "$(tail -n +2 "$FERRY_RUN/dry.csv" | cut -d, -f1 | sort -u | wc -l)" "35" "dry-run: keys"
assert_eq "$(tail -n +2 "$FERRY_RUN/dry.csv" | wc -l)" "35" "dry-run: rows"
rc=0; timeout 60 "$L" -c "$CONF" -t v2 --dry-run --out "$FERRY_RUN/dry2.csv" 2>"$FERRY_RUN/dry2.err" || rc=$?
assert_eq "$rc" "1" "dry-run v2: exit status"
grep -q 'did not advance' "$FERRY_RUN/dry2.err" || fail "dry-run v2: $(tail -2 "$FERRY_RUN/dry2.err")"
ok "--dry-run: the same (auto lists all 35 once; v2 fails naming the store)"

# --estimate counts a listing out of byte order.
first=$(curl -s "$FERRY_S3_MAIN/ferry-src?prefix=size/" | grep -o '<Key>[^<]*</Key>' | head -1)
assert_eq "$first" "<Key>size/5MiB-1</Key>" "s3rver's order (the premise of this check)"
timeout 60 "$L" -c "$CONF" -t order --estimate >"$FERRY_RUN/est.out" 2>"$FERRY_RUN/est.err" ||
  fail "--estimate exited $?: $(tail -2 "$FERRY_RUN/est.err")"
grep -q '2 source objects examined' "$FERRY_RUN/est.err" || fail "--estimate: $(cat "$FERRY_RUN/est.out")"
ok "--estimate counts a listing out of byte order"

echo "lister_list_api: all passed"
