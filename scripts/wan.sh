#!/usr/bin/env bash
# The WAN test bed (docs/testing.md "WAN test bed"): test hosts as network
# namespaces, each joined to one router namespace by a link of its own with
# a rate (tc tbf, both ends), a one-way delay with jitter (ferry-wanfwd: a
# TUN pair per link whose packets are held for the delay; TCP stays end to
# end) and a loss rate (iptables statistic, each direction). Run as root.
#
#   scripts/wan.sh up [PROFILE]     build the bed (tears down any old one first)
#   scripts/wan.sh down             remove it: processes in its namespaces, the
#                                   forwarder, namespaces (and so devices,
#                                   qdiscs, rules); safe to run any time
#   scripts/wan.sh set HOST K=V...  change HOST's link now: rate=40mbit (scaled)
#                                   delay=150 jitter=1 (ms) loss=2 (%)
#   scripts/wan.sh cut HOST [PEER]  drop everything on HOST's link (or only
#                                   between HOST and PEER) until `heal`
#   scripts/wan.sh heal             remove every cut
#   scripts/wan.sh share HOST PORT  HOST's loopback TCP PORT (a server that only
#                                   binds 127.0.0.1, like the dev broker) at
#                                   HOST's address, and every other host's
#                                   127.0.0.1:PORT led to it (NAT; packets
#                                   still cross the links)
#   scripts/wan.sh ip HOST          HOST's address
#   scripts/wan.sh ns HOST          HOST's namespace name (for ip netns exec)
#   scripts/wan.sh exec HOST CMD... run CMD on HOST
#   scripts/wan.sh show             hosts, links and the forwarder's counters
#
# PROFILE: tests/wan/profiles/default.prof unless given (format there).
# Environment: WAN_SCALE (default 0.2) multiplies every rate, so that the
# 2-CPU machine is not the bottleneck; WAN_PREFIX (default fwan) names the
# namespaces ("$WAN_PREFIX-HOST", router "$WAN_PREFIX-rt"); FERRY_BIN the
# build holding ferry-wanfwd (default build/). State: /run/ferry-wan-$WAN_PREFIX.
# Addresses 10.77.N.2 (host N of the profile) and 10.77.N.1 (router) exist
# only inside the bed's namespaces.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FERRY_BIN="${FERRY_BIN:-$ROOT/build}"
P="${WAN_PREFIX:-fwan}"
STATE="/run/ferry-wan-$P"
RT="$P-rt"

die() { echo "wan.sh: $*" >&2; exit 1; }
nsx() { local ns="$1"; shift; ip netns exec "$ns" "$@"; }

# parse_profile FILE: prints "HOST RATE_KBIT DELAY_US JITTER_US LOSS_PROB" per link.
parse_profile() {
  local scale="${WAN_SCALE:-0.2}"
  [ -s "$STATE/scale" ] && scale=$(cat "$STATE/scale")
  awk -v scale="$scale" -v f="$1" '
    function rate(s,  n, u) {
      n = s + 0; u = s; sub(/^[0-9.]+/, "", u)
      if (u == "kbit") return n; if (u == "mbit") return n * 1000; if (u == "gbit") return n * 1000000
      printf "wan.sh: %s:%d: bad rate %s (want NNkbit|NNmbit|NNgbit)\n", f, NR, s > "/dev/stderr"; exit 1
    }
    /^[ \t]*(#|$)/ { next }
    $1 != "link" || NF != 6 { printf "wan.sh: %s:%d: want: link HOST RATE DELAY JITTER LOSS\n", f, NR > "/dev/stderr"; exit 1 }
    { r = int(rate($3) * scale); if (r < 8) r = 8
      printf "%s %d %d %d %.6f\n", $2, r, $4 * 1000, $5 * 1000, $6 / 100 }' "$1"
}

links() { cat "$STATE/links"; }
host_index() {
  local i=0 h rest
  while read -r h rest; do
    i=$((i + 1))
    [ "$h" = "$1" ] && { echo "$i"; return 0; }
  done <"$STATE/links"
  die "no host '$1' in the bed (hosts: $(cut -d' ' -f1 "$STATE/links" | tr '\n' ' '))"
}
host_ip() { echo "10.77.$(host_index "$1").2"; }
rt_dev() { echo "h-$1"; }

# tbf_set NS DEV RATE_KBIT: the rate, a burst of 2 ms (at least 4 packets)
# and a queue of 50 ms (at least 40 packets).
tbf_set() {
  local bytes_s=$(($3 * 125))
  local burst=$((bytes_s / 500)) limit=$((bytes_s / 20))
  [ "$burst" -ge 6000 ] || burst=6000
  [ "$limit" -ge 60000 ] || limit=60000
  nsx "$1" tc qdisc replace dev "$2" root tbf rate "$3kbit" burst "$burst" limit "$limit"
}

# loss_set HOST PROB: the link's random drop, each direction, in the router.
loss_set() {
  local dev; dev=$(rt_dev "$1")
  local d
  for d in -i -o; do
    while nsx "$RT" iptables -D WAN-LOSS "$d" "$dev" -m statistic --mode random --probability "$(cat "$STATE/loss-$1")" -j DROP 2>/dev/null; do :; done
  done
  echo "$2" >"$STATE/loss-$1"
  if awk -v p="$2" 'BEGIN{exit !(p > 0)}'; then
    for d in -i -o; do
      nsx "$RT" iptables -A WAN-LOSS "$d" "$dev" -m statistic --mode random --probability "$2" -j DROP
    done
  fi
}

fwd_config() {
  local h r d j l
  while read -r h r d j l; do
    echo "link $h $P-$h wan0 $RT $(rt_dev "$h") $d $j"
  done <"$STATE/links"
}

cmd_down() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$P-" || true); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null || true; done
  done
  sleep 0.3
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$P-" || true); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$STATE"
}

