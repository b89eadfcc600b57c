/*
 * feed.c: Kafka → tally for the reporter. See feed.h.
 */
#include "reporter/feed.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

#define FAC "reporter"
#define BATCH 1000

/* The tally's three, then the console's (when the feed has a console). */
static const bus_topic_t topics[] = {BUS_TASKS, BUS_RESULTS, BUS_FAILED,
                                     BUS_TASKSTATE, BUS_CONTROL, BUS_WORKERS};
static const tally_src_t srcs[] = {TALLY_SRC_TASKS, TALLY_SRC_RESULTS,
                                   TALLY_SRC_FAILED};
#define N_TOPICS (sizeof(topics) / sizeof(topics[0]))
#define N_TALLY_TOPICS (sizeof(srcs) / sizeof(srcs[0]))

typedef struct fpart {
  size_t topic;        /* index into topics[] */
  int32_t partition;
  int64_t next;        /* next offset to read (last read + 1), -1 none yet */
  int64_t low, high;   /* watermarks at the mark */
} fpart_t;

struct feed {
  bus_consumer_t *c;
  tally_t *t;
  console_t *cs;           /* NULL: the tally's topics only */
  size_t n_topics;
  feed_result_fn *on_result;
  void *on_result_ctx;
  char *names[N_TOPICS];
  fpart_t *parts;
  size_t n_parts;
  uint64_t records, rejected;
  uint64_t lost_seen;      /* bus_consumer_lost already reported */
  pthread_mutex_t *lock;   /* NULL: not shared */
};

/* Records the reporter needed were deleted by the broker: every figure may
 * miss them, and the views say so. */
static void mark_incomplete(feed_t *f, const char *why) {
  LOG_ERROR(FAC, "event=figures-incomplete reason=%s", FLOG_Q(why));
  if (f->lock) pthread_mutex_lock(f->lock);
  tally_set_incomplete(f->t, why);
  if (f->lock) pthread_mutex_unlock(f->lock);
}

/* A client group id no other process uses (host, pid, time): the reader
 * joins no group and commits nothing, but the name shows in broker logs. */
static char *own_group_id(void) {
  char host[128];
  if (gethostname(host, sizeof(host)) != 0) snprintf(host, sizeof(host), "host");
  host[sizeof(host) - 1] = '\0';
  return fx_asprintf("ferry-reporter-%s-%d-%lld", host, (int)getpid(),
                     (long long)ferry_wall_ms());
}

feed_t *feed_new(const bus_conf_t *c, tally_t *t, console_t *cs, char *errbuf) {
  feed_t *f = fx_calloc(1, sizeof(*f));
  bus_conf_t own = *c;
  bus_part_mark_t *marks = NULL;
  size_t n_marks = 0, i, k;
  own.group_id = own_group_id();
  f->n_topics = cs ? N_TOPICS : N_TALLY_TOPICS;
  LOG_INFO(FAC, "client=%s msg=\"reading tasks, results and failed%s from the beginning\"",
           FLOG_V(own.group_id), cs ? ", taskstate, control and workers" : "");
  f->c = bus_reader_new(&own, topics, f->n_topics, &marks, &n_marks, errbuf);
  if (!f->c && cs) {
    /* Topics of a fleet older than the console: the figures still work. */
    char eb2[FERRY_ERRLEN];
    LOG_WARN(FAC, "msg=\"no console state, actions or fleet view\" reason=%s", FLOG_Q(errbuf));
    f->n_topics = N_TALLY_TOPICS;
    cs = NULL;
    f->c = bus_reader_new(&own, topics, f->n_topics, &marks, &n_marks, eb2);
    if (!f->c) snprintf(errbuf, FERRY_ERRLEN, "%s", eb2);
  }
  fx_free(own.group_id);
  if (!f->c) {
    fx_free(f);
    return NULL;
  }
  f->cs = cs;
  f->t = t;
  for (i = 0; i < f->n_topics; i++) f->names[i] = bus_topic_name(c, topics[i]);
  f->parts = fx_calloc(n_marks + 1, sizeof(*f->parts));
  for (k = 0; k < n_marks; k++) {
    fpart_t *p = &f->parts[f->n_parts++];
    for (i = 0; i < f->n_topics && topics[i] != marks[k].topic; i++)
      ;
    p->topic = i;
    p->partition = marks[k].partition;
    p->next = -1;
    p->low = marks[k].low;
    p->high = marks[k].high;
    LOG_DEBUG(FAC, "mark topic=%s partition=%d low=%" PRId64 " high=%" PRId64,
              FLOG_V(i < f->n_topics ? f->names[i] : "?"), (int)p->partition, p->low,
              p->high);
    /* The console's topics forget by design (retention, compaction). */
    if (p->low > 0 && i < N_TALLY_TOPICS) {
      /* ferry never deletes records: the broker's retention did. */
      char why[256];
      snprintf(why, sizeof(why),
               "%s[%d] starts at offset %" PRId64 ": the broker deleted the records before it "
               "(retention.ms / retention.bytes of the topic)",
               i < f->n_topics ? f->names[i] : "?", (int)p->partition, p->low);
      mark_incomplete(f, why);
    }
  }
  fx_free(marks);
  return f;
}

