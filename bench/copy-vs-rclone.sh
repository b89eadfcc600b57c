#!/usr/bin/env bash
# ferry's copy engine against `rclone copy`, both between two s3rver
# instances on loopback (see bench/README.md for what is measured and how),
# or with --server versitygw between two instances of the real S3 server of
# the test bed (scripts/s3real.sh), where the server is not the bottleneck.
#
# usage: bench/copy-vs-rclone.sh [--server s3rver|versitygw]
# Needs scripts/deps.sh to have run once; builds with scripts/build.sh
# (RelWithDebInfo, into build/) when build/ferry-worker is missing.
# Environment:
#   FERRY_BIN=DIR            ferry binaries (default: build/ of this checkout)
#   BENCH_RUNS=N             runs per tool and dataset (default 3)
#   BENCH_HUGE=0             skip the 4 x 1 GiB memory run
#   BENCH_HUGE_RUNS=N        runs of the 4 x 1 GiB copy (default: BENCH_RUNS)
#   BENCH_RCLONE_DEFAULT=0   skip the extra rclone run with its default flags
#   BENCH_KEEP=DIR           also copy the raw measurements (runs.tsv, raw.tsv) there
#   BENCH_SETS="small large" the datasets compared with rclone (default both)
#   BENCH_CONCURRENCY, BENCH_BUFFER_SIZE, BENCH_SMALL_THRESHOLD,
#   BENCH_MULTIPART_THRESHOLD, BENCH_PART_SIZE: ferry worker settings
#                            (defaults and the reasons for them: bench/README.md)
#   BENCH_SERVER=versitygw   the same as --server versitygw
# The last line of the output is machine-readable (medians of the runs):
#   RESULT small_wall_ratio=... small_cpu_ratio=... large_wall_ratio=... large_rss_mib=...
# or, with --server versitygw (no 4 x 1 GiB run unless BENCH_HUGE=1):
#   RESULT real_s3_small_wall_ratio=... real_s3_small_cpu_ratio=... real_s3_large_wall_ratio=...
#          real_s3_large_cpu_ratio=... server=versitygw-VERSION
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FERRY_SRC="$ROOT"
FERRY_BIN="${FERRY_BIN:-$ROOT/build}"
export FERRY_SRC FERRY_BIN
SERVER="${BENCH_SERVER:-s3rver}"
while [ $# -gt 0 ]; do
  case "$1" in
    --server) SERVER="${2:-}"; shift 2 || { echo "bench: --server needs a value" >&2; exit 2; } ;;
    *) echo "usage: bench/copy-vs-rclone.sh [--server s3rver|versitygw]" >&2; exit 2 ;;
  esac
done
case "$SERVER" in s3rver|versitygw) ;; *) echo "bench: unknown server '$SERVER' (s3rver, versitygw)" >&2; exit 2 ;; esac
RUNS="${BENCH_RUNS:-3}"
# The huge run measures ferry's memory, not the server: s3rver's figure stands.
if [ "$SERVER" = versitygw ]; then HUGE="${BENCH_HUGE:-0}"; else HUGE="${BENCH_HUGE:-1}"; fi
HUGE_RUNS="${BENCH_HUGE_RUNS:-$RUNS}"
RCLONE_DEFAULT="${BENCH_RCLONE_DEFAULT:-1}"
TOOLS="$ROOT/tests/tools"
BENCH="$ROOT/bench"
SETS="${BENCH_SETS-small large}"
# Objects copied at once: rclone --transfers and --checkers, curl -Z for the
# raw limit. ferry's worker.concurrency counts requests in flight: a
# streamed copy (object or part) holds two slots, its GET and its PUT, so
# ferry gets 2 x PAR to have the same PAR large objects in flight, and as
# many requests in flight as rclone's PAR transfers (a GET and a PUT each).
# A small object holds one slot (its PUT follows its GET).
PAR=32
F_CONC="${BENCH_CONCURRENCY:-$((2 * PAR))}"
F_BUF="${BENCH_BUFFER_SIZE:-1M}"
F_SMALL="${BENCH_SMALL_THRESHOLD:-256K}"
# Above the large set's 64 MiB, as rclone's upload_cutoff (200M): since the
# threshold counts "from this size", 64M made each 64 MiB object 4 parts,
# each hashed (MD5) on the way, where rclone sends one PUT.
F_MPT="${BENCH_MULTIPART_THRESHOLD:-200M}"
F_PART="${BENCH_PART_SIZE:-16M}"

