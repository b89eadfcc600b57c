/*
 * lister.c: list a task's source (or replay its failed objects), cut the
 * stream into segments, publish them and the task record.
 *
 * Memory: one listing page, the segment being filled, and a bounded
 * number of messages in flight (out.c) — nothing grows with the bucket. A
 * --retry-failed replay holds the task's still-failed set (retry.c: the
 * reporter's tally of the task and one object per still-failed key).
 */
#include "lister/lister.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus/bus.h"
#include "conf/busconf.h"
#include "bus/lease.h"
#include "bus/topicscan.h"
#include "core/log.h"
#include "lister/fanout.h"
#include "lister/ops.h"
#include "lister/out.h"
#include "lister/retry.h"
#include "lister/source.h"
#include "store/client.h"
#include "store/listcur.h"
#include "xfer/backoff.h"
#include "plan/listfile.h"
#include "plan/listplan.h"
#include "plan/segmenter.h"
#include "plan/shardplan.h"

#define FAC "lister"

_Atomic int lister_stop;

typedef struct lrun {
  const ferry_conf_t *conf;
  const task_conf_t *t;
  const lister_opts_t *opts;
  listplan_kind_t kind;
  listplan_t plan;
  msg_task_t def;          /* task, src, dst, policy of the current config */
  bus_conf_t bc;
  int have_bc;
  store_t *store;
  lout_t *out;
  seg_t *seg;
  uint64_t objects, bytes; /* in the segments handed out (resumed ones included) */
  char *last_key;          /* last key of the last segment handed out */
  char *resume_key;        /* the checkpoint resumed from (plan.start_after) */
  uint64_t cp_segments;    /* segment count at the last checkpoint */
  uint64_t pages, rejected, vanished, stale;
  lsrc_t *stream;          /* --incremental, URL lists: the objects to copy */
  backoff_t bo;
  uint64_t rng;
  int max_attempts;
  lfan_t *fan;             /* fan-out of huge objects, opened on first use */
  bus_lease_t *lease;      /* the task's lease (Kafka only): one lister per task */
  /* A sharded listing (lister.shards > 1; shards.c-like section below). */
  struct shard *sh; /* n_sh shards, or NULL */
  size_t n_sh;
  msg_shard_t *resume_sh; /* from the record being resumed, owned */
  size_t n_resume_sh;
  msg_shard_t *rec_sh; /* fill_record's view of sh (strings borrowed) */
} lrun_t;

static uint64_t total_segments(const lrun_t *r);

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 when s is well-formed UTF-8 (no overlongs, surrogates, or > U+10FFFF):
 * anything else cannot go into a JSON message. */
