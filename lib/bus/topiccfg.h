/*
 * topiccfg.h: what ferry needs of its topics' settings, as pure checks over
 * the values a broker reports (DescribeConfigs; bus_topics_describe in
 * bus.h does the asking).
 *
 *  - Size: no message ferry produces may exceed the limit in force for its
 *    topic, the smaller of the topic's max.message.bytes and the producer's
 *    message.max.bytes (topiccfg_limit).
 *  - Retention: results, failed, segments and dlq must keep their records
 *    until the operator removes them (retention.ms = -1, retention.bytes =
 *    -1, cleanup.policy = delete); tasks must be compacted and never
 *    deleted by time or size (topiccfg_check).
 *
 * Pure and thread-safe.
 */
#ifndef FERRY_BUS_TOPICCFG_H
#define FERRY_BUS_TOPICCFG_H

#include <stddef.h>
#include <stdint.h>

#include "core/ferry.h"

/* Kafka's default message.max.bytes (1 MiB + 12), assumed for a topic
 * whose max.message.bytes cannot be read. */
#define TOPICCFG_BROKER_DEFAULT_MAX 1048588
/* Bytes kept beyond key and value for the record batch header (61), the
 * record's own fields and librdkafka's estimate of them. */
#define TOPICCFG_OVERHEAD 512
/* Below this a result with one object of a 1024-byte key does not fit. */
#define TOPICCFG_MIN_LIMIT 16384

typedef enum topiccfg_state {
  TOPICCFG_UNKNOWN = 0,   /* not asked, or no answer */
  TOPICCFG_KNOWN,         /* the broker described the topic */
  TOPICCFG_DENIED,        /* DescribeConfigs refused (authorization) */
  TOPICCFG_UNSUPPORTED,   /* the broker has no DescribeConfigs (ferry-devbroker) */
  TOPICCFG_MISSING        /* the topic does not exist (yet) */
} topiccfg_state_t;

/* One setting: its value as text and whether the topic inherits it from a
 * broker default (log.retention.ms, ...) rather than setting it itself. */
typedef struct topiccfg_val {
  int present;
  char value[64];
  int inherited;
} topiccfg_val_t;

typedef struct topiccfg {
  topiccfg_state_t state;
  char detail[160];       /* the broker's error when not KNOWN */
  topiccfg_val_t max_message_bytes, retention_ms, retention_bytes, cleanup_policy;
} topiccfg_t;

/* Records the setting `name` = value (inherited: from a broker default);
 * names ferry does not look at are ignored. */
void topiccfg_set(topiccfg_t *c, const char *name, const char *value, int inherited);

/* The topic's max.message.bytes when c is KNOWN and says it, else 0. */
int64_t topiccfg_max_message(const topiccfg_t *c);

/* The largest message (key + value + headers + TOPICCFG_OVERHEAD) a
 * producer may send to a topic whose max.message.bytes is topic_max (<= 0:
 * unknown, Kafka's default assumed) when its own message.max.bytes is
 * producer_max (<= 0: librdkafka's default). */
size_t topiccfg_limit(int64_t topic_max, long producer_max);

/* What a topic is for, as the retention check sees it. */
typedef enum topiccfg_kind {
  TOPICCFG_KEEP = 0,      /* results, failed, segments, dlq */
  TOPICCFG_COMPACTED      /* tasks */
} topiccfg_kind_t;

/*
 * FERRY_ERR_CONFIG naming the topic, the setting and its value (and the
 * broker default it inherits) when records ferry still needs could be
 * deleted; min_retention_ms <= 0 asks for unlimited retention. FERRY_OK
 * when c is not KNOWN (the caller warns, topiccfg_unchecked).
 */
ferry_err_t topiccfg_check(const char *topic, topiccfg_kind_t kind, const topiccfg_t *c,
                           int64_t min_retention_ms, char *errbuf);

/* The warning for a topic whose settings could not be read: which ones
 * to check by hand. */
void topiccfg_unchecked(const char *topic, topiccfg_kind_t kind, const topiccfg_t *c,
                        char *out, size_t outlen);

#endif
