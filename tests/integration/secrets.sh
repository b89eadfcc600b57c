#!/usr/bin/env bash
# Secrets never leak (docs/security.md): whole tasks run at the most
# verbose log level (log_level = "trace" and --log-level trace, librdkafka
# debug contexts on) with recognisable secrets -- store secret keys and STS
# session tokens through the environment and inline in the config, a wrong
# secret, Kafka sasl.password / ssl.key.password inline and through ${VAR} --
# and every output is scanned for them: stdout, stderr and logs of the
# worker (file mode and Kafka mode) and the dev broker, every Kafka topic
# read from the beginning (keys, headers, values), and the config loader's
# errors and warnings for bad configs that hold inline secrets. ferry-lister
# (--segments-to, Kafka, --retry-failed, a refused listing) and
# ferry-reporter (--wait, --once, --json, --export-failed csv/jsonl, the
# HTTP page, API and metrics) run at trace too, and their outputs and
# exports are scanned.
source "$(dirname "$0")/../lib/itest.sh"

RAND=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
[ ${#RAND} -eq 16 ] || fail "no random tag"
# Every secret carries the tag; the scan looks for the tag alone, so a
# secret leaked in part (prefix cut, quoted, split) is found as well.
SRC_SK="SECRETsecret-ferry-srcsk-$RAND"
SRC_TOKEN="SECRETsecret-ferry-srctoken-$RAND"
DST_SK="SECRETsecret-ferry-dstsk-$RAND"
DST_TOKEN="SECRETsecret-ferry-dsttoken-$RAND"
WRONG_SK="SECRETsecret-ferry-wrongsk-$RAND"
KAFKA_PW="SECRETsecret-ferry-saslpw-$RAND"
KAFKA_PW_ENV="SECRETsecret-ferry-saslpwenv-$RAND"
KEY_PW="SECRETsecret-ferry-sslkeypw-$RAND"
# Access key ids are not secret, but ferry does not print them either.
AKTAG=$(od -An -tx1 -N6 /dev/urandom | tr -d ' \n')
SRC_AK="LTAIak$AKTAG" DST_AK="AKIDak$AKTAG"
OUT="$FERRY_RUN/out"    # every output of ferry goes here, and only there
mkdir -p "$OUT"

# scan WHAT FILE...: fails when any FILE holds a tag; FILEs must exist.
scan() {
  local what="$1" f hits=0; shift
  for f in "$@"; do
    [ -e "$f" ] || fail "$what: $f was not written"
    if grep -a -n -F -e "$RAND" -e "$AKTAG" "$f" >&2; then
      echo "LEAK in $f ($what)" >&2
      hits=1
    fi
  done
  [ "$hits" -eq 0 ] || fail "$what: a secret leaked"
}

s3_start main ferry-src ferry-dst-1250000000
proxy_start oss --upstream "$FERRY_S3_MAIN" --dialect oss --ak "$SRC_AK" --sk "$SRC_SK" --region cn-hangzhou
proxy_start cos --upstream "$FERRY_S3_MAIN" --dialect cos --ak "$DST_AK" --sk "$DST_SK"
OSSP=${FERRY_PROXY_OSS#http://} COSP=${FERRY_PROXY_COS#http://}
devbroker_start --partitions 4 --log-level trace

# The source's credentials come from the environment (default variables and
# a named one); the destination's are inline. "bad" has a wrong secret.
export FERRY_OSS_ACCESS_KEY="$SRC_AK" FERRY_OSS_SECRET_KEY="$SRC_SK"
export FERRY_OSS_SESSION_TOKEN="$SRC_TOKEN"
export FERRY_BAD_ACCESS_KEY="$DST_AK" FERRY_BAD_SECRET_KEY="$WRONG_SK"
export FERRY_OSSBAD_ACCESS_KEY="$SRC_AK" SECRETS_TEST_WRONG_SK="$WRONG_SK"
export SECRETS_TEST_KAFKA_PW="$KAFKA_PW_ENV"
CONF="$FERRY_RUN/ferry.conf"
cat >"$CONF" <<CONF
log_level = "trace";
kafka = {
  brokers = "";
  bootstrap_file = "$FERRY_RUN/bootstrap";
  segments_partitions = 4;
  properties = [ "sasl.username=ferry", "sasl.password=$KAFKA_PW", "ssl.key.password=$KEY_PW",
                 "debug=generic,conf,security,protocol,cgrp,topic,msg" ];
  producer_properties = [ "sasl.password=\${SECRETS_TEST_KAFKA_PW}" ];
  consumer_properties = [ "session.timeout.ms=6000", "heartbeat.interval.ms=500" ];
};
stores = (
  { name = "oss"; type = "oss"; endpoint = "http://oss-cn-hangzhou.aliyuncs.com"; connect_to = "$OSSP"; },
  { name = "cos"; type = "cos"; endpoint = "http://cos.ap-guangzhou.myqcloud.com"; connect_to = "$COSP";
    access_key = "$DST_AK"; secret_key = "$DST_SK"; session_token = "$DST_TOKEN"; },
  { name = "bad"; type = "cos"; endpoint = "http://cos.ap-guangzhou.myqcloud.com"; connect_to = "$COSP"; },
  { name = "ossbad"; type = "oss"; endpoint = "http://oss-cn-hangzhou.aliyuncs.com"; connect_to = "$OSSP";
    secret_key_env = "SECRETS_TEST_WRONG_SK"; }
);
worker = { concurrency = 8; multipart_threshold = "8M"; part_size = "5M"; max_attempts = 3;
           backoff_base_ms = 20; backoff_max_ms = 200; };
lister = { segment_max_objects = 10; };
tasks = ( { name = "sec"; source = "oss:ferry-src"; destination = "cos:ferry-dst-1250000000";
            same_name = "overwrite"; },
          { name = "secbad"; source = "ossbad:ferry-src"; destination = "cos:ferry-dst-1250000000"; } );
CONF
chmod 600 "$CONF"
grep -q -F "$RAND" "$CONF" || fail "scan self-check: the tag is not in the config"

node "$TOOLS/fill.js" "$FERRY_S3_MAIN" ferry-src small:40:1:16 large:1:10 key:empty.bin:0 >/dev/null
total=$(node -e "require('$TOOLS/s3util').list('$FERRY_S3_MAIN','ferry-src').then(l=>console.log(l.length))")
# (segments.js takes the first --task: a caller's wins over the default)
seg() { node "$TOOLS/segments.js" "$FERRY_S3_MAIN" ferry-src "$1" "$2" ferry-dst-1250000000 --per 10 "${@:3}" --task sec; }

# 1. File mode at trace: a full copy (one object deleted after listing, so
# the failure path runs too), then a run against the store with a wrong
# secret (every object refused), then skip-if-same.
seg oss cos >"$FERRY_RUN/segs"
node -e "require('$TOOLS/s3util').del('$FERRY_S3_MAIN','ferry-src','small/07/obj-000007.bin')"
rc=0
"$FERRY_BIN/ferry-worker" -c "$CONF" --log-level trace --segments-from "$FERRY_RUN/segs" \
  >"$OUT/file-copy.out" 2>"$OUT/file-copy.err" || rc=$?
assert_eq "$rc" "3" "copy with one vanished object"
assert_eq "$(count_status "$OUT/file-copy.out" copied)" "$((total - 1))" "file mode copied"
grep -q ' trace worker' "$OUT/file-copy.err" || fail "no trace lines: the scan would prove little"
rc=0
"$FERRY_BIN/ferry-worker" -c "$CONF" --log-level trace --segments-from <(seg oss bad) \
  >"$OUT/file-bad.out" 2>"$OUT/file-bad.err" || rc=$?
assert_eq "$rc" "3" "wrong secret"
assert_eq "$(grep -c '"code":"SignatureDoesNotMatch"' "$OUT/file-bad.out")" "$((total - 1))" "wrong secret refused"
# The lister lists the source (credentials and session token from the
# environment) into a file; the worker runs its segments.
"$FERRY_BIN/ferry-lister" -c "$CONF" -t sec --log-level trace --segments-to "$OUT/file-lister.jsonl" \
  >"$OUT/file-lister.out" 2>"$OUT/file-lister.err" || { tail "$OUT/file-lister.err"; fail "lister --segments-to exited $?"; }
grep -q ' debug lister' "$OUT/file-lister.err" || fail "no lister debug lines: the scan would prove little"
"$FERRY_BIN/ferry-worker" -c "$CONF" --log-level trace --segments-from "$OUT/file-lister.jsonl" \
  >"$OUT/file-listed.out" 2>"$OUT/file-listed.err" || fail "worker on the lister's segments exited $?"
assert_eq "$(count_status "$OUT/file-listed.out" copied)" "$((total - 1))" "lister segments copied"
# The lister refused by the source (wrong secret): its error text is scanned.
rc=0
"$FERRY_BIN/ferry-lister" -c "$CONF" -t secbad --log-level trace --segments-to "$OUT/file-lister-bad.jsonl" \
  >"$OUT/file-lister-bad.out" 2>"$OUT/file-lister-bad.err" || rc=$?
assert_eq "$rc" "1" "lister with a wrong secret"
grep -q 'SignatureDoesNotMatch' "$OUT/file-lister-bad.err" || fail "lister error lacks the service code"
scan "worker --segments-from and lister --segments-to" "$OUT"/file-*
ok "file mode at trace: worker $((total - 1)) copied, 1 vanished, $((total - 1)) refused (wrong secret); lister --segments-to, and refused: no secret ($(cat "$OUT"/file-*.err | wc -l) log lines)"

# 2. The Kafka fleet at trace: segments of task "kc" produced with kcat
# (plus a poison message), task "sec" listed by ferry-lister into Kafka, one
# worker consuming both; then ferry-reporter's status, JSON and exports,
# and a retry run of the failed objects.
# (into kc/: two tasks writing the same keys at once made two multipart
# uploads of one key meet in s3rver, which then crashed on a part file one
# of them had completed away — a test artifact, seen twice in CI)
seg oss cos --policy overwrite --task kc --dst-prefix kc/ >"$FERRY_RUN/ksegs"
while IFS= read -r l; do
  printf '%s\t%s\n' "$(echo "$l" | sed 's/.*"id":"\([^"]*\)".*/\1/')" "$l"
done <"$FERRY_RUN/ksegs" >"$FERRY_RUN/kin"
printf 'poison\t{"v":1,"task":"kc","id":"bad"\n' >>"$FERRY_RUN/kin"
nsegs=$(wc -l <"$FERRY_RUN/ksegs")
kcat -b "$FERRY_BROKERS" -P -t ferry.segments -K '\t' -l "$FERRY_RUN/kin"
"$FERRY_BIN/ferry-lister" -c "$CONF" -t sec --log-level trace >"$OUT/kafka-lister.out" 2>"$OUT/kafka-lister.err" \
  || { tail "$OUT/kafka-lister.err"; fail "lister exited $?"; }
lsegs=$(kcat -b "$FERRY_BROKERS" -C -t ferry.segments.sec -o beginning -e -q 2>/dev/null | grep -c '"task":"sec"' || true)
[ "$lsegs" -ge 1 ] || fail "the lister published no segment"
# Deleted after both listings: a vanished object in each task.
node -e "require('$TOOLS/s3util').del('$FERRY_S3_MAIN','ferry-src','small/08/obj-000008.bin')"
"$FERRY_BIN/ferry-worker" -c "$CONF" --log-level trace --id wsec >"$OUT/kafka-worker.out" 2>"$OUT/kafka-worker.err" &
WPID=$!; track_pid $WPID
results() {   # distinct (task, segment) pairs with a result
  kcat -b "$FERRY_BROKERS" -C -t ferry.results -o beginning -e -q 2>/dev/null \
    | sed -n 's/.*"task":"\([^"]*\)","segment":"\([^"]*\)".*/\1 \2/p' | sort -u | wc -l
}
rc=0
"$FERRY_BIN/ferry-reporter" -c "$CONF" --task sec --wait --timeout 150 --log-level trace \
  >"$OUT/kafka-reporter-wait.out" 2>"$OUT/kafka-reporter-wait.err" || rc=$?
assert_eq "$rc" "3" "reporter --wait: completed with failures"
for _ in $(seq 1 60); do
  [ "$(results)" -ge "$((nsegs + lsegs))" ] && break
  sleep 1
done
[ "$(results)" -ge "$((nsegs + lsegs))" ] || { tail -20 "$OUT/kafka-worker.err"; fail "worker published $(results) of $((nsegs + lsegs)) results"; }
rep() { local n="$1"; shift; "$FERRY_BIN/ferry-reporter" -c "$CONF" --log-level trace --timeout 60 "$@" \
  >"$OUT/kafka-reporter-$n.out" 2>"$OUT/kafka-reporter-$n.err" || fail "reporter $* exited $?"; }
rep once --once
rep task --task sec --once
rep json --once --json
rep taskjson --task sec --once --json
rep csv --export-failed sec --out "$OUT/export-sec.csv"
rep jsonl --export-failed sec --out "$OUT/export-sec.jsonl" --format jsonl
rep kcjsonl --export-failed kc --out "$OUT/export-kc.jsonl" --format jsonl
grep -q 'small/08/obj-000008.bin' "$OUT/export-sec.csv" || fail "export lacks the vanished object: the scan would prove little"
grep -q 'small/08/obj-000008.bin' "$OUT/export-kc.jsonl" || fail "kc export lacks the vanished object"
# The status page and API (follow mode, any free port).
"$FERRY_BIN/ferry-reporter" -c "$CONF" --log-level trace --listen 127.0.0.1:0 \
  >"$OUT/kafka-reporter-http.out" 2>"$OUT/kafka-reporter-http.err" &
RPID=$!; track_pid $RPID
wait_line "$OUT/kafka-reporter-http.err" 'http: listening http://127.0.0.1:[0-9]*/' 30
RURL=$(sed -n 's|.*http: listening \(http://127.0.0.1:[0-9]*\)/.*|\1|p' "$OUT/kafka-reporter-http.err" | head -1)
for _ in $(seq 1 60); do
  curl -sf "$RURL/api/reporter" | grep -q '"caught_up":true' && break
  sleep 0.5
done
n=0
for path in / /api/tasks /api/tasks/sec /api/tasks/kc /api/tasks/sec/failed.csv /api/tasks/sec/failed.jsonl \
            /api/reporter /metrics; do
  n=$((n + 1))
  curl -sf "$RURL$path" >"$OUT/http-$n.txt" || fail "reporter GET $path failed"
done
grep -q 'small/08/obj-000008.bin' "$OUT/http-6.txt" || fail "the HTTP failed list lacks the vanished object"
kill -TERM $RPID; wait $RPID || fail "reporter (follow mode) exit status $?"
# A retry run of the failed objects: more task records and segments to scan.
"$FERRY_BIN/ferry-lister" -c "$CONF" -t sec --retry-failed --log-level trace \
  >"$OUT/kafka-lister-retry.out" 2>"$OUT/kafka-lister-retry.err" || fail "lister --retry-failed exited $?"
sleep 3
kill -TERM $WPID; wait $WPID || fail "worker exit status $?"
kcat -b "$FERRY_BROKERS" -L >"$OUT/kafka-metadata.txt"
topics=$(sed -n 's/^ *topic "\([^"]*\)".*/\1/p' "$OUT/kafka-metadata.txt" | sort -u)
[ "$(echo "$topics" | wc -l)" -ge 5 ] || fail "expected ferry's five topics, got: $topics"
for t in $topics; do
  kcat -b "$FERRY_BROKERS" -C -t "$t" -o beginning -e -q -f 'key=%k headers=%h value=%s\n' >"$OUT/topic-$t.txt" 2>&1 \
    || fail "cannot read topic $t"
done
grep -q '"status":"vanished"' "$OUT/topic-ferry.failed.txt" || fail "no failed record to scan"
[ -s "$OUT/topic-ferry.dlq.txt" ] || fail "no dlq record to scan"
cp "$FERRY_RUN/devbroker.log" "$OUT/devbroker.log"
scan "Kafka fleet" "$OUT"/kafka-* "$OUT"/topic-*.txt "$OUT"/export-* "$OUT"/http-*.txt "$OUT/devbroker.log"
ok "Kafka fleet at trace: $nsegs kcat + $lsegs lister segments, a retry run; lister, worker, reporter (status, JSON, 3 exports, $n HTTP pages) and broker output, topics $(echo $topics | tr ' ' ','): no secret"

# 3. The config loader: bad configs next to inline secrets. Errors and
# warnings name keys and variables, never values.
bad_conf() {   # bad_conf NAME BODY: ferry-worker must refuse it without echoing
  local f="$FERRY_RUN/bad-$1.conf" rc=0
  printf '%s\n' "$2" >"$f"
  chmod 600 "$f"
  "$FERRY_BIN/ferry-worker" -c "$f" --log-level trace --segments-from /dev/null \
    >"$OUT/conf-$1.out" 2>"$OUT/conf-$1.err" || rc=$?
  assert_eq "$rc" "2" "config $1: exit status"
  grep -q 'nothing started' "$OUT/conf-$1.err" || fail "config $1: no error report"
}
STORE_A="name = \"a\"; type = \"s3\"; endpoint = \"http://127.0.0.1:1\"; access_key = \"AK\";"
bad_conf unknown-key "stores = ( { $STORE_A secret_key = \"$DST_SK\"; secret_kye = \"$WRONG_SK\"; } );"
grep -q 'unknown key "secret_kye"' "$OUT/conf-unknown-key.err" || fail "unknown key not named"
bad_conf wrong-type "stores = ( { $STORE_A secret_key = [\"$DST_SK\"]; session_token = 5; } );"
bad_conf whitespace "stores = ( { $STORE_A secret_key = \"$DST_SK \"; session_token = \"$DST_TOKEN
x\"; } );"
bad_conf both-forms "stores = ( { $STORE_A secret_key = \"$DST_SK\"; secret_key_env = \"FERRY_OSS_SECRET_KEY\"; } );"
bad_conf syntax "stores = ( { $STORE_A secret_key \"$DST_SK\"; session_token = \"$DST_TOKEN\"; } );"
bad_conf unterminated "stores = ( { $STORE_A secret_key = \"$DST_SK; } );"
bad_conf kafka-noeq "kafka = { brokers = \"127.0.0.1:1\"; properties = [ \"sasl.password:$KAFKA_PW\" ]; };
stores = ( { $STORE_A secret_key = \"$DST_SK\"; } );"
bad_conf kafka-badvalue "kafka = { brokers = \"127.0.0.1:1\"; properties = [ \"ssl.key.password=$KEY_PW\", \"sasl.password=$KAFKA_PW\", \"security.protocol=SASL_BOGUS\", \"sasl.mechanism=NOSUCHMECH\" ]; };
stores = ( { $STORE_A secret_key = \"$DST_SK\"; } );"
grep -q 'kafka.properties\[2\]: Invalid value "SASL_BOGUS" for configuration property "security.protocol"' \
  "$OUT/conf-kafka-badvalue.err" || fail "bad security.protocol not named"
bad_conf kafka-unknown "kafka = { brokers = \"127.0.0.1:1\"; properties = [ \"sasl.passwd=$KAFKA_PW\" ]; };
stores = ( { $STORE_A secret_key = \"$DST_SK\"; } );"
# An inline secret in a world-readable file: warned about, value not shown.
cp "$FERRY_RUN/bad-unknown-key.conf" "$FERRY_RUN/readable.conf"
sed -i 's/ secret_kye = "[^"]*";//' "$FERRY_RUN/readable.conf"
chmod 644 "$FERRY_RUN/readable.conf"
"$FERRY_BIN/ferry-worker" -c "$FERRY_RUN/readable.conf" --segments-from /dev/null \
  >"$OUT/conf-readable.out" 2>"$OUT/conf-readable.err" || true
grep -q 'readable by group or others' "$OUT/conf-readable.err" || fail "no warning for a readable inline secret"
# Secrets from the environment that the loader refuses.
rc=0
FERRY_OSS_SECRET_KEY="$SRC_SK
" "$FERRY_BIN/ferry-worker" -c "$CONF" --segments-from /dev/null >"$OUT/conf-envspace.out" 2>"$OUT/conf-envspace.err" || rc=$?
assert_eq "$rc" "2" "secret with a newline from the environment"
# Kafka TLS that cannot start (a CA file that is not there): the worker
# stops at once, naming the property, without the key password.
sed -e 's|"debug=[^"]*"|"security.protocol=SSL", "ssl.ca.location=/nonexistent/ferry-kafka-ca.pem"|' \
  "$CONF" >"$FERRY_RUN/kafka-ssl.conf"
chmod 600 "$FERRY_RUN/kafka-ssl.conf"
rc=0
timeout 60 "$FERRY_BIN/ferry-worker" -c "$FERRY_RUN/kafka-ssl.conf" --log-level trace --id wssl \
  >"$OUT/conf-kafka-ssl.out" 2>"$OUT/conf-kafka-ssl.err" || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "worker with an unusable Kafka CA: exit status $rc"
grep -q 'ssl.ca.location' "$OUT/conf-kafka-ssl.err" || { cat "$OUT/conf-kafka-ssl.err" >&2; fail "Kafka TLS error does not name ssl.ca.location"; }
scan "config errors" "$OUT"/conf-*
ok "config errors and warnings ($(ls "$OUT"/conf-*.err | wc -l) cases, $(cat "$OUT"/conf-*.err | wc -l) lines): no secret"

echo "secrets: all passed"
