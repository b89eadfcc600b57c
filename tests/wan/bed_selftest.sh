#!/usr/bin/env bash
# The WAN bed's links measured against their profile (tests/wan/profiles/
# selftest.prof, unscaled): a -> b RTT 50 ms (two links of 5 and 20 ms one
# way), a bulk TCP transfer at a's 20 Mbit/s, 5 % one-way loss on c's link;
# a delay changed at run time (b: 100 ms) shows in the RTT; `down` leaves no
# namespace and no process behind.
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/tests/lib/wan.sh"
PROBE="$FERRY_SRC/tests/wan/probe.js"
WAN_SCALE=1 wan_up "$FERRY_SRC/tests/wan/profiles/selftest.prof"
B=$(wan ip b)
wan_bg b "$FERRY_RUN/probe.log" node "$PROBE" serve 7000
wait_line "$FERRY_RUN/probe.log" '^ready' 20

j=$(wan exec a node "$PROBE" rtt "$B" 7000 20); echo "rtt: $j"
# TCP handshakes: the minimum is the profile's RTT give or take the jitter
# (four one-way passes, up to +-3 ms in all). The median adds the scheduling
# of node and the forwarder: 54 ms on a quiet machine, 77 ms seen at load 68
# on two CPUs; its bound (3 x) only catches a delay applied twice or a queue
# that never drains.
within rtt_min_ms "$(echo "$j" | jget j.min_ms)" 47 54
within rtt_median_ms "$(echo "$j" | jget j.median_ms)" 48 150
j=$(wan exec a node "$PROBE" rate "$B" 7000 8); echo "rate: $j"
# Goodput under a 20 Mbit/s tbf: IP and TCP headers take ~3.5 %.
within rate_mbit_s "$(echo "$j" | jget j.mbit_s)" 17 20
j=$(wan exec c node "$PROBE" udp "$B" 7000 4000 1000); echo "loss: $j"
# 5 % on c's link one way (b's is lossless); 4000 datagrams: sd 0.35 %.
within loss "$(echo "$j" | jget j.loss)" 0.035 0.065

wan set b delay=100
j=$(wan exec a node "$PROBE" rtt "$B" 7000 10); echo "rtt after set b delay=100: $j"
within rtt_min_ms_changed "$(echo "$j" | jget j.min_ms)" 207 214
wan set a rate=5mbit
j=$(wan exec a node "$PROBE" rate "$B" 7000 8); echo "rate after set a rate=5mbit: $j"
within rate_mbit_s_changed "$(echo "$j" | jget j.mbit_s)" 4.2 5

fwd=$(cat /run/ferry-wan-$WAN_PREFIX/fwd.pid)
wan down
left=$(ip netns list | grep -c "^$WAN_PREFIX-" || true)
assert_eq "$left" 0 "namespaces left after down"
if kill -0 "$fwd" 2>/dev/null && [ "$(ps -o stat= -p "$fwd" | cut -c1)" != Z ]; then fail "forwarder $fwd still running after down"; fi
ok "down left nothing"
