#!/usr/bin/env bash
# ferry-reporter's access control and transport (docs/security.md, "The
# status page and its actions"), against ferry-devbroker, with curl:
#  - refused at start (exit 2, the message naming the key): a listen address
#    other than loopback without TLS or behind_proxy (reporter.listen and
#    --listen), tls_cert without tls_key, tokens_env naming an unset
#    variable, a bad token entry (whose secret the message does not show);
#  - with tokens (from reporter.tokens_env and reporter.tokens_file): viewing
#    from loopback open; an action without a token 401, with a viewer's 403,
#    with an operator's but a foreign Origin or Referer 403, with an
#    operator's 202 and the command in the control topic with by =
#    "operator:NAME"; a wrong token 401 even for viewing; the login form
#    (cookie HttpOnly, SameSite=Strict) and a session's action needing its
#    CSRF token; logout;
#  - behind_proxy: nobody is local, viewing needs a token (the page: a
#    login form, 401), /metrics with a viewer's Bearer token;
#  - HTTPS (reporter.tls_cert/tls_key, a test CA made now) on 0.0.0.0:
#    served, verified with the CA, no plain HTTP;
#  - no secret in any log.
#
# Environment: FERRY_BIN (build directory). FERRY_KEEP_RUN=1 keeps the run
# directory.
REPTEST_NAME=reporter-auth
# shellcheck source=../lib/reptest.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/reptest.sh"
# shellcheck source=../lib/tls.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/tls.sh"

for c in kcat jq curl openssl; do
  command -v "$c" >/dev/null || fail "$c is not installed (scripts/deps.sh)"
done
[ -x "$DEVBROKER" ] || fail "$DEVBROKER not built"
[ -x "$REPORTER" ] || fail "$REPORTER not built"

OP_SECRET="op-secret-$(openssl rand -hex 12)"
VW_SECRET="vw-secret-$(openssl rand -hex 12)"
F_SECRET="file-secret-$(openssl rand -hex 12)"

# --- refused at start ---------------------------------------------------------
# refused CONF_REPORTER_BODY WANT [ARGS...]: exit 2, stderr has WANT.
refused() {
  local body="$1" want="$2"
  shift 2
  printf 'kafka = { brokers = "127.0.0.1:1"; };\nreporter = { %s };\n' "$body" >"$RUN/bad.conf"
  st env FERRY_TEST_TOKENS="alice:operator:$OP_SECRET,bad:admin:$VW_SECRET" \
    timeout 20 "$REPORTER" -c "$RUN/bad.conf" "$@" >/dev/null 2>"$RUN/bad.err"
  [ "$rc" -eq 2 ] || { cat "$RUN/bad.err" >&2; fail "[$body $*] gave exit $rc, want 2"; }
  grep -qF -- "$want" "$RUN/bad.err" || { cat "$RUN/bad.err" >&2; fail "[$body $*]: no \"$want\""; }
  ! grep -qF -e "$OP_SECRET" -e "$VW_SECRET" "$RUN/bad.err" || fail "[$body]: a secret in the error"
}
refused 'listen = "0.0.0.0:0";' 'reporter.listen "0.0.0.0:0" is not a loopback address'
refused '' '--listen "0.0.0.0:0" is not a loopback address' --listen 0.0.0.0:0
refused 'listen = "[::]:0";' 'is not a loopback address'
refused 'listen = "127.0.0.1:0"; tls_cert = "/x.pem";' 'reporter.tls_cert and reporter.tls_key go together'
refused 'listen = "127.0.0.1:0"; tokens_env = "FERRY_NO_SUCH_VARIABLE";' \
  'reporter.tokens_env: the environment variable FERRY_NO_SUCH_VARIABLE is not set'
refused 'listen = "127.0.0.1:0"; tokens_env = "FERRY_TEST_TOKENS";' \
  'reporter.tokens_env (FERRY_TEST_TOKENS): entry 2 (token "bad"): the role must be viewer or operator'
ok "refused at start: non-loopback listen without TLS (reporter.listen, --listen), half TLS, unset or bad tokens"

# --- broker -------------------------------------------------------------------
"$DEVBROKER" --bootstrap-file "$RUN/bootstrap" --partitions 2 --exit-with-parent \
  >"$RUN/devbroker.out" 2>"$RUN/devbroker.log" &
BROKER_PID=$!
for _ in $(seq 1 100); do
  [ -s "$RUN/bootstrap" ] && break
  kill -0 "$BROKER_PID" 2>/dev/null || fail "ferry-devbroker exited early"
  sleep 0.1
done
[ -s "$RUN/bootstrap" ] || fail "no bootstrap file after 10 s"
B="$(cat "$RUN/bootstrap")"

printf '# the file'"'"'s token\nfiona:operator:%s\n' "$F_SECRET" >"$RUN/tokens"
chmod 600 "$RUN/tokens"
export FERRY_TEST_TOKENS="alice:operator:$OP_SECRET,bob:viewer:$VW_SECRET"

