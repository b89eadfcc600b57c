#!/usr/bin/env bash
# tests/integration/sdk_readback.sh with the OSS and COS proxies in front of
# a real S3 server (versitygw, scripts/s3real.sh) instead of s3rver: the
# proxies sign their requests with AWS SigV4, UploadPart keeps its part
# numbers, the server assembles and lists what it stores. The official SDKs
# (ali-oss, cos-nodejs-sdk-v5, oss2, cos-python-sdk-v5) read back ferry's
# OSS -> COS copy, and fail on a destination object overwritten on the
# server directly (signed curl).
FERRY_READBACK_UPSTREAM=versitygw exec bash "$(dirname "$0")/../integration/sdk_readback.sh"
