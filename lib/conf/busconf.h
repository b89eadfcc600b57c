/*
 * busconf.h: the bus's settings from a loaded config (kafka section).
 */
#ifndef FERRY_CONF_BUSCONF_H
#define FERRY_CONF_BUSCONF_H

#include "bus/bus.h"
#include "conf/config.h"

/* Fills out (uninitialized on entry; release it) from the config file's
 * kafka section, resolving brokers through kafka.bootstrap_file when
 * kafka.brokers is empty (FERRY_ERR_IO when the dev broker has not written
 * it yet; out is then released). */
ferry_err_t bus_conf_from_kafka(bus_conf_t *out, const conf_kafka_t *k, char *errbuf);

#endif
