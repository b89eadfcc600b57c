#!/usr/bin/env bash
# The console end to end (tests/console/e2e.sh: a master and a standby, the
# page driven in headless Chromium through create, start, failures, export,
# retry after the acting master is killed, pause and resume, cancel) on a
# real three-node Apache Kafka cluster with its default settings: 45 s
# sessions, so the standby master takes over only when the killed one's
# session ends.
FERRY_TEST_BROKER=kafka exec bash "$(dirname "$0")/../console/e2e.sh"
