#!/usr/bin/env bash
# docs/guide.md, run: the blocks whose first line is "# docs-test" (shell)
# or "# docs-test: file NAME" (a file to write) are extracted in order and
# run in one shell against s3rver behind the test proxy speaking OSS (V4)
# and COS, with the example keys of the guide, and a dev broker the guide
# itself starts. Substituted (nothing else): https endpoints -> http with
# connect_to the proxies, /tmp/ferry.bootstrap and the reporter's port ->
# per-run ones; the key placeholders -> the fake keys of
# tests/fixtures/fake_credentials.sh. Injected between blocks: three objects whose first GET is
# refused (403) so the guide's retry has failures; a new source object before
# the cut-over. Then the outcome is checked. Everything stops on exit.
set -euo pipefail
FERRY_SRC="${FERRY_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
source "$FERRY_SRC/tests/lib/itest.sh"
source "$FERRY_SRC/tests/fixtures/fake_credentials.sh"
PY=$(command -v /usr/bin/python3 || command -v python3)
U="$PY $FERRY_SRC/tests/integration/ops_util.py"
R="$FERRY_RUN"
GUIDE="$FERRY_SRC/docs/guide.md"
# The guide sets its own keys from its ferry.env: none may leak in from here.
unset FERRY_SRC_ACCESS_KEY FERRY_SRC_SECRET_KEY FERRY_DST_ACCESS_KEY FERRY_DST_SECRET_KEY

s3_start main photos-hz photos-gz-1250000000
proxy_start oss --upstream "$FERRY_S3_MAIN" --dialect oss --region cn-hangzhou \
  --ak "$GUIDE_OSS_AK" --sk "$GUIDE_OSS_SK"
proxy_start cos --upstream "$FERRY_S3_MAIN" --dialect cos \
  --ak "$GUIDE_COS_AK" --sk "$GUIDE_COS_SK"
S3="$FERRY_S3_MAIN"

