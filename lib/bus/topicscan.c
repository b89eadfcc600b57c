/* scan.c: read a topic from the beginning to its high watermark, no group. */
#include "bus/topicscan.h"

#include <librdkafka/rdkafka.h>
#include <string.h>

#include "core/log.h"

#define FAC "scan"

static void scan_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                        const char *buf) {
  flog_level_t l = level <= 3 ? FLOG_ERROR
                   : level == 4 ? FLOG_WARN
                   : level <= 6 ? FLOG_INFO
                                : FLOG_DEBUG;
  (void)rk;
  FLOG(l, "kafka", "client=scan fac=%s msg=%s", FLOG_V(fac), FLOG_Q(buf));
}

/* Property values that may be credentials are never echoed in errors. */
static int secretish(const char *name) {
  return strncmp(name, "sasl.", 5) == 0 || strncmp(name, "ssl.", 4) == 0 ||
         strstr(name, "password") || strstr(name, "secret") || strstr(name, "token");
}

static ferry_err_t set1(rd_kafka_conf_t *conf, const char *name, const char *value,
                        char *errbuf) {
  char errstr[512];
  rd_kafka_conf_res_t r = rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr));
  if (r == RD_KAFKA_CONF_OK) return FERRY_OK;
  if (r == RD_KAFKA_CONF_UNKNOWN)
    return ferry_seterr(errbuf, FERRY_ERR_CONFIG, "kafka property \"%s\": unknown property",
                        name);
  if (secretish(name))
    return ferry_seterr(errbuf, FERRY_ERR_CONFIG, "kafka property \"%s\": invalid value",
                        name);
  return ferry_seterr(errbuf, FERRY_ERR_CONFIG, "kafka property \"%s\": %s", name, errstr);
}

/* The settings the scan depends on; a config's own value is ignored. */
static int managed(const char *name) {
  return strcmp(name, "group.id") == 0 || strcmp(name, "enable.auto.commit") == 0 ||
         strcmp(name, "enable.auto.offset.store") == 0 ||
         strcmp(name, "enable.partition.eof") == 0;
}

static rd_kafka_conf_t *make_conf(const bus_conf_t *c, char *errbuf) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  const kvlist_t *lists[2];
  ferry_err_t e = FERRY_OK;
  size_t i, j;
  lists[0] = &c->properties;
  lists[1] = &c->consumer;
  rd_kafka_conf_set_log_cb(conf, scan_log_cb);
  e = set1(conf, "client.id", "ferry-scan", errbuf);
  if (!e) e = set1(conf, "bootstrap.servers", c->brokers ? c->brokers : "", errbuf);
  if (!e) e = set1(conf, "auto.offset.reset", "earliest", errbuf);
  for (j = 0; j < 2 && !e; j++)
    for (i = 0; i < lists[j]->n && !e; i++)
      if (!managed(lists[j]->v[i].name))
        e = set1(conf, lists[j]->v[i].name, lists[j]->v[i].value, errbuf);
  /* librdkafka wants a group id even for assign(); the group is never
   * joined and nothing is committed under it. */
  if (!e) e = set1(conf, "group.id", "ferry-scan", errbuf);
  if (!e) e = set1(conf, "enable.auto.commit", "false", errbuf);
  if (!e) e = set1(conf, "enable.auto.offset.store", "false", errbuf);
  if (!e) e = set1(conf, "enable.partition.eof", "true", errbuf);
  if (e) {
    rd_kafka_conf_destroy(conf);
    return NULL;
  }
  return conf;
}

typedef struct part_state {
  int64_t lo, hi;   /* watermarks at the start */
  int done;
} part_state_t;

/* One scan's state, shared by the steps of bus_scan. */
typedef struct scan {
  const bus_conf_t *c;
  rd_kafka_t *rk;
  char *topic;
  int timeout_ms;
  part_state_t *ps;
  int np, left, stop;
  bus_scan_cb *cb;
  void *ctx;
  bus_scan_stats_t *stats;
} scan_t;