static int utf8_ok(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    unsigned c = *p, n, i, cp;
    if (c < 0x80) {
      p++;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) n = 1, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) n = 2, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) n = 3, cp = c & 0x07;
    else return 0;
    for (i = 1; i <= n; i++) {
      if ((p[i] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
      return 0;
    p += n + 1;
  }
  return 1;
}

static void loc_from_conf(msg_loc_t *m, const conf_loc_t *c) {
  if (c->kind == CONF_LOC_URLS) {
    /* The built-in HTTP store; the bucket (ignored by that store) names the
     * list, so that the task record reads "urls:/path/to/list". */
    m->store = fx_strdup(STORE_URLS_NAME);
    m->bucket = fx_strdup(c->path);
    m->prefix = fx_strdup("");
    return;
  }
  m->store = fx_strdup(c->store);
  m->bucket = fx_strdup(c->bucket);
  m->prefix = fx_strdup(c->prefix ? c->prefix : "");
}

static int kafka_timeout(const lrun_t *r) {
  return r->bc.delivery_timeout_ms > 0 ? r->bc.delivery_timeout_ms : 300000;
}

/* Waiting for deliveries: librdkafka fails a message after
 * delivery.timeout.ms with the reason; the margin lets that report, rather
 * than our own timeout, say what went wrong. */
static int drain_timeout(const lrun_t *r) {
  int t = kafka_timeout(r);
  return t > INT32_MAX - 5000 ? INT32_MAX : t + 5000;
}

/* ---------- task records ---------- */

/* Every task record goes out through here: only while this lister still
 * holds the task's lease, so a lister that lost it (stalled for a session,
 * cut off from the coordinator) cannot record a position over its
 * successor's. */
static ferry_err_t put_record(lrun_t *r, const msg_task_t *rec, char *errbuf) {
  if (r->lease && !bus_lease_held(r->lease))
    return ferry_seterr(errbuf, FERRY_ERR_KAFKA, "lost the lease of task %s (another lister "
                        "may have taken it over): stopping", r->def.task);
  return lout_task(r->out, rec, errbuf);
}

static void shard_record(lrun_t *r, msg_task_t *rec);

static void fill_record(lrun_t *r, msg_task_t *rec, const char *state,
                        const char *checkpoint) {
  *rec = r->def;  /* strings borrowed from def */
  rec->run = r->plan.run;
  rec->state = (char *)state;
  rec->listed_objects = r->objects;
  rec->listed_bytes = r->bytes;
  rec->segments = total_segments(r);
  rec->checkpoint = r->sh ? NULL : (char *)checkpoint;
  if (r->sh) shard_record(r, rec);
  rec->updated_ms = wall_ms();
  rec->kind = r->kind == LISTPLAN_LIST ? NULL : (char *)listplan_kind_str(r->kind);
  rec->retry_of = r->plan.retry_of;
}

/* Every checkpoint_pages pages: a barrier. Every segment handed out so far
 * is delivered, then the record of that position, then the listing goes on:
 * whenever the lister dies, the last stored checkpoint is at most one
 * interval behind the last delivered segment. */
static ferry_err_t checkpoint(lrun_t *r, char *errbuf) {
  msg_task_t rec;
  ferry_err_t e;
  if (total_segments(r) == r->cp_segments || !lout_is_kafka(r->out)) return FERRY_OK;
  if ((e = lout_drain(r->out, drain_timeout(r), errbuf))) return e;
  fill_record(r, &rec, "listing", r->last_key);
  if ((e = put_record(r, &rec, errbuf))) return e;
  if ((e = lout_drain(r->out, drain_timeout(r), errbuf))) return e;
  r->cp_segments = total_segments(r);
  LOG_DEBUG(FAC,
            "task=%s run=%d msg=\"checkpoint recorded\" segments=%" PRIu64
            " objects=%" PRIu64,
            FLOG_V(r->def.task), r->plan.run, r->cp_segments, r->objects);
  return FERRY_OK;
}

/* ---------- segments ---------- */

static ferry_err_t emit(lrun_t *r, msg_segment_t *s, char *errbuf) {
  ferry_err_t e;
  size_t i;
  if (!s) return FERRY_OK;
  e = lout_segment(r->out, s, errbuf);
  if (!e) {
    /* A fanned-out object counts once, with its first range. */
    if (!s->range.present || s->range.part_first == 1) {
      for (i = 0; i < s->n_objs; i++) r->bytes += s->objs[i].size;
      r->objects += s->n_objs;
    }
    fx_free(r->last_key);
    r->last_key = fx_strdup(s->objs[s->n_objs - 1].key);
  }
  seg_segment_free(s);
  return e;
}

static ferry_err_t checkpoint(lrun_t *r, char *errbuf);

/* An object of lister.fanout_threshold bytes or more (docs/fanout.md): the
 * upload is initiated once and its part ranges go out as segments of their
 * own, each with the next segment id. What is pending goes out first, so
 * ids and checkpoints keep the listing order; a checkpoint follows, so a
 * restarted listing does not fan the object out again (an upload begun
 * before a crash between the two is left for --cleanup). */
static ferry_err_t fan_out(lrun_t *r, msg_obj_t *o, char *errbuf) {
  msg_segment_t *pending = NULL;
  char *uid = NULL;
  fanout_plan_t plan;
  uint32_t i;
  ferry_err_t e;
  seg_flush(r->seg, &pending);
  if ((e = emit(r, pending, errbuf))) return e;
  if (!r->fan) r->fan = lfan_new(r->conf, r->t, r->store, r->out);
  e = lfan_prepare(r->fan, &r->def.src, &r->def.dst,
                   r->kind == LISTPLAN_INCREMENTAL ? POLICY_OVERWRITE : r->def.policy, o, &uid,
                   &plan, errbuf);
  if (e) return e;
  if (!uid) {
    /* Whole, to one worker: alone in its segment like any large object. */
    msg_segment_t *ready = NULL;
    e = seg_add_obj(r->seg, o, &ready, errbuf);
    if (!e) e = emit(r, ready, errbuf);
    if (!e) seg_flush(r->seg, &ready), e = emit(r, ready, errbuf);
    return e;
  }
  for (i = 0; i < plan.n_ranges && !e; i++) {
    char *id = seg_next_id(r->seg);
    msg_segment_t *s = fanout_segment(id, r->def.task, r->plan.run, &r->def.src, &r->def.dst,
                                      POLICY_OVERWRITE, o, uid, &plan, i);
    fx_free(id);
    e = emit(r, s, errbuf);
  }
  fx_free(uid);
  if (e) return e;
  return r->kind == LISTPLAN_LIST ? checkpoint(r, errbuf) : FERRY_OK;
}

/* Every object goes through here: into the segment being filled, or fanned
 * out when it is huge. */
static ferry_err_t add_obj(lrun_t *r, msg_obj_t *o, char *errbuf) {
  msg_segment_t *ready = NULL;
  ferry_err_t e;
  if (fanout_wanted(r->conf->lister.fanout_threshold, o->size)) return fan_out(r, o, errbuf);
  e = seg_add_obj(r->seg, o, &ready, errbuf);
  if (!e) e = emit(r, ready, errbuf);
  return e;
}

/* A key that cannot travel in a message is reported, never dropped silently. */
static int key_ok(lrun_t *r, const char *key) {
  if (utf8_ok(key)) return 1;
  fprintf(stderr, "ferry-lister: task %s: key is not valid UTF-8, not published: ",
          r->def.task);
  {
    const unsigned char *p;
    for (p = (const unsigned char *)key; *p; p++)
      fprintf(stderr, *p >= 0x20 && *p < 0x7F && *p != '\\' ? "%c" : "\\x%02X", *p);
  }
  fputc('\n', stderr);
  r->rejected++;
  return 0;
}

/* ---------- store calls with retries ---------- */

static ferry_err_t retry_wait(lrun_t *r, const char *what, int attempt,
                              const store_error_t *err, char *errbuf) {
  char msg[512];
  long ms = backoff_delay_ms(&r->bo, attempt - 1, err->retry_after_s, &r->rng);
  store_error_format(err, msg, sizeof(msg));
  LOG_WARN(FAC, "task=%s op=%s attempt=%d retry_in_ms=%ld err=%s", FLOG_V(r->def.task),
           what, attempt, ms, FLOG_Q(msg));
  return lout_wait(r->out, (int)ms, errbuf);
}

static int list_take(store_t *s, store_listcur_t *cur, const char *bucket, const char *prefix,
                     int page_size, store_list_page_t *page, store_error_t *err,
                     ferry_err_t *e, char *errbuf);

/* One page of the walk cur (store/listcur.h), with retries. The page is
 * taken by the cursor: a page that does not advance is an error naming the
 * store, or (list_api = auto) the walk goes on with V1 and fetches again. */
static ferry_err_t list_page(lrun_t *r, store_listcur_t *cur, store_list_page_t *page,
                             char *errbuf) {
  store_error_t err;
  int attempt, rc;
  ferry_err_t e;
  for (attempt = 1;; attempt++) {
    store_error_clear(&err);
    rc = list_take(r->store, cur, r->t->src.bucket, r->t->src.prefix,
                   (int)r->conf->lister.page_size, page, &err, &e, errbuf);
    if (rc >= 0) return rc ? FERRY_OK : e;
    if (!backoff_should_retry(&err, attempt, r->max_attempts) || lister_stop) {
      char msg[512];
      store_error_format(&err, msg, sizeof(msg));
      return ferry_seterr(errbuf, e, "listing %s:%s%s%s failed: %s", r->t->src.store,
                          r->t->src.bucket, *r->t->src.prefix ? "/" : "",
                          r->t->src.prefix, msg);
    }
    if ((e = retry_wait(r, "list", attempt, &err, errbuf))) return e;
  }
}

/* HEAD with retries. 1 = found (*h filled), 0 = not found, -1 = other error
 * (reported; *h untouched). */
static int head(lrun_t *r, const char *key, store_head_t *h, char *errbuf) {
  store_error_t err;
  int attempt;
  for (attempt = 1;; attempt++) {
    store_error_clear(&err);
    if (store_head_object(r->store, r->def.src.bucket, key, h, &err) == FERRY_OK) return 1;
    store_head_release(h);
    if (err.http_status == 404) return 0;
    if (!backoff_should_retry(&err, attempt, r->max_attempts) || lister_stop) {
      char msg[512];
      store_error_format(&err, msg, sizeof(msg));
      fprintf(stderr,
              "ferry-lister: task %s: HEAD %s at the source failed (%s); replayed "
              "with its last known size and ETag\n", r->def.task, key, msg);
      return -1;
    }
    if (retry_wait(r, "head", attempt, &err, errbuf)) return -1;
  }
}

/* ---------- listing ---------- */

/* Fetches the next page of cur and lets the cursor take it (fetching again
 * after a fall back to V1). Returns 1: use the page; 0: the store does not
 * advance (*e = FERRY_ERR_STORE, errbuf says so); -1: store_list_ex failed
 * (*e, and err to decide on a retry). The page is released unless 1. */
static int list_take(store_t *s, store_listcur_t *cur, const char *bucket, const char *prefix,
                     int page_size, store_list_page_t *page, store_error_t *err,
                     ferry_err_t *e, char *errbuf) {
  int use;
  do {
    memset(page, 0, sizeof(*page));
    *e = store_list_ex(s, cur->api, bucket, prefix && *prefix ? prefix : NULL, NULL,
                       store_listcur_after(cur), store_listcur_token(cur), page_size, page, err);
    if (*e) {
      store_list_page_release(page);
      return -1;
    }
    use = store_listcur_take(cur, page, errbuf);
    if (use <= 0) store_list_page_release(page);
  } while (use == 0);
  if (use > 0) return 1;
  memset(page, 0, sizeof(*page));
  *e = FERRY_ERR_STORE;
  return 0;
}

static char *list_what(const lrun_t *r) {
  return fx_asprintf("%s:%s%s%s", r->t->src.store, r->t->src.bucket,
                     *r->t->src.prefix ? "/" : "", r->t->src.prefix);
}

static ferry_err_t list_source(lrun_t *r, char *errbuf) {
  const char *prefix = r->t->src.prefix ? r->t->src.prefix : "";
  size_t plen = strlen(prefix);
  long cp_pages = r->conf->lister.checkpoint_pages > 0 ? r->conf->lister.checkpoint_pages : 10;
  store_listcur_t cur;
  ferry_err_t e = FERRY_OK;
  int64_t last_log = ferry_now_us();
  char *what = list_what(r);
  store_listcur_init(&cur, (store_list_api_t)store_conf(r->store)->list_api, r->plan.start_after,
                     what);
  fx_free(what);
  for (;;) {
    store_list_page_t page;
    msg_segment_t *ready;
    size_t i;
    if (lister_stop) {
      e = ferry_seterr(errbuf, FERRY_ERR_TIMEOUT, "interrupted by a signal");
      break;
    }
    memset(&page, 0, sizeof(page));
    e = list_page(r, &cur, &page, errbuf);
    if (e) break;
    for (i = 0; i < page.n_objects && !e; i++) {
      const store_object_t *o = &page.objects[i];
      if (!o->key || strncmp(o->key, prefix, plen) != 0) continue;
      if (!conf_task_filter(r->t, o->key + plen, o->size, (int64_t)o->mtime)) continue;
      if (!key_ok(r, o->key)) continue;
      if (fanout_wanted(r->conf->lister.fanout_threshold, o->size)) {
        msg_obj_t m;
        memset(&m, 0, sizeof(m));
        m.key = fx_strdup(o->key);
        m.size = o->size;
        m.etag = fx_strdup(o->etag);
        m.mtime = (int64_t)o->mtime;
        m.has_crc64 = o->has_crc64;
        m.crc64 = o->crc64;
        e = fan_out(r, &m, errbuf);
        msg_obj_release(&m);
        continue;
      }
      e = seg_add(r->seg, o, &ready, errbuf);
      if (!e) e = emit(r, ready, errbuf);
    }
    r->pages++;
    if (!e && r->pages % (uint64_t)cp_pages == 0) e = checkpoint(r, errbuf);
    if (!e && ferry_now_us() - last_log > 5000000) {
      last_log = ferry_now_us();
      LOG_INFO(FAC,
               "task=%s run=%d pages=%" PRIu64 " objects=%" PRIu64 " segments=%" PRIu64,
               FLOG_V(r->def.task), r->plan.run, r->pages,
               r->objects + seg_pending_objects(r->seg), seg_count(r->seg));
    }
    store_list_page_release(&page);
    if (e || cur.done) break;
  }
  store_listcur_release(&cur);
  return e;
}

/* ---------- sharded listing (lister.shards > 1) ---------- */

/*
 * The task's key space is cut into ranges (xfer/shardplan.h), each listed by
 * its own thread with its own store connection and segmenter (segment ids
 * "s<NNN>/<run>-<seq>": deterministic per shard). The threads hand finished
 * segments to the main thread through a queue of SHARD_QUEUE per shard; only
 * the main thread publishes (lout is single-threaded) and records
 * checkpoints, which carry every shard's position (msg_shard_t). Memory per
 * shard: one page, the segment being filled, SHARD_QUEUE segments.
 */
#define SHARD_QUEUE 2

typedef struct shard {
  lrun_t *r;
  int idx;
  char *lo, *hi; /* the range (lo, hi] */
  char *after;   /* where its listing starts: checkpoint or lo */
  store_t *store;
  seg_t *seg;
  pthread_t th;
  int started;
  /* under shard_mu: */
  msg_segment_t *q[SHARD_QUEUE];
  size_t qh, qn;
  int finished; /* the thread is done (end or error) */
  ferry_err_t err;
  char eb[FERRY_ERRLEN];
  unsigned long pages;
  uint64_t rejected;
  /* the main thread's: what was published */
  uint64_t segments, objects, bytes;
  char *last_key;
  int done;
  unsigned long cp_pages; /* pages at the last checkpoint */
  lfan_t *fan;            /* the shard thread's fan-out of huge objects */
} shard_t;

static pthread_mutex_t shard_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t shard_data = PTHREAD_COND_INITIALIZER; /* to main */
static pthread_cond_t shard_room = PTHREAD_COND_INITIALIZER; /* to shards */
/* Set by whichever thread fails first, read by every shard thread outside
 * shard_mu (their listing loops): atomic, not volatile (a data race). */
static _Atomic int shard_abort;

static uint64_t total_segments(const lrun_t *r) {
  uint64_t n = 0;
  size_t i;
  if (!r->sh) return r->seg ? seg_count(r->seg) : 0;
  for (i = 0; i < r->n_sh; i++) n += r->sh[i].segments;
  return n;
}

static void shard_record(lrun_t *r, msg_task_t *rec) {
  size_t i;
  if (!r->rec_sh) r->rec_sh = fx_calloc(r->n_sh, sizeof(*r->rec_sh));
  for (i = 0; i < r->n_sh; i++) {
    shard_t *x = &r->sh[i];
    msg_shard_t *m = &r->rec_sh[i];
    m->lo = x->lo;
    m->hi = x->hi;
    m->checkpoint = x->last_key;
    m->segments = x->segments;
    m->objects = x->objects;
    m->bytes = x->bytes;
    m->done = x->done;
  }
  rec->shards = r->rec_sh;
  rec->n_shards = r->n_sh;
}

/* Hands a segment to the main thread; waits for room. 0, or -1 when the
 * listing is being stopped (s is freed). */
static int shard_push(shard_t *x, msg_segment_t *s) {
  pthread_mutex_lock(&shard_mu);
  while (x->qn == SHARD_QUEUE && !shard_abort && !lister_stop) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 100000000L;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_cond_timedwait(&shard_room, &shard_mu, &ts);
  }
  if (shard_abort || lister_stop) {
    pthread_mutex_unlock(&shard_mu);
    seg_segment_free(s);
    return -1;
  }
  x->q[(x->qh + x->qn) % SHARD_QUEUE] = s;
  x->qn++;
  pthread_cond_signal(&shard_data);
  pthread_mutex_unlock(&shard_mu);
  return 0;
}

