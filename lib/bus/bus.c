/*
 * bus.c: producer, consumer, topic creation and dead-lettering over
 * librdkafka. The contract (ownership, threads, guarantees) is in bus.h.
 */
#include "bus/bus.h"
#include "bus/busint.h"
#include "bus/segplace.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

#define FAC "bus"

/* How long metadata and admin requests may take before we give up. */
#define META_TIMEOUT_MS 10000
#define ADMIN_TIMEOUT_MS 15000

static const char *const suffixes[BUS_TOPIC__COUNT] = {
    "tasks", "segments", "results", "failed", "dlq", "workers", "audit", "control", "taskstate"};

/* ---------- configuration ---------- */

void bus_conf_init(bus_conf_t *c) {
  memset(c, 0, sizeof(*c));
  c->topic_prefix = fx_strdup("ferry.");
  kvlist_init(&c->properties);
  kvlist_init(&c->producer);
  kvlist_init(&c->consumer);
  c->segments_partitions = BUS_DEFAULT_SEGMENTS_PARTITIONS;
  c->replication_factor = -1;
  c->delivery_timeout_ms = 0;
}

void bus_conf_release(bus_conf_t *c) {
  if (!c) return;
  fx_free(c->brokers);
  fx_free(c->topic_prefix);
  fx_free(c->group_id);
  kvlist_release(&c->properties);
  kvlist_release(&c->producer);
  kvlist_release(&c->consumer);
  memset(c, 0, sizeof(*c));
}

ferry_err_t bus_conf_check(const bus_conf_t *c, char *errbuf) {
  const char *p;
  if (!c->brokers || !*c->brokers)
    return ferry_seterr(errbuf, FERRY_ERR_CONFIG, "bus.brokers: missing");
  if (!c->topic_prefix)
    return ferry_seterr(errbuf, FERRY_ERR_CONFIG, "bus.topic_prefix: missing");
  /* Kafka topic names: [a-zA-Z0-9._-], at most 249 characters. */
  for (p = c->topic_prefix; *p; p++) {
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
      return ferry_seterr(errbuf, FERRY_ERR_CONFIG,
                          "bus.topic_prefix: character 0x%02x not allowed in "
                          "Kafka topic names (only a-z A-Z 0-9 . _ -)",
                          (unsigned char)*p);
  }
  if (strlen(c->topic_prefix) > 240)
    return ferry_seterr(errbuf, FERRY_ERR_CONFIG, "bus.topic_prefix: too long");
  if (c->segments_partitions < 1 || c->segments_partitions > 100000)
    return ferry_seterr(errbuf, FERRY_ERR_CONFIG,
                        "bus.segments_partitions: %d not in [1, 100000]",
                        c->segments_partitions);
  if (c->replication_factor == 0 || c->replication_factor < -1 ||
      c->replication_factor > 100)
    return ferry_seterr(errbuf, FERRY_ERR_CONFIG,
                        "bus.replication_factor: %d (use -1 for the broker "
                        "default, or 1..100)", c->replication_factor);
  if (c->delivery_timeout_ms < 0)
    return ferry_seterr(errbuf, FERRY_ERR_CONFIG,
                        "bus.delivery_timeout_ms: negative");
  return FERRY_OK;
}

/* A bus_propcheck_t is a scratch librdkafka conf, never used by a client. */
bus_propcheck_t *bus_propcheck_new(void) { return (bus_propcheck_t *)rd_kafka_conf_new(); }

int bus_prop_check(bus_propcheck_t *pc, const char *name, const char *value, char *errbuf,
                   size_t n) {
  switch (rd_kafka_conf_set((rd_kafka_conf_t *)pc, name, value, errbuf, n)) {
    case RD_KAFKA_CONF_OK: return BUS_PROP_OK;
    case RD_KAFKA_CONF_UNKNOWN: return BUS_PROP_UNKNOWN;
    default: return BUS_PROP_INVALID;
  }
}

void bus_propcheck_free(bus_propcheck_t *pc) {
  if (pc) rd_kafka_conf_destroy((rd_kafka_conf_t *)pc);
}

const char *bus_topic_suffix(bus_topic_t t) {
  return (unsigned)t < BUS_TOPIC__COUNT ? suffixes[t] : "?";
}

char *bus_topic_name(const bus_conf_t *c, bus_topic_t t) {
  return fx_asprintf("%s%s", c->topic_prefix ? c->topic_prefix : "",
                     bus_topic_suffix(t));
}

int bus_topic_partitions(const bus_conf_t *c, bus_topic_t t) {
  switch (t) {
  case BUS_TASKS: return BUS_TASKS_PARTITIONS;
  case BUS_SEGMENTS: return c->segments_partitions;
  case BUS_RESULTS: return BUS_RESULTS_PARTITIONS;
  case BUS_FAILED: return BUS_FAILED_PARTITIONS;
  case BUS_DLQ: return BUS_DLQ_PARTITIONS;
  case BUS_WORKERS: return BUS_WORKERS_PARTITIONS;
  case BUS_AUDIT: return BUS_AUDIT_PARTITIONS;
  case BUS_CONTROL: return BUS_CONTROL_PARTITIONS;
  case BUS_TASKSTATE: return BUS_TASKSTATE_PARTITIONS;
  case BUS_TOPIC__COUNT: break;
  }
  return 1;
}

/* ---------- a segments topic per task ---------- */

int bus_task_name_ok(const char *task) {
  size_t n = 0;
  if (!task) return 0;
  for (; task[n]; n++) {
    char ch = task[n];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '.' || ch == '_' || ch == '-'))
      return 0;
  }
  return n >= 1 && n <= 64;
}

char *bus_segments_topic(const bus_conf_t *c, const char *task) {
  if (!bus_task_name_ok(task)) return NULL;
  return fx_asprintf("%s%s.%s", c->topic_prefix ? c->topic_prefix : "",
                     bus_topic_suffix(BUS_SEGMENTS), task);
}

const char *bus_segments_topic_task(const char *prefix, const char *topic) {
  size_t pl = prefix ? strlen(prefix) : 0, sl = strlen("segments.");
  if (!topic || strncmp(topic, prefix ? prefix : "", pl) != 0 ||
      strncmp(topic + pl, "segments.", sl) != 0 || !topic[pl + sl])
    return NULL;
  return topic + pl + sl;
}

char *bus_segments_regex(const bus_conf_t *c) {
  const char *p = c->topic_prefix ? c->topic_prefix : "";
  char *esc = fx_malloc(2 * strlen(p) + 1), *q = esc, *re;
  /* A prefix is [a-zA-Z0-9._-]: only '.' means something in a regex. */
  for (; *p; p++) {
    if (*p == '.') *q++ = '\\';
    *q++ = *p;
  }
  *q = 0;
  re = fx_asprintf("^%ssegments\\..+$", esc);
  fx_free(esc);
  return re;
}

/* ---------- librdkafka plumbing ---------- */

static void consumer_note_lost(const rd_kafka_t *rk, const char *what);

/* syslog levels (0 emerg .. 7 debug) to ours. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf) {
  /* librdkafka resets a consumer whose position is out of range to the
   * earliest offset, and tells only its log (a warning "offset reset ...
   * Offset out of range"): records it still needed were deleted. */
  if (level <= 4 && fac && strcmp(fac, "OFFSET") == 0 && buf && strstr(buf, "offset reset") &&
      rk && rd_kafka_type(rk) == RD_KAFKA_CONSUMER)
    consumer_note_lost(rk, buf);
  flog_level_t l = level <= 3 ? FLOG_ERROR
                   : level == 4 ? FLOG_WARN
                   : level <= 6 ? FLOG_INFO
                                : FLOG_DEBUG;
  FLOG(l, "kafka", "client=%s fac=%s msg=%s", FLOG_V(rk ? rd_kafka_name(rk) : "-"),
       FLOG_V(fac), FLOG_Q(buf));
}

/* Errors are mostly transient (brokers down, reconnects): librdkafka keeps
 * retrying. Fatal ones are also read back through rd_kafka_fatal_error(). */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
  (void)opaque;
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char buf[256];
    rd_kafka_fatal_error(rk, buf, sizeof(buf));
    LOG_ERROR("kafka", "client=%s fatal=%s", FLOG_V(rd_kafka_name(rk)), FLOG_Q(buf));
  } else {
    LOG_WARN("kafka", "client=%s err=%s reason=%s", FLOG_V(rd_kafka_name(rk)),
             rd_kafka_err2name((rd_kafka_resp_err_t)err), FLOG_Q(reason));
  }
}

/* Properties whose value may be a credential: never echo their value. */
static int secretish(const char *name) {
  return strncmp(name, "sasl.", 5) == 0 || strncmp(name, "ssl.", 4) == 0 ||
         strstr(name, "password") || strstr(name, "secret") ||
         strstr(name, "token");
}

static ferry_err_t set_prop(rd_kafka_conf_t *conf, const char *list,
                            const char *name, const char *value, char *errbuf) {
  char errstr[512];
  rd_kafka_conf_res_t r = rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr));
  if (r == RD_KAFKA_CONF_OK) return FERRY_OK;
  if (r == RD_KAFKA_CONF_UNKNOWN)
    return ferry_seterr(errbuf, FERRY_ERR_CONFIG,
                        "kafka %s property \"%s\": unknown property", list, name);
  if (secretish(name))
    return ferry_seterr(errbuf, FERRY_ERR_CONFIG,
                        "kafka %s property \"%s\": invalid value", list, name);
  return ferry_seterr(errbuf, FERRY_ERR_CONFIG, "kafka %s property \"%s\": %s",
                      list, name, errstr);
}

/* Properties ferry's delivery guarantees rest on; a config may not set them. */
static const char *const managed_producer[] = {"enable.idempotence", NULL};
static const char *const managed_consumer[] = {
    "enable.auto.commit", "enable.auto.offset.store", "group.id", NULL};

static ferry_err_t apply_list(rd_kafka_conf_t *conf, const char *list,
                              const kvlist_t *kv, const char *const *managed,
                              char *errbuf) {
  size_t i, j;
  ferry_err_t e;
  for (i = 0; i < kv->n; i++) {
    for (j = 0; managed && managed[j]; j++) {
      if (strcmp(kv->v[i].name, managed[j]) == 0)
        return ferry_seterr(errbuf, FERRY_ERR_CONFIG,
                            "kafka %s property \"%s\": set by ferry, not "
                            "configurable%s", list, kv->v[i].name,
                            strcmp(managed[j], "group.id") == 0
                                ? " (use the group id setting)" : "");
    }
    if ((e = set_prop(conf, list, kv->v[i].name, kv->v[i].value, errbuf)))
      return e;
  }
  return FERRY_OK;
}