# conf EXTRA: a config with the broker and EXTRA in the reporter section.
conf() {
  cat >"$RUN/ferry.conf" <<EOF
log_level = "debug";
kafka = { brokers = ""; bootstrap_file = "$RUN/bootstrap"; };
reporter = { refresh_s = 1; tokens_env = "FERRY_TEST_TOKENS"; tokens_file = "$RUN/tokens"; $1 };
EOF
}

# start_reporter LOG SCHEME ARGS...: sets URL from the "listening" line.
start_reporter() {
  local log="$1" scheme="$2"
  shift 2
  : >"$log"   # before the background start: its redirection may come after the first look
  "$REPORTER" -c "$RUN/ferry.conf" "$@" >"$RUN/reporter.out" 2>"$log" &
  REP_PID=$!
  URL=""
  for _ in $(seq 1 100); do
    URL=$(sed -n "s|.* http: listening \\($scheme://[0-9.]*:[0-9]*/\\) .*|\\1|p" "$log" | head -n1)
    [ -n "$URL" ] && break
    kill -0 "$REP_PID" 2>/dev/null || fail "the reporter exited early"
    sleep 0.1
  done
  [ -n "$URL" ] || fail "no \"listening $scheme://\" line after 10 s"
}

# req METHOD PATH OUT [curl args]: the status on stdout.
req() {
  local m="$1" path="$2" out="$3"
  shift 3
  curl -s -X "$m" -o "$out" -w '%{http_code}' "$@" "${URL}${path}"
}
expect() {   # expect STATUS WHAT METHOD PATH [curl args]
  local want="$1" what="$2" got
  shift 2
  got="$(req "$1" "$2" "$RUN/body" "${@:3}")"
  [ "$got" = "$want" ] || { cat "$RUN/body" >&2; fail "$what: status $got, want $want"; }
}

# --- loopback, plain HTTP -----------------------------------------------------
conf 'listen = "127.0.0.1:0";'
start_reporter "$RUN/reporter.log" http
HOST="${URL#http://}"; HOST="${HOST%/}"
expect 200 "GET / from loopback without a token" GET ""
expect 200 "GET /api/tasks from loopback without a token" GET api/tasks
expect 401 "GET with a wrong token" GET api/tasks -H "Authorization: Bearer wrong-token-wrong-token"
jq -e '.error == "unknown token"' "$RUN/body" >/dev/null || fail "wrong token: $(cat "$RUN/body")"
expect 401 "POST pause without a token" POST api/tasks/t1/pause
jq -e '.error | test("operator token")' "$RUN/body" >/dev/null || fail "401 body: $(cat "$RUN/body")"
expect 403 "POST pause with a viewer's token" POST api/tasks/t1/pause -H "Authorization: Bearer $VW_SECRET"
jq -e '.error | test("viewer")' "$RUN/body" >/dev/null || fail "403 body: $(cat "$RUN/body")"
expect 403 "POST pause, operator, foreign Origin" POST api/tasks/t1/pause \
  -H "Authorization: Bearer $OP_SECRET" -H "Origin: http://evil.example"
jq -e '.error | test("cross-site")' "$RUN/body" >/dev/null || fail "403 body: $(cat "$RUN/body")"
expect 403 "POST pause, operator, foreign Referer" POST api/tasks/t1/pause \
  -H "Authorization: Bearer $OP_SECRET" -H "Referer: http://evil.example/x"
expect 403 "POST pause, operator, same host but https Origin" POST api/tasks/t1/pause \
  -H "Authorization: Bearer $OP_SECRET" -H "Origin: https://$HOST"
ACTION_OK=202
expect "$ACTION_OK" "POST pause, operator" POST api/tasks/t1/pause \
  -H "Authorization: Bearer $OP_SECRET" -H "Origin: http://$HOST"
expect "$ACTION_OK" "POST resume, the file's operator token" POST api/tasks/t1/resume \
  -H "Authorization: Bearer $F_SECRET"
expect 405 "GET on an action" GET api/tasks/t1/pause
ok "loopback: viewing open; actions 401 without a token, 403 viewer, 403 foreign Origin/Referer, $ACTION_OK operator"

# The login form: a session cookie; its actions need the CSRF token.
code="$(curl -s -o /dev/null -w '%{http_code}' -D "$RUN/login.hdr" -c "$RUN/jar" \
  --data-urlencode "token=$OP_SECRET" "${URL}login")"
[ "$code" = 303 ] || fail "form login: status $code"
grep -qi '^set-cookie: ferry_session=[0-9a-f]\{32\}; .*HttpOnly; SameSite=Strict' "$RUN/login.hdr" ||
  fail "login cookie: $(grep -i set-cookie "$RUN/login.hdr")"
expect 401 "login with a wrong token" POST login --data-urlencode "token=nope-nope-nope-nope"
expect 403 "form login from another site" POST login -H "Origin: http://evil.example" \
  --data-urlencode "token=$OP_SECRET"
expect 200 "GET /api/session with the cookie" GET api/session -b "$RUN/jar"
CSRF="$(jq -r '.csrf' "$RUN/body")"
jq -e '.name == "alice" and .role == "operator" and (.csrf | test("^[0-9a-f]{32}$"))' "$RUN/body" \
  >/dev/null || fail "/api/session: $(cat "$RUN/body")"
