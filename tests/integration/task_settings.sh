#!/usr/bin/env bash
# A task's own copy settings reach the workers through its segments:
# tasks[].record_source_etag = true on a task whose worker section says
# false, and the lister's segments (--segments-to) read by a worker
# (--segments-from) that knows the task only from them. Every destination
# object carries the source ETag (x-amz-meta-ferry-src-etag); the worker
# used to take its own worker.record_source_etag and storage_class_map for
# every task, so a task's settings applied only to fanned-out objects.
source "$(dirname "$0")/../lib/itest.sh"

s3_start main ferry-src ferry-dst
node "$TOOLS/fill.js" "$FERRY_S3_MAIN" ferry-src small:12:1:4 >/dev/null
CONF="$FERRY_RUN/ferry.conf"
cat >"$CONF" <<CONF
kafka = { brokers = "127.0.0.1:1"; };
stores = (
  { name = "src"; type = "s3"; endpoint = "$FERRY_S3_MAIN"; region = "us-east-1"; path_style = true; },
  { name = "dst"; type = "s3"; endpoint = "$FERRY_S3_MAIN"; region = "us-east-1"; path_style = true; }
);
worker = { concurrency = 4; record_source_etag = false; };
tasks = ( { name = "t"; source = "src:ferry-src/small/"; destination = "dst:ferry-dst/copy/";
            record_source_etag = true; storage_class_map = ["*=STANDARD"]; } );
CONF
chmod 600 "$CONF"
"$FERRY_BIN/ferry-lister" -c "$CONF" -t t --segments-to "$FERRY_RUN/t.seg" 2>"$FERRY_RUN/lister.err" ||
  fail "lister: $(tail -3 "$FERRY_RUN/lister.err")"
grep -q '"copy":{"class_map":\["\*=STANDARD"\],"record_source_etag":true}' "$FERRY_RUN/t.seg" ||
  { head -c 400 "$FERRY_RUN/t.seg"; fail "the segments do not carry the task's copy settings"; }
"$FERRY_BIN/ferry-worker" -c "$CONF" --segments-from "$FERRY_RUN/t.seg" >"$FERRY_RUN/out" 2>"$FERRY_RUN/worker.err" ||
  fail "worker exited $?: $(tail -3 "$FERRY_RUN/worker.err")"
assert_eq "$(count_status "$FERRY_RUN/out" copied)" 12 "copied"
n=0
while read -r key; do
  curl -sI "$FERRY_S3_MAIN/ferry-dst/copy/$key" | tr -d '\r' >"$FERRY_RUN/head"
  grep -qi '^x-amz-meta-ferry-src-etag: [0-9a-f]' "$FERRY_RUN/head" || { cat "$FERRY_RUN/head"; fail "copy/$key lacks the source ETag"; }
  n=$((n + 1))
done < <(node -e "
const u = require('$TOOLS/s3util');
u.list('$FERRY_S3_MAIN', 'ferry-dst', 'copy/').then(l => l.forEach(o => console.log(o.key.slice(5))));")
assert_eq "$n" 12 "objects checked"
ok "the task's record_source_etag applied by a worker whose own is false (12 objects)"
echo "task_settings: all passed"
