#!/usr/bin/env bash
# Self-test of the test proxy (tests/servers/proxy.js) with the official SDKs:
# starts its own s3rver and proxies (scripts/servers.sh), runs
# tests/servers/selftest.js, restarts the oss proxy to check that its CRC
# state survives, runs the restart phase, and stops everything on exit.
set -euo pipefail
FERRY_SRC="${FERRY_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export FERRY_SRC
# shellcheck source=../../scripts/servers.sh
source "$FERRY_SRC/scripts/servers.sh"
source "$FERRY_SRC/tests/fixtures/fake_credentials.sh"
servers_init
trap servers_stop EXIT INT TERM

# The keys below are the selftest's own (selftest.js) and the vendors'
# published signing-vector keys; none is a real credential.
s3_start st ferry-oss ferry-cos-1250000000 ferry-s3 vec-oss vec-cos
proxy_start oss --upstream "$FERRY_S3_ST" --dialect oss --region cn-hangzhou \
  --ak LTAI-ferry-selftest --sk ferry-selftest-oss-secret --seed 7
proxy_start cos --upstream "$FERRY_S3_ST" --dialect cos \
  --ak AKID-ferry-selftest --sk ferry-selftest-cos-secret
proxy_start s3 --upstream "$FERRY_S3_ST" --dialect s3
proxy_start ossvec --upstream "$FERRY_S3_ST" --dialect oss --region cn-hangzhou --max-skew 0 \
  --ak "$VEC_OSS_AK" --sk "$VEC_SK" --bucket-map examplebucket=vec-oss
proxy_start cosvec --upstream "$FERRY_S3_ST" --dialect cos --max-skew 0 \
  --ak "$VEC_COS_AK" --sk "$VEC_SK" \
  --bucket-map examplebucket-1250000000=vec-cos

export FERRY_SELFTEST_STATE="$FERRY_RUN/selftest-state.json"
export VEC_OSS_AK VEC_COS_AK
cd "$FERRY_SRC/tests/servers"
rc=0
echo "== proxy selftest: main phase =="
node selftest.js --phase main "$@" || rc=1
# (arguments such as --only NAME filter the main phase; the restart phase
# depends on the whole main phase, so it runs only without them)
if [ $# -eq 0 ]; then
  echo "== proxy selftest: restart phase (oss proxy restarted) =="
  proxy_restart oss
  node selftest.js --phase restart || rc=1
fi
exit $rc
