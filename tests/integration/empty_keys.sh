#!/usr/bin/env bash
# Objects whose destination key would be empty, through the
# whole task (ferry-lister --segments-to, then ferry-worker), into a
# destination behind the s3-dialect proxy, which counts what was asked of it.
# Before: the folder marker `dir/` of task `src:ferry-src/dir/` -> `dst:ferry-dst`
# was "skipped (exists)" after a HEAD of the bucket with same_name = skip, and
# a PUT Bucket with overwrite; the object `logs` of task `.../logs` likewise.
# Now: the marker is skipped as "prefix-marker", `logs` is copied to the key
# `logs`, a `marker/` with content fails as "empty-key", and no request ever
# addresses the destination bucket itself.
source "$(dirname "$0")/../lib/itest.sh"

s3_start main ferry-src ferry-dst
proxy_start s3d --upstream "$FERRY_S3_MAIN" --dialect s3 --verbose
W="$FERRY_BIN/ferry-worker"
L="$FERRY_BIN/ferry-lister"
CONF="$FERRY_RUN/ferry.conf"
cat >"$CONF" <<CONF
kafka = { brokers = "127.0.0.1:1"; };
stores = (
  { name = "src"; type = "s3"; endpoint = "$FERRY_S3_MAIN"; region = "us-east-1"; path_style = true; },
  { name = "dst"; type = "s3"; endpoint = "$FERRY_PROXY_S3D"; region = "us-east-1"; path_style = true; }
);
worker = { concurrency = 4; max_attempts = 2; backoff_base_ms = 20; backoff_max_ms = 100; };
tasks = (
  { name = "dirskip"; source = "src:ferry-src/dir/"; destination = "dst:ferry-dst"; same_name = "skip"; },
  { name = "dirover"; source = "src:ferry-src/dir/"; destination = "dst:ferry-dst"; same_name = "overwrite"; },
  { name = "logs"; source = "src:ferry-src/logs"; destination = "dst:ferry-dst"; same_name = "skip"; },
  { name = "full"; source = "src:ferry-src/full/"; destination = "dst:ferry-dst"; same_name = "overwrite"; },
  { name = "moved"; source = "src:ferry-src/dir/"; destination = "dst:ferry-dst/moved/"; same_name = "overwrite"; }
);
CONF
chmod 600 "$CONF"
node "$TOOLS/fill.js" "$FERRY_S3_MAIN" ferry-src key:dir/:0 key:dir/a.txt:100 key:logs:5000 \
  key:logs-2024.txt:10 key:full/:7 key:full/b.txt:3 >/dev/null

run_task() {  # run_task TASK: outcomes in $FERRY_RUN/TASK.out; the worker's exit status echoed
  local rc=0
  "$L" -c "$CONF" -t "$1" --segments-to "$FERRY_RUN/$1.seg" 2>"$FERRY_RUN/$1-lister.err" ||
    fail "lister $1: $(tail -3 "$FERRY_RUN/$1-lister.err")"
  "$W" -c "$CONF" --segments-from "$FERRY_RUN/$1.seg" >"$FERRY_RUN/$1.out" 2>"$FERRY_RUN/$1.err" || rc=$?
  echo "$rc"
}
outcome() {  # outcome TASK KEY: "status reason" of that key
  grep "\"key\":\"$2\"" "$FERRY_RUN/$1.out" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const o=JSON.parse(s);console.log(o.status+' '+(o.reason||'-'))})"
}
bucket_requests() {  # requests the destination proxy saw on the bucket itself (no key)
  grep -cE '^proxy\[s3\]: [A-Z]+ [^ ]*/ferry-dst/?(\?[^ ]*)? ' "$FERRY_RUN/proxy-s3d.log" || true
}
dst_has() { curl -sf -o /dev/null "$FERRY_S3_MAIN/ferry-dst/$1"; }

for t in dirskip dirover; do
  assert_eq "$(run_task $t)" "0" "$t: worker exit status"
  assert_eq "$(outcome $t dir/)" "skipped prefix-marker" "$t: the marker of the prefix"
  assert_eq "$(outcome $t dir/a.txt)" "copied -" "$t: dir/a.txt"
  grep -q '"key":"dir/","size":0,"status":"skipped","reason":"prefix-marker".*"message":"the folder marker' \
    "$FERRY_RUN/$t.out" || fail "$t: no message with the skip"
done
dst_has a.txt || fail "a.txt not at the destination root"
ok "folder marker equal to the task prefix: skipped as prefix-marker (skip and overwrite), its content copied"

assert_eq "$(run_task logs)" "0" "logs: worker exit status"
assert_eq "$(outcome logs logs)" "copied -" "logs: the object equal to the prefix"
assert_eq "$(outcome logs logs-2024.txt)" "copied -" "logs: logs-2024.txt"
[ "$(curl -sf "$FERRY_S3_MAIN/ferry-dst/logs" | wc -c)" = 5000 ] || fail "logs not copied to the key 'logs'"
ok "object equal to the task prefix (logs): copied under its own name"

assert_eq "$(run_task full)" "3" "full: worker exit status (one failed)"
assert_eq "$(outcome full full/)" "failed empty-key" "full: a marker with content"
assert_eq "$(outcome full full/b.txt)" "copied -" "full: full/b.txt"
ok "a 'marker' with content equal to the prefix: failed as empty-key, never skipped"

assert_eq "$(run_task moved)" "0" "moved: worker exit status"
assert_eq "$(outcome moved dir/)" "copied -" "moved: the marker under a destination prefix"
dst_has moved/ || fail "moved/ marker not written"
ok "under a destination prefix the marker is that prefix's marker (copied)"

grep -q '/ferry-dst/a.txt ' "$FERRY_RUN/proxy-s3d.log" || fail "the proxy log shows no request lines"
assert_eq "$(bucket_requests)" "0" "requests addressing the destination bucket itself"
ok "no request addressed the destination bucket"

echo "empty_keys: all passed"