start_forwarder() {
  fwd_config >"$STATE/fwd.conf"
  [ -x "$FERRY_BIN/ferry-wanfwd" ] || die "no $FERRY_BIN/ferry-wanfwd (scripts/build.sh)"
  # setsid: the forwarder outlives this script and is found again by its
  # namespace (wan.sh down), never by name.
  ip netns exec "$RT" setsid "$FERRY_BIN/ferry-wanfwd" "$STATE/fwd.conf" \
    >"$STATE/fwd.out" 2>"$STATE/fwd.log" </dev/null &
  echo $! >"$STATE/fwd.pid"
  local i
  for i in $(seq 1 100); do
    grep -q '^ready' "$STATE/fwd.out" && return 0
    kill -0 "$(cat "$STATE/fwd.pid")" 2>/dev/null || break
    sleep 0.05
  done
  cat "$STATE/fwd.log" >&2
  die "ferry-wanfwd did not start"
}

cmd_up() {
  local profile="${1:-$ROOT/tests/wan/profiles/default.prof}"
  [ -r "$profile" ] || die "cannot read profile $profile"
  [ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
  cmd_down
  mkdir -p "$STATE"
  parse_profile "$profile" >"$STATE/links" || { rm -rf "$STATE"; exit 1; }
  echo "${WAN_SCALE:-0.2}" >"$STATE/scale"
  [ -s "$STATE/links" ] || die "no links in $profile"
  echo "$profile" >"$STATE/profile"
  ip netns add "$RT"
  nsx "$RT" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  nsx "$RT" ip link set lo up
  local h r d j l
  while read -r h r d j l; do
    ip netns add "$P-$h"
    nsx "$P-$h" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    nsx "$P-$h" ip link set lo up
    echo 0 >"$STATE/loss-$h"
  done <"$STATE/links"
  start_forwarder
  nsx "$RT" iptables -N WAN-CUT
  nsx "$RT" iptables -N WAN-LOSS
  nsx "$RT" iptables -A FORWARD -j WAN-CUT
  nsx "$RT" iptables -A FORWARD -j WAN-LOSS
  local i=0 dev
  while read -r h r d j l; do
    i=$((i + 1)); dev=$(rt_dev "$h")
    nsx "$RT" ip addr add "10.77.$i.1/24" dev "$dev"
    nsx "$RT" ip link set "$dev" up
    nsx "$P-$h" ip addr add "10.77.$i.2/24" dev wan0
    nsx "$P-$h" ip link set wan0 up
    nsx "$P-$h" ip route add default via "10.77.$i.1"
    tbf_set "$P-$h" wan0 "$r"
    tbf_set "$RT" "$dev" "$r"
    loss_set "$h" "$l"
  done <"$STATE/links"
  echo "wan: up ($(wc -l <"$STATE/links") hosts, profile ${profile##*/}, scale ${WAN_SCALE:-0.2})"
}

# cmd_set HOST K=V...: rate=RATE, delay=MS, jitter=MS, loss=PERCENT.
cmd_set() {
  local h="$1"; shift
  host_index "$h" >/dev/null
  local kv k v line
  line=$(grep "^$h " "$STATE/links")
  read -r _ r d j l <<<"$line"
  for kv in "$@"; do
    k=${kv%%=*}; v=${kv#*=}
    case "$k" in
      rate) r=$(echo "link $h $v 0 0 0" | parse_profile /dev/stdin | cut -d' ' -f2)
            tbf_set "$P-$h" wan0 "$r"; tbf_set "$RT" "$(rt_dev "$h")" "$r" ;;
      delay) d=$(awk -v x="$v" 'BEGIN{printf "%d", x * 1000}') ;;
      jitter) j=$(awk -v x="$v" 'BEGIN{printf "%d", x * 1000}') ;;
      loss) l=$(awk -v x="$v" 'BEGIN{printf "%.6f", x / 100}'); loss_set "$h" "$l" ;;
      *) die "set: unknown '$kv' (rate= delay= jitter= loss=)" ;;
    esac
  done
  sed -i "s/^$h .*/$h $r $d $j $l/" "$STATE/links"
  fwd_config >"$STATE/fwd.conf"
  kill -HUP "$(cat "$STATE/fwd.pid")"
}