/*
 * A conf with: client.id, bootstrap.servers, our log and error callbacks,
 * `base` (ferry's defaults for this client type, overridable), then the
 * config's common properties and `extra`, then `forced` (ferry's
 * invariants). NULL with errbuf on a bad property.
 */
static rd_kafka_conf_t *make_conf(const bus_conf_t *c, const char *const *base,
                                  const char *extra_name, const kvlist_t *extra,
                                  const char *const *managed,
                                  const char *const *forced, char *errbuf) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  ferry_err_t e = FERRY_OK;
  size_t i;
  rd_kafka_conf_set_log_cb(conf, log_cb);
  rd_kafka_conf_set_error_cb(conf, error_cb);
  e = set_prop(conf, "ferry", "client.id", "ferry", errbuf);
  if (!e && c->brokers)
    e = set_prop(conf, "ferry", "bootstrap.servers", c->brokers, errbuf);
  for (i = 0; !e && base && base[i]; i += 2)
    e = set_prop(conf, "ferry", base[i], base[i + 1], errbuf);
  if (!e) e = apply_list(conf, "common", &c->properties, managed, errbuf);
  if (!e && extra) e = apply_list(conf, extra_name, extra, managed, errbuf);
  for (i = 0; !e && forced && forced[i]; i += 2)
    e = set_prop(conf, "ferry", forced[i], forced[i + 1], errbuf);
  if (e) {
    rd_kafka_conf_destroy(conf);
    return NULL;
  }
  return conf;
}

rd_kafka_conf_t *bus_consumer_conf(const bus_conf_t *c, const char *const *forced,
                                   char *errbuf) {
  return make_conf(c, NULL, "consumer", &c->consumer, managed_consumer, forced, errbuf);
}

/* Milliseconds until deadline, never negative: a negative wait means "no
 * limit" to librdkafka. (This was FERRY_MAX(0, deadline - ferry_mono_ms()), which
 * reads the clock twice: when the millisecond turned between the two reads
 * the wait came out as -1, and a poll meant to return at once waited for the
 * next event, which an idle worker never gets — the worker "blocked inside
 * consumer poll" seen since the first session, caught by the watchdog.) */
static int ms_left(int64_t deadline) {
  int64_t left = deadline - ferry_mono_ms();
  return left > 0 ? (int)FERRY_MIN(left, INT32_MAX) : 0;
}

/* ---------- topic creation ---------- */

/* 1 when md shows every ferry topic (or only the one named `only`) with
 * partitions that all have a leader. */
static int topics_known(const bus_conf_t *c, const struct rd_kafka_metadata *md,
                        const char *only) {
  int t, j, p, found;
  for (t = 0; t < (only ? 1 : BUS_TOPIC__COUNT); t++) {
    char *name = only ? fx_strdup(only) : bus_topic_name(c, (bus_topic_t)t);
    found = 0;
    for (j = 0; j < md->topic_cnt && !found; j++) {
      const rd_kafka_metadata_topic_t *mt = &md->topics[j];
      if (strcmp(mt->topic, name) != 0 || mt->err || mt->partition_cnt < 1) continue;
      found = 1;
      for (p = 0; p < mt->partition_cnt; p++)
        if (mt->partitions[p].err || mt->partitions[p].leader < 0) found = 0;
    }
    fx_free(name);
    if (!found) return 0;
  }
  return 1;
}

/*
 * After CreateTopics: wait until every broker answers metadata requests with
 * the new topics. A broker that has not caught up with the controller yet
 * answers "unknown topic or partition", and librdkafka 2.0.2 then sets the
 * topic's partition count to 0 and fails the messages already queued for it
 * ("Local: Unknown partition"): the lister's first segments, seen on a real
 * three-broker Kafka 4.1 cluster (tests/kafka). One short-lived client per
 * broker, bootstrapped with that broker alone, so that its metadata comes
 * from it. Not fatal after 30 s: a send that still fails is reported.
 */
static void wait_topics_everywhere(const bus_conf_t *c, const struct rd_kafka_metadata *md,
                                   const char *only) {
  int b;
  for (b = 0; b < md->broker_cnt; b++) {
    char addr[300], errstr[512], eb[FERRY_ERRLEN];
    const struct rd_kafka_metadata *m = NULL;
    rd_kafka_conf_t *conf = make_conf(c, NULL, NULL, NULL, managed_producer, NULL, eb);
    rd_kafka_t *rk;
    int64_t deadline = ferry_mono_ms() + 30000;
    int known = 0;
    if (!conf) return;
    snprintf(addr, sizeof(addr), "%s:%d", md->brokers[b].host, md->brokers[b].port);
    if (rd_kafka_conf_set(conf, "bootstrap.servers", addr, errstr, sizeof(errstr)) ||
        !(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr)))) {
      rd_kafka_conf_destroy(conf);
      return;
    }
    while (!known && ms_left(deadline) > 0) {
      if (rd_kafka_metadata(rk, 1, NULL, &m, META_TIMEOUT_MS) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        known = topics_known(c, m, only);
        rd_kafka_metadata_destroy(m);
      }
      if (!known) nanosleep(&(struct timespec){0, 200 * 1000 * 1000}, NULL);
    }
    if (!known)
      LOG_WARN(FAC, "broker=%s msg=\"does not know the new topics after 30 s\"", FLOG_V(addr));
    rd_kafka_destroy(rk);
  }
}

/* A short-lived client for metadata and admin requests. */
static rd_kafka_t *admin_client(const bus_conf_t *c, char *errbuf) {
  char errstr[512];
  rd_kafka_conf_t *conf;
  rd_kafka_t *rk;
  if (bus_conf_check(c, errbuf)) return NULL;
  conf = make_conf(c, NULL, NULL, NULL, managed_producer, NULL, errbuf);
  if (!conf) return NULL;
  rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    ferry_seterr(errbuf, FERRY_ERR_KAFKA, "kafka client: %s", errstr);
  }
  return rk;
}

/* Settings every topic but tasks is created with: nothing is deleted
 * until the operator removes the topic (docs/deploy.md, "Retention"). */
static const char *const keep_forever[] = {"retention.ms", "-1", "retention.bytes", "-1",
                                           "cleanup.policy", "delete", NULL};
static const char *const compacted[] = {"cleanup.policy", "compact", NULL};
/* Worker heartbeats are only wanted while fresh. */
static const char *const heartbeats[] = {"retention.ms", BUS_WORKERS_RETENTION_MS, NULL};

static ferry_err_t new_topic_config(rd_kafka_NewTopic_t *nt, bus_topic_t t, const char *name,
                                    char *errbuf) {
  const char *const *kv = t == BUS_TASKS || t == BUS_TASKSTATE ? compacted
                          : t == BUS_WORKERS ? heartbeats
                                             : keep_forever;
  for (; *kv; kv += 2)
    if (rd_kafka_NewTopic_set_config(nt, kv[0], kv[1]))
      return ferry_seterr(errbuf, FERRY_ERR_KAFKA, "topic %s: cannot set %s", name, kv[0]);
  return FERRY_OK;
}

