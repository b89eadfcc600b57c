/* out.c: the lister's output: Kafka with checked deliveries, or a file. */
#include "lister/out.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

#define FAC "lister"

/* In-flight bounds. The byte bound keeps the producer's copies small next to
 * the 32 MiB the lister is allowed; the count bound must stay below RING. */
#define LOUT_MAX_INFLIGHT 256
#define LOUT_MAX_INFLIGHT_BYTES (8u << 20)
#define RING 1024

struct lout {
  /* file */
  FILE *f;
  int own_file;
  char *path;
  /* kafka */
  bus_producer_t *p;
  const bus_conf_t *bc;    /* borrowed: creates the tasks' segments topics */
  char *topic_task;        /* the task whose segments topic is known to exist */
  int timeout_ms;          /* delivery timeout, for waits without reports */
  uint64_t next_seq;       /* sends so far (seq of the next one) */
  uint64_t done_upto;      /* every seq below it is reported */
  unsigned char done[RING];
  unsigned char is_seg[RING];
  size_t len[RING];
  size_t inflight_bytes;
  uint64_t max_inflight;
  ferry_err_t failed;      /* first delivery failure */
  char failmsg[FERRY_ERRLEN];
  /* both */
  uint64_t seg_sent, seg_delivered;
  int has_limits;          /* stamped on every segment */
  int has_copy;            /* the task's copy settings, stamped likewise */
  kvlist_t class_map;
  int record_src_etag;
  uint64_t qps_limit, bandwidth_limit;
  char **schedule;         /* borrowed */
  size_t n_schedule;
  int audit;               /* stamped on every segment */
};

static void on_delivery(const bus_delivery_t *d, void *ctx) {
  lout_t *o = ctx;
  uint64_t seq = (uint64_t)(uintptr_t)d->opaque;
  size_t slot = (size_t)(seq % RING);
  if (d->err != FERRY_OK && !o->failed) {
    o->failed = FERRY_ERR_KAFKA;
    snprintf(o->failmsg, sizeof(o->failmsg), "kafka: delivery to %s failed: %s",
             d->topic ? d->topic : "?", d->error && *d->error ? d->error : "unknown error");
  }
  if (d->err == FERRY_OK && o->is_seg[slot]) o->seg_delivered++;
  o->done[slot] = 1;
  o->inflight_bytes -= o->len[slot];
  while (o->done_upto < o->next_seq && o->done[o->done_upto % RING]) {
    o->done[o->done_upto % RING] = 0;
    o->done_upto++;
  }
}

lout_t *lout_file(const char *path, char *errbuf) {
  lout_t *o = fx_calloc(1, sizeof(*o));
  if (strcmp(path, "-") == 0) {
    o->f = stdout;
  } else {
    o->f = fopen(path, "w");
    if (!o->f) {
      ferry_seterr(errbuf, FERRY_ERR_IO, "--segments-to %s: %s", path, strerror(errno));
      fx_free(o);
      return NULL;
    }
    o->own_file = 1;
  }
  o->path = fx_strdup(path);
  return o;
}

lout_t *lout_kafka(const bus_conf_t *c, char *errbuf) {
  lout_t *o = fx_calloc(1, sizeof(*o));
  o->timeout_ms = c->delivery_timeout_ms > 0 ? c->delivery_timeout_ms : 300000;
  o->bc = c;
  o->p = bus_producer_new(c, on_delivery, o, errbuf);
  if (!o->p) {
    fx_free(o);
    return NULL;
  }
  return o;
}

void lout_destroy(lout_t *o) {
  if (!o) return;
  if (o->p) bus_producer_destroy(o->p);
  if (o->own_file && o->f) fclose(o->f);
  kvlist_release(&o->class_map);
  fx_free(o->path);
  fx_free(o->topic_task);
  fx_free(o);
}

int lout_is_kafka(const lout_t *o) {
  return o->p != NULL;
}

static ferry_err_t failed(lout_t *o, char *errbuf) {
  return ferry_seterr(errbuf, o->failed, "%s", o->failmsg);
}

/* One Kafka send with its sequence number; the value is copied. A segment
 * (task not NULL) goes to the task's segments topic, anything else to topic. */