static void shard_sleep(long ms) {
  struct timespec ts;
  /* In slices, so that a stop is seen. */
  while (ms > 0 && !shard_abort && !lister_stop) {
    long d = ms > 100 ? 100 : ms;
    ts.tv_sec = 0;
    ts.tv_nsec = d * 1000000L;
    nanosleep(&ts, NULL);
    ms -= d;
  }
}

static ferry_err_t shard_page(shard_t *x, store_listcur_t *cur, store_list_page_t *page,
                              backoff_t *bo, uint64_t *rng, char *errbuf) {
  lrun_t *r = x->r;
  store_error_t err;
  int attempt, rc;
  ferry_err_t e;
  for (attempt = 1;; attempt++) {
    char msg[512];
    long ms;
    if (lister_stop || shard_abort)
      return ferry_seterr(errbuf, FERRY_ERR_TIMEOUT, "interrupted by a signal");
    store_error_clear(&err);
    rc = list_take(x->store, cur, r->t->src.bucket, r->t->src.prefix,
                   (int)r->conf->lister.page_size, page, &err, &e, errbuf);
    if (rc >= 0) return rc ? FERRY_OK : e;
    store_error_format(&err, msg, sizeof(msg));
    if (!backoff_should_retry(&err, attempt, r->max_attempts) || lister_stop)
      return ferry_seterr(errbuf, e, "listing %s:%s%s%s (shard %d) failed: %s",
                          r->t->src.store, r->t->src.bucket, *r->t->src.prefix ? "/" : "",
                          r->t->src.prefix, x->idx, msg);
    ms = backoff_delay_ms(bo, attempt - 1, err.retry_after_s, rng);
    LOG_WARN(FAC, "task=%s shard=%d op=list attempt=%d retry_in_ms=%ld err=%s",
             FLOG_V(r->def.task), x->idx, attempt, ms, FLOG_Q(msg));
    shard_sleep(ms);
  }
}

/* A huge object met by a shard thread (docs/fanout.md): as fan_out(), with
 * the shard's own source and destination clients and ids, the ranges handed
 * to the main thread like any segment (no checkpoint of its own: a resumed
 * sharded listing may fan an object out again; --cleanup takes the old
 * upload). 0, or -1 when the listing is being stopped. */
static int shard_fan_out(shard_t *x, const store_object_t *so, ferry_err_t *e, char *eb) {
  lrun_t *r = x->r;
  msg_segment_t *pending = NULL;
  msg_obj_t o;
  char *uid = NULL;
  fanout_plan_t plan;
  uint32_t i;
  int rc = 0;
  seg_flush(x->seg, &pending);
  if (pending && shard_push(x, pending)) return -1;
  memset(&o, 0, sizeof(o));
  o.key = fx_strdup(so->key);
  o.size = so->size;
  o.etag = fx_strdup(so->etag);
  o.mtime = (int64_t)so->mtime;
  o.has_crc64 = so->has_crc64;
  o.crc64 = so->crc64;
  if (!x->fan) x->fan = lfan_new(r->conf, r->t, x->store, NULL);
  *e = lfan_prepare(x->fan, &r->def.src, &r->def.dst, r->def.policy, &o, &uid, &plan, eb);
  if (!*e && !uid) {
    msg_segment_t *ready = NULL;
    *e = seg_add_obj(x->seg, &o, &ready, eb);
    if (!*e && ready && shard_push(x, ready)) rc = -1;
    if (!*e && !rc) {
      seg_flush(x->seg, &ready);
      if (ready && shard_push(x, ready)) rc = -1;
    }
  }
  for (i = 0; uid && !*e && !rc && i < plan.n_ranges; i++) {
    char *id = seg_next_id(x->seg);
    msg_segment_t *s = fanout_segment(id, r->def.task, r->plan.run, &r->def.src, &r->def.dst,
                                      POLICY_OVERWRITE, &o, uid, &plan, i);
    fx_free(id);
    if (shard_push(x, s)) rc = -1;
  }
  fx_free(uid);
  msg_obj_release(&o);
  return rc;
}