ferry_err_t bus_topics_create(const bus_conf_t *c, char *errbuf) {
  char errstr[512];
  rd_kafka_t *rk;
  const struct rd_kafka_metadata *md = NULL;
  rd_kafka_NewTopic_t *newt[BUS_TOPIC__COUNT];
  size_t n_new = 0, i;
  int t, j;
  ferry_err_t e = FERRY_OK; /* every topic there: nothing to create */
  rd_kafka_resp_err_t err;

  if (!(rk = admin_client(c, errbuf))) return FERRY_ERR_CONFIG;
  err = rd_kafka_metadata(rk, 1, NULL, &md, META_TIMEOUT_MS);
  if (err) {
    e = ferry_seterr(errbuf, FERRY_ERR_KAFKA, "kafka metadata from %s: %s",
                     c->brokers, rd_kafka_err2str(err));
    goto out;
  }
  for (t = 0; t < BUS_TOPIC__COUNT; t++) {
    char *name = bus_topic_name(c, (bus_topic_t)t);
    int want = bus_topic_partitions(c, (bus_topic_t)t), found = 0;
    for (j = 0; j < md->topic_cnt; j++) {
      if (strcmp(md->topics[j].topic, name) == 0 && !md->topics[j].err) {
        found = 1;
        if (md->topics[j].partition_cnt != want)
          LOG_WARN(FAC,
                   "topic=%s partitions=%d configured=%d "
                   "msg=\"exists with another partition count; left alone\"",
                   FLOG_V(name), md->topics[j].partition_cnt, want);
      }
    }
    if (!found) {
      newt[n_new] = rd_kafka_NewTopic_new(name, want, c->replication_factor,
                                          errstr, sizeof(errstr));
      if (!newt[n_new]) {
        e = ferry_seterr(errbuf, FERRY_ERR_CONFIG, "topic %s: %s", name, errstr);
        fx_free(name);
        goto out;
      }
      if ((e = new_topic_config(newt[n_new], (bus_topic_t)t, name, errbuf))) {
        rd_kafka_NewTopic_destroy(newt[n_new]);
        fx_free(name);
        goto out;
      }
      n_new++;
    }
    fx_free(name);
  }
  if (n_new) {
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opt =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_event_t *ev;
    rd_kafka_AdminOptions_set_operation_timeout(opt, ADMIN_TIMEOUT_MS / 2, errstr,
                                                sizeof(errstr));
    rd_kafka_AdminOptions_set_request_timeout(opt, ADMIN_TIMEOUT_MS, errstr,
                                              sizeof(errstr));
    rd_kafka_CreateTopics(rk, newt, n_new, opt, q);
    ev = rd_kafka_queue_poll(q, ADMIN_TIMEOUT_MS + 5000);
    if (!ev) {
      e = ferry_seterr(errbuf, FERRY_ERR_TIMEOUT, "kafka CreateTopics: no answer");
    } else if (rd_kafka_event_error(ev)) {
      /* librdkafka's mock cluster (ferry-devbroker) has no Admin API. */
      e = ferry_seterr(errbuf, FERRY_ERR_KAFKA,
                       "kafka CreateTopics for %zu missing topic(s) with prefix "
                       "\"%s\": %s (a broker without the Admin API, such as "
                       "ferry-devbroker, must have them created beforehand)",
                       n_new, c->topic_prefix, rd_kafka_event_error_string(ev));
    } else {
      const rd_kafka_CreateTopics_result_t *res =
          rd_kafka_event_CreateTopics_result(ev);
      size_t cnt = 0;
      const rd_kafka_topic_result_t **tr =
          res ? rd_kafka_CreateTopics_result_topics(res, &cnt) : NULL;
      e = FERRY_OK;
      for (i = 0; i < cnt && !e; i++) {
        rd_kafka_resp_err_t te = rd_kafka_topic_result_error(tr[i]);
        const char *name = rd_kafka_topic_result_name(tr[i]);
        if (te == RD_KAFKA_RESP_ERR_NO_ERROR) {
          LOG_INFO(FAC, "topic=%s msg=\"created\"", FLOG_V(name));
        } else if (te == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
          LOG_DEBUG(FAC, "topic=%s msg=\"already exists\"", FLOG_V(name));
        } else {
          const char *es = rd_kafka_topic_result_error_string(tr[i]);
          e = ferry_seterr(errbuf, FERRY_ERR_KAFKA, "kafka create topic %s: %s",
                           name, es && *es ? es : rd_kafka_err2str(te));
        }
      }
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_queue_destroy(q);
    if (!e) wait_topics_everywhere(c, md, NULL);
  }
out:
  rd_kafka_NewTopic_destroy_array(newt, n_new);
  if (md) rd_kafka_metadata_destroy(md);
  rd_kafka_destroy(rk);
  return e;
}

/* Reads one described topic into out. */
static void describe_one(const rd_kafka_ConfigResource_t *res, topiccfg_t *out) {
  rd_kafka_resp_err_t err = rd_kafka_ConfigResource_error(res);
  const rd_kafka_ConfigEntry_t **ent;
  size_t n = 0, i;
  if (err) {
    const char *es = rd_kafka_ConfigResource_error_string(res);
    out->state = err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
                         err == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED
                     ? TOPICCFG_DENIED
                 : err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ? TOPICCFG_MISSING
                                                                  : TOPICCFG_UNKNOWN;
    snprintf(out->detail, sizeof(out->detail), "%s", es && *es ? es : rd_kafka_err2str(err));
    return;
  }
  out->state = TOPICCFG_KNOWN;
  ent = rd_kafka_ConfigResource_configs(res, &n);
  for (i = 0; i < n; i++) {
    rd_kafka_ConfigSource_t src = rd_kafka_ConfigEntry_source(ent[i]);
    topiccfg_set(out, rd_kafka_ConfigEntry_name(ent[i]), rd_kafka_ConfigEntry_value(ent[i]),
                 src != RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG);
  }
}

/* Why DescribeConfigs cannot be asked, or NULL: no broker answers, or the
 * cluster's metadata names no controller among its brokers (librdkafka's
 * mock cluster says controller 0 and numbers its brokers from 1), where
 * librdkafka 2.0.2 would wait for one until the request times out. */
static const char *no_controller(rd_kafka_t *rk) {
  const struct rd_kafka_metadata *md = NULL;
  int32_t ctl;
  int i, found = 0;
  if (rd_kafka_metadata(rk, 0, NULL, &md, META_TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return "no broker answered a metadata request";
  ctl = rd_kafka_controllerid(rk, 0);
  for (i = 0; i < md->broker_cnt; i++) found |= md->brokers[i].id == ctl;
  rd_kafka_metadata_destroy(md);
  return found ? NULL
               : "the brokers name no controller, as ferry-devbroker's mock cluster, which "
                 "has no DescribeConfigs";
}

/* DescribeConfigs of the n topics names[] through rk (n <= BUS_TOPIC__COUNT). */
static void describe_names(rd_kafka_t *rk, char *const *names, int n, topiccfg_t *out) {
  rd_kafka_ConfigResource_t *res[BUS_TOPIC__COUNT];
  rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
  rd_kafka_event_t *ev;
  char errstr[256];
  const char *why;
  int t;
  memset(out, 0, sizeof(*out) * (size_t)n);
  if ((why = no_controller(rk)) != NULL) {
    for (t = 0; t < n; t++) {
      out[t].state = strstr(why, "controller") ? TOPICCFG_UNSUPPORTED : TOPICCFG_UNKNOWN;
      snprintf(out[t].detail, sizeof(out[t].detail), "%s", why);
    }
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_queue_destroy(q);
    return;
  }
  for (t = 0; t < n; t++) {
    res[t] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, names[t]);
  }
  rd_kafka_AdminOptions_set_request_timeout(opt, ADMIN_TIMEOUT_MS, errstr, sizeof(errstr));
  rd_kafka_DescribeConfigs(rk, res, (size_t)n, opt, q);
  ev = rd_kafka_queue_poll(q, ADMIN_TIMEOUT_MS + 5000);
  if (!ev || rd_kafka_event_error(ev)) {
    rd_kafka_resp_err_t err = ev ? rd_kafka_event_error(ev) : RD_KAFKA_RESP_ERR__TIMED_OUT;
    const char *es = ev ? rd_kafka_event_error_string(ev) : "no answer";
    for (t = 0; t < n; t++) {
      out[t].state = err == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE ? TOPICCFG_UNSUPPORTED
                     : err == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED ||
                             err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED
                         ? TOPICCFG_DENIED
                         : TOPICCFG_UNKNOWN;
      snprintf(out[t].detail, sizeof(out[t].detail), "DescribeConfigs: %s", es);
    }
  } else {
    size_t n_got = 0, i;
    const rd_kafka_ConfigResource_t **got =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n_got);
    for (i = 0; i < n_got; i++)
      for (t = 0; t < n; t++)
        if (strcmp(names[t], rd_kafka_ConfigResource_name(got[i])) == 0)
          describe_one(got[i], &out[t]);
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(opt);
  rd_kafka_queue_destroy(q);
  rd_kafka_ConfigResource_destroy_array(res, (size_t)n);
}

/* DescribeConfigs of ferry's topics through rk. */
static void describe_with(rd_kafka_t *rk, const bus_conf_t *c, topiccfg_t out[BUS_TOPIC__COUNT]) {
  char *names[BUS_TOPIC__COUNT];
  int t;
  for (t = 0; t < BUS_TOPIC__COUNT; t++) names[t] = bus_topic_name(c, (bus_topic_t)t);
  describe_names(rk, names, BUS_TOPIC__COUNT, out);
  for (t = 0; t < BUS_TOPIC__COUNT; t++) fx_free(names[t]);
}

ferry_err_t bus_topics_describe(const bus_conf_t *c, topiccfg_t out[BUS_TOPIC__COUNT],
                                char *errbuf) {
  rd_kafka_t *rk = admin_client(c, errbuf);
  if (!rk) return FERRY_ERR_KAFKA;
  describe_with(rk, c, out);
  rd_kafka_destroy(rk);
  return FERRY_OK;
}

ferry_err_t bus_topics_check(bus_conf_t *c, char *errbuf) {
  topiccfg_t cfg[BUS_TOPIC__COUNT];
  ferry_err_t e;
  int t;
  if ((e = bus_topics_describe(c, cfg, errbuf))) return e;
  for (t = 0; t < BUS_TOPIC__COUNT; t++) {
    char *name = bus_topic_name(c, (bus_topic_t)t);
    topiccfg_kind_t kind =
        t == BUS_TASKS || t == BUS_TASKSTATE ? TOPICCFG_COMPACTED : TOPICCFG_KEEP;
    char warn[512];
    c->topic_max[t] = topiccfg_max_message(&cfg[t]);
    if (t == BUS_WORKERS) {
      /* Heartbeats expire on purpose: no retention to check. */
    } else if (cfg[t].state == TOPICCFG_KNOWN) {
      e = topiccfg_check(name, kind, &cfg[t], 0, errbuf);
    } else if (cfg[t].state != TOPICCFG_MISSING) {   /* a missing one is created later */
      topiccfg_unchecked(name, kind, &cfg[t], warn, sizeof(warn));
      if (cfg[t].state == TOPICCFG_UNSUPPORTED) LOG_INFO(FAC, "event=topic-unchecked msg=%s", FLOG_Q(warn));
      else LOG_WARN(FAC, "event=topic-unchecked msg=%s", FLOG_Q(warn));
    }
    fx_free(name);
    if (e) return e;
  }
  return FERRY_OK;
}

/* CreateTopics of one segments topic; FERRY_OK also when it exists, or
 * when the broker has no Admin API (*unsupported set: the broker creates it
 * on first use). */
static ferry_err_t create_one(rd_kafka_t *rk, const bus_conf_t *c, const char *name,
                              int *unsupported, char *errbuf) {
  char errstr[512];
  rd_kafka_NewTopic_t *nt;
  rd_kafka_queue_t *q;
  rd_kafka_AdminOptions_t *opt;
  rd_kafka_event_t *ev;
  ferry_err_t e = FERRY_OK;
  const char *why = no_controller(rk);
  /* librdkafka's mock cluster (ferry-devbroker) names no controller and has
   * no CreateTopics: asking would only wait out the request timeout (15 s,
   * seen on every task's first listing). */
  if (why && strstr(why, "controller")) {
    *unsupported = 1;
    return FERRY_OK;
  }
  nt = rd_kafka_NewTopic_new(name, c->segments_partitions, c->replication_factor, errstr,
                             sizeof(errstr));
  if (!nt) return ferry_seterr(errbuf, FERRY_ERR_CONFIG, "topic %s: %s", name, errstr);
  if ((e = new_topic_config(nt, BUS_SEGMENTS, name, errbuf))) {
    rd_kafka_NewTopic_destroy(nt);
    return e;
  }
  q = rd_kafka_queue_new(rk);
  opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(opt, ADMIN_TIMEOUT_MS / 2, errstr, sizeof(errstr));
  rd_kafka_AdminOptions_set_request_timeout(opt, ADMIN_TIMEOUT_MS, errstr, sizeof(errstr));
  rd_kafka_CreateTopics(rk, &nt, 1, opt, q);
  ev = rd_kafka_queue_poll(q, ADMIN_TIMEOUT_MS + 5000);
  if (!ev) {
    e = ferry_seterr(errbuf, FERRY_ERR_TIMEOUT, "kafka CreateTopics %s: no answer", name);
  } else if (rd_kafka_event_error(ev)) {
    rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
    /* librdkafka's mock cluster (ferry-devbroker) has no Admin API; it
     * creates a topic when a producer first asks for it. */
    if (err == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE || no_controller(rk)) *unsupported = 1;
    else
      e = ferry_seterr(errbuf, FERRY_ERR_KAFKA, "kafka CreateTopics %s: %s", name,
                       rd_kafka_event_error_string(ev));
  } else {
    size_t cnt = 0;
    const rd_kafka_topic_result_t **tr =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
    rd_kafka_resp_err_t te = cnt ? rd_kafka_topic_result_error(tr[0]) : RD_KAFKA_RESP_ERR_NO_ERROR;
    if (te == RD_KAFKA_RESP_ERR_NO_ERROR) {
      LOG_INFO(FAC, "topic=%s partitions=%d msg=\"created\"", FLOG_V(name),
               c->segments_partitions);
    } else if (te != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      const char *es = rd_kafka_topic_result_error_string(tr[0]);
      e = ferry_seterr(errbuf, FERRY_ERR_KAFKA, "kafka create topic %s: %s", name,
                       es && *es ? es : rd_kafka_err2str(te));
    }
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(opt);
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy(nt);
  return e;
}

ferry_err_t bus_segments_topic_ensure(const bus_conf_t *c, const char *task, char *errbuf) {
  char *name = bus_segments_topic(c, task);
  const struct rd_kafka_metadata *md = NULL;
  rd_kafka_t *rk;
  rd_kafka_resp_err_t err;
  topiccfg_t cfg;
  ferry_err_t e = FERRY_OK;
  int j, found = 0, unsupported = 0;
  if (!name)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "task name \"%s\": not usable in a Kafka topic name (letters, digits, "
                        "'.', '_', '-', at most 64)", task ? task : "");
  if (!(rk = admin_client(c, errbuf))) {
    fx_free(name);
    return FERRY_ERR_CONFIG;
  }
  /* All topics: asking for this one alone would let the broker create it
   * with its own defaults. */
  err = rd_kafka_metadata(rk, 1, NULL, &md, META_TIMEOUT_MS);
  if (err) {
    e = ferry_seterr(errbuf, FERRY_ERR_KAFKA, "kafka metadata from %s: %s", c->brokers,
                     rd_kafka_err2str(err));
    goto out;
  }
  for (j = 0; j < md->topic_cnt; j++)
    if (strcmp(md->topics[j].topic, name) == 0 && !md->topics[j].err) found = 1;
  if (!found) {
    if ((e = create_one(rk, c, name, &unsupported, errbuf))) goto out;
    if (unsupported)
      LOG_INFO(FAC, "topic=%s msg=\"the broker has no CreateTopics (ferry-devbroker): it "
               "creates the topic on first use, with its default partition count\"",
               FLOG_V(name));
    else
      wait_topics_everywhere(c, md, name);
  }
  /* The retention check of bus_topics_check, for this topic. */
  describe_names(rk, &name, 1, &cfg);
  if (cfg.state == TOPICCFG_KNOWN) {
    e = topiccfg_check(name, TOPICCFG_KEEP, &cfg, 0, errbuf);
  } else if (cfg.state != TOPICCFG_MISSING) {
    char warn[512];
    topiccfg_unchecked(name, TOPICCFG_KEEP, &cfg, warn, sizeof(warn));
    if (cfg.state == TOPICCFG_UNSUPPORTED) LOG_INFO(FAC, "event=topic-unchecked msg=%s", FLOG_Q(warn));
    else LOG_WARN(FAC, "event=topic-unchecked msg=%s", FLOG_Q(warn));
  }
out:
  if (md) rd_kafka_metadata_destroy(md);
  rd_kafka_destroy(rk);
  fx_free(name);
  return e;
}

/* ---------- producer ---------- */

/* A task's segments topic handle (bus_producer_send_segment). */
typedef struct task_rkt {
  char *task;
  rd_kafka_topic_t *rkt;
} task_rkt_t;

struct bus_producer {
  rd_kafka_t *rk;
  rd_kafka_topic_t *rkt[BUS_TOPIC__COUNT];  /* made on first send (topic_handle) */
  pthread_mutex_t rkt_lock;        /* guards making them */
  char *prefix;                    /* topic_prefix, for the tasks' topics */
  task_rkt_t *tasks;               /* the tasks' segments topics sent to */
  size_t n_tasks;
  bus_delivery_cb *cb;
  void *ctx;
  int outstanding;      /* sends accepted and not yet reported */
  int queue_wait_ms;    /* how long send waits on a full queue */
  size_t limit[BUS_TOPIC__COUNT];  /* largest message per topic (topiccfg_limit) */
};

/* Errors about one message that sending it again cannot cure. */
static int refused_error(rd_kafka_resp_err_t e) {
  switch (e) {
  case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
  case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
  case RD_KAFKA_RESP_ERR_INVALID_MSG:
  case RD_KAFKA_RESP_ERR_INVALID_RECORD:
  case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
  case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
  case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    return 1;
  default:
    return 0;
  }
}

static int32_t seg_partitioner(const rd_kafka_topic_t *rkt, const void *key, size_t key_len,
                               int32_t partition_cnt, void *rkt_opaque, void *msg_opaque) {
  (void)rkt;
  (void)rkt_opaque;
  (void)msg_opaque;
  return segplace_partition(key, key_len, partition_cnt);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  bus_producer_t *p = opaque;
  bus_delivery_t d;
  (void)rk;
  d.opaque = m->_private;
  d.err = m->err ? FERRY_ERR_KAFKA : FERRY_OK;
  d.refused = m->err && refused_error(m->err);
  d.error = m->err ? rd_kafka_err2str(m->err) : "";
  d.topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "?";
  d.partition = m->err ? -1 : m->partition;
  d.offset = m->err ? -1 : m->offset;
  p->outstanding--;
  if (m->err)
    LOG_DEBUG(FAC, "topic=%s delivery=failed err=%s", FLOG_V(d.topic), FLOG_Q(d.error));
  if (p->cb) {
    p->cb(&d, p->ctx);
  } else if (m->err) {
    LOG_ERROR(FAC, "topic=%s delivery=failed err=%s", FLOG_V(d.topic), FLOG_Q(d.error));
  }
}

static long conf_long(rd_kafka_conf_t *conf, const char *name, long dflt) {
  char v[32];
  size_t vn = sizeof(v);
  if (rd_kafka_conf_get(conf, name, v, &vn) != RD_KAFKA_CONF_OK) return dflt;
  return atol(v);
}

/*
 * The limit of each topic's messages: the topic's max.message.bytes (asked
 * of the broker; Kafka's default when it cannot say) and the producer's
 * message.max.bytes. batch.size is lowered to the smallest, so that a batch
 * of small messages never exceeds a topic's limit either.
 */
static ferry_err_t learn_limits(const bus_conf_t *c, rd_kafka_conf_t *conf,
                                size_t limit[BUS_TOPIC__COUNT], char *errbuf) {
  long prod = conf_long(conf, "message.max.bytes", 1000000);
  size_t lowest = SIZE_MAX;
  int t;
  for (t = 0; t < BUS_TOPIC__COUNT; t++) {
    limit[t] = topiccfg_limit(c->topic_max[t], prod);
    if (limit[t] < TOPICCFG_MIN_LIMIT) {
      char *name = bus_topic_name(c, (bus_topic_t)t);
      ferry_seterr(errbuf, FERRY_ERR_CONFIG,
                   "topic %s: messages limited to %zu bytes (max.message.bytes of the topic, "
                   "message.max.bytes of the producer); ferry needs at least %d",
                   name, limit[t], TOPICCFG_MIN_LIMIT);
      fx_free(name);
      return FERRY_ERR_CONFIG;
    }
    if (limit[t] < lowest) lowest = limit[t];
    LOG_DEBUG(FAC, "topic=%s limit=%zu topic_max=%" PRId64, bus_topic_suffix((bus_topic_t)t),
              limit[t], c->topic_max[t]);
  }
  if ((size_t)conf_long(conf, "batch.size", 1000000) > lowest) {
    char v[32];
    snprintf(v, sizeof(v), "%zu", lowest);
    return set_prop(conf, "ferry", "batch.size", v, errbuf);
  }
  return FERRY_OK;
}

size_t bus_producer_max_value(const bus_producer_t *p, bus_topic_t topic, size_t key_len) {
  size_t lim = (unsigned)topic < BUS_TOPIC__COUNT ? p->limit[topic] : 0;
  return lim > key_len + TOPICCFG_OVERHEAD ? lim - key_len - TOPICCFG_OVERHEAD : 0;
}

/* A segments topic's settings: zstd on segments only (they are the bulk of
 * what is produced; the other topics follow the producer's
 * compression.type), and placed round-robin over the partitions the broker
 * reports, not by key hash, so that a few segments reach as many workers
 * (bus/segplace.h). */
static ferry_err_t segments_conf(rd_kafka_topic_conf_t *tc, char *errbuf) {
  char errstr[512];
  if (rd_kafka_topic_conf_set(tc, "compression.type", "zstd", errstr, sizeof(errstr)) !=
      RD_KAFKA_CONF_OK)
    return ferry_seterr(errbuf, FERRY_ERR_KAFKA, "kafka zstd: %s", errstr);
  rd_kafka_topic_conf_set_partitioner_cb(tc, seg_partitioner);
  return FERRY_OK;
}

bus_producer_t *bus_producer_new(const bus_conf_t *c, bus_delivery_cb *cb,
                                 void *ctx, char *errbuf) {
  /* Defaults a config may change; then invariants it may not. */
  char dto[24];
  const char *base[] = {"delivery.timeout.ms", dto, NULL, NULL};
  static const char *const forced[] = {"enable.idempotence", "true", NULL, NULL};
  char errstr[512];
  rd_kafka_conf_t *conf;
  bus_producer_t *p;

  if (bus_conf_check(c, errbuf)) return NULL;
  if (c->delivery_timeout_ms > 0) {
    snprintf(dto, sizeof(dto), "%d", c->delivery_timeout_ms);
  } else {
    base[0] = NULL;
  }
  conf = make_conf(c, base, "producer", &c->producer, managed_producer, forced,
                   errbuf);
  if (!conf) return NULL;
  p = fx_calloc(1, sizeof(*p));
  if (learn_limits(c, conf, p->limit, errbuf)) {
    rd_kafka_conf_destroy(conf);
    fx_free(p);
    return NULL;
  }
  p->cb = cb;
  p->ctx = ctx;
  {
    char v[32];
    size_t vn = sizeof(v);
    p->queue_wait_ms = 300000;
    if (rd_kafka_conf_get(conf, "delivery.timeout.ms", v, &vn) == RD_KAFKA_CONF_OK)
      p->queue_wait_ms = atoi(v);
  }
  rd_kafka_conf_set_opaque(conf, p);
  rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
  p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (!p->rk) {
    rd_kafka_conf_destroy(conf);
    fx_free(p);
    ferry_seterr(errbuf, FERRY_ERR_KAFKA, "kafka producer: %s", errstr);
    return NULL;
  }
  p->prefix = fx_strdup(c->topic_prefix ? c->topic_prefix : "");
  /* Topic handles are made on a topic's first send (topic_handle): a handle
   * makes librdkafka ask for the topic's metadata, and a broker with
   * auto.create.topics.enable (Kafka's default) then creates a missing topic
   * with its own defaults (one partition, 7 days' retention) — a worker or
   * reporter started before the first lister made every topic so. */
  pthread_mutex_init(&p->rkt_lock, NULL);
  return p;
}

void bus_producer_destroy(bus_producer_t *p) {
  int t;
  if (!p) return;
  if (p->outstanding > 0) {
    LOG_WARN(FAC, "outstanding=%d msg=\"producer destroyed with unreported "
             "sends; they are reported as failed\"", p->outstanding);
    rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(p->rk, 5000);
  }
  for (t = 0; t < BUS_TOPIC__COUNT; t++)
    if (p->rkt[t]) rd_kafka_topic_destroy(p->rkt[t]);
  while (p->n_tasks) {
    task_rkt_t *tr = &p->tasks[--p->n_tasks];
    rd_kafka_topic_destroy(tr->rkt);
    fx_free(tr->task);
  }
  fx_free(p->tasks);
  fx_free(p->prefix);
  rd_kafka_destroy(p->rk);
  pthread_mutex_destroy(&p->rkt_lock);
  fx_free(p);
}

/* produce with headers (n_hdr name/value pairs) or without. */
static ferry_err_t produce_to(bus_producer_t *p, rd_kafka_topic_t *rkt, size_t limit,
                              const void *key, size_t klen, const void *value, size_t len,
                              rd_kafka_headers_t *hdrs, size_t hdr_len, void *opaque,
                              char *errbuf) {
  int64_t deadline = ferry_mono_ms() + p->queue_wait_ms;
  rd_kafka_resp_err_t err;
  if (len + klen + hdr_len + TOPICCFG_OVERHEAD > limit) {
    if (hdrs) rd_kafka_headers_destroy(hdrs);
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "kafka send to %s: a message of %zu bytes exceeds the topic's limit "
                        "of %zu (max.message.bytes, message.max.bytes)",
                        rd_kafka_topic_name(rkt), len + klen, limit);
  }
  for (;;) {
    if (hdrs) {
      err = rd_kafka_producev(p->rk, RD_KAFKA_V_RKT(rkt),
                              RD_KAFKA_V_KEY(key, klen),
                              RD_KAFKA_V_VALUE((void *)value, len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_HEADERS(hdrs),
                              RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    } else {
      err = rd_kafka_producev(p->rk, RD_KAFKA_V_RKT(rkt),
                              RD_KAFKA_V_KEY(key, klen),
                              RD_KAFKA_V_VALUE((void *)value, len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    }
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
    if (ferry_mono_ms() >= deadline) {
      if (hdrs) rd_kafka_headers_destroy(hdrs);
      return ferry_seterr(errbuf, FERRY_ERR_TIMEOUT,
                          "kafka send to %s: local queue stayed full",
                          rd_kafka_topic_name(rkt));
    }
    /* Serving delivery reports frees queue space. */
    rd_kafka_poll(p->rk, 100);
  }
  if (err) {
    char fatal[256];
    /* On failure the headers were not taken over. */
    if (hdrs) rd_kafka_headers_destroy(hdrs);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      rd_kafka_fatal_error(p->rk, fatal, sizeof(fatal));
      return ferry_seterr(errbuf, FERRY_ERR_KAFKA,
                          "kafka send to %s: producer fatal error: %s",
                          rd_kafka_topic_name(rkt), fatal);
    }
    return ferry_seterr(errbuf, FERRY_ERR_KAFKA, "kafka send to %s: %s",
                        rd_kafka_topic_name(rkt), rd_kafka_err2str(err));
  }
  p->outstanding++;
  return FERRY_OK;
}

/* The handle of topic, made on its first use; NULL with errbuf set. */
static rd_kafka_topic_t *topic_handle(bus_producer_t *p, bus_topic_t t, char *errbuf) {
  rd_kafka_topic_t *h;
  pthread_mutex_lock(&p->rkt_lock);
  if (!p->rkt[t]) {
    char *name = fx_asprintf("%s%s", p->prefix, bus_topic_suffix(t));
    rd_kafka_topic_conf_t *tc = rd_kafka_default_topic_conf_dup(p->rk);
    if (t == BUS_SEGMENTS && segments_conf(tc, errbuf)) {
      rd_kafka_topic_conf_destroy(tc);
    } else if (!(p->rkt[t] = rd_kafka_topic_new(p->rk, name, tc))) {
      ferry_seterr(errbuf, FERRY_ERR_KAFKA, "kafka topic %s: %s", name,
                   rd_kafka_err2str(rd_kafka_last_error()));
    }
    fx_free(name);
  }
  h = p->rkt[t];
  pthread_mutex_unlock(&p->rkt_lock);
  return h;
}

static ferry_err_t produce(bus_producer_t *p, bus_topic_t topic, const void *key,
                           size_t klen, const void *value, size_t len,
                           rd_kafka_headers_t *hdrs, size_t hdr_len, void *opaque,
                           char *errbuf) {
  if ((unsigned)topic >= BUS_TOPIC__COUNT) {
    if (hdrs) rd_kafka_headers_destroy(hdrs);
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "kafka send: bad topic %d",
                        (int)topic);
  }
  if (!topic_handle(p, topic, errbuf)) {
    if (hdrs) rd_kafka_headers_destroy(hdrs);
    return FERRY_ERR_KAFKA;
  }
  return produce_to(p, p->rkt[topic], p->limit[topic], key, klen, value, len, hdrs, hdr_len,
                    opaque, errbuf);
}

ferry_err_t bus_producer_send_segment(bus_producer_t *p, const char *task, const char *key,
                                      const void *value, size_t len, void *opaque,
                                      char *errbuf) {
  task_rkt_t *tr = NULL;
  size_t i;
  for (i = 0; i < p->n_tasks && !tr; i++)
    if (strcmp(p->tasks[i].task, task) == 0) tr = &p->tasks[i];
  if (!tr) {
    char *name;
    rd_kafka_topic_conf_t *tc;
    rd_kafka_topic_t *rkt;
    if (!bus_task_name_ok(task))
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "kafka send: task name \"%s\" not usable in a topic name", task);
    tc = rd_kafka_default_topic_conf_dup(p->rk);
    if (segments_conf(tc, errbuf)) {
      rd_kafka_topic_conf_destroy(tc);
      return FERRY_ERR_KAFKA;
    }
    name = fx_asprintf("%s%s.%s", p->prefix, bus_topic_suffix(BUS_SEGMENTS), task);
    rkt = rd_kafka_topic_new(p->rk, name, tc);
    if (!rkt) {
      ferry_seterr(errbuf, FERRY_ERR_KAFKA, "kafka topic %s: %s", name,
                   rd_kafka_err2str(rd_kafka_last_error()));
      fx_free(name);
      return FERRY_ERR_KAFKA;
    }
    fx_free(name);
    p->tasks = fx_realloc(p->tasks, (p->n_tasks + 1) * sizeof(*p->tasks));
    tr = &p->tasks[p->n_tasks++];
    tr->task = fx_strdup(task);
    tr->rkt = rkt;
  }
  /* Created like the segments topic: its limit is the segments topic's. */
  return produce_to(p, tr->rkt, p->limit[BUS_SEGMENTS], key, key ? strlen(key) : 0, value, len,
                    NULL, 0, opaque, errbuf);
}

ferry_err_t bus_producer_send(bus_producer_t *p, bus_topic_t topic,
                              const char *key, const void *value, size_t len,
                              void *opaque, char *errbuf) {
  return produce(p, topic, key, key ? strlen(key) : 0, value, len, NULL, 0, opaque,
                 errbuf);
}

int bus_producer_poll(bus_producer_t *p, int timeout_ms) {
  return rd_kafka_poll(p->rk, timeout_ms);
}

ferry_err_t bus_producer_flush(bus_producer_t *p, int timeout_ms, char *errbuf) {
  rd_kafka_flush(p->rk, timeout_ms);
  if (p->outstanding > 0)
    return ferry_seterr(errbuf, FERRY_ERR_TIMEOUT,
                        "kafka flush: %d sends still unreported after %d ms",
                        p->outstanding, timeout_ms);
  return FERRY_OK;
}

int bus_producer_outstanding(const bus_producer_t *p) { return p->outstanding; }

/* Adds a header and counts its bytes (name, value and their lengths). */
static void add_header(rd_kafka_headers_t *h, size_t *bytes, const char *name,
                       const char *value) {
  rd_kafka_header_add(h, name, -1, value, -1);
  *bytes += strlen(name) + strlen(value) + 16;
}

ferry_err_t bus_dlq_send(bus_producer_t *p, const char *orig_topic,
                         int32_t partition, int64_t offset, const void *key,
                         size_t key_len, const void *value, size_t len,
                         const char *reason, void *opaque, char *errbuf) {
  rd_kafka_headers_t *h = rd_kafka_headers_new(6);
  char num[32];
  size_t hb = 0, room;
  add_header(h, &hb, "ferry-dlq-topic", orig_topic ? orig_topic : "");
  snprintf(num, sizeof(num), "%" PRId32, partition);
  add_header(h, &hb, "ferry-dlq-partition", num);
  snprintf(num, sizeof(num), "%" PRId64, offset);
  add_header(h, &hb, "ferry-dlq-offset", num);
  add_header(h, &hb, "ferry-dlq-reason", reason ? reason : "");
  snprintf(num, sizeof(num), "%" PRId64, ferry_wall_ms());
  add_header(h, &hb, "ferry-dlq-at-ms", num);
  /* The dead letter must get through even when its value does not fit
   * the dlq topic: the value is cut, and the header says so. */
  room = p->limit[BUS_DLQ] > key_len + hb + 64 + TOPICCFG_OVERHEAD
             ? p->limit[BUS_DLQ] - key_len - hb - 64 - TOPICCFG_OVERHEAD : 0;
  if (len > room) {
    snprintf(num, sizeof(num), "%zu", len);
    add_header(h, &hb, "ferry-dlq-truncated", num);
    len = room;
  }
  LOG_WARN(FAC, "dlq topic=%s partition=%" PRId32 " offset=%" PRId64 " reason=%s",
           FLOG_V(orig_topic ? orig_topic : ""), partition, offset,
           FLOG_Q(reason ? reason : ""));
  return produce(p, BUS_DLQ, key, key_len, value, len, h, hb, opaque, errbuf);
}

/* ---------- consumer ---------- */

/* A partition's own fetch queue, taken out of the consumer queue
 * (BUS_CONSUMER_HELD): its messages wait there until asked for. */
typedef struct held_part {
  char *topic;
  int32_t partition;
  int assigned;               /* read only while assigned to us */
  rd_kafka_queue_t *q;
} held_part_t;

/* A topic of the held partitions: read in turn with the others. */
typedef struct held_topic {
  char *topic;
  int hold;                   /* bus_consumer_hold_topic: not read */
  size_t *parts;              /* indexes into held[] */
  size_t n_parts;
  size_t rr;                  /* where the next read in this topic starts */
} held_topic_t;

struct bus_consumer {
  rd_kafka_t *rk;
  bus_rebalance_cb *cb;
  void *ctx;
  char *prefix;   /* topic_prefix, for topic names */
  int coop;       /* incremental (cooperative) rebalance protocol configured */
  rd_kafka_queue_t *commitq;  /* results of our asynchronous commits */
  int commits_out;            /* commits sent, result not yet seen */
  unsigned flags;             /* BUS_CONSUMER_* */
  held_part_t *held;          /* BUS_CONSUMER_HELD: every partition ever assigned */
  size_t n_held, cap_held;
  held_topic_t *topics;       /* the topics of held[], and those held before assignment */
  size_t n_topics;
  size_t rr;                  /* the topic the next read starts at (fairness) */
  atomic_uint_fast64_t lost;  /* bus_consumer_lost */
};

static void consumer_note_lost(const rd_kafka_t *rk, const char *what) {
  bus_consumer_t *c = rd_kafka_opaque(rk);
  if (c) atomic_fetch_add(&c->lost, 1);
  LOG_ERROR(FAC, "event=records-lost detail=%s msg=\"a partition's start moved past records "
            "this consumer had not read: the broker deleted them (retention.ms / "
            "retention.bytes); they are not processed\"", FLOG_Q(what));
}

uint64_t bus_consumer_lost(const bus_consumer_t *c) {
  return atomic_load(&((bus_consumer_t *)c)->lost);
}

static void notify(bus_consumer_t *c, bus_rebalance_t ev,
                   const rd_kafka_topic_partition_list_t *l) {
  bus_part_t stack[64] = {{NULL, 0}}, *parts = stack;
  int i;
  if (!c->cb) return;
  if (l->cnt > (int)FERRY_ARRAY_LEN(stack))
    parts = fx_malloc((size_t)l->cnt * sizeof(*parts));
  for (i = 0; i < l->cnt; i++) {
    parts[i].topic = l->elems[i].topic;
    parts[i].partition = l->elems[i].partition;
  }
  c->cb(ev, parts, (size_t)l->cnt, c->ctx);
  if (parts != stack) fx_free(parts);
}

static void log_error_obj(const char *what, rd_kafka_error_t *e) {
  if (!e) return;
  LOG_ERROR(FAC, "%s err=%s", what, FLOG_Q(rd_kafka_error_string(e)));
  rd_kafka_error_destroy(e);
}

static held_topic_t *held_topic(bus_consumer_t *c, const char *topic) {
  size_t i;
  for (i = 0; i < c->n_topics; i++)
    if (strcmp(c->topics[i].topic, topic) == 0) return &c->topics[i];
  c->topics = fx_realloc(c->topics, (c->n_topics + 1) * sizeof(*c->topics));
  memset(&c->topics[c->n_topics], 0, sizeof(*c->topics));
  c->topics[c->n_topics].topic = fx_strdup(topic);
  return &c->topics[c->n_topics++];
}

void bus_consumer_hold_topic(bus_consumer_t *c, const char *topic, int on) {
  held_topic_t *t = held_topic(c, topic);
  if (t->hold != !!on)
    LOG_DEBUG(FAC, "event=%s topic=%s", on ? "hold-topic" : "read-topic", FLOG_V(topic));
  t->hold = !!on;
}

static held_part_t *held_find(bus_consumer_t *c, const char *topic, int32_t partition) {
  size_t i;
  for (i = 0; i < c->n_held; i++)
    if (c->held[i].partition == partition && strcmp(c->held[i].topic, topic) == 0)
      return &c->held[i];
  return NULL;
}

/* Marks parts assigned (on = 1) or not. On assignment, before librdkafka
 * starts fetching them, each partition's fetch queue stops forwarding to
 * the consumer queue (librdkafka then leaves it so for good: the
 * application set the forwarding); the queue is kept until destroy. */
static void held_mark(bus_consumer_t *c, const rd_kafka_topic_partition_list_t *parts, int on) {
  int i;
  if (!(c->flags & BUS_CONSUMER_HELD)) return;
  for (i = 0; i < parts->cnt; i++) {
    held_part_t *h = held_find(c, parts->elems[i].topic, parts->elems[i].partition);
    if (!h && on) {
      rd_kafka_queue_t *q =
          rd_kafka_queue_get_partition(c->rk, parts->elems[i].topic, parts->elems[i].partition);
      if (!q) {
        LOG_ERROR(FAC, "event=partition-queue topic=%s partition=%" PRId32
                  " error=\"no queue: its messages come through the consumer queue\"",
                  FLOG_V(parts->elems[i].topic), parts->elems[i].partition);
        continue;
      }
      rd_kafka_queue_forward(q, NULL);
      if (c->n_held == c->cap_held) {
        c->cap_held = c->cap_held ? c->cap_held * 2 : 16;
        c->held = fx_realloc(c->held, c->cap_held * sizeof(*c->held));
      }
      h = &c->held[c->n_held++];
      h->topic = fx_strdup(parts->elems[i].topic);
      h->partition = parts->elems[i].partition;
      h->q = q;
      {
        held_topic_t *t = held_topic(c, h->topic);
        t->parts = fx_realloc(t->parts, (t->n_parts + 1) * sizeof(*t->parts));
        t->parts[t->n_parts++] = c->n_held - 1;
      }
    }
    if (h) h->assigned = on;
  }
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
  bus_consumer_t *c = opaque;
  /* The protocol comes from the configured strategy, not from
   * rd_kafka_rebalance_protocol(): librdkafka 2.0's can block when called
   * from this callback during close (librdkafka issue 4041). */
  int coop = c->coop;
  LOG_INFO(FAC, "rebalance=%s protocol=%s partitions=%d",
           err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "assign" : "revoke",
           coop ? "cooperative" : "eager", parts->cnt);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    held_mark(c, parts, 1);
    if (coop) log_error_obj("incremental assign", rd_kafka_incremental_assign(rk, parts));
    else rd_kafka_assign(rk, parts);
    notify(c, BUS_ASSIGNED, parts);
  } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    /* The caller hears first, so it can still commit what it finished. */
    notify(c, rd_kafka_assignment_lost(rk) ? BUS_LOST : BUS_REVOKED, parts);
    held_mark(c, parts, 0);
    if (coop) log_error_obj("incremental unassign", rd_kafka_incremental_unassign(rk, parts));
    else rd_kafka_assign(rk, NULL);
  } else {
    LOG_ERROR(FAC, "rebalance err=%s", FLOG_Q(rd_kafka_err2str(err)));
    held_mark(c, parts, 0);
    rd_kafka_assign(rk, NULL);
  }
}