die() { echo "bench: $*" >&2; exit 1; }

for c in node rclone curl python3; do
  command -v "$c" >/dev/null || die "$c not found (run scripts/deps.sh)"
done
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"
[ -d "$ROOT/tests/servers/node_modules/s3rver" ] || die "s3rver not installed (run scripts/deps.sh)"
if [ ! -x "$FERRY_BIN/ferry-worker" ]; then
  echo "bench: building ferry (scripts/build.sh)"
  "$ROOT/scripts/build.sh" >/dev/null
fi
# Listing for ferry: ferry-lister --segments-to when built, else the node
# stand-in that writes the same segments (BENCH_LISTER=segments.js forces it).
LISTER="${BENCH_LISTER:-ferry-lister}"
if [ "$LISTER" = ferry-lister ] && ! "$FERRY_BIN/ferry-lister" --help 2>/dev/null | grep -q -- --segments-to; then
  LISTER=segments.js
fi

# shellcheck source=../scripts/servers.sh
source "$ROOT/scripts/servers.sh"
servers_init
trap servers_stop EXIT INT TERM
# CURL_AUTH: how the raw-limit curl signs (s3rver takes anonymous requests;
# versitygw wants SigV4 with x-amz-content-sha256, which curl 7.88 leaves to us).
CURL_AUTH=()
if [ "$SERVER" = versitygw ]; then
  # shellcheck source=../scripts/s3real.sh
  source "$ROOT/scripts/s3real.sh"
  s3real_fetch || die "could not build versitygw (scripts/s3real.sh fetch)"
  # The servers' files on tmpfs: on a disk that has seen millions of files
  # come and go, ext4's inode allocation for new files took most of
  # versitygw's CPU and set the pace of both tools (bench/RESULTS.md).
  if [ -z "${S3REAL_DATA:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
    S3REAL_DATA="$(mktemp -d /dev/shm/ferry-bench.XXXXXX)"
    export S3REAL_DATA
    trap 'servers_stop; rm -rf "$S3REAL_DATA"' EXIT INT TERM
  fi
  # One random key pair for every server of this run.
  S3REAL_ACCESS_KEY="AKR$(openssl rand -hex 8 | tr '[:lower:]' '[:upper:]')"
  S3REAL_SECRET_KEY="$(openssl rand -hex 20)"
  export S3REAL_ACCESS_KEY S3REAL_SECRET_KEY
  AK="$S3REAL_ACCESS_KEY" SK="$S3REAL_SECRET_KEY"
  # tests/tools (fill, list, compare) sign with SigV4 when these are set.
  export S3UTIL_ACCESS_KEY="$AK" S3UTIL_SECRET_KEY="$SK"
  CURL_AUTH=(--aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
else
  AK=S3RVER SK=S3RVER
fi
export FERRY_SRC_ACCESS_KEY="$AK" FERRY_SRC_SECRET_KEY="$SK"
export FERRY_DST_ACCESS_KEY="$AK" FERRY_DST_SECRET_KEY="$SK"
RUNS_TSV="$FERRY_RUN/runs.tsv" RAW_TSV="$FERRY_RUN/raw.tsv"
: >"$RUNS_TSV"
: >"$RAW_TSV"

# ---------------------------------------------------------------- servers
# The destination is a fresh server (new directory) for every copy, so each
# run starts from an empty bucket and no run pays for another's files.
DST_PID="" DST_N=0
dst_fresh() {
  if [ -n "$DST_PID" ]; then
    kill "$DST_PID" 2>/dev/null || true
    wait "$DST_PID" 2>/dev/null || true
    grep -vx "$DST_PID" "$FERRY_RUN/pids" >"$FERRY_RUN/pids.tmp" || true
    mv "$FERRY_RUN/pids.tmp" "$FERRY_RUN/pids"
    rm -rf "$FERRY_RUN/s3-dst$DST_N" "${S3REAL_DATA:-$FERRY_RUN}/s3r-dst$DST_N"
  fi
  local try
  for try in 1 2 3; do
    DST_N=$((DST_N + 1))
    # The port free_port found may be taken before the server binds it (other
    # programs start servers on this machine too): then try another one.
    if [ "$SERVER" = versitygw ]; then
      if s3real_start "dst$DST_N" bench-dst >/dev/null 2>&1; then
        DST_PID="$(tail -n 1 "$FERRY_RUN/pids")"
        DST="$(eval echo "\$FERRY_S3R_DST$DST_N")"
        return 0
      fi
      DST_PID="$(tail -n 1 "$FERRY_RUN/pids")"
      echo "bench: destination server $DST_N did not start (try $try): $(tail -n 3 "$FERRY_RUN/s3r-dst$DST_N.log" | tr '\n' ' ')" >&2
    else
      s3_start "dst$DST_N" bench-dst >/dev/null 2>&1 || true
      DST_PID="$(tail -n 1 "$FERRY_RUN/pids")"
      if grep -q '^ready' "$FERRY_RUN/s3-dst$DST_N.log" 2>/dev/null; then
        DST="$(eval echo "\$FERRY_S3_DST$DST_N")"
        return 0
      fi
      echo "bench: destination server $DST_N did not start (try $try): $(tail -n 3 "$FERRY_RUN/s3-dst$DST_N.log" | tr '\n' ' ')" >&2
    fi
    kill "$DST_PID" 2>/dev/null || true
    wait "$DST_PID" 2>/dev/null || true
    grep -vx "$DST_PID" "$FERRY_RUN/pids" >"$FERRY_RUN/pids.tmp" || true
    mv "$FERRY_RUN/pids.tmp" "$FERRY_RUN/pids"
    DST_PID=""
  done
  die "could not start a destination server"
}

if [ "$SERVER" = versitygw ]; then
  s3real_start src bench-small bench-large bench-huge || die "could not start versitygw"
  SRC="$FERRY_S3R_SRC"
else
  s3_start src bench-small bench-large bench-huge
  SRC="$FERRY_S3_SRC"
fi

# ---------------------------------------------------------------- datasets
echo "bench: filling the source (seeded): 2000 objects of 1-64 KiB, 4 of 64 MiB"
node "$TOOLS/fill.js" "$SRC" bench-small small:2000:1:64
node "$TOOLS/fill.js" "$SRC" bench-large large:4:64

count_of() { node -e "require('$TOOLS/s3util').list('$1','$2').then(l=>console.log(l.length+' '+l.reduce((a,o)=>a+o.size,0)))"; }

# ---------------------------------------------------------------- measuring
# measure OUT CMD...: runs CMD under /usr/bin/time; OUT gets
# "wall_s cpu_s(user+sys) maxrss_kib". Returns CMD's exit status.
measure() {
  local out="$1"; shift
  local rc=0
  /usr/bin/time -f '%e %U %S %M' -o "$out.time" "$@" || rc=$?
  # /usr/bin/time prints "Command exited with non-zero status N" first then.
  tail -n 1 "$out.time" | awk '{ printf "%.3f %.3f %d\n", $1, $2 + $3, $4 }' >"$out"
  return "$rc"
}

report_run() { # DS TOOL ROUND WALL CPU RSS_KIB OBJS BYTES LIST_WALL LIST_CPU
  echo "$*" >>"$RUNS_TSV"
  awk -v ds="$1" -v tool="$2" -v r="$3" -v w="$4" -v c="$5" -v rss="$6" -v o="$7" -v b="$8" \
      -v lw="$9" -v lc="${10}" 'BEGIN {
    W = w + lw; C = c + lc;
    printf "  %-5s %-14s run %d: wall %6.2f s  CPU %6.2f s  peak RSS %7.1f MiB  %6.0f objects/s  %7.1f MB/s",
      ds, tool, r, W, C, rss / 1024, o / W, b / 1e6 / W;
    if (tool == "ferry") printf "  (listing %.2f s, %.2f CPU-s)", lw, lc;
    printf "\n" }'
}

write_ferry_conf() { # FILE SRC_BUCKET
  cat >"$1" <<CONF
log_level = "warn";
kafka = { brokers = ""; bootstrap_file = "$FERRY_RUN/bootstrap"; segments_partitions = 8; };
stores = (
  { name = "src"; type = "s3"; endpoint = "$SRC"; region = "us-east-1"; path_style = true; },
  { name = "dst"; type = "s3"; endpoint = "$DST"; region = "us-east-1"; path_style = true; }
);
worker = {
  concurrency = $F_CONC;
  max_host_conns = 64;
  buffer_size = "$F_BUF";
  small_object_threshold = "$F_SMALL";
  multipart_threshold = "$F_MPT";
  part_size = "$F_PART";
  # s3rver answers CompleteMultipartUpload of a 1 GiB object (it joins the
  # 64 part files and hashes them) only after a minute or more on a busy
  # machine, sending no byte meanwhile: the default 60 s stall timeout cuts
  # it, and the retried complete then fails. See bench/README.md.
  stall_timeout_s = 600;
  request_timeout_s = 600;
  segments_in_flight = 4;
};
lister = { segment_max_objects = 1000; };
tasks = ( { name = "t"; source = "src:$2"; destination = "dst:bench-dst"; same_name = "overwrite"; } );
CONF
  chmod 600 "$1"
}

write_rclone_conf() { # FILE
  cat >"$1" <<CONF
[src]
type = s3
provider = Other
access_key_id = $AK
secret_access_key = $SK
endpoint = $SRC
region = us-east-1
force_path_style = true

[dst]
type = s3
provider = Other
access_key_id = $AK
secret_access_key = $SK
endpoint = $DST
region = us-east-1
force_path_style = true
CONF
  chmod 600 "$1"
}

verify() { # DS TOOL ROUND
  local out
  if out="$(node "$TOOLS/compare.js" "$SRC" "bench-$1" "$DST" bench-dst)"; then
    echo "  $1 $2 run $3: verified: ${out##*$'\n'}"
  else
    echo "$out" >&2
    die "$1 $2 run $3: destination differs from source"
  fi
}

# run_ferry DS ROUND VERIFY: list (ferry-lister --segments-to, or
# tests/tools/segments.js where there is no ferry-lister), then ferry-worker
# --segments-from; both timed.
run_ferry() {
  local ds="$1" round="$2" check="$3" d="$FERRY_RUN/ferry-$1-$2"
  mkdir -p "$d"
  dst_fresh
  write_ferry_conf "$d/ferry.conf" "bench-$ds"
  if [ "$LISTER" = ferry-lister ]; then
    measure "$d/list" "$FERRY_BIN/ferry-lister" -c "$d/ferry.conf" -t t --segments-to "$d/segs" \
      2>"$d/list.err" || { cat "$d/list.err" >&2; die "listing bench-$ds failed"; }
  else
    measure "$d/list" node "$TOOLS/segments.js" "$SRC" "bench-$ds" src dst bench-dst --per 1000 \
      >"$d/segs" || die "listing bench-$ds failed"
  fi
  local rc=0
  measure "$d/worker" "$FERRY_BIN/ferry-worker" -c "$d/ferry.conf" --segments-from "$d/segs" \
    >"$d/out" 2>"$d/err" || rc=$?
  if [ "$rc" != 0 ]; then
    tail -n 20 "$d/err" >&2
    grep -v '"status":"copied"' "$d/out" | head -n 5 >&2 || true
    die "ferry-worker exited $rc on $ds run $round (outcomes: $d/out)"
  fi
  local copied; copied="$(grep -c '"status":"copied"' "$d/out" || true)"
  [ "$copied" = "$N_OBJS" ] || die "ferry copied $copied of $N_OBJS objects on $ds run $round"
  read -r lw lc _ <"$d/list"
  read -r w c rss <"$d/worker"
  report_run "$ds" ferry "$round" "$w" "$c" "$rss" "$N_OBJS" "$N_BYTES" "$lw" "$lc"
  [ "$check" = 1 ] && verify "$ds" ferry "$round"
  return 0
}

# run_rclone DS ROUND VERIFY [tuned|default]: two remotes on two servers, so
# rclone downloads and uploads every byte (no server-side copy). Every key of
# bucket bench-DS starts with "DS/", and rclone copies that directory: s3rver
# 3.7.1 returns no CommonPrefixes for a delimited listing of a bucket's root,
# so `rclone copy src:bench-small dst:...` would see an empty bucket.
run_rclone() {
  local ds="$1" round="$2" check="$3" mode="${4:-tuned}" d="$FERRY_RUN/rclone-$1-$2-${4:-tuned}"
  local flags=(--transfers "$PAR" --checkers "$PAR")
  local tool=rclone
  if [ "$mode" = default ]; then flags=(); tool=rclone-default; fi
  mkdir -p "$d"
  dst_fresh
  write_rclone_conf "$d/rclone.conf"
  local rc=0
  # AWS_CA_BUNDLE (if the environment has one) makes rclone's S3 backend
  # fail on its plain-HTTP transport; these servers are http on loopback.
  measure "$d/rclone" env -u AWS_CA_BUNDLE rclone --config "$d/rclone.conf" copy "src:bench-$ds/$ds" "dst:bench-dst/$ds" \
    "${flags[@]}" >"$d/log" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then tail -n 20 "$d/log" >&2; die "rclone exited $rc on $ds run $round"; fi
  read -r w c rss <"$d/rclone"
  report_run "$ds" "$tool" "$round" "$w" "$c" "$rss" "$N_OBJS" "$N_BYTES" 0 0
  [ "$check" = 1 ] && verify "$ds" "$tool" "$round"
  return 0
}

# raw_limit DS: what the two servers do with no copy tool in between: one
# curl process, $PAR requests at once (-Z), GETting every object from the
# source, PUTting every object to an empty destination, and both at once.
raw_limit() {
  local ds="$1" d="$FERRY_RUN/raw-$1"
  mkdir -p "$d/a" "$d/b"
  node -e "require('$TOOLS/s3util').list('$SRC','bench-$ds').then(l=>l.forEach(o=>console.log(o.key)))" \
    >"$d/keys"
  local i=0 key
  : >"$d/get-a" ; : >"$d/get-b"
  while read -r key; do
    i=$((i + 1))
    printf 'url = "%s/bench-%s/%s"\noutput = "%s/a/%d"\n' "$SRC" "$ds" "$key" "$d" "$i" >>"$d/get-a"
    printf 'url = "%s/bench-%s/%s"\noutput = "%s/b/%d"\n' "$SRC" "$ds" "$key" "$d" "$i" >>"$d/get-b"
  done <"$d/keys"
  local curl=(curl -Z --parallel-max "$PAR" -sSf --no-progress-meter -H "Expect:" "${CURL_AUTH[@]}")
  measure "$d/t-get" "${curl[@]}" -K "$d/get-a" || die "raw GET failed"
  dst_fresh
  put_cfg() { # DIR
    local j=0 k
    while read -r k; do
      j=$((j + 1))
      printf 'upload-file = "%s/%d"\nurl = "%s/bench-dst/%s"\noutput = "/dev/null"\n' "$1" "$j" "$DST" "$k"
    done <"$d/keys"
  }
  put_cfg "$d/a" >"$d/put-a"
  measure "$d/t-put" "${curl[@]}" -K "$d/put-a" || die "raw PUT failed"
  dst_fresh
  put_cfg "$d/a" >"$d/put-a"
  # Both at once, as a copy does: GET into b/ while PUTting a/.
  measure "$d/t-both" bash -c '"$@" -K "$0/get-b" & g=$!; "$@" -K "$0/put-a"; p=$?; wait $g && [ $p = 0 ]' \
    "$d" "${curl[@]}" || die "raw GET+PUT failed"
  local s
  for s in get put both; do
    read -r w _ <"$d/t-$s"
    case $s in get) name=GET ;; put) name=PUT ;; both) name=GET+PUT-at-once ;; esac
    echo "$ds $name $w $N_OBJS $N_BYTES" >>"$RAW_TSV"
    awk -v ds="$ds" -v n="$name" -v w="$w" -v o="$N_OBJS" -v b="$N_BYTES" \
      'BEGIN { printf "  %-5s raw %-16s %6.2f s  %6.0f objects/s  %7.1f MB/s\n", ds, n, w, o / w, b / 1e6 / w }'
  done
  rm -rf "$d/a" "$d/b"
}