static void *shard_main(void *arg) {
  shard_t *x = arg;
  lrun_t *r = x->r;
  const char *prefix = r->t->src.prefix ? r->t->src.prefix : "";
  size_t plen = strlen(prefix);
  store_listcur_t cur;
  ferry_err_t e = FERRY_OK;
  char eb[FERRY_ERRLEN];
  int end = 0;
  char *what = list_what(r);
  uint64_t rejected = 0;
  backoff_t bo = r->bo;
  uint64_t rng;
  eb[0] = '\0';
  backoff_rng_seed(&rng, (uint64_t)ferry_now_us() ^ ((uint64_t)x->idx << 48));
  store_listcur_init(&cur, (store_list_api_t)store_conf(x->store)->list_api, x->after, what);
  fx_free(what);
  while (!end) {
    store_list_page_t page;
    size_t i;
    int more;
    if ((e = shard_page(x, &cur, &page, &bo, &rng, eb))) break;
    for (i = 0; i < page.n_objects && !e && !end; i++) {
      const store_object_t *o = &page.objects[i];
      msg_segment_t *ready = NULL;
      int w;
      if (!o->key || strncmp(o->key, prefix, plen) != 0) continue;
      w = shardplan_where(o->key, x->lo, x->hi);
      if (w < 0) continue;
      if (w > 0) {
        end = 1;
        break;
      }
      if (!conf_task_filter(r->t, o->key + plen, o->size, (int64_t)o->mtime)) continue;
      if (!utf8_ok(o->key)) {
        const unsigned char *p;
        flockfile(stderr);
        fprintf(stderr, "ferry-lister: task %s: key is not valid UTF-8, not published: ",
                r->def.task);
        for (p = (const unsigned char *)o->key; *p; p++)
          fprintf(stderr, *p >= 0x20 && *p < 0x7F && *p != '\\' ? "%c" : "\\x%02X", *p);
        fputc('\n', stderr);
        funlockfile(stderr);
        rejected++;
        continue;
      }
      if (fanout_wanted(r->conf->lister.fanout_threshold, o->size)) {
        if (shard_fan_out(x, o, &e, eb))
          e = ferry_seterr(eb, FERRY_ERR_TIMEOUT, "interrupted by a signal");
        continue;
      }
      e = seg_add(x->seg, o, &ready, eb);
      if (!e && ready && shard_push(x, ready))
        e = ferry_seterr(eb, FERRY_ERR_TIMEOUT, "interrupted by a signal");
    }
    pthread_mutex_lock(&shard_mu);
    x->pages++;
    pthread_cond_signal(&shard_data);
    pthread_mutex_unlock(&shard_mu);
    more = !cur.done;
    store_list_page_release(&page);
    if (e) break;
    if (!more) end = 1;
  }
  if (!e) {
    msg_segment_t *last = NULL;
    seg_flush(x->seg, &last);
    if (last && shard_push(x, last))
      e = ferry_seterr(eb, FERRY_ERR_TIMEOUT, "interrupted by a signal");
  }
  store_listcur_release(&cur);
  pthread_mutex_lock(&shard_mu);
  x->finished = 1;
  x->err = e;
  x->rejected = rejected;
  snprintf(x->eb, sizeof(x->eb), "%s", eb);
  if (e) shard_abort = 1;
  pthread_cond_broadcast(&shard_data);
  pthread_cond_broadcast(&shard_room);
  pthread_mutex_unlock(&shard_mu);
  return NULL;
}

static void shards_free(lrun_t *r) {
  size_t i;
  if (!r->sh) return;
  for (i = 0; i < r->n_sh; i++) {
    shard_t *x = &r->sh[i];
    size_t k;
    for (k = 0; k < x->qn; k++) seg_segment_free(x->q[(x->qh + k) % SHARD_QUEUE]);
    lfan_destroy(x->fan);
    seg_destroy(x->seg);
    store_destroy(x->store);
    fx_free(x->lo);
    fx_free(x->hi);
    fx_free(x->after);
    fx_free(x->last_key);
  }
  fx_free(r->sh);
  fx_free(r->rec_sh);
  r->sh = NULL;
  r->rec_sh = NULL;
  r->n_sh = 0;
}

static ferry_err_t plan_list(void *ctx, const char *prefix, const char *token,
                             store_list_page_t *page, char *errbuf) {
  lrun_t *r = ctx;
  store_error_t err;
  int attempt;
  ferry_err_t e;
  for (attempt = 1;; attempt++) {
    store_error_clear(&err);
    e = store_list(r->store, r->t->src.bucket, *prefix ? prefix : NULL, "/", NULL, token,
                   1000, page, &err);
    if (e == FERRY_OK) return FERRY_OK;
    store_list_page_release(page);
    memset(page, 0, sizeof(*page));
    if (!backoff_should_retry(&err, attempt, r->max_attempts) || lister_stop) {
      char msg[512];
      store_error_format(&err, msg, sizeof(msg));
      return ferry_seterr(errbuf, e,
                          "listing %s:%s/%s with delimiter / (shard plan) "
                          "failed: %s",
                          r->t->src.store, r->t->src.bucket, prefix, msg);
    }
    if ((e = retry_wait(r, "list", attempt, &err, errbuf))) return e;
  }
}

/* Sets up r->sh: from the record being resumed, or a new plan. Leaves r->sh
 * NULL when the plan has one shard (the plain listing then runs). */
static ferry_err_t shards_setup(lrun_t *r, const store_conf_t *sc, char *errbuf) {
  size_t i, n;
  shardplan_t plan;
  ferry_err_t e;
  memset(&plan, 0, sizeof(plan));
  if (r->resume_sh) {
    n = r->n_resume_sh;
  } else {
    const char *prefix = r->t->src.prefix ? r->t->src.prefix : "";
    if ((e = shardplan_discover(plan_list, r, prefix, (size_t)r->conf->lister.shards, 0,
                                &plan, errbuf)))
      return e;
    LOG_INFO(FAC, "task=%s msg=\"shard plan\" shards=%zu entries=%zu pages=%lu cut=%d",
             FLOG_V(r->def.task), plan.n, plan.entries, plan.pages, plan.cut);
    if (plan.n < 2) {
      fprintf(stderr,
              "ferry-lister: task %s: lister.shards=%ld but the source shows %zu "
              "entr%s under its prefix: one listing\n",
              r->def.task, r->conf->lister.shards, plan.entries,
              plan.entries == 1 ? "y" : "ies");
      shardplan_release(&plan);
      return FERRY_OK;
    }
    n = plan.n;
  }
  r->sh = fx_calloc(n, sizeof(*r->sh));
  r->n_sh = n;
  if (r->resume_sh) {
    /* The record's totals are the sums of its shards' (listplan.h knows
     * only a single checkpoint). */
    r->objects = r->bytes = 0;
    for (i = 0; i < n; i++) {
      r->objects += r->resume_sh[i].objects;
      r->bytes += r->resume_sh[i].bytes;
    }
  }
  for (i = 0; i < n; i++) {
    shard_t *x = &r->sh[i];
    char idp[32];
    x->r = r;
    x->idx = (int)i;
    snprintf(idp, sizeof(idp), "s%03zu/", i);
    if (r->resume_sh) {
      const msg_shard_t *m = &r->resume_sh[i];
      x->lo = m->lo ? fx_strdup(m->lo) : NULL;
      x->hi = m->hi ? fx_strdup(m->hi) : NULL;
      x->segments = m->segments;
      x->objects = m->objects;
      x->bytes = m->bytes;
      x->done = m->done;
      x->last_key = m->checkpoint ? fx_strdup(m->checkpoint) : NULL;
    } else {
      x->lo = plan.shards[i].lo ? fx_strdup(plan.shards[i].lo) : NULL;
      x->hi = plan.shards[i].hi ? fx_strdup(plan.shards[i].hi) : NULL;
    }
    x->after = x->last_key ? fx_strdup(x->last_key) : x->lo ? fx_strdup(x->lo) : NULL;
    if (!(x->store = store_new(sc, errbuf))) {
      shardplan_release(&plan);
      return FERRY_ERR_CONFIG;
    }
    x->seg = seg_new(r->def.task, r->plan.run, &r->def.src, &r->def.dst, r->def.policy,
                     (size_t)r->conf->lister.segment_max_objects,
                     r->conf->lister.segment_max_bytes, idp, errbuf);
    if (!x->seg) {
      shardplan_release(&plan);
      return FERRY_ERR_INVALID;
    }
    seg_resume(x->seg, x->segments);
  }
  shardplan_release(&plan);
  r->cp_segments = total_segments(r);
  return FERRY_OK;
}