/* The topic's partition count from the brokers' metadata. */
static ferry_err_t scan_partitions(scan_t *s, char *errbuf) {
  const struct rd_kafka_metadata *md = NULL;
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(s->rk, s->topic, NULL);
  ferry_err_t e = FERRY_OK;
  rd_kafka_resp_err_t err = rd_kafka_metadata(s->rk, 0, rkt, &md, s->timeout_ms);
  if (err) {
    e = ferry_seterr(errbuf, FERRY_ERR_KAFKA,
                     "kafka brokers %s unreachable within %d ms (reading %s): %s",
                     s->c->brokers ? s->c->brokers : "", s->timeout_ms, s->topic,
                     rd_kafka_err2str(err));
  } else if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt <= 0) {
    err = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    e = ferry_seterr(errbuf, FERRY_ERR_NOTFOUND, "kafka topic %s: %s", s->topic,
                     err ? rd_kafka_err2str(err) : "no partitions");
  } else {
    s->np = md->topics[0].partition_cnt;
  }
  if (md) rd_kafka_metadata_destroy(md);
  if (rkt) rd_kafka_topic_destroy(rkt);
  return e;
}

/* Each partition's watermarks; the non-empty ones go into assign from their
 * start, and s->left counts them. */
static ferry_err_t scan_watermarks(scan_t *s, rd_kafka_topic_partition_list_t *assign,
                                   char *errbuf) {
  int p;
  for (p = 0; p < s->np; p++) {
    part_state_t *ps = &s->ps[p];
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(s->rk, s->topic, p, &ps->lo, &ps->hi, s->timeout_ms);
    if (err)
      return ferry_seterr(errbuf, FERRY_ERR_KAFKA,
                          "kafka %s partition %d: watermarks not available within %d ms: %s",
                          s->topic, p, s->timeout_ms, rd_kafka_err2str(err));
    if (ps->lo > 0)
      /* ferry never deletes records: the broker's retention did, and the
       * reader misses them. */
      LOG_ERROR(FAC, "event=records-lost topic=%s partition=%d low=%" PRId64
                " msg=\"the partition starts at offset %" PRId64 ": the broker deleted "
                "records before they were read (retention.ms / retention.bytes)\"",
                FLOG_V(s->topic), p, ps->lo, ps->lo);
    if (ps->hi <= ps->lo) {
      ps->done = 1;
      continue;
    }
    rd_kafka_topic_partition_list_add(assign, s->topic, p)->offset = ps->lo;
    s->left++;
  }
  return FERRY_OK;
}

static void part_done(scan_t *s, int p) {
  if (p >= 0 && p < s->np && !s->ps[p].done) {
    s->ps[p].done = 1;
    s->left--;
  }
}

/* Hands one record to the callback. */
static void scan_record(scan_t *s, rd_kafka_message_t *m) {
  int p = m->partition;
  bus_msg_t bm;
  rd_kafka_timestamp_type_t tt;
  memset(&bm, 0, sizeof(bm));
  bm.topic = s->topic;
  bm.partition = p;
  bm.offset = m->offset;
  bm.key = m->key;
  bm.key_len = m->key_len;
  bm.value = m->payload;
  bm.len = m->payload ? m->len : 0;
  bm.timestamp_ms = rd_kafka_message_timestamp(m, &tt);
  bm.rkm_ = m;
  if (s->stats) s->stats->messages++;
  if (s->cb(&bm, s->ctx)) s->stop = 1;
  if (m->offset + 1 >= s->ps[p].hi) part_done(s, p);
}

