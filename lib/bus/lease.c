/* lease.c: a single-actor lease from consumer-group membership (lease.h). */
#include "bus/lease.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "bus/busint.h"
#include "core/log.h"

#define FAC "lease"

struct bus_lease {
  rd_kafka_t *rk;
  char *group, *topic;
  pthread_t thr;
  int thr_started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int answered;           /* a first assignment arrived */
  int held;
  int stop;
  char fatal[256];        /* a fatal client error, or "" */
};

static int has_ours(const bus_lease_t *l, const rd_kafka_topic_partition_list_t *p) {
  int i;
  for (i = 0; p && i < p->cnt; i++)
    if (p->elems[i].partition == 0 && strcmp(p->elems[i].topic, l->topic) == 0) return 1;
  return 0;
}

/* Runs on the lease thread, inside rd_kafka_consumer_poll. */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
  bus_lease_t *l = opaque;
  rd_kafka_error_t *e;
  int assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
  e = assign ? rd_kafka_incremental_assign(rk, parts) : rd_kafka_incremental_unassign(rk, parts);
  if (e) {
    LOG_WARN(FAC, "group=%s err=%s", FLOG_V(l->group), FLOG_Q(rd_kafka_error_string(e)));
    rd_kafka_error_destroy(e);
  }
  pthread_mutex_lock(&l->mu);
  if (has_ours(l, parts)) {
    l->held = assign;
    LOG_INFO(FAC, "group=%s lease=%s", FLOG_V(l->group), assign ? "held" : "lost");
  }
  if (assign) l->answered = 1;
  pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
}

static void *serve(void *arg) {
  bus_lease_t *l = arg;
  for (;;) {
    rd_kafka_message_t *m;
    pthread_mutex_lock(&l->mu);
    if (l->stop) {
      pthread_mutex_unlock(&l->mu);
      break;
    }
    pthread_mutex_unlock(&l->mu);
    m = rd_kafka_consumer_poll(l->rk, 100);
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
      char buf[200];
      rd_kafka_fatal_error(l->rk, buf, sizeof(buf));
      pthread_mutex_lock(&l->mu);
      snprintf(l->fatal, sizeof(l->fatal), "%s", buf);
      l->held = 0;
      pthread_cond_broadcast(&l->cv);
      pthread_mutex_unlock(&l->mu);
    }
    rd_kafka_message_destroy(m);   /* nothing is read: the assignment is the lease */
  }
  return NULL;
}

static void lease_free(bus_lease_t *l) {
  if (!l) return;
  if (l->thr_started) {
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thr, NULL);
  }
  if (l->rk) {
    /* Leaves the group: the next member is assigned at once. */
    rd_kafka_consumer_close(l->rk);
    rd_kafka_destroy(l->rk);
  }
  pthread_cond_destroy(&l->cv);
  pthread_mutex_destroy(&l->mu);
  fx_free(l->group);
  fx_free(l->topic);
  fx_free(l);
}

/* The brokers answer within connect_ms and the tasks topic exists: else a
 * subscription would just wait (FERRY_ERR_KAFKA, FERRY_ERR_NOTFOUND). */
static ferry_err_t check_topic(bus_lease_t *l, const bus_conf_t *c, int connect_ms,
                               char *errbuf) {
  const struct rd_kafka_metadata *md = NULL;
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(l->rk, l->topic, NULL);
  rd_kafka_resp_err_t err = rd_kafka_metadata(l->rk, 0, rkt, &md, connect_ms);
  ferry_err_t e = FERRY_OK;
  if (err)
    e = ferry_seterr(errbuf, FERRY_ERR_KAFKA,
                     "kafka brokers %s unreachable within %d ms (taking the lease %s): %s",
                     c->brokers ? c->brokers : "", connect_ms, l->group, rd_kafka_err2str(err));
  else if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt <= 0)
    e = ferry_seterr(errbuf, FERRY_ERR_NOTFOUND, "kafka topic %s: %s", l->topic,
                     md->topic_cnt == 1 && md->topics[0].err
                         ? rd_kafka_err2str(md->topics[0].err) : "no partitions");
  if (md) rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  return e;
}