bus_consumer_t *bus_consumer_new(const bus_conf_t *c, const bus_topic_t *topics,
                                 size_t n, bus_rebalance_cb *cb, void *ctx,
                                 char *errbuf) {
  return bus_consumer_new_ex(c, topics, n, cb, ctx, 0, errbuf);
}

bus_consumer_t *bus_consumer_new_ex(const bus_conf_t *c, const bus_topic_t *topics,
                                    size_t n, bus_rebalance_cb *cb, void *ctx,
                                    unsigned flags, char *errbuf) {
  static const char *const base_plain[] = {
      "auto.offset.reset", "earliest",
      "partition.assignment.strategy", "roundrobin", NULL, NULL};
  /* Held messages wait in librdkafka's partition queues: keep its
   * read-ahead small (a few segments per partition, 8 MiB in all). */
  static const char *const base_held[] = {
      "auto.offset.reset", "earliest",
      "partition.assignment.strategy", "roundrobin",
      "queued.min.messages", "8",
      "queued.max.messages.kbytes", "8192", NULL, NULL};
  /* The same, for a consumer of the segments topics: a task's new topic is
   * seen within seconds (librdkafka's default looks every 5 minutes). */
  static const char *const seg_plain[] = {
      "auto.offset.reset", "earliest",
      "partition.assignment.strategy", "roundrobin",
      "topic.metadata.refresh.interval.ms", "3000", NULL, NULL};
  static const char *const seg_held[] = {
      "auto.offset.reset", "earliest",
      "partition.assignment.strategy", "roundrobin",
      "queued.min.messages", "8",
      "queued.max.messages.kbytes", "8192",
      "topic.metadata.refresh.interval.ms", "3000", NULL, NULL};
  int segs = 0;
  const char *const *base;
  const char *forced[] = {"enable.auto.commit", "false",
                          "enable.auto.offset.store", "false",
                          "group.id", c->group_id, NULL, NULL};
  char errstr[512];
  rd_kafka_conf_t *conf;
  rd_kafka_topic_partition_list_t *sub;
  rd_kafka_resp_err_t err;
  bus_consumer_t *bc;
  size_t i;

  if (bus_conf_check(c, errbuf)) return NULL;
  if (!c->group_id || !*c->group_id) {
    ferry_seterr(errbuf, FERRY_ERR_CONFIG, "bus.group_id: missing");
    return NULL;
  }
  if (n == 0 || n > BUS_TOPIC__COUNT) {
    ferry_seterr(errbuf, FERRY_ERR_INVALID, "kafka consumer: %zu topics", n);
    return NULL;
  }
  for (i = 0; i < n; i++) segs |= topics[i] == BUS_SEGMENTS;
  base = (flags & BUS_CONSUMER_HELD) ? (segs ? seg_held : base_held)
                                     : (segs ? seg_plain : base_plain);
  conf = make_conf(c, base, "consumer", &c->consumer, managed_consumer, forced,
                   errbuf);
  if (!conf) return NULL;
  bc = fx_calloc(1, sizeof(*bc));
  bc->cb = cb;
  bc->ctx = ctx;
  bc->flags = flags;
  bc->prefix = fx_strdup(c->topic_prefix);
  {
    char strat[256];
    size_t sl = sizeof(strat);
    if (rd_kafka_conf_get(conf, "partition.assignment.strategy", strat, &sl) ==
        RD_KAFKA_CONF_OK)
      bc->coop = strstr(strat, "cooperative") != NULL;
  }
  rd_kafka_conf_set_opaque(conf, bc);
  rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
  bc->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  if (!bc->rk) {
    rd_kafka_conf_destroy(conf);
    fx_free(bc->prefix);
    fx_free(bc);
    ferry_seterr(errbuf, FERRY_ERR_KAFKA, "kafka consumer: %s", errstr);
    return NULL;
  }
  /* Everything (rebalances, errors) is served from bus_consumer_poll. */
  rd_kafka_poll_set_consumer(bc->rk);
  bc->commitq = rd_kafka_queue_new(bc->rk);
  sub = rd_kafka_topic_partition_list_new((int)n);
  for (i = 0; i < n; i++) {
    if ((unsigned)topics[i] >= BUS_TOPIC__COUNT) {
      rd_kafka_topic_partition_list_destroy(sub);
      ferry_seterr(errbuf, FERRY_ERR_INVALID, "kafka consumer: bad topic %d",
                   (int)topics[i]);
      bus_consumer_destroy(bc);
      return NULL;
    }
    {
      char *name = bus_topic_name(c, topics[i]);
      rd_kafka_topic_partition_list_add(sub, name, RD_KAFKA_PARTITION_UA);
      fx_free(name);
      if (topics[i] == BUS_SEGMENTS) {
        /* Every task's own segments topic too. */
        char *re = bus_segments_regex(c);
        rd_kafka_topic_partition_list_add(sub, re, RD_KAFKA_PARTITION_UA);
        fx_free(re);
      }
    }
  }
  err = rd_kafka_subscribe(bc->rk, sub);
  rd_kafka_topic_partition_list_destroy(sub);
  if (err) {
    ferry_seterr(errbuf, FERRY_ERR_KAFKA, "kafka subscribe: %s",
                 rd_kafka_err2str(err));
    bus_consumer_destroy(bc);
    return NULL;
  }
  return bc;
}

