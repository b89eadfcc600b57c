#!/usr/bin/env bash
# A real S3 server on loopback for the test bed: versitygw (Apache-2.0; its
# posix backend), built once with `go install` of the release pinned in
# tests/kafka/versions.env and cached in $FERRY_TESTBED_CACHE. MinIO was the
# first choice; the Go module proxy here refuses its releases (403 "not
# available"), so docs/testing.md "Real servers" names this one instead.
#
# As a command:
#   scripts/s3real.sh fetch            build the binary once
# Sourced (after scripts/servers.sh, inside a test's $FERRY_RUN):
#   s3real_start NAME BUCKET...        a server on a free port with those buckets;
#                                      exports FERRY_S3R_<NAME>=http://127.0.0.1:PORT,
#                                      S3REAL_ACCESS_KEY and S3REAL_SECRET_KEY (random
#                                      per test run; the only accepted pair)
#   Its objects live in ${S3REAL_DATA:-$FERRY_RUN}/s3r-NAME (a benchmark puts
#   them on tmpfs: see bench/copy-vs-rclone.sh).
FERRY_SRC="${FERRY_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
FERRY_TESTBED_CACHE="${FERRY_TESTBED_CACHE:-/var/cache/ferry-testbed}"
# shellcheck source=../tests/kafka/versions.env
source "$FERRY_SRC/tests/kafka/versions.env"
S3REAL_BIN="$FERRY_TESTBED_CACHE/versitygw-$VERSITYGW_VERSION/versitygw"

s3real_fetch() {
  [ -x "$S3REAL_BIN" ] && return 0
  command -v go >/dev/null || { echo "s3real.sh: go not found" >&2; return 1; }
  mkdir -p "$FERRY_TESTBED_CACHE"
  (
    flock 9
    [ -x "$S3REAL_BIN" ] && exit 0
    echo "s3real.sh: go install github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >&2
    GOBIN="$(dirname "$S3REAL_BIN")" GOMODCACHE="$FERRY_TESTBED_CACHE/gomod" \
      GOCACHE="$FERRY_TESTBED_CACHE/gocache" GOFLAGS=-p=2 \
      go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >&2
  ) 9>"$FERRY_TESTBED_CACHE/.s3real-fetch.lock"
}

s3real_start() {
  local name="$1"; shift
  s3real_fetch || return 1
  local dir="${S3REAL_DATA:-$FERRY_RUN}/s3r-$name" port b
  if [ -z "${S3REAL_ACCESS_KEY:-}" ]; then
    S3REAL_ACCESS_KEY="AKR$(openssl rand -hex 8 | tr '[:lower:]' '[:upper:]')"
    S3REAL_SECRET_KEY="$(openssl rand -hex 20)"
    export S3REAL_ACCESS_KEY S3REAL_SECRET_KEY
  fi
  mkdir -p "$dir"
  # posix backend: each directory under the root is a bucket.
  for b in "$@"; do mkdir -p "$dir/$b"; done
  # --keep-alive: versitygw closes every connection after one response unless
  # told (its default); OSS, COS and S3 keep them open, and so must the bed.
  # The free port may be taken before the server binds it (other servers
  # start on this machine too): then another one, up to five.
  local try pid i
  for try in 1 2 3 4 5; do
    port="$(free_port)"
    ROOT_ACCESS_KEY_ID="$S3REAL_ACCESS_KEY" ROOT_SECRET_ACCESS_KEY="$S3REAL_SECRET_KEY" \
      "$S3REAL_BIN" --port "127.0.0.1:$port" --keep-alive --quiet posix "$dir" >"$FERRY_RUN/s3r-$name.log" 2>&1 &
    pid=$!
    track_pid "$pid"
    # Up when it answers and is still alive (a server of someone else's on
    # the port would answer too).
    for i in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      curl -s -o /dev/null "http://127.0.0.1:$port/" && break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null && curl -s -o /dev/null "http://127.0.0.1:$port/"; then break; fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if [ "$try" = 5 ] || ! grep -q "address already in use" "$FERRY_RUN/s3r-$name.log"; then
      cat "$FERRY_RUN/s3r-$name.log" >&2
      return 1
    fi
    echo "s3real $name: port $port was taken, trying another" >&2
  done
  local var; var="FERRY_S3R_$(echo "$name" | tr '[:lower:]-' '[:upper:]_')"
  export "$var=http://127.0.0.1:$port"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
    fetch) s3real_fetch ;;
    *) sed -n '2,15p' "$0" >&2; exit 2 ;;
  esac
fi
