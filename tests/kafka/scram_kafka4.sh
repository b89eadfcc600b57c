#!/usr/bin/env bash
# KNOWN OPEN DEFECT (label known_defect, not in CI):
# sasl_acl.sh with SCRAM-SHA-512 on Kafka 4 (tests/kafka/versions.env). Debian's
# librdkafka 2.0.2 cannot log in with SCRAM to Kafka 4 brokers (every attempt:
# "invalid credentials"; fixed in librdkafka 2.6.1), which docs/deploy.md
# states. The defect is ferry's report of it: the lister logs librdkafka's
# "SASL authentication error" lines but ends, after kafka.delivery_timeout_ms
# (5 min by default), with "kafka brokers ... unreachable ...: Local: Broker
# transport failure", which sends an operator to the network, not the login.
FERRY_SASL_MECH=SCRAM-SHA-512 exec bash "$(dirname "$0")/sasl_acl.sh"
