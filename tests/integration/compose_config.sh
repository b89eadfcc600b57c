#!/usr/bin/env bash
# compose_config.sh: the deployment files in compose/ are valid and true to the
# code. No Docker engine and no systemd manager are needed:
#
#  1. docker-compose.yml passes `docker-compose config` (Debian's docker-compose
#     1.29, or Compose v2), with ferry.env.example standing in for the
#     git-ignored ferry.env; then the resolved file is checked: Kafka in KRaft
#     mode from a pinned apache/kafka >= 3.7, the topics service matching
#     ferry.conf (prefix, segments partitions), workers scalable (no
#     container_name, no published port), restart policies, the reporter
#     published on 127.0.0.1 only and given no store secret, grace periods
#     longer than worker.shutdown_timeout_s.
#  2. The systemd units pass `systemd-analyze verify` and carry the required
#     settings (EnvironmentFile, hardening, Restart, TimeoutStopSec).
#  3. Every ferry command of the compose file and of the units names a binary
#     the Dockerfile installs, uses only options its --help lists, and gets
#     past argument and configuration checks when run with the compose
#     config (exit status other than 2) against closed loopback ports.
#  4. The Dockerfile installs ferry's .deb (whose Depends package_deb.sh
#     checks).
#
# A part whose tool is missing prints "SKIP: ..." and the rest still runs;
# scripts/deps.sh installs docker-compose. A binary missing from $FERRY_BIN
# is skipped the same way.
set -euo pipefail
FERRY_SRC="${FERRY_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
FERRY_BIN="${FERRY_BIN:-$FERRY_SRC/build}"
C="$FERRY_SRC/compose"
T="$(mktemp -d /tmp/ferry-compose.XXXXXX)"
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT

fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
skip() { echo "SKIP: $*"; }

for f in docker-compose.yml Dockerfile ferry.conf ferry.env.example .gitignore \
         systemd/ferry-worker@.service systemd/ferry-reporter.service systemd/ferry-lister@.service; do
  [ -f "$C/$f" ] || fail "compose/$f is missing"
done
grep -qx '/ferry.env' "$C/.gitignore" || fail "compose/ferry.env is not git-ignored"
grep -qx 'compose/ferry.env' "$FERRY_SRC/.dockerignore" 2>/dev/null ||
  fail "compose/ferry.env is not in .dockerignore (credentials would enter the build context)"

# conf_value KEY: the value of "KEY = VALUE;" in compose/ferry.conf, quotes removed.
conf_value() {
  sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\"\{0,1\}\([^\";]*\)\"\{0,1\};.*/\1/p" "$C/ferry.conf" | head -n 1
}
SHUTDOWN_S="$(conf_value shutdown_timeout_s)"; SHUTDOWN_S="${SHUTDOWN_S:-30}"
PARTITIONS="$(conf_value segments_partitions)"; PARTITIONS="${PARTITIONS:-64}"
PREFIX="$(conf_value topic_prefix)"; PREFIX="${PREFIX:-ferry.}"
RF="$(conf_value replication_factor)"; RF="${RF:-1}"
BROKERS="$(conf_value brokers)"
[ "$BROKERS" = "kafka:9092" ] || fail "compose/ferry.conf: kafka.brokers is \"$BROKERS\", not \"kafka:9092\""
grep -Eq '^[[:space:]]*id[[:space:]]*=' "$C/ferry.conf" &&
  fail "compose/ferry.conf sets worker.id: every scaled worker would share it"

# The compose config for running commands: the same file, with Kafka and the
# stores pointed at a closed loopback port (no traffic leaves the machine), and
# the shortest Kafka timeout, after which the lister gives up on the broker.
sed -e 's/^\([[:space:]]*brokers[[:space:]]*=\).*/\1 "127.0.0.1:1"; delivery_timeout_ms = 1000;/' \
    -e 's/^\([[:space:]]*type[[:space:]]*=[[:space:]]*"\(oss\|cos\|s3\)";\).*/\1 connect_to = "127.0.0.1:1";/' \
    "$C/ferry.conf" >"$T/ferry.conf"
chmod 600 "$T/ferry.conf"
grep -q 'connect_to = "127.0.0.1:1"' "$T/ferry.conf" || fail "could not redirect the stores of compose/ferry.conf"

# The variables of ferry.env.example, as NAME=VALUE lines.
grep -E '^[A-Z_][A-Z0-9_]*=' "$C/ferry.env.example" >"$T/env.example"
ENV_NAMES="$(cut -d= -f1 "$T/env.example" | sort | tr '\n' ' ')"

