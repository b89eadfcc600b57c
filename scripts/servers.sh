# Sourced by scripts and tests: start and stop the loopback servers ferry's
# tests need. Every process started is recorded in $FERRY_RUN/pids and is
# killed by servers_stop, which callers run from an EXIT trap.
#
#   source scripts/servers.sh
#   servers_init            # makes $FERRY_RUN (a fresh temp dir)
#   s3_start NAME BUCKET... # s3rver on a free port; exports FERRY_S3_<NAME>=http://127.0.0.1:PORT
#   proxy_start NAME --upstream URL --dialect oss|cos|s3 [proxy.js args...]
#                           # tests/servers/proxy.js on a free port; exports
#                           # FERRY_PROXY_<NAME>=http://127.0.0.1:PORT and
#                           # FERRY_PROXY_<NAME>_ADMIN=http://127.0.0.1:PORT/__proxy
#   proxy_restart NAME      # SIGTERM it and start it again (same port, args, state)
#   servers_stop
FERRY_SRC="${FERRY_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"

servers_init() {
  FERRY_RUN="$(mktemp -d /tmp/ferry-run.XXXXXX)"
  export FERRY_RUN
  : >"$FERRY_RUN/pids"
}

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( (RANDOM % 20000) + 20000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

# wait_line FILE PATTERN SECONDS: waits until FILE has a line matching PATTERN.
wait_line() {
  local i
  for i in $(seq 1 $(( $3 * 10 ))); do
    if grep -q "$2" "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for '$2' in $1" >&2
  cat "$1" >&2 || true
  return 1
}

track_pid() { echo "$1" >>"$FERRY_RUN/pids"; }

s3_start() {
  local name="$1"; shift
  local port try i
  local dir="$FERRY_RUN/s3-$name"
  # A free port can be taken by a parallel test before s3rver binds it (seen
  # in CI: EADDRINUSE): on that, try another one, as proxy_start does.
  for try in 1 2 3 4 5; do
    port="$(free_port)"
    # s3rver makes ListObjectsV2 continuation tokens with DES, which OpenSSL 3
    # only has in its legacy provider: without it every truncated page is a 500.
    node --openssl-legacy-provider "$FERRY_SRC/tests/servers/s3.js" "$port" "$dir" "$@" \
      >"$FERRY_RUN/s3-$name.log" 2>&1 &
    local pid=$!
    track_pid "$pid"
    # Until it is ready or has died (EADDRINUSE); a loaded machine once took
    # longer than the 20 s this used to wait for either.
    for i in $(seq 1 600); do
      grep -q "^ready" "$FERRY_RUN/s3-$name.log" 2>/dev/null && break 2
      grep -q EADDRINUSE "$FERRY_RUN/s3-$name.log" 2>/dev/null && break
      kill -0 "$pid" 2>/dev/null || { sleep 0.2; break; }
      sleep 0.1
    done
    if [ "$try" = 5 ] || ! grep -q EADDRINUSE "$FERRY_RUN/s3-$name.log" 2>/dev/null; then
      wait_line "$FERRY_RUN/s3-$name.log" "^ready" 1 && break
      return 1
    fi
    echo "s3 $name: port $port was taken, trying another" >&2
  done
  local var="FERRY_S3_$(echo "$name" | tr '[:lower:]-' '[:upper:]_')"
  export "$var=http://127.0.0.1:$port"
  echo "$var=http://127.0.0.1:$port" >>"$FERRY_RUN/env"
}

# proxy_start NAME --upstream URL --dialect oss|cos|s3 [--ak AK --sk SK] ...
# Its CRC state lives in $FERRY_RUN/proxy-NAME (--state-dir), its log in
# $FERRY_RUN/proxy-NAME.log. See tests/servers/README.md.
proxy_start() {
  local name="$1"; shift
  local port try
  printf '%s\n' "$@" >"$FERRY_RUN/proxy-$name.args"
  # A free port can be taken by a parallel test before the proxy binds it:
  # on EADDRINUSE try another one.
  for try in 1 2 3 4 5; do
    port="$(free_port)"
    echo "$port" >"$FERRY_RUN/proxy-$name.port"
    if _proxy_run "$name" "$port" "$@"; then break; fi
    if [ "$try" = 5 ] || ! grep -q EADDRINUSE "$FERRY_RUN/proxy-$name.log" 2>/dev/null; then return 1; fi
    : >"$FERRY_RUN/proxy-$name.log"
    echo "proxy $name: port $port was taken, trying another" >&2
  done
  local var; var="FERRY_PROXY_$(echo "$name" | tr '[:lower:]-' '[:upper:]_')"
  export "$var=http://127.0.0.1:$port"
  export "${var}_ADMIN=http://127.0.0.1:$port/__proxy"
  echo "$var=http://127.0.0.1:$port" >>"$FERRY_RUN/env"
  echo "${var}_ADMIN=http://127.0.0.1:$port/__proxy" >>"$FERRY_RUN/env"
}

_proxy_run() {
  local name="$1" port="$2"; shift 2
  : >"$FERRY_RUN/proxy-$name.out"
  node "$FERRY_SRC/tests/servers/proxy.js" --port "$port" --state-dir "$FERRY_RUN/proxy-$name" "$@" \
    >"$FERRY_RUN/proxy-$name.out" 2>>"$FERRY_RUN/proxy-$name.log" &
  local pid=$!
  track_pid "$pid"
  echo "$pid" >"$FERRY_RUN/proxy-$name.pid"
  wait_line "$FERRY_RUN/proxy-$name.out" "^ready" 20 || { cat "$FERRY_RUN/proxy-$name.log" >&2; return 1; }
}

# proxy_restart NAME: stops the proxy (SIGTERM, waits for it) and starts it
# again on the same port with the same arguments; its CRC state survives.
proxy_restart() {
  local name="$1"
  local pid; pid="$(cat "$FERRY_RUN/proxy-$name.pid")"
  kill "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  local args=()
  mapfile -t args <"$FERRY_RUN/proxy-$name.args"
  _proxy_run "$name" "$(cat "$FERRY_RUN/proxy-$name.port")" "${args[@]}"
}

# devbroker_start [ferry-devbroker args...]: the dev broker (librdkafka's mock
# cluster over TCP) with its bootstrap file at $FERRY_RUN/bootstrap; exports
# FERRY_BROKERS. Needs FERRY_BIN (the build directory).
devbroker_start() {
  "$FERRY_BIN/ferry-devbroker" --bootstrap-file "$FERRY_RUN/bootstrap" "$@" \
    >"$FERRY_RUN/devbroker.log" 2>&1 &
  track_pid $!
  local i
  for i in $(seq 1 100); do
    [ -s "$FERRY_RUN/bootstrap" ] && break
    sleep 0.1
  done
  [ -s "$FERRY_RUN/bootstrap" ] || { cat "$FERRY_RUN/devbroker.log" >&2; return 1; }
  FERRY_BROKERS="$(head -1 "$FERRY_RUN/bootstrap")"
  export FERRY_BROKERS
}

servers_stop() {
  [ -n "${FERRY_RUN:-}" ] && [ -f "$FERRY_RUN/pids" ] || return 0
  local pid
  while read -r pid; do
    kill "$pid" 2>/dev/null || true
  done <"$FERRY_RUN/pids"
  sleep 0.3
  # FERRY_STOP_GRACE=S waits up to S seconds for them to exit before the
  # SIGKILL: under valgrind (scripts/valgrind.sh) a service needs seconds to
  # shut down and write its leak report.
  local i alive
  for i in $(seq 1 $(( ${FERRY_STOP_GRACE:-0} * 10 ))); do
    alive=0
    while read -r pid; do
      if kill -0 "$pid" 2>/dev/null; then alive=1; break; fi
    done <"$FERRY_RUN/pids"
    [ "$alive" = 1 ] || break
    sleep 0.1
  done
  while read -r pid; do
    kill -9 "$pid" 2>/dev/null || true
  done <"$FERRY_RUN/pids"
  : >"$FERRY_RUN/pids"
  if [ -z "${FERRY_KEEP_RUN:-}" ]; then rm -rf "$FERRY_RUN"; fi
}