cmd_cut() {
  local dev; dev=$(rt_dev "$1")
  host_index "$1" >/dev/null
  if [ -n "${2:-}" ]; then
    local peer; peer=$(rt_dev "$2"); host_index "$2" >/dev/null
    nsx "$RT" iptables -A WAN-CUT -i "$dev" -o "$peer" -j DROP
    nsx "$RT" iptables -A WAN-CUT -i "$peer" -o "$dev" -j DROP
  else
    nsx "$RT" iptables -A WAN-CUT -i "$dev" -j DROP
    nsx "$RT" iptables -A WAN-CUT -o "$dev" -j DROP
  fi
}

cmd_share() {
  local h="$1" port="$2" ip; ip=$(host_ip "$h")
  nsx "$P-$h" sysctl -qw net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.wan0.route_localnet=1
  nsx "$P-$h" iptables -t nat -A PREROUTING -i wan0 -p tcp --dport "$port" -j DNAT --to-destination "127.0.0.1:$port"
  local o r
  while read -r o r; do
    [ "$o" = "$h" ] && continue
    nsx "$P-$o" sysctl -qw net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.wan0.route_localnet=1
    nsx "$P-$o" iptables -t nat -A OUTPUT -d 127.0.0.1 -p tcp --dport "$port" -j DNAT --to-destination "$ip:$port"
    nsx "$P-$o" iptables -t nat -A POSTROUTING -o wan0 -s 127.0.0.1 -j SNAT --to-source "$(host_ip "$o")"
  done <"$STATE/links"
}

cmd_show() {
  links | while read -r h r d j l; do
    printf '%-5s %-12s rate=%skbit delay=%sus jitter=%sus loss=%s\n' "$h" "$(host_ip "$h")" "$r" "$d" "$j" "$l"
  done
  kill -USR1 "$(cat "$STATE/fwd.pid")"; sleep 0.2
  grep 'link=' "$STATE/fwd.log" | tail -n $(( $(wc -l <"$STATE/links") * 2 ))
}

need_bed() { [ -s "$STATE/links" ] || die "the bed is not up (scripts/wan.sh up)"; }

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  set) need_bed; shift; [ $# -ge 2 ] || die "usage: set HOST K=V..."; cmd_set "$@" ;;
  cut) need_bed; shift; [ $# -ge 1 ] || die "usage: cut HOST [PEER]"; cmd_cut "$@" ;;
  heal) need_bed; nsx "$RT" iptables -F WAN-CUT ;;
  share) need_bed; [ $# = 3 ] || die "usage: share HOST PORT"; cmd_share "$2" "$3" ;;
  ip) need_bed; host_ip "$2" ;;
  ns) need_bed; host_index "$2" >/dev/null; echo "$P-$2" ;;
  exec) need_bed; host_index "$2" >/dev/null; h="$2"; shift 2; exec ip netns exec "$P-$h" "$@" ;;
  show) need_bed; cmd_show ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