# Binaries the Dockerfile builds (and installs with the .deb, which holds
# every service: CMakeLists.txt's install(TARGETS)).
DOCKER_BINS="$(grep -- '--target ' "$C/Dockerfile" | grep -o 'ferry-[a-z]*' | sort -u | tr '\n' ' ')"
grep -q 'apt-get install.*\|/tmp/ferry_\*.deb' "$C/Dockerfile" || fail "compose/Dockerfile does not install the .deb"
for b in ferry-worker ferry-lister ferry-reporter ferry-devbroker; do
  case " $DOCKER_BINS " in *" $b "*) ;; *) fail "Dockerfile does not install $b" ;; esac
done

# check_command WHERE ENVFILE ARGV...: the binary is installed by the
# Dockerfile, its --help lists every option used, and the command gets past
# argument and config checks. ENVFILE: NAME=VALUE lines for its environment
# ("" = none). /etc/ferry/ferry.conf and /usr/local/bin/ are mapped to the
# test's config and $FERRY_BIN.
check_command() {
  local where="$1" envfile="$2"; shift 2
  local bin; bin="$(basename "$1")"
  local path="$FERRY_BIN/$bin" a flag help rc args=()
  case " $DOCKER_BINS " in
    *" $bin "*) ;;
    *) fail "$where: $bin is not installed by compose/Dockerfile"; return ;;
  esac
  if [ ! -x "$path" ]; then
    skip "$where: $path is not built; its options are unchecked"
    return
  fi
  help="$("$path" --help 2>&1)" || { fail "$where: $bin --help failed"; return; }
  for a in "${@:2}"; do
    case "$a" in
      -?*) flag="${a%%=*}"
           grep -Eq -- "(^|[[:space:],[])${flag}([[:space:],=]|\]|$)" <<<"$help" ||
             fail "$where: $bin has no option $flag (not in its --help)" ;;
    esac
  done
  for a in "${@:2}"; do
    [ "$a" = /etc/ferry/ferry.conf ] && a="$T/ferry.conf"
    args+=("$a")
  done
  local envs=(PATH="$PATH" HOME="$T") v
  for v in ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS; do
    [ -n "${!v:-}" ] && envs+=("$v=${!v}")
  done
  if [ -n "$envfile" ]; then while IFS= read -r a; do envs+=("$a"); done <"$envfile"; fi
  # Bad arguments or config: exit 2 at once. Still running after 3 s: past
  # those checks, waiting for Kafka; it is then stopped (its shutdown with no
  # broker is not what this test is about).
  local pid
  env -i "${envs[@]}" "$path" "${args[@]}" >"$T/out" 2>"$T/err" &
  pid=$!
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rc=running
  else
    rc=0; wait "$pid" || rc=$?
  fi
  case "$rc" in
    0|1|3|4|running) ok "$where: $bin ${*:2} (options in --help; config loads; exit $rc)" ;;
    *) fail "$where: $bin ${*:2} exited $rc"; sed 's/^/    /' "$T/err" | head -n 20 >&2 ;;
  esac
}

