# Sourced by scripts and tests: start and stop the loopback servers ferry's
# tests need. Every process started is recorded in $FERRY_RUN/pids and is
# killed by servers_stop, which callers run from an EXIT trap.
#
#   source scripts/servers.sh
#   servers_init            # makes $FERRY_RUN (a fresh temp dir)
#   s3_start NAME BUCKET... # s3rver on a free port; exports FERRY_S3_<NAME>=http://127.0.0.1:PORT
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
  local port; port="$(free_port)"
  local dir="$FERRY_RUN/s3-$name"
  # s3rver makes ListObjectsV2 continuation tokens with DES, which OpenSSL 3
  # only has in its legacy provider: without it every truncated page is a 500.
  node --openssl-legacy-provider "$FERRY_SRC/tests/servers/s3.js" "$port" "$dir" "$@" \
    >"$FERRY_RUN/s3-$name.log" 2>&1 &
  track_pid $!
  wait_line "$FERRY_RUN/s3-$name.log" "^ready" 20
  local var="FERRY_S3_$(echo "$name" | tr '[:lower:]-' '[:upper:]_')"
  export "$var=http://127.0.0.1:$port"
  echo "$var=http://127.0.0.1:$port" >>"$FERRY_RUN/env"
}

servers_stop() {
  [ -n "${FERRY_RUN:-}" ] && [ -f "$FERRY_RUN/pids" ] || return 0
  local pid
  while read -r pid; do
    kill "$pid" 2>/dev/null || true
  done <"$FERRY_RUN/pids"
  sleep 0.3
  while read -r pid; do
    kill -9 "$pid" 2>/dev/null || true
  done <"$FERRY_RUN/pids"
  : >"$FERRY_RUN/pids"
  if [ -z "${FERRY_KEEP_RUN:-}" ]; then rm -rf "$FERRY_RUN"; fi
}
