# Sourced by integration test scripts: strict mode, servers, assertions.
# Every process a test starts is stopped by the EXIT trap, pass or fail.
set -euo pipefail
FERRY_SRC="${FERRY_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
FERRY_BIN="${FERRY_BIN:-$FERRY_SRC/build}"
export FERRY_SRC FERRY_BIN
# shellcheck source=../../scripts/servers.sh
source "$FERRY_SRC/scripts/servers.sh"
servers_init
trap servers_stop EXIT INT TERM
TOOLS="$FERRY_SRC/tests/tools"
export FERRY_SRC_ACCESS_KEY=S3RVER FERRY_SRC_SECRET_KEY=S3RVER
export FERRY_DST_ACCESS_KEY=S3RVER FERRY_DST_SECRET_KEY=S3RVER

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
assert_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }

# write_conf FILE SRC_ENDPOINT DST_ENDPOINT [extra worker lines]
write_conf() {
  local f="$1" se="$2" de="$3" extra="${4:-}"
  cat >"$f" <<CONF
log_level = "info";
kafka = { brokers = ""; bootstrap_file = "$FERRY_RUN/bootstrap"; segments_partitions = 8; };
stores = (
  { name = "src"; type = "s3"; endpoint = "$se"; region = "us-east-1"; path_style = true; },
  { name = "dst"; type = "s3"; endpoint = "$de"; region = "us-east-1"; path_style = true; }
);
worker = {
  concurrency = 16;
  multipart_threshold = "8M";
  part_size = "5M";
  max_attempts = 4;
  backoff_base_ms = 50;
  backoff_max_ms = 1000;
  $extra
};
lister = { segment_max_objects = 100; };
tasks = ( { name = "t"; source = "src:ferry-src"; destination = "dst:ferry-dst"; } );
CONF
  chmod 600 "$f"
}

# count_status FILE STATUS: outcome lines with that status
count_status() { grep -c "\"status\":\"$2\"" "$1" || true; }