void bus_consumer_destroy(bus_consumer_t *c) {
  char eb[FERRY_ERRLEN];
  if (!c) return;
  /* close leaves the group cleanly: the rebalance callback runs for the
   * remaining assignment, so the owner can commit, before destroy. */
  bus_consumer_commit_wait(c, 5000, eb);
  rd_kafka_consumer_close(c->rk);
  if (c->commitq) {
    bus_consumer_commit_wait(c, 5000, eb);
    rd_kafka_queue_destroy(c->commitq);
  }
  /* Every queue reference goes before the handle (rd_kafka_destroy waits
   * for them). */
  while (c->n_held) {
    held_part_t *h = &c->held[--c->n_held];
    rd_kafka_queue_destroy(h->q);
    fx_free(h->topic);
  }
  fx_free(c->held);
  while (c->n_topics) {
    held_topic_t *t = &c->topics[--c->n_topics];
    fx_free(t->topic);
    fx_free(t->parts);
  }
  fx_free(c->topics);
  rd_kafka_destroy(c->rk);
  fx_free(c->prefix);
  fx_free(c);
}

int bus_msg_header(const bus_msg_t *m, const char *name, const void **value,
                   size_t *len) {
  rd_kafka_headers_t *h = NULL;
  if (rd_kafka_message_headers(m->rkm_, &h) || !h) return -1;
  return rd_kafka_header_get_last(h, name, value, len) ? -1 : 0;
}