# bench_dataset DS: raw limit, then ferry and tuned rclone alternately
# (order swapped every round), then rclone with its defaults once.
bench_dataset() {
  local ds="$1" r
  read -r N_OBJS N_BYTES < <(count_of "$SRC" "bench-$ds")
  echo "bench: $ds set, $N_OBJS objects, $N_BYTES bytes"
  raw_limit "$ds"
  for r in $(seq 1 "$RUNS"); do
    local v=0
    [ "$r" = 1 ] && v=1
    if [ $((r % 2)) = 1 ]; then
      run_ferry "$ds" "$r" 1
      run_rclone "$ds" "$r" "$v"
    else
      run_rclone "$ds" "$r" "$v"
      run_ferry "$ds" "$r" 1
    fi
  done
  if [ "$RCLONE_DEFAULT" = 1 ]; then run_rclone "$ds" 1 0 default; fi
}

echo "bench: servers: $SERVER$([ "$SERVER" = versitygw ] && echo " $VERSITYGW_VERSION (posix backend; MinIO cannot be installed here: docs/testing.md)")"
echo "bench: machine: $(nproc) CPUs ($(lscpu | sed -n 's/^Model name: *//p' | head -n 1)), $(free -g | awk '/^Mem:/ { print $2 }') GiB memory, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bench: ferry $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') (concurrency=$F_CONC buffer_size=$F_BUF small_object_threshold=$F_SMALL multipart_threshold=$F_MPT part_size=$F_PART; listing by $LISTER), $(rclone version 2>/dev/null | head -n 1) (--transfers $PAR --checkers $PAR)"
for ds in $SETS; do
  case "$ds" in small|large) bench_dataset "$ds" ;; *) die "unknown dataset $ds (small, large)" ;; esac
