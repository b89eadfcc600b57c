#!/usr/bin/env bash
# Bad input: the source answers some objects with size and CRC-64 headers
# that are not numbers (a negative CRC-64 on GET and HEAD, a multipart
# object's HEAD among them; a junk Content-Length on GET). Each such object
# fails at once, not retried, with an error naming the header and the
# object; it is never copied unchecked (an unreadable CRC used to read as
# "no CRC", a junk size as 0). Every other object is copied; nothing lost.
FAULT=bad_headers
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/tests/lib/faults.sh"

fault_setup
fault_conf
fault_fill small:100:1:8 key:bad/crc-1.bin:2048 key:bad/crc-2.bin:5000 key:bad/crc-big.bin:12582912 \
  key:bad/len-1.bin:3000
fault_rule oss '{"match":{"key_prefix":"bad/crc"},"action":"header","name":"x-oss-hash-crc64ecma","value":"-1"}'
fault_rule oss '{"match":{"op":"get","key_prefix":"bad/len"},"action":"header","name":"Content-Length","value":"12abc"}'
fault_reset_stats
cat >"$FERRY_RUN/expect.json" <<'JSON'
{"bad/crc-1.bin":"protocol","bad/crc-2.bin":"protocol","bad/crc-big.bin":"protocol","bad/len-1.bin":"protocol"}
JSON

fault_lister || fail "lister exited $?"
fault_worker w1
fault_wait 240

fault_check completed-with-failures "$FERRY_RUN/expect.json"
# Not retried, and the message names the header and the object.
multi=$(grep -c '"key":"bad/' "$FERRY_RUN/failed.jsonl" || true)
assert_eq "$multi" "4" "failed bad/ objects"
# One source request per object (the multipart one: its HEAD): no retry.
assert_eq "$(jget '(j.by_op_status["get 200"]||0)+" "+(j.by_op_status["head 200"]||0)' <"$FERRY_RUN/stats-oss.json")" \
  "$((TOTAL - 1)) 1" "source GETs and HEADs"
assert_eq "$(cat "$FERRY_RUN"/w*.log | grep -c 'event=retry' || true)" "0" "retries"
for k in crc-1 crc-2 crc-big; do
  grep "\"key\":\"bad/$k.bin\"" "$FERRY_RUN/failed.jsonl" |
    grep -q "bad x-oss-hash-crc64ecma header .* in the response for oss:$FAULT_SRC_BUCKET/bad/$k.bin" ||
    { grep "bad/$k" "$FERRY_RUN/failed.jsonl"; fail "bad/$k.bin: message does not name the header and the object"; }
done
grep '"key":"bad/len-1.bin"' "$FERRY_RUN/failed.jsonl" | grep -q 'Content-Length' ||
  { grep 'bad/len' "$FERRY_RUN/failed.jsonl"; fail "bad/len-1.bin: message does not name Content-Length"; }
fault_survived "bad_header_objects=4"