expect 403 "session POST without the CSRF token" POST api/tasks/t1/cancel -b "$RUN/jar"
expect 403 "session POST with a wrong CSRF token" POST api/tasks/t1/cancel -b "$RUN/jar" \
  -H "X-CSRF-Token: 0123456789abcdef0123456789abcdef"
expect 403 "session POST, CSRF token, foreign Origin" POST api/tasks/t1/cancel -b "$RUN/jar" \
  -H "X-CSRF-Token: $CSRF" -H "Origin: http://evil.example"
expect "$ACTION_OK" "session POST with the CSRF token" POST api/tasks/t1/cancel -b "$RUN/jar" \
  -H "X-CSRF-Token: $CSRF" -H "Origin: null"
# JSON login (the page's script) answers the session.
expect 200 "JSON login" POST login -H 'Content-Type: application/json' \
  --data "{\"token\":\"$VW_SECRET\"}"
jq -e '.name == "bob" and .role == "viewer"' "$RUN/body" >/dev/null || fail "JSON login: $(cat "$RUN/body")"
expect 200 "logout" POST logout -b "$RUN/jar" -c "$RUN/jar"
expect 401 "the ended session cannot act" POST api/tasks/t1/cancel -b "$RUN/jar" \
  -H "X-CSRF-Token: $CSRF"
ok "login form: HttpOnly SameSite=Strict cookie, session actions need the CSRF token, logout"
stop_pid "$REP_PID"; REP_PID=""

# --- behind a proxy: nobody is local ------------------------------------------
conf 'listen = "127.0.0.1:0"; behind_proxy = true;'
start_reporter "$RUN/proxy.log" http
HOSTP="${URL#http://}"; HOSTP="${HOSTP%/}"
expect 401 "behind_proxy: GET /api/tasks without a token" GET api/tasks
expect 401 "behind_proxy: the page without a token" GET ""
grep -q 'id="login-form"' "$RUN/body" || fail "behind_proxy: the page is not a login form"
expect 200 "behind_proxy: GET /api/tasks, viewer" GET api/tasks -H "Authorization: Bearer $VW_SECRET"
expect 200 "behind_proxy: /metrics, viewer" GET metrics -H "Authorization: Bearer $VW_SECRET"
# The page from a session (the form's cookie).
curl -s -o /dev/null -c "$RUN/jar2" --data-urlencode "token=$VW_SECRET" "${URL}login"
expect 200 "behind_proxy: the page with a viewer's session" GET "" -b "$RUN/jar2"
# Origin is checked as https (the proxy's scheme).
expect "$ACTION_OK" "behind_proxy: operator with an https Origin" POST api/tasks/t1/pause \
  -H "Authorization: Bearer $OP_SECRET" -H "Origin: https://$HOSTP"
ok "behind_proxy: viewing needs a token (JSON 401, login page), viewer sees /api and /metrics"
stop_pid "$REP_PID"; REP_PID=""

# --- HTTPS on every interface ---------------------------------------------------
tls_make_certs "$RUN/tls"
conf "listen = \"0.0.0.0:0\"; tls_cert = \"$RUN/tls/server.pem\"; tls_key = \"$RUN/tls/server.key\";"
start_reporter "$RUN/tls.log" https
PORT="${URL##*:}"; PORT="${PORT%/}"
URL="https://127.0.0.1:$PORT/"
expect 200 "HTTPS GET /api/tasks (CA verified)" GET api/tasks --cacert "$RUN/tls/ca.pem"
code="$(curl -s -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/api/tasks" || true)"
[ "$code" = 000 ] || fail "HTTPS without the CA: status $code, want a refused certificate"
code="$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/api/tasks" || true)"
[ "$code" != 200 ] || fail "plain HTTP answered on the HTTPS port"
expect 403 "HTTPS: operator with an http Origin" POST api/tasks/t1/pause --cacert "$RUN/tls/ca.pem" \
  -H "Authorization: Bearer $OP_SECRET" -H "Origin: http://127.0.0.1:$PORT"
expect "$ACTION_OK" "HTTPS: operator" POST api/tasks/t1/pause --cacert "$RUN/tls/ca.pem" \
  -H "Authorization: Bearer $OP_SECRET" -H "Origin: https://127.0.0.1:$PORT"
ok "HTTPS on 0.0.0.0 with reporter.tls_cert/tls_key: verified by the test CA, no plain HTTP"
stop_pid "$REP_PID"; REP_PID=""

# --- no secret in the logs; token names are there ---------------------------------
for f in "$RUN"/*.log "$RUN/reporter.out"; do
  ! grep -qF -e "$OP_SECRET" -e "$VW_SECRET" -e "$F_SECRET" "$f" || fail "a secret in $f"
  ! grep -qF -e "$CSRF" "$f" || fail "a CSRF token in $f"
done
grep -q 'token=alice role=operator' "$RUN/reporter.log" || fail "the token's name is not logged"
grep -q 'token=fiona role=operator' "$RUN/reporter.log" || fail "the file's token is not logged"
ok "no secret in the logs (at debug), token names are"
