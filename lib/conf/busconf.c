/*
 * busconf.c: bus_conf_t from the config's kafka section (busconf.h).
 */
#include "conf/busconf.h"

ferry_err_t bus_conf_from_kafka(bus_conf_t *out, const conf_kafka_t *k, char *errbuf) {
  ferry_err_t e;
  bus_conf_init(out);
  if ((e = conf_kafka_brokers(k, &out->brokers, errbuf))) {
    bus_conf_release(out);
    return e;
  }
  if (k->topic_prefix) {
    fx_free(out->topic_prefix);
    out->topic_prefix = fx_strdup(k->topic_prefix);
  }
  out->group_id = fx_strdup(k->group_id);
  kvlist_copy(&out->properties, &k->properties);
  kvlist_copy(&out->producer, &k->producer_properties);
  kvlist_copy(&out->consumer, &k->consumer_properties);
  /* The config loader range-checks these; clamp so an int never wraps. */
  out->segments_partitions = (int)FERRY_MIN(FERRY_MAX(k->segments_partitions, 0), 100000);
  out->replication_factor = (int)FERRY_MIN(FERRY_MAX(k->replication_factor, -1), 100);
  out->delivery_timeout_ms =
      (int)FERRY_MIN(FERRY_MAX(k->delivery_timeout_ms, 0), 2147483647L);
  return FERRY_OK;
}
