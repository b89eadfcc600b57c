#!/usr/bin/env bash
# sasl_acl.sh with SCRAM-SHA-512 on the newest Kafka 3.x (tests/kafka/versions.env
# KAFKA3_VERSION): the SCRAM path Debian's librdkafka 2.0.2 can take.
source "$(dirname "$0")/versions.env"
FERRY_KAFKA_VERSION="$KAFKA3_VERSION" FERRY_SASL_MECH=SCRAM-SHA-512 exec bash "$(dirname "$0")/sasl_acl.sh"