done

# ---------------------------------------------------------------- huge
# 4 objects of 1 GiB copied at once by ferry alone, for its peak RSS.
if [ "$HUGE" = 1 ]; then
  avail_kib="$(df -Pk "$FERRY_RUN" | awk 'NR == 2 { print $4 }')"
  # source 4 GiB + destination parts 4 GiB + assembled objects 4 GiB + slack
  if [ "$avail_kib" -lt $((14 * 1024 * 1024)) ]; then
    echo "bench: skipping the 4 x 1 GiB run: $((avail_kib / 1024)) MiB free in $FERRY_RUN, 14 GiB needed"
  else
    echo "bench: filling the source: 4 objects of 1 GiB (streamed)"
    fills=()
    for i in 0 1 2 3; do
      node "$BENCH/put-stream.js" "$SRC" bench-huge "huge/big-$i.bin" $((1024 * 1024 * 1024)) "$i" >/dev/null &
      fills+=($!)
    done
    # Only these: a bare `wait` would also wait for the servers.
    for i in "${fills[@]}"; do wait "$i" || die "writing a 1 GiB object failed"; done
    read -r N_OBJS N_BYTES < <(count_of "$SRC" bench-huge)
    [ "$N_OBJS" = 4 ] || die "huge set: $N_OBJS objects in the source, 4 expected"
    for r in $(seq 1 "$HUGE_RUNS"); do
      run_ferry huge "$r" "$([ "$r" = 1 ] && echo 1 || echo 0)"
    done
    dst_fresh
  fi
fi

[ -n "${BENCH_KEEP:-}" ] && mkdir -p "$BENCH_KEEP" && cp "$RUNS_TSV" "$RAW_TSV" "$BENCH_KEEP/"
if [ "$SERVER" = versitygw ]; then
  python3 "$BENCH/summarize.py" "$RUNS_TSV" "$RAW_TSV" --real-s3 "versitygw-$VERSITYGW_VERSION"
else
  python3 "$BENCH/summarize.py" "$RUNS_TSV" "$RAW_TSV"
fi
