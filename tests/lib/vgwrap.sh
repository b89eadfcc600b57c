#!/bin/sh
# vgwrap.sh BINARY [ARGS...]: runs BINARY under valgrind memcheck. It is the
# FERRY_WRAP that scripts/valgrind.sh configures build-vg/ with, so every
# ferry binary an integration or fault test starts runs through it
# (docs/testing.md "Valgrind").
#
# FERRY_VG_OPTS adds valgrind options (e.g. --track-origins=yes).
#
# One log per process, FERRY_VG_LOGS/<binary>.<pid>.log (default
# /tmp/ferry-vg): a service a test stops with SIGTERM or SIGKILL exits with
# whatever the test accepts, so scripts/valgrind.sh reads the error counts
# from these logs rather than from exit statuses. A process that exits by
# itself with an error or a definite/indirect leak also exits 99.
#
# `exec` keeps the pid: the pid a test holds and signals is the service's.
bin="$1"
logs="${FERRY_VG_LOGS:-/tmp/ferry-vg}"
mkdir -p "$logs"
here="$(cd "$(dirname "$0")" && pwd)"
exec valgrind --tool=memcheck --error-exitcode=99 \
  --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
  --num-callers=30 --child-silent-after-fork=yes \
  --suppressions="$here/../valgrind.supp" \
  --log-file="$logs/$(basename "$bin").%p.log" ${FERRY_VG_OPTS:-} "$@"