void feed_destroy(feed_t *f) {
  size_t i;
  if (!f) return;
  bus_consumer_destroy(f->c);
  for (i = 0; i < f->n_topics; i++) fx_free(f->names[i]);
  fx_free(f->parts);
  fx_free(f);
}

static fpart_t *part_find(feed_t *f, size_t topic, int32_t partition) {
  size_t i;
  for (i = 0; i < f->n_parts; i++)
    if (f->parts[i].topic == topic && f->parts[i].partition == partition)
      return &f->parts[i];
  return NULL;
}

static int part_caught_up(const fpart_t *p) {
  return p->high <= p->low || p->next >= p->high;
}

int feed_caught_up(const feed_t *f) {
  size_t i;
  for (i = 0; i < f->n_parts; i++)
    if (!part_caught_up(&f->parts[i])) return 0;
  return 1;
}

void feed_set_lock(feed_t *f, pthread_mutex_t *lock) { f->lock = lock; }

void feed_on_result(feed_t *f, feed_result_fn *fn, void *ctx) {
  f->on_result = fn;
  f->on_result_ctx = ctx;
}

int feed_has_console(const feed_t *f) { return f->cs != NULL; }

void feed_stats(const feed_t *f, feed_stats_t *out) {
  size_t i;
  int known = 0;
  memset(out, 0, sizeof(*out));
  out->records = f->records;
  out->rejected = f->rejected;
  out->caught_up = feed_caught_up(f);
  for (i = 0; i < f->n_parts; i++) {
    const fpart_t *p = &f->parts[i];
    int64_t lo, hi, next;
    /* The cached watermark moves with every fetch; before the first one
     * the mark taken at start stands in. */
    if (bus_consumer_watermarks(f->c, f->names[p->topic], p->partition, &lo, &hi)) {
      lo = p->low;
      hi = p->high;
    }
    if (hi < 0) continue;
    known = 1;
    next = p->next >= 0 ? p->next : 0;
    if (lo > next) next = lo;   /* records deleted by retention are not lag */
    if (hi > next) out->lag += hi - next;
  }
  if (!known) out->lag = -1;
}