/* Publishes what the shard threads list; checkpoints. */
static ferry_err_t list_sharded(lrun_t *r, char *errbuf) {
  long cp_pages =
      r->conf->lister.checkpoint_pages > 0 ? r->conf->lister.checkpoint_pages : 10;
  size_t i, rr = 0;
  ferry_err_t e = FERRY_OK;
  int64_t last_log = ferry_now_us();
  shard_abort = 0;
  for (i = 0; i < r->n_sh; i++) {
    shard_t *x = &r->sh[i];
    if (x->done) {
      x->finished = 1;
      continue;
    }
    if (pthread_create(&x->th, NULL, shard_main, x) != 0) {
      e = ferry_seterr(errbuf, FERRY_ERR_IO,
                       "cannot start the listing thread of shard %zu", i);
      pthread_mutex_lock(&shard_mu);
      shard_abort = 1;
      pthread_mutex_unlock(&shard_mu);
      break;
    }
    x->started = 1;
  }
  while (!e) {
    shard_t *x = NULL;
    msg_segment_t *s = NULL;
    int all_done = 1, want_cp = 0;
    unsigned long since = 0, active = 0;
    if (lister_stop) {
      e = ferry_seterr(errbuf, FERRY_ERR_TIMEOUT, "interrupted by a signal");
      break;
    }
    pthread_mutex_lock(&shard_mu);
    for (i = 0; i < r->n_sh; i++) {
      shard_t *y = &r->sh[(rr + i) % r->n_sh];
      if (y->err) {
        e = ferry_seterr(errbuf, y->err, "%s", y->eb);
        break;
      }
      if (y->qn && !x) {
        x = y;
        s = y->q[y->qh];
        y->qh = (y->qh + 1) % SHARD_QUEUE;
        y->qn--;
        pthread_cond_broadcast(&shard_room);
      }
      if (!y->finished || y->qn) all_done = 0;
      if (!y->finished) active++;
      since += y->pages - y->cp_pages;
      /* A barrier costs a drain: one per checkpoint_pages pages of each
       * shard on average, and no shard more than twice that apart. */
      if (y->pages - y->cp_pages >= 2 * (unsigned long)cp_pages) want_cp = 1;
    }
    if (active && since >= active * (unsigned long)cp_pages) want_cp = 1;
    if (!e && !x && !all_done && !want_cp) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 20000000L;
      if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
      pthread_cond_timedwait(&shard_data, &shard_mu, &ts);
    }
    pthread_mutex_unlock(&shard_mu);
    if (e) break;
    if (x) {
      rr = (size_t)(x - r->sh) + 1;
      e = lout_segment(r->out, s, errbuf);
      if (!e) {
        size_t k;
        /* A fanned-out object counts once, with its first range. */
        if (!s->range.present || s->range.part_first == 1) {
          for (k = 0; k < s->n_objs; k++)
            x->bytes += s->objs[k].size, r->bytes += s->objs[k].size;
          x->objects += s->n_objs;
          r->objects += s->n_objs;
        }
        x->segments++;
        fx_free(x->last_key);
        x->last_key = fx_strdup(s->objs[s->n_objs - 1].key);
      }
      seg_segment_free(s);
      if (e) break;
    } else {
      if ((e = lout_wait(r->out, 0, errbuf))) break;
    }
    /* A shard whose thread ended cleanly with nothing queued is done. */
    pthread_mutex_lock(&shard_mu);
    for (i = 0; i < r->n_sh; i++) {
      shard_t *y = &r->sh[i];
      if (y->finished && !y->err && !y->qn) y->done = 1;
    }
    pthread_mutex_unlock(&shard_mu);
    if (want_cp) {
      pthread_mutex_lock(&shard_mu);
      for (i = 0; i < r->n_sh; i++) r->sh[i].cp_pages = r->sh[i].pages;
      pthread_mutex_unlock(&shard_mu);
      if ((e = checkpoint(r, errbuf))) break;
    }
    if (all_done && !x) break;
    if (ferry_now_us() - last_log > 5000000) {
      unsigned long pages = 0;
      size_t done = 0;
      last_log = ferry_now_us();
      pthread_mutex_lock(&shard_mu); /* the shard threads count pages under it */
      for (i = 0; i < r->n_sh; i++)
        pages += r->sh[i].pages, done += (size_t)r->sh[i].done;
      pthread_mutex_unlock(&shard_mu);
      LOG_INFO(FAC,
               "task=%s run=%d shards=%zu shards_done=%zu pages=%lu objects=%" PRIu64
               " segments=%" PRIu64,
               FLOG_V(r->def.task), r->plan.run, r->n_sh, done, pages, r->objects,
               total_segments(r));
    }
  }
  pthread_mutex_lock(&shard_mu);
  if (e) shard_abort = 1;
  pthread_cond_broadcast(&shard_room);
  pthread_mutex_unlock(&shard_mu);
  for (i = 0; i < r->n_sh; i++) {
    shard_t *x = &r->sh[i];
    if (x->started) pthread_join(x->th, NULL);
    x->started = 0;
    r->pages += x->pages;
    r->rejected += x->rejected;
  }
  return e;
}

/* ---------- incremental runs and URL lists ---------- */

static ferry_err_t serve_wait(void *ctx, int ms, char *errbuf) {
  lrun_t *r = ctx;
  return lout_wait(r->out, ms, errbuf);
}

/* Publishes a stream (source.h): for --incremental the source objects
 * missing or changed at the destination, by a merge-join of the two listings
 * (no HEAD per object; the segments say overwrite), recording progress every
 * checkpoint_pages source pages (never resumed: listplan.h); for a URL list
 * its entries, each read with HEAD. */
static ferry_err_t list_stream(lrun_t *r, char *errbuf) {
  long cp_pages = r->conf->lister.checkpoint_pages > 0 ? r->conf->lister.checkpoint_pages : 10;
  unsigned long next_cp = (unsigned long)cp_pages;
  ferry_err_t e;
  lsrc_set_wait(r->stream, serve_wait, r);
  for (;;) {
    const msg_obj_t *o;
    msg_segment_t *ready = NULL;
    if ((e = lsrc_next(r->stream, &o, NULL, errbuf)) || !o) break;
    if (!key_ok(r, o->key)) continue;
    {
      /* The stream's object is borrowed: fan-out may refresh a copy. */
      msg_obj_t m = *o;
      m.key = fx_strdup(o->key);
      m.etag = fx_strdup(o->etag);
      m.dst_key = fx_strdup(o->dst_key);
      e = add_obj(r, &m, errbuf);
      msg_obj_release(&m);
    }
    (void)ready;
    if (!e && lsrc_pages(r->stream) >= next_cp) {
      next_cp = lsrc_pages(r->stream) + (unsigned long)cp_pages;
      e = checkpoint(r, errbuf);
    }
    if (e) break;
  }
  return e;
}

/* ---------- replays ---------- */

/* Re-reads o's current version at the source; a vanished object is kept
 * (the worker then records it as failed, vanished, in the new run). */
static void refresh(lrun_t *r, msg_obj_t *o, char *errbuf) {
  store_head_t h;
  int found;
  memset(&h, 0, sizeof(h));
  found = head(r, o->key, &h, errbuf);
  if (found == 1) {
    if (!o->etag || !h.etag || strcmp(o->etag, h.etag) != 0 || o->size != h.size)
      r->stale++;
    o->size = h.size;
    fx_free(o->etag);
    /* A weak ETag (plain HTTP servers) cannot be matched by If-Match. */
    o->etag = h.etag && strncmp(h.etag, "W/", 2) != 0 ? fx_strdup(h.etag) : NULL;
    o->mtime = (int64_t)h.mtime;
    o->has_crc64 = h.has_crc64;
    o->crc64 = h.has_crc64 ? h.crc64 : 0;
    store_head_release(&h);
  } else if (found == 0) {
    r->vanished++;
    fprintf(stderr,
            "ferry-lister: task %s: %s has vanished from the source; replayed anyway, "
            "so the run records it as failed (vanished)\n", r->def.task, o->key);
  }
}

static ferry_err_t replay_one(lrun_t *r, msg_obj_t *o, char *errbuf) {
  const char *prefix = r->t->src.prefix ? r->t->src.prefix : "";
  msg_segment_t *ready = NULL;
  ferry_err_t e;
  if (strncmp(o->key, prefix, strlen(prefix)) != 0) {
    fprintf(stderr, "ferry-lister: task %s: %s is outside the source prefix \"%s\"; not "
            "replayed\n", r->def.task, o->key, prefix);
    r->rejected++;
    return FERRY_OK;
  }
  if (!key_ok(r, o->key)) return FERRY_OK;
  refresh(r, o, errbuf);
  (void)ready;
  e = add_obj(r, o, errbuf);
  return e;
}

