/*
 * busint.h: what lib/bus's modules share with bus.c and nobody else (not an
 * API): the librdkafka configuration every ferry client is built from.
 */
#ifndef FERRY_BUS_BUSINT_H
#define FERRY_BUS_BUSINT_H

#include <librdkafka/rdkafka.h>

#include "bus/bus.h"

/* A consumer conf as bus_consumer_new builds one: client.id,
 * bootstrap.servers, ferry's log and error callbacks, the config's common
 * and consumer properties, then forced (name, value pairs, NULL-ended;
 * ferry's invariants for this client). New; NULL with errbuf on a bad
 * property. */
rd_kafka_conf_t *bus_consumer_conf(const bus_conf_t *c, const char *const *forced,
                                   char *errbuf);

#endif
