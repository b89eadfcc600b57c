# Sourced by the WAN bed's tests (tests/wan/*.sh) after tests/lib/itest.sh:
# the bed (scripts/wan.sh) under its own prefix, removed at exit pass or fail.
#
#   wan_up PROFILE        scripts/wan.sh up, with WAN_PREFIX=fwt unless set
#   wan CMD...            scripts/wan.sh CMD... (ip, exec, set, cut, heal)
#   wan_bg HOST LOG CMD...  CMD on HOST in the background (pid tracked)
#   within NAME VALUE LO HI   fails unless LO <= VALUE <= HI
source "$FERRY_SRC/tests/lib/faults.sh"
export WAN_PREFIX="${WAN_PREFIX:-fwt}"
WAN="$FERRY_SRC/scripts/wan.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: the WAN bed needs root (network namespaces)"; exit 77; }

wan() { "$WAN" "$@"; }
wan_up() {
  trap 'rc=$?; itest_exit; "$WAN" down; exit $rc' EXIT
  wan up "$@" || fail "scripts/wan.sh up $*"
}
wan_bg() {
  local h="$1" log="$2"; shift 2
  ip netns exec "$(wan ns "$h")" "$@" >"$log" 2>&1 &
  track_pid $!
}
within() {
  awk -v v="$2" -v lo="$3" -v hi="$4" 'BEGIN{exit !(v >= lo && v <= hi)}' ||
    fail "$1 = $2, outside [$3, $4]"
  ok "$1 = $2 (within [$3, $4])"
}