# The source: 2024/ (23 objects in scope, one of 3 MB), two *.tmp left out by
# the task's filter, and 2023/ outside its prefix.
for m in 01 02; do for i in $(seq -w 1 10); do $U put "$S3" photos-hz "2024/$m/IMG_$i.jpg" $((1000 + 10#$i * 37)); done; done
for i in 1 2 3; do $U put "$S3" photos-hz "2024/03/scan $i.png" 5000; done
$U put "$S3" photos-hz 2024/03/panorama.jpg 3000000
$U put "$S3" photos-hz 2024/upload-1.tmp 10
$U put "$S3" photos-hz 2024/02/upload-2.tmp 10
$U put "$S3" photos-hz 2023/old.jpg 10
IN_SCOPE=24
# First GETs of the three scans are refused: failures for section 8.
curl -sf -XPOST "$FERRY_PROXY_OSS_ADMIN/faults" \
  -d '{"match":{"op":"get","key_regex":"^2024/03/scan "},"action":"status","status":403,"count":3}' >/dev/null

HTTP_PORT=$(free_port)
OSS_ADDR=${FERRY_PROXY_OSS#http://}
COS_ADDR=${FERRY_PROXY_COS#http://}
mkdir -p "$R/work"

# Extract and substitute.
GUIDE_OSS_AK="$GUIDE_OSS_AK" GUIDE_OSS_SK="$GUIDE_OSS_SK" GUIDE_COS_AK="$GUIDE_COS_AK" \
GUIDE_COS_SK="$GUIDE_COS_SK" \
"$PY" - "$GUIDE" "$R/work" "$R/guide.sh" "$R/bootstrap" "$HTTP_PORT" "$OSS_ADDR" "$COS_ADDR" "$S3" <<'PY'
import os, re, sys
guide, work, out, boot, port, oss, cos, s3 = sys.argv[1:]
subs = [
    # The guide's key placeholders get the test proxies' fake keys
    # (tests/fixtures/fake_credentials.sh).
    ("<oss-access-key-id>", os.environ["GUIDE_OSS_AK"]),
    ("<oss-access-key-secret>", os.environ["GUIDE_OSS_SK"]),
    ("<cos-secret-id>", os.environ["GUIDE_COS_AK"]),
    ("<cos-secret-key>", os.environ["GUIDE_COS_SK"]),
    ('"https://oss-cn-hangzhou-internal.aliyuncs.com";',
     f'"http://oss-cn-hangzhou-internal.aliyuncs.com"; connect_to = "{oss}";'),
    ('"https://cos.ap-guangzhou.myqcloud.com";',
     f'"http://cos.ap-guangzhou.myqcloud.com"; connect_to = "{cos}";'),
    ("/tmp/ferry.bootstrap", boot),
    ("127.0.0.1:8080", f"127.0.0.1:{port}"),
]
used = [0] * len(subs)
text = open(guide, encoding="utf-8").read()
# Fenced blocks, also indented ones (inside list items): dedented.
blocks = []
for ind, lang, body in re.findall(r"^( *)```(\w*)\n(.*?)^\1```", text, flags=re.S | re.M):
    lines = body.split("\n")
    blocks.append((lang, "\n".join(l[len(ind):] if l.startswith(ind) else l for l in lines)))
script = ["set -euo pipefail",
          # On exit: the guide's background services stop, workers and the
          # reporter first (a worker drains and commits: it needs the broker),
          # then the dev broker.
          "cleanup() {",
          "  local p b=''",
          "  for p in $(jobs -p); do",
          "    if [ \"$(ps -o comm= -p \"$p\")\" = ferry-devbroker ]; then b=$p; else kill \"$p\" 2>/dev/null || true; fi",
          "  done",
          "  for p in $(jobs -p); do [ \"$p\" = \"$b\" ] || wait \"$p\" 2>/dev/null || true; done",
          "  if [ -n \"$b\" ]; then kill \"$b\" 2>/dev/null || true; fi",
          "  wait 2>/dev/null || true",
          "}",
          "trap cleanup EXIT",
          f"cd '{work}'",
          # Hooks: what a real migration meets between the guide's steps.
          "hook() {",
          "  case \"$1\" in",
          f"    cut-over) python3 - <<'EOF'\nimport http.client\nc = http.client.HTTPConnection('{s3[7:].split(':')[0]}', {s3.rsplit(':',1)[1]})\nc.request('PUT', '/photos-hz/2024/04/late.jpg', body=b'x' * 4321)\nassert c.getresponse().status == 200\nEOF",
          "      ;;",
          "  esac",
          "}"]
names = []
for lang, body in blocks:
    first = body.split("\n", 1)[0].strip()
    if not first.startswith("# docs-test"):
        continue
    for i, (a, b) in enumerate(subs):
        if a in body:
            used[i] += 1
            body = body.replace(a, b)
    m = re.match(r"# docs-test: file (\S+)$", first)
    if m:
        script.append(f"cat > '{m.group(1)}' <<'DOCS_TEST_EOF'\n{body}DOCS_TEST_EOF")
        script.append(f"chmod 600 '{m.group(1)}'")
        names.append("file " + m.group(1))
        continue
    if lang != "sh":
        sys.exit(f"FAIL: a docs-test block in ```{lang}")
    name = first[len("# docs-test"):].lstrip(": ").strip() or f"block{len(names) + 1}"
    names.append(name)
    script.append(f"echo '=== guide: {name}'")
    script.append(f"hook '{name}'")
    script.append(body)
    # Whatever it started is stopped by the test's trap too, if all else fails.
    script.append('jobs -p >>"$FERRY_RUN/pids"')
missing = [subs[i][0] for i, n in enumerate(used) if not n]
if missing:
    sys.exit(f"FAIL: the guide no longer contains {missing}: update the test's substitutions")
open(out, "w", encoding="utf-8").write("\n".join(script) + "\n")
print(" ".join(names))
PY
blocks=$("$PY" -c "
import re,sys
t=open('$GUIDE',encoding='utf-8').read()
print(sum(1 for i,l,b in re.findall(r'^( *)\`\`\`(\w*)\n(.*?)^\1\`\`\`',t,flags=re.S|re.M) if b.lstrip(' ').startswith('# docs-test')))")
[ "$blocks" -ge 10 ] || fail "only $blocks docs-test blocks in the guide"

rc=0
(PATH="$FERRY_BIN:$PATH" timeout -k 60 900 bash "$R/guide.sh") >"$R/guide.out" 2>&1 || rc=$?
if [ "$rc" != 0 ]; then
  tail -40 "$R/guide.out"
  fail "the guide's commands failed (exit $rc)"
fi
ok "$blocks blocks of docs/guide.md ran: $(grep -c '^=== guide' "$R/guide.out") shell steps"

W="$R/work"
# Plan: every object in scope, nothing filtered in or out by mistake.
assert_eq "$($U count "$W/photos-plan.csv")" "$IN_SCOPE" "dry-run plan rows"
grep -q "estimate_seconds=" "$R/guide.out" || fail "no estimate printed"
grep -q "objects=$IN_SCOPE " "$R/guide.out" || fail "estimate objects"
# The failures: the three refused scans, exported with their reason.
assert_eq "$($U count "$W/photos-failed.csv")" 3 "exported failures"
assert_eq "$($U csv "$W/photos-failed.csv" reason | sort -u)" '"access-denied"' "failure reason"
grep -q "run 2 (retry): listed 3 objects" "$R/guide.out" || fail "retry run"
# The HTTP API answered with the task.
grep -q '"task":"photos"' "$R/guide.out" || fail "no task from the HTTP API"
grep -q '^ferry_task' "$R/guide.out" || fail "no metrics"
# The last incremental run copied the late object; verify said in step.
grep -q "(incremental): listed 1 objects, 4321 bytes" "$R/guide.out" || { grep incremental "$R/guide.out"; fail "cut-over incremental"; }
assert_eq "$(grep -c '^result: in step' "$R/guide.out")" 2 "verify results in step"
# The audit trail, at section 9: every object in scope written once by then
# (the three refused ones by the retry), each absent before: all "no".
assert_eq "$(wc -l <"$W/photos-rollback.tsv")" "$IN_SCOPE" "rollback list rows"
assert_eq "$(cut -f1 "$W/photos-rollback.tsv" | sort -u)" "no" "rollback actions"
n=$(curl -s "$S3/photos-gz-1250000000?list-type=2&prefix=2024/" | grep -o '<Key>' | wc -l)
assert_eq "$n" "$((IN_SCOPE + 1))" "objects at the destination"
curl -sf -o /dev/null "$S3/photos-gz-1250000000/2024/04/late.jpg" || fail "late object missing"
curl -s "$S3/photos-gz-1250000000?list-type=2" | grep -q 'tmp</Key>' && fail "a filtered object was copied"
grep -qF -e "$GUIDE_OSS_SK" -e "$GUIDE_COS_SK" "$R/guide.out" && fail "a secret in the output"
ok "guide outcome: plan of $IN_SCOPE, 3 failures exported and retried, HTTP API, verify in step twice, $((IN_SCOPE + 1)) objects at COS"