/* Reads every assigned partition to its high watermark at the start. */
static ferry_err_t scan_read(scan_t *s, char *errbuf) {
  ferry_err_t e = FERRY_OK;
  int64_t last_progress = ferry_now_us();
  while (s->left > 0 && !s->stop) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(s->rk, 200);
    if (!m) {
      if (ferry_now_us() - last_progress > (int64_t)s->timeout_ms * 1000) {
        e = ferry_seterr(errbuf, FERRY_ERR_TIMEOUT,
                         "kafka %s: no progress for %d ms before the end "
                         "(%d partition(s) left)", s->topic, s->timeout_ms, s->left);
        break;
      }
      continue;
    }
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      part_done(s, m->partition);
      last_progress = ferry_now_us();
    } else if (m->err) {
      if (m->err == RD_KAFKA_RESP_ERR__FATAL ||
          m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
          m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
          m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
        e = ferry_seterr(errbuf, FERRY_ERR_KAFKA, "kafka %s: %s", s->topic,
                         rd_kafka_message_errstr(m));
        s->stop = 1;
      } else {
        LOG_WARN(FAC, "topic=%s err=%s", FLOG_V(s->topic),
                 FLOG_Q(rd_kafka_message_errstr(m)));
      }
    } else if (m->partition >= 0 && m->partition < s->np && !s->ps[m->partition].done) {
      scan_record(s, m);
      last_progress = ferry_now_us();
    }
    rd_kafka_message_destroy(m);
  }
  return e;
}

ferry_err_t bus_scan(const bus_conf_t *c, bus_topic_t t, int timeout_ms,
                     bus_scan_cb *cb, void *ctx, bus_scan_stats_t *stats,
                     char *errbuf) {
  char *name;
  ferry_err_t e;
  if (stats) memset(stats, 0, sizeof(*stats));
  if ((unsigned)t >= BUS_TOPIC__COUNT)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "kafka scan: bad topic %d", (int)t);
  name = bus_topic_name(c, t);
  e = bus_scan_named(c, name, timeout_ms, cb, ctx, stats, errbuf);
  fx_free(name);
  return e;
}

ferry_err_t bus_scan_named(const bus_conf_t *c, const char *topic, int timeout_ms,
                           bus_scan_cb *cb, void *ctx, bus_scan_stats_t *stats,
                           char *errbuf) {
  char errstr[512];
  rd_kafka_conf_t *conf;
  rd_kafka_topic_partition_list_t *assign = NULL;
  scan_t s;
  ferry_err_t e;
  rd_kafka_resp_err_t err;

  if (stats) memset(stats, 0, sizeof(*stats));
  if (timeout_ms <= 0) timeout_ms = 30000;
  if (!(conf = make_conf(c, errbuf))) return FERRY_ERR_CONFIG;
  memset(&s, 0, sizeof(s));
  s.c = c;
  s.timeout_ms = timeout_ms;
  s.cb = cb;
  s.ctx = ctx;
  s.stats = stats;
  s.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  if (!s.rk) {
    rd_kafka_conf_destroy(conf);
    return ferry_seterr(errbuf, FERRY_ERR_KAFKA, "kafka consumer: %s", errstr);
  }
  s.topic = fx_strdup(topic);
  if ((e = scan_partitions(&s, errbuf))) goto out;
  if (stats) stats->partitions = s.np;
  s.ps = fx_calloc((size_t)s.np, sizeof(*s.ps));
  assign = rd_kafka_topic_partition_list_new(s.np);
  if ((e = scan_watermarks(&s, assign, errbuf))) goto out;
  LOG_DEBUG(FAC, "topic=%s partitions=%d nonempty=%d", FLOG_V(s.topic), s.np, s.left);
  if (s.left == 0) goto out;
  if ((err = rd_kafka_assign(s.rk, assign))) {
    e = ferry_seterr(errbuf, FERRY_ERR_KAFKA, "kafka %s: assign: %s", s.topic,
                     rd_kafka_err2str(err));
    goto out;
  }
  e = scan_read(&s, errbuf);
out:
  if (assign) rd_kafka_topic_partition_list_destroy(assign);
  rd_kafka_consumer_close(s.rk);
  rd_kafka_destroy(s.rk);
  fx_free(s.ps);
  fx_free(s.topic);
  return e;
}