/* --retry-failed: the still-failed set, sorted by key (retry.c), so a redone
 * retry run has the same segment ids. */
static ferry_err_t replay_failed(lrun_t *r, lretry_t *rs, char *errbuf) {
  size_t i;
  ferry_err_t e = FERRY_OK;
  for (i = 0; i < rs->n && !e; i++) {
    if (lister_stop) {
      e = ferry_seterr(errbuf, FERRY_ERR_TIMEOUT, "interrupted by a signal");
      break;
    }
    e = replay_one(r, &rs->objs[i], errbuf);
  }
  LOG_INFO(FAC, "task=%s run=%d base_run=%d replayed=%zu", FLOG_V(r->def.task),
           r->plan.run, rs->base_run, i);
  return e;
}

static ferry_err_t replay_file(lrun_t *r, listfile_t *lf, char *errbuf) {
  ferry_err_t e = FERRY_OK;
  for (;;) {
    msg_obj_t o;
    int eof;
    char eb[FERRY_ERRLEN];
    ferry_err_t le;
    if (lister_stop) {
      e = ferry_seterr(errbuf, FERRY_ERR_TIMEOUT, "interrupted by a signal");
      break;
    }
    le = listfile_next(lf, &o, &eof, eb);
    if (le == FERRY_ERR_PARSE) {
      fprintf(stderr, "ferry-lister: %s; entry not replayed\n", eb);
      r->rejected++;
      continue;
    }
    if (le) {
      e = ferry_seterr(errbuf, le, "%s", eb);
      break;
    }
    if (eof) break;
    e = replay_one(r, &o, errbuf);
    msg_obj_release(&o);
    if (e) break;
  }
  return e;
}

/* ---------- the tasks topic ---------- */

typedef struct last_rec {
  const char *task;
  msg_task_t rec;
  int have;
  uint64_t bad;
} last_rec_t;

static int on_task(const bus_msg_t *m, void *ctx) {
  last_rec_t *lr = ctx;
  size_t tl = strlen(lr->task);
  msg_task_t t;
  char eb[FERRY_ERRLEN];
  if (!m->key || m->key_len != tl || memcmp(m->key, lr->task, tl) != 0) return 0;
  if (!m->value) {
    /* A tombstone: the task's history was deleted. */
    if (lr->have) msg_task_release(&lr->rec);
    lr->have = 0;
    return 0;
  }
  if (msg_task_decode(m->value, m->len, &t, eb)) {
    LOG_WARN(FAC,
             "topic=%s offset=%" PRId64
             " msg=\"undecodable task record skipped\" "
             "err=%s",
             FLOG_V(m->topic), m->offset, FLOG_Q(eb));
    lr->bad++;
    return 0;
  }
  if (strcmp(t.task, lr->task) != 0) {
    msg_task_release(&t);
    return 0;
  }
  if (lr->have) msg_task_release(&lr->rec);
  lr->rec = t;
  lr->have = 1;
  return 0;
}

/* ---------- the run ---------- */

static const char *state_for(ferry_err_t e) {
  return e == FERRY_OK ? "listed" : lister_stop ? "listing" : "failed";
}

/* After an error: keep what was delivered, and say so in the tasks topic so
 * that the same command resumes (a listing) or redoes (a replay) the run. */
static void record_stop(lrun_t *r, ferry_err_t why) {
  char eb[FERRY_ERRLEN];
  msg_task_t rec;
  /* Not after a broker failure: the record would not get through either.
   * (FERRY_ERR_TIMEOUT is a broker timeout unless a signal stopped us.) */
  if (!r->out || !lout_is_kafka(r->out) || why == FERRY_ERR_KAFKA ||
      (why == FERRY_ERR_TIMEOUT && !lister_stop))
    return;
  if (lout_drain(r->out, drain_timeout(r), eb)) {
    LOG_ERROR(FAC,
              "task=%s msg=\"segments not delivered; no checkpoint recorded\" "
              "err=%s",
              FLOG_V(r->def.task), FLOG_Q(eb));
    return;
  }
  /* Everything handed out is delivered: the position is exact. */
  fill_record(r, &rec, state_for(why), r->kind == LISTPLAN_LIST ? r->last_key : NULL);
  if (put_record(r, &rec, eb) || lout_drain(r->out, drain_timeout(r), eb))
    LOG_ERROR(FAC, "task=%s msg=\"task record not delivered\" err=%s",
              FLOG_V(r->def.task), FLOG_Q(eb));
}

/* Reads the task's latest record and decides the run (listplan.h). Errors:
 * those of bus_scan and listplan_decide. */
static ferry_err_t setup_plan(lrun_t *r, char *errbuf) {
  last_rec_t lr;
  ferry_err_t e;
  memset(&lr, 0, sizeof(lr));
  lr.task = r->def.task;
  e = bus_scan(&r->bc, BUS_TASKS, kafka_timeout(r), on_task, &lr, NULL, errbuf);
  if (e == FERRY_ERR_NOTFOUND) {
    /* A fresh cluster: create the topics (a no-op where they exist). */
    LOG_INFO(FAC, "msg=\"tasks topic missing; creating the topics\"");
    if ((e = bus_topics_create(&r->bc, errbuf))) return e == FERRY_ERR_NOTFOUND ? FERRY_ERR_KAFKA : e;
  } else if (e) {
    return e == FERRY_ERR_NOTFOUND ? FERRY_ERR_KAFKA : e;
  }
  /* Retention that could delete a running migration's records. */
  if ((e = bus_topics_check(&r->bc, errbuf))) return e;
  e = listplan_decide(r->kind, lr.have ? &lr.rec : NULL, &r->def, &r->plan, errbuf);
  if (e == FERRY_OK && r->plan.start_after) {
    /* The plan borrows from the record, released below. */
    r->resume_key = fx_strdup(r->plan.start_after);
    r->plan.start_after = r->resume_key;
  }
  if (e == FERRY_OK && r->plan.resume && r->kind == LISTPLAN_LIST && lr.have &&
      lr.rec.n_shards) {
    /* A sharded run goes on with its own ranges, whatever lister.shards
     * says now: its segment ids depend on them. */
    r->resume_sh = lr.rec.shards;
    r->n_resume_sh = lr.rec.n_shards;
    lr.rec.shards = NULL;
    lr.rec.n_shards = 0;
  }
  if (lr.have) msg_task_release(&lr.rec);
  if (e == FERRY_OK && *r->plan.note)
    fprintf(stderr, "ferry-lister: task %s: %s\n", r->def.task, r->plan.note);
  return e;
}

/* One lister per task (docs/lister.md): the run is decided, and every
 * record written, only under the task's lease. */
static int take_lease(lrun_t *r, char *eb) {
  char *group = fx_asprintf("%slister.%s", r->bc.topic_prefix ? r->bc.topic_prefix : "",
                            r->def.task);
  ferry_err_t e = bus_lease_acquire(&r->bc, group, kafka_timeout(r), 0, &r->lease, eb);
  int rc = LISTER_EXIT_OK;
  if (e == FERRY_ERR_NOTFOUND) {
    /* A fresh cluster: create the topics (a no-op where they exist). */
    LOG_INFO(FAC, "msg=\"tasks topic missing; creating the topics\"");
    e = bus_topics_create(&r->bc, eb);
    if (!e) e = bus_lease_acquire(&r->bc, group, kafka_timeout(r), 0, &r->lease, eb);
  }
  if (e) {
    fprintf(stderr, "ferry-lister: task %s: %s\n", r->def.task, eb);
    rc = LISTER_EXIT_FAIL;
  } else if (!r->lease) {
    fprintf(stderr, "ferry-lister: task %s: another ferry-lister is working on this task (it "
            "holds the task's lease, kafka group %s); nothing done: run this command again "
            "once it has finished\n", r->def.task, group);
    rc = LISTER_EXIT_BUSY;
  }
  fx_free(group);
  return rc;
}

/* Before a retry run: refused while a run is at work (its later failures
 * would be missed), nothing to do when nothing is still failed. Returns an
 * exit status to end with, or -1 to go on and replay rs. */