static void handle_locked(feed_t *f, const bus_msg_t *m) {
  size_t i;
  char eb[FERRY_ERRLEN];
  ferry_err_t e;
  fpart_t *p;
  for (i = 0; i < f->n_topics; i++)
    if (strcmp(m->topic, f->names[i]) == 0) break;
  if (i == f->n_topics) return;   /* not subscribed: cannot happen */
  p = part_find(f, i, m->partition);
  if (!p) {   /* a partition added since the mark */
    f->parts = fx_realloc(f->parts, (f->n_parts + 1) * sizeof(*f->parts));
    p = &f->parts[f->n_parts++];
    memset(p, 0, sizeof(*p));
    p->topic = i;
    p->partition = m->partition;
  }
  if (m->offset + 1 > p->next) p->next = m->offset + 1;
  f->records++;
  if (i >= N_TALLY_TOPICS) {
    e = topics[i] == BUS_TASKSTATE
            ? console_feed_taskstate(f->cs, m->key, m->key_len, m->value, m->len, eb)
        : topics[i] == BUS_CONTROL ? console_feed_control(f->cs, m->value, m->len, eb)
                                   : console_feed_heartbeat(f->cs, m->value, m->len, eb);
  } else {
    e = tally_feed(f->t, srcs[i], m->value, m->len, NULL, eb);
    if (!e && topics[i] == BUS_RESULTS && f->on_result)
      f->on_result(f->on_result_ctx, m->value, m->len, m->timestamp_ms);
  }
  if (e) {
    f->rejected++;
    LOG_ERROR(FAC, "rejected topic=%s partition=%d offset=%" PRId64 " err=%s reason=%s",
              FLOG_V(m->topic), (int)m->partition, m->offset, ferry_err_str(e),
              FLOG_Q(eb));
  }
}

/* The tally and the partition figures change here only: under the lock
 * when the tally is shared. */
static void handle(feed_t *f, const bus_msg_t *m) {
  if (f->lock) pthread_mutex_lock(f->lock);
  handle_locked(f, m);
  if (f->lock) pthread_mutex_unlock(f->lock);
}

ferry_err_t feed_poll(feed_t *f, int timeout_ms, size_t *n, char *errbuf) {
  size_t got = 0;
  int wait = timeout_ms;
  if (n) *n = 0;
  while (got < BATCH) {
    bus_msg_t *m = NULL;
    ferry_err_t e = bus_consumer_poll(f->c, wait, &m, errbuf);
    if (e == FERRY_ERR_TIMEOUT) break;
    if (e) return e;
    handle(f, m);
    bus_msg_destroy(m);
    got++;
    wait = 0;   /* take what is already there, then return */
  }
  if (bus_consumer_lost(f->c) > f->lost_seen) {
    f->lost_seen = bus_consumer_lost(f->c);
    mark_incomplete(f, "the broker deleted records while the reporter was reading them "
                       "(offset out of range; see the log's event=records-lost)");
  }
  if (n) *n = got;
  return FERRY_OK;
}

/* "ferry.results[2] at 10 of 40, ..." for the error message. */
static void behind(const feed_t *f, char *errbuf, ferry_err_t err, int64_t ms) {
  char list[300];
  size_t i, o = 0;
  list[0] = '\0';
  for (i = 0; i < f->n_parts && o + 80 < sizeof(list); i++) {
    const fpart_t *p = &f->parts[i];
    if (part_caught_up(p)) continue;
    o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s[%d] at %" PRId64 " of %" PRId64,
                          o ? ", " : "", f->names[p->topic], (int)p->partition,
                          p->next < 0 ? p->low : p->next, p->high);
  }
  ferry_seterr(errbuf, err, "not caught up after %" PRId64 " ms: %s", ms, list);
}

ferry_err_t feed_catch_up(feed_t *f, int timeout_ms, volatile sig_atomic_t *stop,
                          char *errbuf) {
  int64_t t0 = ferry_mono_ms(), deadline = timeout_ms < 0 ? INT64_MAX : t0 + timeout_ms;
  ferry_err_t e;
  while (!feed_caught_up(f)) {
    int64_t now = ferry_mono_ms();
    if (stop && *stop) return ferry_seterr(errbuf, FERRY_ERR_INVALID, "interrupted");
    if (now >= deadline) {
      behind(f, errbuf, FERRY_ERR_TIMEOUT, now - t0);
      return FERRY_ERR_TIMEOUT;
    }
    e = feed_poll(f, (int)FERRY_MIN(deadline - now, 200), NULL, errbuf);
    if (e) return e;
  }
  LOG_INFO(FAC, "caught up records=%" PRIu64 " rejected=%" PRIu64 " duplicates=%" PRIu64
                " ms=%" PRId64,
           f->records, f->rejected, tally_duplicates(f->t), ferry_mono_ms() - t0);
  return FERRY_OK;
}
