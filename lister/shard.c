/*
 * shard.c: the sharded listing (lister.shards > 1; docs/lister.md).
 *
 * The task's key space is cut into ranges (xfer/shardplan.h), each listed by
 * its own thread with its own store connection and segmenter (segment ids
 * "s<NNN>/<run>-<seq>": deterministic per shard). The threads hand finished
 * segments to the main thread through a queue of SHARD_QUEUE per shard; only
 * the main thread publishes (lout is single-threaded) and records
 * checkpoints, which carry every shard's position (msg_shard_t). Memory per
 * shard: one page, the segment being filled, SHARD_QUEUE segments.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/enc.h"
#include "core/log.h"
#include "lister/run.h"
#include "plan/shardplan.h"

#define FAC "lister"

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

uint64_t lrun_total_segments(const lrun_t *r) {
  uint64_t n = 0;
  size_t i;
  if (!r->sh) return r->seg ? seg_count(r->seg) : 0;
  for (i = 0; i < r->n_sh; i++) n += r->sh[i].segments;
  return n;
}

void lrun_shard_record(lrun_t *r, msg_task_t *rec) {
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
    int64_t until = ferry_wall_ms() + 100;
    struct timespec ts = {(time_t)(until / 1000), (long)(until % 1000) * 1000000L};
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
    rc = lrun_list_take(x->store, cur, r->t->src.bucket, r->t->src.prefix,
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
  char *what = lrun_list_what(r);
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
      if (!enc_utf8_valid(o->key, strlen(o->key))) {
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

void lrun_shards_free(lrun_t *r) {
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
    if ((e = lrun_retry_wait(r, "list", attempt, &err, errbuf))) return e;
  }
}

/* Sets up r->sh: from the record being resumed, or a new plan. Leaves r->sh
 * NULL when the plan has one shard (the plain listing then runs). */
ferry_err_t lrun_shards_setup(lrun_t *r, const store_conf_t *sc, char *errbuf) {
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
  r->cp_segments = lrun_total_segments(r);
  return FERRY_OK;
}

/* Starts a thread per shard not yet done. */
static ferry_err_t shards_start(lrun_t *r, char *errbuf) {
  size_t i;
  shard_abort = 0;
  for (i = 0; i < r->n_sh; i++) {
    shard_t *x = &r->sh[i];
    if (x->done) {
      x->finished = 1;
      continue;
    }
    if (pthread_create(&x->th, NULL, shard_main, x) != 0) {
      pthread_mutex_lock(&shard_mu);
      shard_abort = 1;
      pthread_mutex_unlock(&shard_mu);
      return ferry_seterr(errbuf, FERRY_ERR_IO,
                          "cannot start the listing thread of shard %zu", i);
    }
    x->started = 1;
  }
  return FERRY_OK;
}

/* Publishes segment s of shard x (freed) and counts it. */
static ferry_err_t shard_publish(lrun_t *r, shard_t *x, msg_segment_t *s, char *errbuf) {
  ferry_err_t e = lout_segment(r->out, s, errbuf);
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
  return e;
}

static void shards_log(lrun_t *r) {
  unsigned long pages = 0;
  size_t done = 0, i;
  pthread_mutex_lock(&shard_mu); /* the shard threads count pages under it */
  for (i = 0; i < r->n_sh; i++) pages += r->sh[i].pages, done += (size_t)r->sh[i].done;
  pthread_mutex_unlock(&shard_mu);
  LOG_INFO(FAC,
           "task=%s run=%d shards=%zu shards_done=%zu pages=%lu objects=%" PRIu64
           " segments=%" PRIu64,
           FLOG_V(r->def.task), r->plan.run, r->n_sh, done, pages, r->objects,
           lrun_total_segments(r));
}

/* Stops (after an error e) and joins the shard threads; adds up their counts. */
static void shards_join(lrun_t *r, ferry_err_t e) {
  size_t i;
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
}

/* Publishes what the shard threads list; checkpoints. */
ferry_err_t lrun_list_sharded(lrun_t *r, char *errbuf) {
  long cp_pages =
      r->conf->lister.checkpoint_pages > 0 ? r->conf->lister.checkpoint_pages : 10;
  size_t i, rr = 0;
  ferry_err_t e = FERRY_OK;
  int64_t last_log = ferry_now_us();
  e = shards_start(r, errbuf);
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
      int64_t until = ferry_wall_ms() + 20;
      struct timespec ts = {(time_t)(until / 1000), (long)(until % 1000) * 1000000L};
      pthread_cond_timedwait(&shard_data, &shard_mu, &ts);
    }
    pthread_mutex_unlock(&shard_mu);
    if (e) break;
    if (x) {
      rr = (size_t)(x - r->sh) + 1;
      if ((e = shard_publish(r, x, s, errbuf))) break;
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
      if ((e = lrun_checkpoint(r, errbuf))) break;
    }
    if (all_done && !x) break;
    if (ferry_now_us() - last_log > 5000000) {
      last_log = ferry_now_us();
      shards_log(r);
    }
  }
  shards_join(r, e);
  return e;
}

