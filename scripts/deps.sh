#!/usr/bin/env bash
# Installs what ferry needs on Debian 12 (apt packages, the pinned npm test
# servers and the pinned Python SDKs), skipping what is already there. Safe to
# run again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

PKGS=(build-essential cmake pkg-config clang
      libclang-rt-14-dev   # libFuzzer and the sanitizer runtimes clang links (scripts/fuzz.sh)
      librdkafka-dev libcurl4-openssl-dev libssl-dev libjansson-dev libconfig-dev
      libcmocka-dev libexpat1-dev libisal-dev libmicrohttpd-dev
      liblmdb-dev   # the reporter's on-disk index of failed keys (docs/reporter.md, "Memory")
      kcat rclone nodejs npm curl python3 iproute2 procps docker-compose jq chromium
      python3-venv   # `python3 -m venv` needs ensurepip, which Debian ships apart
      python3-dev    # crcmod (oss2) builds its C extension against it: 5.8 MB/s CRC-64 in Python, 340 with it
      gdb   # thread stacks of a stalled worker in test logs (FERRY_STALL_GDB)
      iptables   # the WAN test bed (scripts/wan.sh): loss and cuts
      prometheus   # promtool: tests/integration/alerts.sh checks the alert rules
      maven openjdk-17-jre-headless)  # the real Kafka of tests/kafka (scripts/kafka.sh)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    # nodejs from another source may provide npm itself.
    if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
    if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
    missing+=("$p")
  fi
done

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm test servers, pinned by tests/servers/package-lock.json.
# A worktree whose node_modules is a link to another checkout's shares that
# install: `npm ci` through the link would empty it under everyone using it.
if [ -L "$ROOT/tests/servers/node_modules" ]; then
  echo "deps: tests/servers/node_modules links to $(readlink "$ROOT/tests/servers/node_modules"); not reinstalling it"
elif [ ! -f "$ROOT/tests/servers/node_modules/.package-lock.json" ] ||
   ! cmp -s "$ROOT/tests/servers/package-lock.json" "$ROOT/tests/servers/.installed-lock" 2>/dev/null; then
  echo "deps: npm ci in tests/servers"
  (cd "$ROOT/tests/servers" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$ROOT/tests/servers/package-lock.json" "$ROOT/tests/servers/.installed-lock"
fi

# The official Python SDKs (oss2, cos-python-sdk-v5) for
# tests/servers/readback.py, pinned by tests/servers/requirements-sdk.txt, in a
# virtualenv at tests/servers/.venv (Debian's python3, not the system's
# site-packages). A copy of the requirements file inside the venv says what it
# holds; a link to another checkout's venv is left alone, as node_modules is.
VENV="$ROOT/tests/servers/.venv"
REQ="$ROOT/tests/servers/requirements-sdk.txt"
if [ -L "$VENV" ]; then
  echo "deps: tests/servers/.venv links to $(readlink "$VENV"); not reinstalling it"
elif [ ! -x "$VENV/bin/python" ] || ! cmp -s "$REQ" "$VENV/.installed-requirements" 2>/dev/null; then
  echo "deps: Python SDKs into tests/servers/.venv"
  rm -rf "$VENV"
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$REQ"
  cp "$REQ" "$VENV/.installed-requirements"
fi