void bus_msg_destroy(bus_msg_t *m) {
  if (!m) return;
  rd_kafka_message_destroy(m->rkm_);
  fx_free(m);
}

/* Serves the results of our commits for up to timeout_ms (0: only those
 * already there): a failure is logged, the count of outstanding ones kept. */
static void serve_commits(bus_consumer_t *c, int timeout_ms) {
  int64_t deadline = ferry_mono_ms() + timeout_ms;
  while (c->commitq && c->commits_out > 0) {
    int wait = ms_left(deadline);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(c->commitq, wait);
    if (!ev) {
      if (ferry_mono_ms() >= deadline) return;
      continue;
    }
    if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_OFFSET_COMMIT) {
      const rd_kafka_topic_partition_list_t *l = rd_kafka_event_topic_partition_list(ev);
      rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
      int i;
      c->commits_out--;
      for (i = 0; l && i < l->cnt; i++) {
        rd_kafka_resp_err_t e = err ? err : l->elems[i].err;
        if (e)
          /* Not fatal: the partition's next owner redoes the segments
           * after the last commit that took (results are counted once). */
          LOG_WARN(FAC,
                   "event=commit-failed topic=%s partition=%" PRId32 " offset=%" PRId64
                   " error=%s",
                   FLOG_V(l->elems[i].topic), l->elems[i].partition, l->elems[i].offset,
                   FLOG_Q(rd_kafka_err2str(e)));
        else
          LOG_DEBUG(FAC, "event=committed topic=%s partition=%" PRId32 " offset=%" PRId64,
                    FLOG_V(l->elems[i].topic), l->elems[i].partition, l->elems[i].offset);
      }
      if ((!l || l->cnt == 0) && err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        LOG_WARN(FAC, "event=commit-failed error=%s", FLOG_Q(rd_kafka_err2str(err)));
    }
    rd_kafka_event_destroy(ev);
  }
}