# ---------- 1. docker-compose.yml ----------
DC=()
if command -v docker-compose >/dev/null 2>&1; then DC=(docker-compose)
elif docker compose version >/dev/null 2>&1; then DC=(docker compose)
fi
if [ ${#DC[@]} -eq 0 ]; then
  skip "docker-compose not found (scripts/deps.sh installs Debian's docker-compose): compose file not validated"
elif ! python3 -c 'import yaml' 2>/dev/null; then
  skip "python3-yaml not found: compose file not validated"
else
  # A copy of compose/ with the example env file as ferry.env; the build
  # context (..) is the copy's parent.
  mkdir -p "$T/repo/compose"
  cp "$C/docker-compose.yml" "$C/ferry.conf" "$C/Dockerfile" "$T/repo/compose/"
  cp "$C/ferry.env.example" "$T/repo/compose/ferry.env"
  if (cd "$T/repo/compose" && FERRY_TASK='' "${DC[@]}" -f docker-compose.yml --profile lister config \
        >"$T/resolved.yml" 2>"$T/dc.err"); then
    ok "docker-compose config: compose/docker-compose.yml is valid ($("${DC[@]}" version --short 2>/dev/null || echo "?"))"
  else
    fail "docker-compose config rejects compose/docker-compose.yml:"; sed 's/^/    /' "$T/dc.err" >&2
  fi
  if [ -s "$T/resolved.yml" ]; then
    # The checks on the resolved file; prints FAIL lines, and one "CMD service
    # argv..." line (NUL-free, tab-separated) per ferry service.
    python3 - "$T/resolved.yml" "$PARTITIONS" "$PREFIX" "$SHUTDOWN_S" "$ENV_NAMES" "$RF" >"$T/py.out" <<'PY' || fail "compose checks crashed"
import os, re, sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
partitions, prefix, shutdown_s, env_names = sys.argv[2], sys.argv[3], int(sys.argv[4]), set(sys.argv[5].split())
svc = doc.get("services", {})
def fail(msg): print("FAIL " + msg)
def secs(v):
    m = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", str(v or ""))
    return (int(m.group(1) or 0) * 60 + int(m.group(2) or 0)) if m and v else 10
for name in ("kafka", "topics", "worker", "reporter", "lister"):
    if name not in svc: fail(f"service {name} missing")
k = svc.get("kafka", {})
img = k.get("image", "")
m = re.fullmatch(r"apache/kafka:(\d+)\.(\d+)\.(\d+)", img)
if not m or (int(m.group(1)), int(m.group(2))) < (3, 7):
    fail(f"kafka image {img!r} is not a pinned apache/kafka >= 3.7")
# The version the test bed runs (tests/kafka/versions.env, scripts/kafka.sh).
kv = re.search(r"^KAFKA_VERSION=(\S+)", open(os.environ["FERRY_SRC"] + "/tests/kafka/versions.env").read(), re.M).group(1)
for name in ("kafka", "topics"):
    if svc.get(name, {}).get("image") != f"apache/kafka:{kv}":
        fail(f"{name}: image {svc.get(name, {}).get('image')!r} is not apache/kafka:{kv}, the version of tests/kafka/versions.env")
env = {a: str(b) for a, b in (k.get("environment") or {}).items()}
roles = set(env.get("KAFKA_PROCESS_ROLES", "").split(","))
if roles != {"broker", "controller"}: fail("kafka: KAFKA_PROCESS_ROLES is not broker,controller (KRaft combined)")
for v in ("KAFKA_NODE_ID", "KAFKA_LISTENERS", "KAFKA_ADVERTISED_LISTENERS", "KAFKA_CONTROLLER_LISTENER_NAMES",
          "KAFKA_CONTROLLER_QUORUM_VOTERS", "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "CLUSTER_ID"):
    if v not in env: fail(f"kafka: {v} not set")
if "kafka:9092" not in env.get("KAFKA_ADVERTISED_LISTENERS", ""):
    fail("kafka: not advertised as kafka:9092 (ferry.conf's kafka.brokers)")
if "healthcheck" not in k: fail("kafka: no healthcheck")
t = svc.get("topics", {})
tenv = {a: str(b) for a, b in (t.get("environment") or {}).items()}
if tenv.get("SEGMENTS_PARTITIONS") != partitions:
    fail(f"topics: SEGMENTS_PARTITIONS {tenv.get('SEGMENTS_PARTITIONS')} != kafka.segments_partitions {partitions}")
if tenv.get("REPLICATION_FACTOR") != sys.argv[6]:
    fail(f"topics: REPLICATION_FACTOR {tenv.get('REPLICATION_FACTOR')} != kafka.replication_factor {sys.argv[6]}")
if tenv.get("TOPIC_PREFIX") != prefix:
    fail(f"topics: TOPIC_PREFIX {tenv.get('TOPIC_PREFIX')} != kafka.topic_prefix {prefix}")
script = " ".join(t.get("command") or [])
for topic, parts in (("tasks", "1"), ("segments", None), ("results", "4"), ("failed", "4"), ("dlq", "1"), ("workers", "1")):
    if not re.search(rf"mk {topic} ", script): fail(f"topics: {topic} not created")
    elif parts and not re.search(rf"mk {topic} {parts} ", script):
        fail(f"topics: {topic} not created with {parts} partitions (lib/bus/bus.h)")
if not re.search(r"mk tasks 1 --config cleanup.policy=compact", script): fail("topics: tasks not compacted")
# The script as the container's bash gets it, for a run against a stub.
with open(sys.argv[1] + ".topics.sh", "w") as f:
    f.write(script.replace("$$", "$").replace("/opt/kafka/bin/kafka-topics.sh", "kafka-topics.sh"))
with open(sys.argv[1] + ".topics.env", "w") as f:
    f.write("".join(f"{a}={b}\n" for a, b in tenv.items()))
if (t.get("depends_on") or {}).get("kafka", {}).get("condition") != "service_healthy":
    fail("topics: does not wait for a healthy kafka")
for name in ("worker", "reporter", "lister"):
    s = svc.get(name, {})
    if str(s.get("user", "")) in ("root", "0", "0:0"): fail(f"{name}: runs as root")
    if (s.get("depends_on") or {}).get("topics", {}).get("condition") != "service_completed_successfully":
        fail(f"{name}: does not wait for the topics")
    if not any(str(v).endswith(":/etc/ferry/ferry.conf:ro") for v in s.get("volumes") or []):
        fail(f"{name}: ferry.conf not mounted read-only at /etc/ferry/ferry.conf")
    argv = list(s.get("entrypoint") or []) + list(s.get("command") or [])
    print("CMD\t" + name + "\t" + "\t".join(str(a) for a in argv))
w = svc.get("worker", {})
if "container_name" in w: fail("worker: container_name prevents --scale")
if w.get("ports"): fail("worker: published ports prevent --scale")
if w.get("restart") != "unless-stopped": fail(f"worker: restart is {w.get('restart')!r}, not unless-stopped")
if secs(w.get("stop_grace_period")) < shutdown_s + 20:
    fail(f"worker: stop_grace_period {w.get('stop_grace_period')} < worker.shutdown_timeout_s {shutdown_s} + 20 s")
if w.get("stop_signal", "SIGTERM") != "SIGTERM": fail("worker: stop_signal is not SIGTERM")
l = svc.get("lister", {})
if str(l.get("restart")) != "no": fail(f"lister: restart is {l.get('restart')!r}, not \"no\"")
r = svc.get("reporter", {})
ports = r.get("ports") or []
if not ports: fail("reporter: HTTP port not published")
for p in ports:
    ip = p.get("host_ip") if isinstance(p, dict) else str(p).split(":")[0]
    if ip != "127.0.0.1": fail(f"reporter: port {p} not bound to 127.0.0.1 only")
for name in ("worker", "lister"):
    have = set((svc.get(name, {}).get("environment") or {}).keys())
    if not env_names <= have: fail(f"{name}: ferry.env variables missing: {sorted(env_names - have)}")
if any(re.search(r"(SECRET|ACCESS)_KEY", a) for a in (r.get("environment") or {})):
    fail("reporter: given store credentials it never reads")
PY
    if grep '^FAIL ' "$T/py.out" >/dev/null; then
      while IFS= read -r line; do fail "docker-compose.yml: ${line#FAIL }"; done < <(grep '^FAIL ' "$T/py.out")
    else
      ok "docker-compose.yml: KRaft apache/kafka, topics match ferry.conf ($PREFIX*, $PARTITIONS segments partitions), scalable workers, restart policies, reporter on 127.0.0.1"
    fi
    # The topics script, run by bash against a kafka-topics.sh stub that logs
    # its arguments: the five topics with their partitions and settings.
    mkdir -p "$T/stub"
    printf '#!/bin/sh\necho "$*" >>"%s"\n' "$T/topics.log" >"$T/stub/kafka-topics.sh"
    chmod +x "$T/stub/kafka-topics.sh"
    topics_env=()
    [ -f "$T/resolved.yml.topics.env" ] && mapfile -t topics_env <"$T/resolved.yml.topics.env"
    if [ -s "$T/resolved.yml.topics.sh" ] &&
       env -i PATH="$T/stub:$PATH" "${topics_env[@]}" \
         bash -c "$(cat "$T/resolved.yml.topics.sh")" >/dev/null 2>"$T/topics.err"; then
      want="--bootstrap-server kafka:9092 --create --if-not-exists --replication-factor $RF --topic"
      for t in "${PREFIX}tasks --partitions 1 --config cleanup.policy=compact" \
               "${PREFIX}segments --partitions $PARTITIONS --config retention.ms=" \
               "${PREFIX}results --partitions 4 --config retention.ms=-1" \
               "${PREFIX}failed --partitions 4 --config retention.ms=-1" \
               "${PREFIX}dlq --partitions 1 " \
               "${PREFIX}workers --partitions 1 --config retention.ms=3600000"; do
        grep -qF -- "$want $t" "$T/topics.log" 2>/dev/null || fail "topics service: no \"kafka-topics.sh $want $t...\""
      done
      ok "topics service: its script creates ${PREFIX}{tasks,segments,results,failed,dlq,workers} as ferry expects"
    else
      fail "topics service: its script failed against a stub:"; sed 's/^/    /' "$T/topics.err" >&2
    fi
    grep '^CMD' "$T/py.out" >"$T/cmds" || true
    [ "$(wc -l <"$T/cmds")" -eq 3 ] || fail "docker-compose.yml: expected 3 ferry services with commands"
    # The worker and the lister get ferry.env; the reporter none.
    while IFS=$'\t' read -r -a fields; do
      svcname="${fields[1]}"; argv=("${fields[@]:2}")
      envfile="$T/env.example"; [ "$svcname" = reporter ] && envfile=""
      check_command "compose $svcname" "$envfile" "${argv[@]}"
    done <"$T/cmds"
  fi
fi

# ---------- 2. systemd units ----------
U="$C/systemd"
fails_before=$fails
# unit_value FILE KEY: the last KEY= line's value.
unit_value() { sed -n "s/^$2=//p" "$1" | tail -n 1; }
for u in ferry-worker@.service ferry-reporter.service ferry-lister@.service ferry-master.service; do
  f="$U/$u"
  [ -f "$f" ] || continue
  for kv in NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes KillSignal=SIGTERM; do
    grep -qx "$kv" "$f" || fail "$u: no $kv"
  done
  grep -Eqx 'DynamicUser=yes|User=[a-z_][a-z0-9_-]*' "$f" || fail "$u: runs as root (no DynamicUser= or User=)"
  grep -Eq '^EnvironmentFile=-?/etc/ferry/' "$f" || fail "$u: no EnvironmentFile under /etc/ferry"
done
[ "$(unit_value "$U/ferry-worker@.service" Restart)" = on-failure ] || fail "ferry-worker@.service: Restart is not on-failure"
[ "$(unit_value "$U/ferry-lister@.service" Restart)" = no ] || fail "ferry-lister@.service: Restart is not no"
stop_s="$(unit_value "$U/ferry-worker@.service" TimeoutStopSec)"; stop_s="${stop_s%s}"
if ! [[ "$stop_s" =~ ^[0-9]+$ ]] || [ "$stop_s" -lt $((SHUTDOWN_S + 20)) ]; then
  fail "ferry-worker@.service: TimeoutStopSec=$stop_s is not worker.shutdown_timeout_s ($SHUTDOWN_S) + at least 20 s"
fi
[ "$fails" -eq "$fails_before" ] && ok "systemd units: hardening, EnvironmentFile, Restart, TimeoutStopSec=${stop_s}s >= shutdown_timeout_s $SHUTDOWN_S + 20"

if command -v systemd-analyze >/dev/null 2>&1; then
  # verify checks that ExecStart is executable: point it at the built binary,
  # or /bin/true for one not built yet. Templates are verified as instances.
  mkdir -p "$T/units"
  for u in ferry-worker@.service ferry-reporter.service ferry-lister@.service ferry-master.service; do
    sed -E "s|^(ExecStart=)/usr/local/bin/(ferry-[a-z]+)|\1$FERRY_BIN/\2|" "$U/$u" >"$T/units/$u"
    exe="$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$T/units/$u")"
    [ -x "$exe" ] || sed -i "s|^ExecStart=[^ ]*|ExecStart=/bin/true|" "$T/units/$u"
  done
  ln -s ferry-worker@.service "$T/units/ferry-worker@1.service"
  ln -s ferry-lister@.service "$T/units/ferry-lister@photos-2024.service"
  vrc=0
  (cd "$T/units" && SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no ./ferry-worker@1.service \
     ./ferry-reporter.service ./ferry-lister@photos-2024.service ./ferry-master.service) >"$T/verify" 2>&1 || vrc=$?
  # verify exits 0 on unknown keys; any message is a finding.
  if [ "$vrc" -ne 0 ] || [ -s "$T/verify" ]; then
    fail "systemd-analyze verify:"; sed 's/^/    /' "$T/verify" >&2
  else
    ok "systemd-analyze verify: ferry-worker@1, ferry-reporter, ferry-lister@photos-2024, ferry-master"
  fi
else
  skip "systemd-analyze not found: units not verified"
fi

# The units' commands, with their specifiers expanded.
for spec in "ferry-worker@.service 1 $T/env.example" "ferry-reporter.service - " \
            "ferry-lister@.service photos-2024 $T/env.example" "ferry-master.service - $T/env.example"; do
  read -r u inst envfile <<<"$spec"
  line="$(sed -n 's/^ExecStart=[-@:+!]*//p' "$U/$u")"
  [ -n "$line" ] || { fail "$u: no ExecStart"; continue; }
  line="${line//%i/$inst}"; line="${line//%H/$(hostname)}"; line="${line//%%/%}"
  read -r -a argv <<<"$line"
  check_command "$u" "${envfile:-}" "${argv[@]}"
done

# ---------- 4. runtime libraries ----------
# The image installs ferry's .deb, whose Depends dpkg-shlibdeps derives from
# the libraries the binaries link; tests/integration/package_deb.sh checks
# them and installs the package.

if [ "$fails" -ne 0 ]; then
  echo "compose_config: $fails failure(s)" >&2
  exit 1
fi
echo "compose_config: all passed"
