#!/usr/bin/env bash
# A fanned-out object (docs/fanout.md) from an S3 source (no CRC-64, so the
# completed object's CRC has nothing to be compared with) to a COS
# destination: a part stored damaged must never end in an object reported
# copied. The COS test proxy in front of versitygw flips one byte of an
# UploadPart body on its way in; ferry sends no Content-MD5 with a streamed
# part (its MD5 is known only at the end), so the server stores the damaged
# bytes and the part's CRC-64 in the answer differs from the bytes sent.
#  1. One worker, every range: the range whose part was damaged fails at once
#     as `integrity` (no retry of the part: another range could complete the
#     upload with it meanwhile), no sibling range of the same worker
#     completes, the upload is aborted, the object is not at the destination.
#  2. The race across workers: worker A's range stores the damaged part, its
#     abort held back by the proxy; worker B's ranges then see every part and
#     complete the upload. A's abort meets NoSuchUpload: A reports the object
#     failed (`integrity`, event=damaged-upload-completed), which the reporter
#     ranks above B's `copied` (unit test test_fanout).
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/scripts/s3real.sh"
s3real_start main ferry-src ferry-dst-1250000000
S3=$FERRY_S3R_MAIN
# (the proxy signs its requests to versitygw with these; read from the
# environment, not its command line, which proxy_start keeps)
export FERRY_PROXY_UPSTREAM_AK="$S3REAL_ACCESS_KEY" FERRY_PROXY_UPSTREAM_SK="$S3REAL_SECRET_KEY"
proxy_start cosd --upstream "$S3" --dialect cos --ak AKIDferrytest --sk cos-secret-4567
export S3UTIL_ACCESS_KEY="$S3REAL_ACCESS_KEY" S3UTIL_SECRET_KEY="$S3REAL_SECRET_KEY"
export FERRY_SRC_ACCESS_KEY="$S3REAL_ACCESS_KEY" FERRY_SRC_SECRET_KEY="$S3REAL_SECRET_KEY"
export FERRY_DST_ACCESS_KEY=AKIDferrytest FERRY_DST_SECRET_KEY=cos-secret-4567
W="$FERRY_BIN/ferry-worker" L="$FERRY_BIN/ferry-lister" CONF="$FERRY_RUN/ferry.conf"
# 15 MiB, fanned out in three ranges of one 5 MiB part each.
cat >"$CONF" <<CONF
kafka = { brokers = "127.0.0.1:1"; };
stores = (
  { name = "src"; type = "s3"; endpoint = "$S3"; region = "us-east-1"; path_style = true; },
  { name = "dst"; type = "cos"; endpoint = "http://cos.ap-guangzhou.myqcloud.com"; region = "ap-guangzhou";
    connect_to = "${FERRY_PROXY_COSD#http://}"; }
);
lister = { fanout_threshold = "12M"; segment_max_bytes = "5M"; };
worker = { concurrency = 8; multipart_threshold = "12M"; part_size = "5M"; small_object_threshold = "256K";
           max_attempts = 4; backoff_base_ms = 20; backoff_max_ms = 200; stall_timeout_s = 120; };
tasks = ( { name = "t1"; source = "src:ferry-src"; destination = "dst:ferry-dst-1250000000/one/"; same_name = "overwrite"; },
          { name = "t2"; source = "src:ferry-src"; destination = "dst:ferry-dst-1250000000/two/"; same_name = "overwrite"; } );
CONF
chmod 600 "$CONF"
node "$TOOLS/fill.js" "$S3" ferry-src key:big/15mb.bin:15728640 >/dev/null || fail "fill"
fault() { curl -sf -XPOST "$FERRY_PROXY_COSD_ADMIN/faults" -d "$1" >/dev/null || fail "fault rule $1"; }
corrupt_one() { fault "{\"match\":{\"op\":\"upload-part\",\"key_prefix\":\"$1/big/\"},\"action\":\"corrupt\",\"side\":\"request\",\"offset\":1000000,\"count\":1}"; }
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }
dst_has() { node -e "require('$TOOLS/s3util').list('$S3','ferry-dst-1250000000').then(l=>console.log(l.some(o=>o.key==='$1')?1:0))"; }