static ferry_err_t send1(lout_t *o, bus_topic_t topic, const char *task, const char *key,
                         const char *value, size_t len, char *errbuf) {
  uint64_t seq = o->next_seq;
  size_t slot = (size_t)(seq % RING);
  ferry_err_t e;
  o->done[slot] = 0;
  o->is_seg[slot] = task != NULL;
  o->len[slot] = len;
  o->next_seq++;
  o->inflight_bytes += len;
  /* A segment goes to its task's own topic (docs/architecture.md, "Tasks
   * side by side"). */
  e = task ? bus_producer_send_segment(o->p, task, key, value, len, (void *)(uintptr_t)seq, errbuf)
           : bus_producer_send(o->p, topic, key, value, len, (void *)(uintptr_t)seq, errbuf);
  if (e) {
    /* No report will come for it: count it as reported. */
    o->next_seq--;
    o->inflight_bytes -= len;
    return e;
  }
  if (o->next_seq - o->done_upto > o->max_inflight)
    o->max_inflight = o->next_seq - o->done_upto;
  return FERRY_OK;
}

static void sleep_ms(int ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (long)(ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

ferry_err_t lout_wait(lout_t *o, int ms, char *errbuf) {
  int64_t end = ferry_now_us() + (int64_t)ms * 1000;
  if (!o->p) {
    if (ms > 0) sleep_ms(ms);
    return FERRY_OK;
  }
  do {
    int64_t left = (end - ferry_now_us()) / 1000;
    bus_producer_poll(o->p, left > 100 ? 100 : (left > 0 ? (int)left : 0));
    if (o->failed) return failed(o, errbuf);
  } while (ferry_now_us() < end);
  return FERRY_OK;
}

/* Waits for room in flight for len more bytes. */
static ferry_err_t make_room(lout_t *o, size_t len, char *errbuf) {
  int64_t last = ferry_now_us(), seen = (int64_t)o->done_upto;
  for (;;) {
    uint64_t n = o->next_seq - o->done_upto;
    if (o->failed) return failed(o, errbuf);
    if (n == 0 ||
        (n < LOUT_MAX_INFLIGHT && o->inflight_bytes + len <= LOUT_MAX_INFLIGHT_BYTES))
      return FERRY_OK;
    bus_producer_poll(o->p, 100);
    if ((int64_t)o->done_upto != seen) {
      seen = (int64_t)o->done_upto;
      last = ferry_now_us();
    } else if (ferry_now_us() - last > ((int64_t)o->timeout_ms + 30000) * 1000) {
      /* librdkafka fails a message after delivery.timeout.ms; this is the
       * guard against a report that never comes. */
      return ferry_seterr(errbuf, FERRY_ERR_TIMEOUT,
                          "kafka: no delivery report for %d ms", o->timeout_ms + 30000);
    }
  }
}

/* The longest segment JSON that goes as one message. */
static size_t seg_max(const lout_t *o, const msg_segment_t *s) {
  return o->p ? bus_producer_max_value(o->p, BUS_SEGMENTS, strlen(s->id)) : LOUT_FILE_MAX_MESSAGE;
}

static ferry_err_t put_segment(lout_t *o, const msg_segment_t *s, int depth,
                               char *errbuf) {
  char *json = msg_segment_encode(s);
  size_t len;
  ferry_err_t e = FERRY_OK;
  if (!json)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "segment %s of task %s cannot be encoded as JSON", s->id, s->task);
  len = strlen(json);
  if (len > seg_max(o, s) && s->n_objs > 1 && depth < 40) {
    /* Too long for one Kafka message: halves, with derived ids. */
    msg_segment_t half = *s;
    size_t first = s->n_objs / 2;
    fx_free(json);
    half.id = fx_asprintf("%s.1", s->id);
    half.objs = s->objs;
    half.n_objs = first;
    e = put_segment(o, &half, depth + 1, errbuf);
    fx_free(half.id);
    if (e) return e;
    half.id = fx_asprintf("%s.2", s->id);
    half.objs = s->objs + first;
    half.n_objs = s->n_objs - first;
    e = put_segment(o, &half, depth + 1, errbuf);
    fx_free(half.id);
    return e;
  }
  if (o->p) {
    if (!o->topic_task || strcmp(o->topic_task, s->task) != 0) {
      /* The task's first segment: its topic is created (and checked) first. */
      e = bus_segments_topic_ensure(o->bc, s->task, errbuf);
      if (!e) {
        fx_free(o->topic_task);
        o->topic_task = fx_strdup(s->task);
      }
    }
    if (!e) e = make_room(o, len, errbuf);
    if (!e) e = send1(o, BUS_SEGMENTS, s->task, s->id, json, len, errbuf);
  } else {
    if (fwrite(json, 1, len, o->f) != len || fputc('\n', o->f) == EOF)
      e = ferry_seterr(errbuf, FERRY_ERR_IO, "--segments-to %s: %s", o->path,
                       strerror(errno));
    else
      o->seg_delivered++;
  }
  fx_free(json);
  if (!e) o->seg_sent++;
  return e;
}

void lout_set_limits(lout_t *o, uint64_t qps, uint64_t bandwidth) {
  o->has_limits = 1;
  o->qps_limit = qps;
  o->bandwidth_limit = bandwidth;
}

void lout_set_schedule(lout_t *o, char **schedule, size_t n) {
  o->schedule = schedule;
  o->n_schedule = n;
}

void lout_set_audit(lout_t *o, int audit) { o->audit = audit; }

void lout_set_copy(lout_t *o, const kvlist_t *class_map, int record_src_etag) {
  kvlist_release(&o->class_map);
  kvlist_copy(&o->class_map, class_map);
  o->record_src_etag = record_src_etag;
  o->has_copy = 1;
}

ferry_err_t lout_segment(lout_t *o, const msg_segment_t *s, char *errbuf) {
  msg_segment_t c = *s;  /* shallow: the limits stamped, the rest borrowed */
  if (o->failed) return failed(o, errbuf);
  if (o->has_limits) {
    c.has_limits = 1;
    c.qps_limit = o->qps_limit;
    c.bandwidth_limit = o->bandwidth_limit;
    c.schedule = o->schedule;
    c.n_schedule = o->n_schedule;
  }
  if (o->audit) c.audit = 1;
  if (o->has_copy) {
    c.has_copy = 1;
    c.class_map = o->class_map; /* borrowed: c is not released */
    c.record_src_etag = o->record_src_etag;
  }
  return put_segment(o, &c, 0, errbuf);
}

ferry_err_t lout_task(lout_t *o, const msg_task_t *rec, char *errbuf) {
  char *json;
  ferry_err_t e;
  if (!o->p) return FERRY_OK;
  if (o->failed) return failed(o, errbuf);
  if (!(json = msg_task_encode(rec)))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "task record of %s cannot be encoded",
                        rec->task);
  if (strlen(json) > bus_producer_max_value(o->p, BUS_TASKS, strlen(rec->task))) {
    e = ferry_seterr(errbuf, FERRY_ERR_CONFIG,
                     "the task record of %s is %zu bytes, more than the tasks topic takes "
                     "(%zu: max.message.bytes, message.max.bytes)%s", rec->task, strlen(json),
                     bus_producer_max_value(o->p, BUS_TASKS, strlen(rec->task)),
                     rec->n_shards ? ": use fewer lister.shards" : "");
    fx_free(json);
    return e;
  }
  e = make_room(o, strlen(json), errbuf);
  if (!e) e = send1(o, BUS_TASKS, NULL, rec->task, json, strlen(json), errbuf);
  fx_free(json);
  return e;
}