ferry_err_t bus_consumer_commit_wait(bus_consumer_t *c, int timeout_ms, char *errbuf) {
  serve_commits(c, timeout_ms < 0 ? 0 : timeout_ms);
  if (c->commits_out > 0)
    return ferry_seterr(errbuf, FERRY_ERR_TIMEOUT, "kafka commit: %d commit(s) unanswered",
                        c->commits_out);
  return FERRY_OK;
}

/* Takes m: 1 with *out set for a message, 0 for a transient error (logged,
 * m destroyed), -1 with errbuf set for a fatal one. */
static int take_message(bus_consumer_t *c, rd_kafka_message_t *m, bus_msg_t **out,
                        char *errbuf) {
  char fatal[256];
  bus_msg_t *bm;
  rd_kafka_timestamp_type_t tt;
  if (m->err) {
    if (m->err == RD_KAFKA_RESP_ERR__FATAL || rd_kafka_fatal_error(c->rk, fatal, sizeof(fatal))) {
      rd_kafka_fatal_error(c->rk, fatal, sizeof(fatal));
      ferry_seterr(errbuf, FERRY_ERR_KAFKA, "kafka consumer fatal: %s", fatal);
      rd_kafka_message_destroy(m);
      return -1;
    }
    if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART && m->rkt &&
        rd_kafka_topic_name(m->rkt)[0] == '^')
      /* The tasks' segments topics regex matching none yet (no task
       * listed): normal until the first listing. */
      LOG_DEBUG(FAC, "consumer topic=%s msg=\"no topic matches yet\"",
                FLOG_V(rd_kafka_topic_name(m->rkt)));
    else
      LOG_WARN(FAC, "consumer topic=%s partition=%" PRId32 " err=%s",
               FLOG_V(m->rkt ? rd_kafka_topic_name(m->rkt) : "-"), m->partition,
               FLOG_Q(rd_kafka_message_errstr(m)));
    rd_kafka_message_destroy(m);
    return 0;
  }
  bm = fx_calloc(1, sizeof(*bm));
  bm->rkm_ = m;
  bm->topic = rd_kafka_topic_name(m->rkt);
  bm->partition = m->partition;
  bm->offset = m->offset;
  bm->key = m->key;
  bm->key_len = m->key_len;
  bm->value = m->payload;
  bm->len = m->len;
  bm->timestamp_ms = rd_kafka_message_timestamp(m, &tt);
  if (tt == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE) bm->timestamp_ms = -1;
  *out = bm;
  return 1;
}

/* One message from the held partition queues, if one waits: round robin
 * over the topics not held (a task's segments topic each), then over the
 * topic's assigned partitions, so that a task with a long backlog does not
 * keep the others waiting. Same returns as take_message, 0 for none. */
static int read_held(bus_consumer_t *c, bus_msg_t **out, char *errbuf) {
  size_t kt, kp;
  for (kt = 0; kt < c->n_topics; kt++) {
    size_t ti = (c->rr + kt) % c->n_topics;
    held_topic_t *t = &c->topics[ti];
    if (t->hold) continue;
    for (kp = 0; kp < t->n_parts; kp++) {
      held_part_t *h = &c->held[t->parts[(t->rr + kp) % t->n_parts]];
      rd_kafka_message_t *m;
      int r;
      if (!h->assigned) continue;
      m = rd_kafka_consume_queue(h->q, 0);
      if (!m) continue;
      t->rr = (t->rr + kp + 1) % t->n_parts;
      c->rr = (ti + 1) % c->n_topics;
      r = take_message(c, m, out, errbuf);
      if (r != 0) return r;
    }
  }
  return 0;
}