static int retry_verdict(const lrun_t *r, const lretry_t *rs) {
  if (*rs->busy) {
    fprintf(stderr, "ferry-lister: task %s: %s; a retry now would miss the failures still "
            "to come: wait until it is done (ferry-reporter --task %s --wait) and retry "
            "then\n", r->def.task, rs->busy, r->def.task);
    return LISTER_EXIT_BUSY;
  }
  if (rs->base_run != r->plan.retry_of)
    LOG_WARN(FAC, "task=%s base_run=%d retry_of=%d msg=\"the records disagree on the "
             "latest full run\"", FLOG_V(r->def.task), rs->base_run, r->plan.retry_of);
  if (rs->n == 0) {
    fprintf(stderr, "ferry-lister: task %s: no object is still failed since run %d (every "
            "one is copied or skipped): nothing to retry\n", r->def.task, rs->base_run);
    return LISTER_EXIT_OK;
  }
  fprintf(stderr, "ferry-lister: task %s: %zu object%s still failed since run %d (%s)\n",
          r->def.task, rs->n, rs->n == 1 ? "" : "s", rs->base_run, fbuf_str(&rs->labels));
  return -1;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...) {
  va_list ap;
  fputs("ferry-lister: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return LISTER_EXIT_USAGE;
}

int lister_run(const ferry_conf_t *conf, const lister_opts_t *o) {
  lrun_t r;
  char eb[FERRY_ERRLEN];
  const store_conf_t *sc;
  lretry_t rs;
  listfile_t *lf = NULL;
  store_conf_t urls_conf;
  int have_urls_conf = 0;
  ferry_err_t e = FERRY_OK;
  int rc = LISTER_EXIT_FAIL;

  memset(&r, 0, sizeof(r));
  memset(&rs, 0, sizeof(rs));
  fbuf_init(&rs.labels, 0);
  eb[0] = '\0';
  r.conf = conf;
  r.opts = o;
  if (!o->task || !*o->task) return usage_error("no task: pass -t TASK");
  r.t = conf_task(conf, o->task);
  if (!r.t) {
    fbuf_t names;
    size_t k;
    fbuf_init(&names, 0);
    for (k = 0; k < conf->n_tasks; k++)
      fbuf_addf(&names, "%s%s", k ? ", " : "", conf->tasks[k].name);
    fprintf(stderr, "ferry-lister: unknown task \"%s\" in %s (its tasks: %s)\n", o->task,
            conf->path ? conf->path : "the config",
            names.len ? fbuf_str(&names) : "none");
    fbuf_release(&names);
    return LISTER_EXIT_USAGE;
  }
  if (o->retry_failed && o->from_list)
    return usage_error("--retry-failed and --from-list exclude each other");
  if (o->retry_failed && o->segments_to)
    return usage_error("--retry-failed reads the failed topic: it needs Kafka, not "
                       "--segments-to");
  if (o->run && !o->segments_to)
    return usage_error("--run is for --segments-to only (with Kafka the run comes from "
                       "the tasks topic)");
  {
    int modes = !!o->estimate + !!o->dry_run + !!o->verify;
    int replay = o->retry_failed || o->from_list;
    if (modes > 1) return usage_error("--estimate, --dry-run and --verify exclude each other");
    if (modes && (replay || o->segments_to || o->run))
      return usage_error("--%s publishes nothing: it takes no --retry-failed, --from-list, "
                         "--segments-to or --run", o->estimate ? "estimate"
                         : o->dry_run ? "dry-run" : "verify");
    if (o->incremental && (replay || o->verify))
      return usage_error("--incremental is a listing: not with --retry-failed, --from-list "
                         "or --verify");
    if (o->out && !o->verify && !o->dry_run)
      return usage_error("--out is for --verify and --dry-run");
    if ((o->workers || o->rate_from_json || o->rate_workers || o->src_rate || o->dst_rate ||
         o->request_ms) && !o->estimate)
      return usage_error("--workers, --rate-from-json, --rate-workers, --src-rate, "
                         "--dst-rate and --request-ms are for --estimate");
    if (o->incremental && r.t->src.kind != CONF_LOC_STORE)
      return usage_error("task %s: --incremental compares two stores; the source is a URL "
                         "list", o->task);
    if (modes) return lops_run(conf, r.t, o);
  }
  if (r.t->src.kind == CONF_LOC_URLS) {
    /* An export has no destination keys: replay URL-list failures with
     * --retry-failed, whose records keep them. */
    if (o->from_list)
      return usage_error("task %s: --from-list cannot replay a URL list (an export has no "
                         "destination keys); use --retry-failed", o->task);
    store_conf_urls(&urls_conf);
    have_urls_conf = 1;
    sc = &urls_conf;
  } else {
    sc = conf_store(conf, r.t->src.store);
  }
  if (!sc) return usage_error("task %s: source store not in the config", o->task);
  r.kind = o->retry_failed  ? LISTPLAN_RETRY
           : o->from_list  ? LISTPLAN_FROM_LIST
           : o->incremental ? LISTPLAN_INCREMENTAL
                            : LISTPLAN_LIST;
  r.def.task = fx_strdup(r.t->name);
  loc_from_conf(&r.def.src, &r.t->src);
  loc_from_conf(&r.def.dst, &r.t->dst);
  r.def.policy = r.t->same_name;
  backoff_init(&r.bo);
  if (conf->worker.backoff_base_ms > 0) r.bo.base_ms = conf->worker.backoff_base_ms;
  if (conf->worker.backoff_max_ms > 0) r.bo.cap_ms = conf->worker.backoff_max_ms;
  backoff_rng_seed(&r.rng, (uint64_t)ferry_now_us() ^ ((uint64_t)getpid() << 32));
  r.max_attempts = conf->worker.max_attempts > 0 ? (int)conf->worker.max_attempts : 5;

  /* glibc gives each thread a malloc arena of its own (librdkafka's threads,
   * and a sharded listing's), whose freed pages stay mapped: measured at
   * 1 M objects and 4 shards, one arena for all keeps the peak RSS ~3 MiB
   * lower (bench/RESULTS.md). The listing threads spend their time waiting
   * on the store, so they hardly contend for it. */
  if (conf->lister.shards > 1) mallopt(M_ARENA_MAX, 1);

  /* Where the run starts. */
  if (o->segments_to) {
    r.plan.run = o->run ? o->run : 1;
  } else {
    if ((e = bus_conf_from_kafka(&r.bc, &conf->kafka, eb))) goto fail;
    r.have_bc = 1;
    if ((e = bus_conf_check(&r.bc, eb))) goto fail;
    if ((rc = take_lease(&r, eb)) != LISTER_EXIT_OK) goto out;
    rc = LISTER_EXIT_FAIL;
    if ((e = setup_plan(&r, eb))) {
      if (e == FERRY_ERR_NOTFOUND && r.kind == LISTPLAN_RETRY) {
        /* No run at all: nothing is failed. */
        fprintf(stderr, "ferry-lister: %s\n", eb);
        rc = LISTER_EXIT_OK;
        goto out;
      }
      goto fail;
    }
    if (r.kind == LISTPLAN_RETRY) {
      lretry_release(&rs);
      if ((e = lretry_load(&r.bc, kafka_timeout(&r), r.def.task, r.plan.run, &rs, eb)))
        goto fail;
      if ((rc = retry_verdict(&r, &rs)) >= 0) goto out;
      rc = LISTER_EXIT_FAIL;
    }
  }

  /* Open what can fail on the operator's side before anything is published:
   * a mistyped list file must not leave an unfinished run behind. */
  if (o->from_list && !(lf = listfile_open(o->from_list, eb))) {
    fprintf(stderr, "ferry-lister: task %s: --from-list: %s\n", o->task, eb);
    rc = LISTER_EXIT_FAIL;
    goto out;
  }
  if (r.kind == LISTPLAN_INCREMENTAL && !(r.stream = lsrc_new(conf, r.t, LSRC_INCREMENTAL, eb))) {
    fprintf(stderr, "ferry-lister: task %s: --incremental: %s\n", o->task, eb);
    rc = LISTER_EXIT_FAIL;
    goto out;
  }
  if (r.kind == LISTPLAN_LIST && r.t->src.kind == CONF_LOC_URLS) {
    if (!(r.stream = lsrc_new(conf, r.t, LSRC_URLS, eb))) {
      fprintf(stderr, "ferry-lister: task %s: %s\n", o->task, eb);
      rc = LISTER_EXIT_FAIL;
      goto out;
    }
    /* A URL list has no key order to resume from: an unfinished run is
     * redone whole with the same run number (the same file gives the same
     * segment ids, which the reporter counts once). */
    if (r.plan.resume && r.plan.start_after) {
      fprintf(stderr, "ferry-lister: task %s: run %d was not finished; a URL list is read "
              "again from its first line\n", r.def.task, r.plan.run);
      r.plan.start_after = NULL;
      r.plan.segments = r.plan.objects = r.plan.bytes = 0;
    }
  }
  r.store = store_new(sc, eb);
  if (!r.store) {
    e = FERRY_ERR_CONFIG;
    goto fail;
  }
  r.out = o->segments_to ? lout_file(o->segments_to, eb) : lout_kafka(&r.bc, eb);
  if (!r.out) {
    e = o->segments_to ? FERRY_ERR_IO : FERRY_ERR_KAFKA;
    goto fail;
  }
  lout_set_limits(r.out, r.t->qps_limit, r.t->bandwidth_limit);
  /* An incremental run copies objects known to differ: overwrite them. */
  r.seg = seg_new(r.def.task, r.plan.run, &r.def.src, &r.def.dst,
                  r.kind == LISTPLAN_INCREMENTAL ? POLICY_OVERWRITE : r.def.policy,
                  (size_t)conf->lister.segment_max_objects, conf->lister.segment_max_bytes,
                  NULL, eb);
  if (!r.seg) {
    e = FERRY_ERR_INVALID;
    goto fail;
  }
  if (r.plan.resume) {
    seg_resume(r.seg, r.plan.segments);
    r.cp_segments = r.plan.segments;
    r.objects = r.plan.objects;
    r.bytes = r.plan.bytes;
    r.last_key = fx_strdup(r.plan.start_after);
    if (r.plan.start_after)
      fprintf(stderr, "ferry-lister: task %s: resuming run %d after its checkpoint (%" PRIu64
              " segments, %" PRIu64 " objects published)\n", r.def.task, r.plan.run,
              r.plan.segments, r.plan.objects);
  }
  if (r.kind == LISTPLAN_LIST && r.t->src.kind == CONF_LOC_STORE) {
    if (r.resume_sh || (!r.plan.resume && conf->lister.shards > 1)) {
      if ((e = shards_setup(&r, sc, eb))) goto fail;
      if (r.resume_sh)
        fprintf(stderr, "ferry-lister: task %s: resuming run %d in its %zu shards\n",
                r.def.task, r.plan.run, r.n_sh);
    } else if (conf->lister.shards > 1) {
      fprintf(stderr,
              "ferry-lister: task %s: run %d was started as one listing; it is "
              "resumed so (lister.shards applies to the next run)\n",
              r.def.task, r.plan.run);
    }
  }
  LOG_INFO(FAC, "task=%s run=%d kind=%s resume=%d", FLOG_V(r.def.task), r.plan.run,
           listplan_kind_str(r.kind), r.plan.resume);
  {
    msg_task_t rec;
    fill_record(&r, &rec, "listing", r.kind == LISTPLAN_LIST ? r.last_key : NULL);
    if ((e = put_record(&r, &rec, eb))) goto fail;
    /* A sharded run's ranges are stored before anything is listed, so that
     * a restart lists the same ranges (and gives the same segment ids). */
    if (r.sh && lout_is_kafka(r.out) && (e = lout_drain(r.out, drain_timeout(&r), eb)))
      goto fail;
  }

  switch (r.kind) {
  case LISTPLAN_LIST:
    e = r.t->src.kind == CONF_LOC_URLS ? list_stream(&r, eb)
        : r.sh                         ? list_sharded(&r, eb)
                                       : list_source(&r, eb);
    break;
  case LISTPLAN_RETRY: e = replay_failed(&r, &rs, eb); break;
  case LISTPLAN_FROM_LIST: e = replay_file(&r, lf, eb); break;
  case LISTPLAN_INCREMENTAL: e = list_stream(&r, eb); break;
  }
  if (!e) {
    msg_segment_t *last = NULL;
    seg_flush(r.seg, &last);
    e = emit(&r, last, eb);
  }
  if (!e && lout_is_kafka(r.out)) e = lout_drain(r.out, drain_timeout(&r), eb);
  if (!e) {
    msg_task_t rec;
    fill_record(&r, &rec, "listed", r.kind == LISTPLAN_LIST ? r.last_key : NULL);
    e = put_record(&r, &rec, eb);
  }
  if (!e) e = lout_drain(r.out, drain_timeout(&r), eb);
  if (e) goto fail;

  if (r.stream && r.t->src.kind == CONF_LOC_URLS) {
    lsrc_stats_t st;
    lsrc_stats(r.stream, &st);
    r.rejected += st.bad;
  }
  fprintf(stderr,
          "ferry-lister: task %s run %d (%s): listed %" PRIu64 " objects, %" PRIu64
          " bytes in %" PRIu64 " segments -> %s%s\n",
          r.def.task, r.plan.run, listplan_kind_str(r.kind), r.objects, r.bytes,
          total_segments(&r),
          o->segments_to ? (strcmp(o->segments_to, "-") ? o->segments_to : "stdout")
                         : "kafka",
          o->segments_to ? "" : " (all delivered)");
  if (r.kind == LISTPLAN_INCREMENTAL) {
    lsrc_stats_t st;
    size_t k;
    lsrc_stats(r.stream, &st);
    fprintf(stderr, "ferry-lister: task %s run %d: %" PRIu64 " source objects examined, %"
            PRIu64 " left out by the filters, %" PRIu64 " in step", r.def.task, r.plan.run,
            st.examined, st.filtered, st.in_step);
    for (k = SD_MISSING; k < SD_KINDS; k++)
      if (st.by_kind[k])
        fprintf(stderr, ", %s %" PRIu64, sd_kind_str((sd_kind_t)k), st.by_kind[k]);
    fputc('\n', stderr);
  } else if (r.stream) {
    lsrc_stats_t st;
    lsrc_stats(r.stream, &st);
    fprintf(stderr, "ferry-lister: task %s run %d: URL list %s: %" PRIu64 " URLs, %" PRIu64
            " left out by the filters, %" PRIu64 " HEAD failures (published; the run "
            "records them)\n", r.def.task, r.plan.run, r.t->src.path, st.examined,
            st.filtered, st.head_failed);
  } else if (r.kind != LISTPLAN_LIST)
    fprintf(stderr, "ferry-lister: task %s run %d: %" PRIu64 " changed at the source, %"
            PRIu64 " vanished (replayed; the run records them)\n", r.def.task, r.plan.run,
            r.stale, r.vanished);
  if (r.rejected) {
    fprintf(stderr, "ferry-lister: task %s run %d: %" PRIu64 " entr%s not published (see "
            "above)\n", r.def.task, r.plan.run, r.rejected, r.rejected == 1 ? "y" : "ies");
    rc = LISTER_EXIT_FAIL;
  } else if (r.kind == LISTPLAN_RETRY && rs.n && rs.permanent == rs.n) {
    /* A script that retries until done stops here: another retry cannot
     * copy these until someone fixes their cause. */
    fprintf(stderr, "ferry-lister: task %s run %d: every replayed object had already "
            "failed permanently in a retry (%s): retrying again will not copy them until "
            "their cause is fixed\n", r.def.task, r.plan.run, fbuf_str(&rs.labels));
    rc = LISTER_EXIT_PERMANENT;
  } else {
    rc = LISTER_EXIT_OK;
  }
  goto out;

fail:
  if (r.seg) record_stop(&r, e);
  if (lister_stop && e == FERRY_ERR_TIMEOUT && strstr(eb, "interrupted"))
    fprintf(stderr,
            "ferry-lister: task %s run %d: interrupted after %" PRIu64
            " segments; run the same command again to %s\n",
            r.def.task, r.plan.run, total_segments(&r),
            r.kind == LISTPLAN_LIST ? "resume" : "redo the run");
  else
    fprintf(stderr, "ferry-lister: task %s: %s\n", o->task, *eb ? eb : ferry_err_str(e));
  rc = LISTER_EXIT_FAIL;
out:
  listfile_close(lf);
  lsrc_destroy(r.stream);
  if (have_urls_conf) store_conf_release(&urls_conf);
  lretry_release(&rs);
  bus_lease_release(r.lease);
  lfan_destroy(r.fan);
  shards_free(&r);
  msg_shards_release(r.resume_sh, r.n_resume_sh);
  seg_destroy(r.seg);
  lout_destroy(r.out);
  store_destroy(r.store);
  if (r.have_bc) bus_conf_release(&r.bc);
  fx_free(r.last_key);
  fx_free(r.resume_key);
  msg_task_release(&r.def);
  return rc;
}