ferry_err_t lout_drain(lout_t *o, int timeout_ms, char *errbuf) {
  if (!o->p) {
    int fd;
    struct stat st;
    if (fflush(o->f) != 0 || ferror(o->f))
      return ferry_seterr(errbuf, FERRY_ERR_IO, "--segments-to %s: %s", o->path,
                          strerror(errno));
    fd = fileno(o->f);
    /* A regular file is synced so that a finished listing survives a crash. */
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && fsync(fd) != 0)
      return ferry_seterr(errbuf, FERRY_ERR_IO, "--segments-to %s: fsync: %s", o->path,
                          strerror(errno));
    return FERRY_OK;
  }
  {
    int64_t end = ferry_now_us() + (int64_t)timeout_ms * 1000;
    char eb[FERRY_ERRLEN];
    for (;;) {
      int64_t left = (end - ferry_now_us()) / 1000;
      /* flush sends at once (no linger) and serves the reports. */
      bus_producer_flush(o->p, left > 1000 ? 1000 : (left > 0 ? (int)left : 0), eb);
      if (o->failed) return failed(o, errbuf);
      if (o->done_upto == o->next_seq) return FERRY_OK;
      if (ferry_now_us() >= end)
        return ferry_seterr(errbuf, FERRY_ERR_TIMEOUT,
                            "kafka: %llu message(s) still not delivered after %d ms "
                            "(are the brokers reachable?)",
                            (unsigned long long)(o->next_seq - o->done_upto), timeout_ms);
    }
  }
}

uint64_t lout_segments_sent(const lout_t *o) {
  return o->seg_sent;
}

uint64_t lout_segments_delivered(const lout_t *o) {
  return o->seg_delivered;
}

uint64_t lout_max_inflight(const lout_t *o) {
  return o->max_inflight;
}