ferry_err_t bus_consumer_poll_ex(bus_consumer_t *c, int timeout_ms, int want,
                                 bus_msg_t **out, char *errbuf) {
  int held = (c->flags & BUS_CONSUMER_HELD) != 0;
  int64_t deadline = ferry_mono_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
  *out = NULL;
  serve_commits(c, 0);
  for (;;) {
    int wait = timeout_ms < 0 ? -1 : ms_left(deadline);
    rd_kafka_message_t *m;
    int r;
    if (held && want) {
      r = read_held(c, out, errbuf);
      if (r > 0) return FERRY_OK;
      if (r < 0) return FERRY_ERR_KAFKA;
      /* The partition queues do not wake the consumer poll below: look at
       * them again every 10 ms while waiting. */
      if (wait < 0 || wait > 10) wait = 10;
    }
    /* Rebalances, errors and (without HELD) the messages. A held consumer
     * may still get here a message fetched before its partition queue was
     * taken out: it is returned even when not wanted. */
    m = rd_kafka_consumer_poll(c->rk, wait);
    if (m) {
      r = take_message(c, m, out, errbuf);
      if (r > 0) return FERRY_OK;
      if (r < 0) return FERRY_ERR_KAFKA;
    }
    if (timeout_ms >= 0 && ferry_mono_ms() >= deadline) {
      if (held && want) {
        r = read_held(c, out, errbuf);
        if (r > 0) return FERRY_OK;
        if (r < 0) return FERRY_ERR_KAFKA;
      }
      return ferry_seterr(errbuf, FERRY_ERR_TIMEOUT, "no message");
    }
  }
}

ferry_err_t bus_consumer_poll(bus_consumer_t *c, int timeout_ms, bus_msg_t **out,
                              char *errbuf) {
  return bus_consumer_poll_ex(c, timeout_ms, 1, out, errbuf);
}

ferry_err_t bus_consumer_commit(bus_consumer_t *c, const char *topic,
                                int32_t partition, int64_t next_offset,
                                char *errbuf) {
  rd_kafka_topic_partition_list_t *l;
  rd_kafka_resp_err_t err;
  if (!topic || partition < 0 || next_offset < 0)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "kafka commit: bad topic/partition/offset");
  l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, topic, partition)->offset = next_offset;
  /* Asynchronous: a synchronous commit waits without a time limit, and one
   * made during a rebalance (from the rebalance callback, inside
   * rd_kafka_consumer_poll) was seen to block a worker for good. The result
   * arrives on commitq (serve_commits). */
  err = rd_kafka_commit_queue(c->rk, l, c->commitq, NULL, NULL);
  if (!err) c->commits_out++;
  rd_kafka_topic_partition_list_destroy(l);
  if (err)
    return ferry_seterr(errbuf, FERRY_ERR_KAFKA,
                        "kafka commit %s[%" PRId32 "]@%" PRId64 ": %s", topic,
                        partition, next_offset, rd_kafka_err2str(err));
  LOG_DEBUG(FAC, "commit topic=%s partition=%" PRId32 " next=%" PRId64, FLOG_V(topic),
            partition, next_offset);
  return FERRY_OK;
}

ferry_err_t bus_consumer_commit_msg(bus_consumer_t *c, const bus_msg_t *m,
                                    char *errbuf) {
  return bus_consumer_commit(c, m->topic, m->partition, m->offset + 1, errbuf);
}


ferry_err_t bus_consumer_committed(bus_consumer_t *c, const char *topic,
                                   int32_t partition, int64_t *next_offset,
                                   char *errbuf) {
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_resp_err_t err;
  rd_kafka_topic_partition_list_add(l, topic, partition);
  err = rd_kafka_committed(c->rk, l, META_TIMEOUT_MS);
  if (!err) err = l->elems[0].err;
  *next_offset = l->elems[0].offset >= 0 ? l->elems[0].offset : -1;
  rd_kafka_topic_partition_list_destroy(l);
  if (err)
    return ferry_seterr(errbuf, FERRY_ERR_KAFKA, "kafka committed %s[%" PRId32
                        "]: %s", topic, partition, rd_kafka_err2str(err));
  return FERRY_OK;
}

ferry_err_t bus_consumer_partition_count(bus_consumer_t *c, bus_topic_t topic,
                                         int *count, char *errbuf) {
  const struct rd_kafka_metadata *md = NULL;
  rd_kafka_topic_t *rkt;
  rd_kafka_resp_err_t err;
  ferry_err_t e = FERRY_OK;
  char *name;
  *count = 0;
  if ((unsigned)topic >= BUS_TOPIC__COUNT)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "bad topic %d", (int)topic);
  name = fx_asprintf("%s%s", c->prefix, bus_topic_suffix(topic));
  rkt = rd_kafka_topic_new(c->rk, name, NULL);
  err = rd_kafka_metadata(c->rk, 0, rkt, &md, META_TIMEOUT_MS);
  if (err) {
    e = ferry_seterr(errbuf, FERRY_ERR_KAFKA, "kafka metadata %s: %s", name,
                     rd_kafka_err2str(err));
  } else if (md->topic_cnt != 1 || md->topics[0].err) {
    e = ferry_seterr(errbuf, FERRY_ERR_NOTFOUND, "kafka metadata %s: %s", name,
                     md->topic_cnt ? rd_kafka_err2str(md->topics[0].err)
                                   : "no such topic");
  } else {
    *count = md->topics[0].partition_cnt;
  }
  if (md) rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  fx_free(name);
  return e;
}

ferry_err_t bus_consumer_watermarks(bus_consumer_t *c, const char *topic,
                                   int32_t partition, int64_t *low, int64_t *high) {
  int64_t lo = -1, hi = -1;
  rd_kafka_resp_err_t err =
      rd_kafka_get_watermark_offsets(c->rk, topic, partition, &lo, &hi);
  *low = *high = -1;
  if (err || hi < 0) return FERRY_ERR_NOTFOUND;
  *low = lo;
  *high = hi;
  return FERRY_OK;
}

/* ---------- group-less reader ---------- */

static const char *const reader_base[] = {"auto.offset.reset", "earliest", NULL, NULL};
/* The heartbeat reader wants news within a tenth of a second, not after a
 * fetch's default wait of half a second. */
static const char *const tail_base[] = {"auto.offset.reset", "earliest",
                                        "fetch.wait.max.ms", "100", NULL, NULL};

static bus_consumer_t *reader_open(const bus_conf_t *c, const bus_topic_t *topics,
                                   size_t n, bus_part_mark_t **marks, size_t *n_marks,
                                   int64_t start, const char *const *base, char *errbuf) {
  const char *forced[] = {"enable.auto.commit", "false",
                          "enable.auto.offset.store", "false",
                          "group.id", c->group_id && *c->group_id ? c->group_id
                                                                  : "ferry-reader",
                          NULL, NULL};
  char errstr[512];
  rd_kafka_conf_t *conf;
  rd_kafka_topic_partition_list_t *l;
  rd_kafka_resp_err_t err;
  bus_consumer_t *bc;
  bus_part_mark_t *mk = NULL;
  size_t i, n_mk = 0;

  if (marks) *marks = NULL;
  if (n_marks) *n_marks = 0;
  if (bus_conf_check(c, errbuf)) return NULL;
  if (n == 0 || n > BUS_TOPIC__COUNT) {
    ferry_seterr(errbuf, FERRY_ERR_INVALID, "kafka reader: %zu topics", n);
    return NULL;
  }
  conf = make_conf(c, base, "consumer", &c->consumer, managed_consumer, forced,
                   errbuf);
  if (!conf) return NULL;
  bc = fx_calloc(1, sizeof(*bc));
  bc->prefix = fx_strdup(c->topic_prefix);
  rd_kafka_conf_set_opaque(conf, bc);
  bc->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  if (!bc->rk) {
    rd_kafka_conf_destroy(conf);
    fx_free(bc->prefix);
    fx_free(bc);
    ferry_seterr(errbuf, FERRY_ERR_KAFKA, "kafka reader: %s", errstr);
    return NULL;
  }
  rd_kafka_poll_set_consumer(bc->rk);
  l = rd_kafka_topic_partition_list_new(16);
  for (i = 0; i < n; i++) {
    int count = 0, p;
    char *name;
    if ((unsigned)topics[i] >= BUS_TOPIC__COUNT) {
      ferry_seterr(errbuf, FERRY_ERR_INVALID, "kafka reader: bad topic %d",
                   (int)topics[i]);
      goto fail;
    }
    if (bus_consumer_partition_count(bc, topics[i], &count, errbuf)) goto fail;
    name = bus_topic_name(c, topics[i]);
    for (p = 0; p < count; p++) {
      rd_kafka_topic_partition_list_add(l, name, p)->offset = start;
      if (marks) {
        int64_t lo = -1, hi = -1;
        err = rd_kafka_query_watermark_offsets(bc->rk, name, p, &lo, &hi,
                                               META_TIMEOUT_MS);
        if (err) {
          ferry_seterr(errbuf, FERRY_ERR_KAFKA, "kafka watermarks %s[%d]: %s", name,
                       p, rd_kafka_err2str(err));
          fx_free(name);
          goto fail;
        }
        mk = fx_realloc(mk, (n_mk + 1) * sizeof(*mk));
        mk[n_mk].topic = topics[i];
        mk[n_mk].partition = p;
        mk[n_mk].low = lo;
        mk[n_mk].high = hi;
        n_mk++;
      }
    }
    fx_free(name);
  }
  err = rd_kafka_assign(bc->rk, l);
  if (err) {
    ferry_seterr(errbuf, FERRY_ERR_KAFKA, "kafka assign: %s", rd_kafka_err2str(err));
    goto fail;
  }
  LOG_DEBUG(FAC, "reader partitions=%d", l->cnt);
  rd_kafka_topic_partition_list_destroy(l);
  if (marks) *marks = mk;
  if (n_marks) *n_marks = n_mk;
  return bc;
fail:
  fx_free(mk);
  rd_kafka_topic_partition_list_destroy(l);
  bus_consumer_destroy(bc);
  return NULL;
}

bus_consumer_t *bus_reader_new(const bus_conf_t *c, const bus_topic_t *topics,
                               size_t n, bus_part_mark_t **marks, size_t *n_marks,
                               char *errbuf) {
  return reader_open(c, topics, n, marks, n_marks, RD_KAFKA_OFFSET_BEGINNING, reader_base,
                     errbuf);
}

bus_consumer_t *bus_reader_new_tail(const bus_conf_t *c, bus_topic_t topic, int64_t tail,
                                    char *errbuf) {
  return reader_open(c, &topic, 1, NULL, NULL, RD_KAFKA_OFFSET_TAIL(tail > 0 ? tail : 1),
                     tail_base, errbuf);
}
