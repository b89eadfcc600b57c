#!/usr/bin/env bash
# A URL-list source that gives no ETag (Python's http.server: Last-Modified
# only), so If-Match cannot hold the object still: the worker compares the
# GET's Last-Modified with the one the listing's HEAD saw. A file rewritten
# after listing with other bytes of the same length is `changed`, not copied
# (before: its new bytes were copied and reported as the listed object); an
# untouched one is copied.
source "$(dirname "$0")/../lib/itest.sh"
PY=$(command -v /usr/bin/python3 || command -v python3)
s3_start dst ferry-dst
mkdir -p "$FERRY_RUN/www"
head -c 100000 /dev/urandom >"$FERRY_RUN/www/same.bin"
head -c 100000 /dev/urandom >"$FERRY_RUN/www/moved.bin"
touch -d '2026-01-01 00:00:00 UTC' "$FERRY_RUN/www/same.bin" "$FERRY_RUN/www/moved.bin"
port=$(free_port)
(cd "$FERRY_RUN/www" && exec "$PY" -m http.server "$port" --bind 127.0.0.1) >"$FERRY_RUN/http.log" 2>&1 &
track_pid $!
for _ in $(seq 1 50); do curl -sf -o /dev/null "http://127.0.0.1:$port/same.bin" && break; sleep 0.1; done
curl -sI "http://127.0.0.1:$port/same.bin" | grep -qi '^etag' && fail "the test server gives an ETag"
printf 'http://127.0.0.1:%s/same.bin\nhttp://127.0.0.1:%s/moved.bin\n' "$port" "$port" >"$FERRY_RUN/list.txt"
CONF="$FERRY_RUN/ferry.conf"
cat >"$CONF" <<CONF
kafka = { brokers = "127.0.0.1:1"; };
stores = ( { name = "dst"; type = "s3"; endpoint = "$FERRY_S3_DST"; region = "us-east-1"; path_style = true; } );
worker = { max_attempts = 2; backoff_base_ms = 20; backoff_max_ms = 100; };
tasks = ( { name = "u"; source = "urls:$FERRY_RUN/list.txt"; destination = "dst:ferry-dst/u/"; } );
CONF
chmod 600 "$CONF"
export FERRY_DST_ACCESS_KEY=S3RVER FERRY_DST_SECRET_KEY=S3RVER
"$FERRY_BIN/ferry-lister" -c "$CONF" -t u --segments-to "$FERRY_RUN/u.seg" 2>"$FERRY_RUN/l.err" ||
  { cat "$FERRY_RUN/l.err"; fail "lister"; }
# Rewritten after the listing: same length, other bytes, a newer mtime.
head -c 100000 /dev/urandom >"$FERRY_RUN/www/moved.bin"
touch -d '2026-01-02 00:00:00 UTC' "$FERRY_RUN/www/moved.bin"
rc=0
"$FERRY_BIN/ferry-worker" -c "$CONF" --segments-from "$FERRY_RUN/u.seg" >"$FERRY_RUN/w.out" 2>"$FERRY_RUN/w.err" || rc=$?
cat "$FERRY_RUN/w.out"
[ "$rc" != 0 ] || fail "the worker exited 0 with a changed object"
grep -q '"key":"http://127.0.0.1:[0-9]*/moved.bin".*"status":"changed".*Last-Modified' "$FERRY_RUN/w.out" ||
  fail "moved.bin not reported changed (Last-Modified)"
grep -q '"key":"http://127.0.0.1:[0-9]*/same.bin".*"status":"copied"' "$FERRY_RUN/w.out" || fail "same.bin not copied"
ok "a URL without an ETag rewritten after listing (same length): changed; the untouched one copied"
