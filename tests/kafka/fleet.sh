#!/usr/bin/env bash
# The fleet test (tests/integration/fleet.sh: lister -> 2 workers, one killed
# with SIGKILL and replaced -> reporter, vanished objects, --retry-failed) on
# a real three-node Apache Kafka cluster with its default settings (45 s
# sessions: the killed worker's partitions move only when its session ends).
# The wait allows for that: 45 s before the rebalance, on a loaded machine.
FLEET_WAIT_S=480 FERRY_TEST_BROKER=kafka exec bash "$(dirname "$0")/../integration/fleet.sh"