# ---- 1. one worker
"$L" -c "$CONF" -t t1 --segments-to "$FERRY_RUN/t1.seg" 2>"$FERRY_RUN/l1.err" || { cat "$FERRY_RUN/l1.err"; fail "lister t1"; }
assert_eq "$(grep -c '"range"' "$FERRY_RUN/t1.seg")" 3 "t1: part-range segments"
corrupt_one one
rc=0
"$W" -c "$CONF" --segments-from "$FERRY_RUN/t1.seg" >"$FERRY_RUN/w1.out" 2>"$FERRY_RUN/w1.err" || rc=$?
cat "$FERRY_RUN/w1.out"
[ "$(grep -c '"reason":"integrity"' "$FERRY_RUN/w1.out")" = 1 ] || fail "1: expected one range failed as integrity"
grep -q "completed_here=1" "$FERRY_RUN/w1.err" && fail "1: a range completed the upload that held a damaged part"
! grep -q "DigestMismatch" "$FERRY_RUN/w1.err" || fail "1: the damaged part was retried instead of the upload aborted"
[ "$rc" != 0 ] || fail "1: ferry-worker exited 0 with a failed object"
assert_eq "$(dst_has one/big/15mb.bin)" 0 "1: object at the destination"
grep -q "event=part-damaged" "$FERRY_RUN/w1.err" || fail "1: no event=part-damaged in the log"
ok "1: damaged part -> range failed (integrity), upload aborted, nothing completed"

# ---- 2. two workers, the completion racing the abort
"$L" -c "$CONF" -t t2 --segments-to "$FERRY_RUN/t2.seg" 2>"$FERRY_RUN/l2.err" || { cat "$FERRY_RUN/l2.err"; fail "lister t2"; }
grep '"part_first":1,' "$FERRY_RUN/t2.seg" >"$FERRY_RUN/a.seg" || true
grep -v '"part_first":1,' "$FERRY_RUN/t2.seg" >"$FERRY_RUN/b.seg" || true
assert_eq "$(wc -l <"$FERRY_RUN/a.seg") $(wc -l <"$FERRY_RUN/b.seg")" "1 2" "2: segments split for A and B"
corrupt_one two
fault '{"match":{"op":"abort","key_prefix":"two/big/"},"action":"delay","ms":6000,"count":1}'
"$W" -c "$CONF" --segments-from "$FERRY_RUN/a.seg" >"$FERRY_RUN/wa.out" 2>"$FERRY_RUN/wa.err" &
WA=$!
for _ in $(seq 1 150); do grep -q "event=part-damaged" "$FERRY_RUN/wa.err" && break; sleep 0.1; done
grep -q "event=part-damaged" "$FERRY_RUN/wa.err" || fail "2: worker A saw no damaged part"
"$W" -c "$CONF" --segments-from "$FERRY_RUN/b.seg" >"$FERRY_RUN/wb.out" 2>"$FERRY_RUN/wb.err" || true
cat "$FERRY_RUN/wb.out"
grep -q "completed_here=1" "$FERRY_RUN/wb.err" || fail "2: worker B did not complete the upload (the race did not happen)"
wait "$WA" || true
cat "$FERRY_RUN/wa.out"
assert_eq "$(field status <"$FERRY_RUN/wa.out") $(field reason <"$FERRY_RUN/wa.out")" "failed integrity" "2: A's outcome"
grep -q "event=damaged-upload-completed" "$FERRY_RUN/wa.err" || fail "2: A did not say the upload was completed with its damaged part"
ok "2: completed by B with A's damaged part -> A reports the object failed (integrity)"