static ferry_err_t start(bus_lease_t *l, const bus_conf_t *c, int connect_ms, char *errbuf) {
  const char *forced[] = {"group.id", l->group,
                          "partition.assignment.strategy", "cooperative-sticky",
                          "session.timeout.ms", "6000",
                          "heartbeat.interval.ms", "1000",
                          "enable.auto.commit", "false",
                          "enable.auto.offset.store", "false",
                          "auto.offset.reset", "latest",
                          NULL};
  char errstr[512];
  rd_kafka_conf_t *conf = bus_consumer_conf(c, forced, errbuf);
  rd_kafka_topic_partition_list_t *sub;
  rd_kafka_resp_err_t err;
  ferry_err_t e;
  if (!conf) return FERRY_ERR_CONFIG;
  rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
  rd_kafka_conf_set_opaque(conf, l);
  l->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  if (!l->rk) {
    rd_kafka_conf_destroy(conf);
    return ferry_seterr(errbuf, FERRY_ERR_KAFKA, "kafka lease %s: %s", l->group, errstr);
  }
  rd_kafka_poll_set_consumer(l->rk);
  if ((e = check_topic(l, c, connect_ms, errbuf))) return e;
  sub = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(sub, l->topic, RD_KAFKA_PARTITION_UA);
  err = rd_kafka_subscribe(l->rk, sub);
  rd_kafka_topic_partition_list_destroy(sub);
  if (err)
    return ferry_seterr(errbuf, FERRY_ERR_KAFKA, "kafka lease %s: subscribe %s: %s", l->group,
                        l->topic, rd_kafka_err2str(err));
  if (pthread_create(&l->thr, NULL, serve, l) != 0)
    return ferry_seterr(errbuf, FERRY_ERR_KAFKA, "kafka lease %s: no thread", l->group);
  l->thr_started = 1;
  return FERRY_OK;
}

/* Waits for the first answer; FERRY_OK with l->held set, or an error. */
static ferry_err_t await_answer(bus_lease_t *l, int wait_ms, char *errbuf) {
  int64_t until = ferry_wall_ms() + wait_ms; /* pthread_cond_timedwait's clock */
  struct timespec dl = {(time_t)(until / 1000), (long)(until % 1000) * 1000000L};
  ferry_err_t e = FERRY_OK;
  pthread_mutex_lock(&l->mu);
  while (!l->answered && !*l->fatal)
    if (pthread_cond_timedwait(&l->cv, &l->mu, &dl) != 0) break;
  if (*l->fatal)
    e = ferry_seterr(errbuf, FERRY_ERR_KAFKA, "kafka lease %s: %s", l->group, l->fatal);
  else if (!l->answered)
    e = ferry_seterr(errbuf, FERRY_ERR_TIMEOUT,
                     "kafka lease %s: no answer from the group coordinator within %d ms "
                     "(brokers unreachable, or a holder that died less than a session "
                     "timeout ago)", l->group, wait_ms);
  pthread_mutex_unlock(&l->mu);
  return e;
}

static ferry_err_t lease_open(const bus_conf_t *c, const char *group, int connect_ms,
                              int wait_ms, int keep, bus_lease_t **out, char *errbuf) {
  bus_lease_t *l = fx_calloc(1, sizeof(*l));
  ferry_err_t e;
  *out = NULL;
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->cv, NULL);
  l->group = fx_strdup(group);
  l->topic = bus_topic_name(c, BUS_TASKS);
  if (wait_ms <= 0) wait_ms = 45000;
  if (connect_ms <= 0) connect_ms = 30000;
  e = start(l, c, connect_ms, errbuf);
  if (!e) e = await_answer(l, wait_ms, errbuf);
  if (!e && (keep || bus_lease_held(l))) {
    *out = l;
    return FERRY_OK;
  }
  lease_free(l);
  return e;
}

ferry_err_t bus_lease_acquire(const bus_conf_t *c, const char *group, int connect_ms,
                              int wait_ms, bus_lease_t **out, char *errbuf) {
  return lease_open(c, group, connect_ms, wait_ms, 0, out, errbuf);
}

ferry_err_t bus_lease_join(const bus_conf_t *c, const char *group, int connect_ms,
                           int wait_ms, bus_lease_t **out, char *errbuf) {
  return lease_open(c, group, connect_ms, wait_ms, 1, out, errbuf);
}

int bus_lease_held(bus_lease_t *l) {
  int h;
  if (!l) return 0;
  pthread_mutex_lock(&l->mu);
  h = l->held && !*l->fatal;
  pthread_mutex_unlock(&l->mu);
  return h;
}

void bus_lease_release(bus_lease_t *l) { lease_free(l); }
