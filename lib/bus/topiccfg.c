/* topiccfg.c: checks of topic settings (topiccfg.h). */
#include "bus/topiccfg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void topiccfg_set(topiccfg_t *c, const char *name, const char *value, int inherited) {
  topiccfg_val_t *v = NULL;
  if (!name) return;
  if (strcmp(name, "max.message.bytes") == 0) v = &c->max_message_bytes;
  else if (strcmp(name, "retention.ms") == 0) v = &c->retention_ms;
  else if (strcmp(name, "retention.bytes") == 0) v = &c->retention_bytes;
  else if (strcmp(name, "cleanup.policy") == 0) v = &c->cleanup_policy;
  if (!v) return;
  v->present = value != NULL;
  snprintf(v->value, sizeof(v->value), "%s", value ? value : "");
  v->inherited = inherited;
}

/* The value as an integer; 0 when it is one, -1 otherwise. */
static int val_i64(const topiccfg_val_t *v, int64_t *out) {
  char *end;
  long long x;
  if (!v->present || !v->value[0]) return -1;
  errno = 0;
  x = strtoll(v->value, &end, 10);
  if (errno || *end) return -1;
  *out = (int64_t)x;
  return 0;
}

int64_t topiccfg_max_message(const topiccfg_t *c) {
  int64_t x;
  if (c && c->state == TOPICCFG_KNOWN && val_i64(&c->max_message_bytes, &x) == 0 && x > 0)
    return x;
  return 0;
}

size_t topiccfg_limit(int64_t topic_max, long producer_max) {
  int64_t topic = topic_max > 0 ? topic_max : TOPICCFG_BROKER_DEFAULT_MAX;
  /* librdkafka's default message.max.bytes. */
  int64_t prod = producer_max > 0 ? producer_max : 1000000;
  return (size_t)(topic < prod ? topic : prod);
}

static const char *origin(const topiccfg_val_t *v) {
  return v->inherited ? " (inherited from the broker's default: set it on the topic)" : "";
}

/* "compact", "delete" or "compact,delete" (either order). */
static int policy_has(const topiccfg_val_t *v, const char *word) {
  const char *p = v->value;
  size_t n = strlen(word);
  while ((p = strstr(p, word)) != NULL) {
    if ((p == v->value || p[-1] == ',' || p[-1] == ' ') && (p[n] == '\0' || p[n] == ','))
      return 1;
    p += n;
  }
  return 0;
}

static ferry_err_t check_time_size(const char *topic, const topiccfg_t *c,
                                   int64_t min_retention_ms, char *errbuf) {
  int64_t ms = 0, bytes = 0;
  if (c->retention_ms.present && val_i64(&c->retention_ms, &ms) == 0 && ms >= 0 &&
      (min_retention_ms <= 0 || ms < min_retention_ms))
    return ferry_seterr(errbuf, FERRY_ERR_CONFIG,
                        "topic %s: retention.ms=%s%s lets the broker delete records a "
                        "migration still needs; set retention.ms=-1%s",
                        topic, c->retention_ms.value, origin(&c->retention_ms),
                        min_retention_ms > 0 ? " or longer than the longest task" : "");
  if (c->retention_bytes.present && val_i64(&c->retention_bytes, &bytes) == 0 && bytes >= 0)
    return ferry_seterr(errbuf, FERRY_ERR_CONFIG,
                        "topic %s: retention.bytes=%s%s lets the broker delete the oldest "
                        "records of a partition larger than that; set retention.bytes=-1",
                        topic, c->retention_bytes.value, origin(&c->retention_bytes));
  return FERRY_OK;
}

ferry_err_t topiccfg_check(const char *topic, topiccfg_kind_t kind, const topiccfg_t *c,
                           int64_t min_retention_ms, char *errbuf) {
  const topiccfg_val_t *pol = &c->cleanup_policy;
  if (c->state != TOPICCFG_KNOWN) return FERRY_OK;
  if (kind == TOPICCFG_COMPACTED) {
    /* The latest record per task must stay: compaction keeps it, deletion
     * by time or size would not. */
    if (pol->present && !policy_has(pol, "compact"))
      return ferry_seterr(errbuf, FERRY_ERR_CONFIG,
                          "topic %s: cleanup.policy=%s%s deletes task records; set "
                          "cleanup.policy=compact", topic, pol->value, origin(pol));
    if (pol->present && policy_has(pol, "delete"))
      return check_time_size(topic, c, 0, errbuf);
    return FERRY_OK;
  }
  if (pol->present && policy_has(pol, "compact"))
    return ferry_seterr(errbuf, FERRY_ERR_CONFIG,
                        "topic %s: cleanup.policy=%s%s keeps only the latest record per key "
                        "(every result and failed record of a task has the same key); set "
                        "cleanup.policy=delete with unlimited retention",
                        topic, pol->value, origin(pol));
  return check_time_size(topic, c, min_retention_ms, errbuf);
}

void topiccfg_unchecked(const char *topic, topiccfg_kind_t kind, const topiccfg_t *c,
                        char *out, size_t outlen) {
  snprintf(out, outlen,
           "topic %s: settings not readable (%s): check by hand that %s, and that "
           "max.message.bytes is at least %d",
           topic, c->detail[0] ? c->detail : "no answer",
           kind == TOPICCFG_COMPACTED
               ? "cleanup.policy=compact"
               : "retention.ms=-1, retention.bytes=-1 and "
                 "cleanup.policy=delete",
           TOPICCFG_MIN_LIMIT);
}
