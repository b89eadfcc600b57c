/*
 * lister.c: list a task's source (or replay its failed objects), cut the
 * stream into segments, publish them and the task record.
 *
 * Memory: one listing page, the segment being filled, and a bounded
 * number of messages in flight (out.c) — nothing grows with the bucket. A
 * --retry-failed replay holds the task's still-failed set (retry.c: the
 * reporter's tally of the task and one object per still-failed key).
 *
 * Here: the run's checks, what it opens, the dispatch to its listing and
 * its summary, and the plain listing; the sharded listing is in shard.c,
 * the replays in replay.c (run.h).
 */
#include "lister/run.h"

#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus/topicscan.h"
#include "conf/busconf.h"
#include "core/enc.h"
#include "core/log.h"
#include "lister/ops.h"

#define FAC "lister"

_Atomic int lister_stop;

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

static void fill_record(lrun_t *r, msg_task_t *rec, const char *state,
                        const char *checkpoint) {
  *rec = r->def;  /* strings borrowed from def */
  rec->run = r->plan.run;
  rec->state = (char *)state;
  rec->listed_objects = r->objects;
  rec->listed_bytes = r->bytes;
  rec->segments = lrun_total_segments(r);
  rec->checkpoint = r->sh ? NULL : (char *)checkpoint;
  if (r->sh) lrun_shard_record(r, rec);
  rec->updated_ms = ferry_wall_ms();
  rec->kind = r->kind == LISTPLAN_LIST ? NULL : (char *)listplan_kind_str(r->kind);
  rec->retry_of = r->plan.retry_of;
}

/* Every checkpoint_pages pages: a barrier. Every segment handed out so far
 * is delivered, then the record of that position, then the listing goes on:
 * whenever the lister dies, the last stored checkpoint is at most one
 * interval behind the last delivered segment. */
ferry_err_t lrun_checkpoint(lrun_t *r, char *errbuf) {
  msg_task_t rec;
  ferry_err_t e;
  if (lrun_total_segments(r) == r->cp_segments || !lout_is_kafka(r->out)) return FERRY_OK;
  if ((e = lout_drain(r->out, drain_timeout(r), errbuf))) return e;
  fill_record(r, &rec, "listing", r->last_key);
  if ((e = put_record(r, &rec, errbuf))) return e;
  if ((e = lout_drain(r->out, drain_timeout(r), errbuf))) return e;
  r->cp_segments = lrun_total_segments(r);
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
  return r->kind == LISTPLAN_LIST ? lrun_checkpoint(r, errbuf) : FERRY_OK;
}

/* What is pending goes out as a segment now. */
ferry_err_t lrun_flush(lrun_t *r, char *errbuf) {
  msg_segment_t *pending = NULL;
  seg_flush(r->seg, &pending);
  return emit(r, pending, errbuf);
}

/* Every object goes through here: into the segment being filled, or fanned
 * out when it is huge. */
ferry_err_t lrun_add_obj(lrun_t *r, msg_obj_t *o, char *errbuf) {
  msg_segment_t *ready = NULL;
  ferry_err_t e;
  if (fanout_wanted(r->conf->lister.fanout_threshold, o->size)) return fan_out(r, o, errbuf);
  e = seg_add_obj(r->seg, o, &ready, errbuf);
  if (!e) e = emit(r, ready, errbuf);
  return e;
}

/* A key that cannot travel in a message is reported, never dropped silently. */
int lrun_key_ok(lrun_t *r, const char *key) {
  if (enc_utf8_valid(key, strlen(key))) return 1;
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

ferry_err_t lrun_retry_wait(lrun_t *r, const char *what, int attempt,
                            const store_error_t *err, char *errbuf) {
  char msg[512];
  long ms = backoff_delay_ms(&r->bo, attempt - 1, err->retry_after_s, &r->rng);
  store_error_format(err, msg, sizeof(msg));
  LOG_WARN(FAC, "task=%s op=%s attempt=%d retry_in_ms=%ld err=%s", FLOG_V(r->def.task),
           what, attempt, ms, FLOG_Q(msg));
  return lout_wait(r->out, (int)ms, errbuf);
}

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
    rc = lrun_list_take(r->store, cur, r->t->src.bucket, r->t->src.prefix,
                   (int)r->conf->lister.page_size, page, &err, &e, errbuf);
    if (rc >= 0) return rc ? FERRY_OK : e;
    if (!backoff_should_retry(&err, attempt, r->max_attempts) || lister_stop) {
      char msg[512];
      store_error_format(&err, msg, sizeof(msg));
      return ferry_seterr(errbuf, e, "listing %s:%s%s%s failed: %s", r->t->src.store,
                          r->t->src.bucket, *r->t->src.prefix ? "/" : "",
                          r->t->src.prefix, msg);
    }
    if ((e = lrun_retry_wait(r, "list", attempt, &err, errbuf))) return e;
  }
}

/* ---------- listing ---------- */

/* Fetches the next page of cur and lets the cursor take it (fetching again
 * after a fall back to V1). Returns 1: use the page; 0: the store does not
 * advance (*e = FERRY_ERR_STORE, errbuf says so); -1: store_list_ex failed
 * (*e, and err to decide on a retry). The page is released unless 1. */
int lrun_list_take(store_t *s, store_listcur_t *cur, const char *bucket, const char *prefix,
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

char *lrun_list_what(const lrun_t *r) {
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
  char *what = lrun_list_what(r);
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
      if (!lrun_key_ok(r, o->key)) continue;
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
    if (!e && r->pages % (uint64_t)cp_pages == 0) e = lrun_checkpoint(r, errbuf);
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
    if (!lrun_key_ok(r, o->key)) continue;
    {
      /* The stream's object is borrowed: fan-out may refresh a copy. */
      msg_obj_t m = *o;
      m.key = fx_strdup(o->key);
      m.etag = fx_strdup(o->etag);
      m.dst_key = fx_strdup(o->dst_key);
      e = lrun_add_obj(r, &m, errbuf);
      msg_obj_release(&m);
    }
    (void)ready;
    if (!e && lsrc_pages(r->stream) >= next_cp) {
      next_cp = lsrc_pages(r->stream) + (unsigned long)cp_pages;
      e = lrun_checkpoint(r, errbuf);
    }
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
  } else if (r->t->audit) {
    /* The audit topic came after the others: a cluster set up by an older
     * release lacks it, and the workers must find it (a no-op where it is). */
    if ((e = bus_topics_create(&r->bc, errbuf))) {
      ferry_err_t e2 = e == FERRY_ERR_NOTFOUND ? FERRY_ERR_KAFKA : e;
      char *t = bus_topic_name(&r->bc, BUS_AUDIT);
      char why[FERRY_ERRLEN];
      snprintf(why, sizeof(why), "%s", errbuf);
      ferry_seterr(errbuf, e2, "task %s has audit = true, but topic %s could not be "
                   "checked or created (create it as docs/deploy.md says): %s", r->def.task, t,
                   why);
      fx_free(t);
      return e2;
    }
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

/* What a stage of lister_run returns besides an exit status to end with. */
#define RUN_ON (-1)   /* go on with the next stage */
#define RUN_FAIL (-2) /* an error: e and eb say which */

/* The options, against each other and the task. Returns an exit status to
 * end with (a --estimate, --dry-run or --verify ends here), or RUN_ON. */
static int run_check(lrun_t *r) {
  const ferry_conf_t *conf = r->conf;
  const lister_opts_t *o = r->opts;
  int modes = !!o->estimate + !!o->dry_run + !!o->verify;
  int replay = o->retry_failed || o->from_list;
  if (!o->task || !*o->task) return usage_error("no task: pass -t TASK");
  r->t = conf_task(conf, o->task);
  if (!r->t) {
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
  if (o->incremental && r->t->src.kind != CONF_LOC_STORE)
    return usage_error("task %s: --incremental compares two stores; the source is a URL "
                       "list", o->task);
  if (modes) return lops_run(conf, r->t, o);
  return RUN_ON;
}

/* The source store, the kind of run, the task's definition, the retries.
 * Returns a usage error's exit status, or RUN_ON. */
static int run_init(lrun_t *r) {
  const ferry_conf_t *conf = r->conf;
  const lister_opts_t *o = r->opts;
  if (r->t->src.kind == CONF_LOC_URLS) {
    /* An export has no destination keys: replay URL-list failures with
     * --retry-failed, whose records keep them. */
    if (o->from_list)
      return usage_error("task %s: --from-list cannot replay a URL list (an export has no "
                         "destination keys); use --retry-failed", o->task);
    store_conf_urls(&r->urls_conf);
    r->have_urls_conf = 1;
    r->sc = &r->urls_conf;
  } else {
    r->sc = conf_store(conf, r->t->src.store);
  }
  if (!r->sc) return usage_error("task %s: source store not in the config", o->task);
  r->kind = o->retry_failed  ? LISTPLAN_RETRY
            : o->from_list   ? LISTPLAN_FROM_LIST
            : o->incremental ? LISTPLAN_INCREMENTAL
                             : LISTPLAN_LIST;
  r->def.task = fx_strdup(r->t->name);
  loc_from_conf(&r->def.src, &r->t->src);
  loc_from_conf(&r->def.dst, &r->t->dst);
  r->def.policy = r->t->same_name;
  backoff_init(&r->bo);
  if (conf->worker.backoff_base_ms > 0) r->bo.base_ms = conf->worker.backoff_base_ms;
  if (conf->worker.backoff_max_ms > 0) r->bo.cap_ms = conf->worker.backoff_max_ms;
  backoff_rng_seed(&r->rng, (uint64_t)ferry_now_us() ^ ((uint64_t)getpid() << 32));
  r->max_attempts = conf->worker.max_attempts > 0 ? (int)conf->worker.max_attempts : 5;

  /* glibc gives each thread a malloc arena of its own (librdkafka's threads,
   * and a sharded listing's), whose freed pages stay mapped: measured at
   * 1 M objects and 4 shards, one arena for all keeps the peak RSS ~3 MiB
   * lower (bench/RESULTS.md). The listing threads spend their time waiting
   * on the store, so they hardly contend for it. */
  if (conf->lister.shards > 1) mallopt(M_ARENA_MAX, 1);
  return RUN_ON;
}

/* Where the run starts: with Kafka, under the task's lease, from its
 * records (and for a retry, the still-failed set). Returns an exit status
 * to end with, RUN_FAIL or RUN_ON. */
static int run_plan(lrun_t *r, ferry_err_t *e, char *eb) {
  int rc;
  if (r->opts->segments_to) {
    r->plan.run = r->opts->run ? r->opts->run : 1;
    return RUN_ON;
  }
  if ((*e = bus_conf_from_kafka(&r->bc, &r->conf->kafka, eb))) return RUN_FAIL;
  r->have_bc = 1;
  if ((*e = bus_conf_check(&r->bc, eb))) return RUN_FAIL;
  if ((rc = take_lease(r, eb)) != LISTER_EXIT_OK) return rc;
  if ((*e = setup_plan(r, eb))) {
    if (*e == FERRY_ERR_NOTFOUND && r->kind == LISTPLAN_RETRY) {
      /* No run at all: nothing is failed. */
      fprintf(stderr, "ferry-lister: %s\n", eb);
      return LISTER_EXIT_OK;
    }
    return RUN_FAIL;
  }
  if (r->opts->resume_only && !r->plan.resume) {
    /* Decided under the lease: the lister that held it has finished. */
    fprintf(stderr, "ferry-lister: task %s: --resume-only: no unfinished listing to resume; "
            "nothing done\n", r->def.task);
    return LISTER_EXIT_OK;
  }
  if (r->kind == LISTPLAN_RETRY) {
    lretry_release(&r->rs);
    if ((*e = lretry_load(&r->bc, kafka_timeout(r), r->def.task, r->plan.run, &r->rs, eb)))
      return RUN_FAIL;
    if ((rc = retry_verdict(r, &r->rs)) >= 0) return rc;
  }
  return RUN_ON;
}

/* A URL list has no key order to resume from: an unfinished run is redone
 * whole with the same run number (the same file gives the same segment
 * ids, which the reporter counts once). */
static void urls_restart(lrun_t *r) {
  if (r->plan.resume && r->plan.start_after) {
    fprintf(stderr, "ferry-lister: task %s: run %d was not finished; a URL list is read "
            "again from its first line\n", r->def.task, r->plan.run);
    r->plan.start_after = NULL;
    r->plan.segments = r->plan.objects = r->plan.bytes = 0;
  }
}

/* A resumed run goes on from its record; a new listing may be sharded.
 * Returns RUN_FAIL or RUN_ON. */
static int run_resume(lrun_t *r, ferry_err_t *e, char *eb) {
  const ferry_conf_t *conf = r->conf;
  if (r->plan.resume) {
    seg_resume(r->seg, r->plan.segments);
    r->cp_segments = r->plan.segments;
    r->objects = r->plan.objects;
    r->bytes = r->plan.bytes;
    r->last_key = fx_strdup(r->plan.start_after);
    if (r->plan.start_after)
      fprintf(stderr, "ferry-lister: task %s: resuming run %d after its checkpoint (%" PRIu64
              " segments, %" PRIu64 " objects published)\n", r->def.task, r->plan.run,
              r->plan.segments, r->plan.objects);
  }
  if (r->kind != LISTPLAN_LIST || r->t->src.kind != CONF_LOC_STORE) return RUN_ON;
  if (r->resume_sh || (!r->plan.resume && conf->lister.shards > 1)) {
    if ((*e = lrun_shards_setup(r, r->sc, eb))) return RUN_FAIL;
    if (r->resume_sh)
      fprintf(stderr, "ferry-lister: task %s: resuming run %d in its %zu shards\n",
              r->def.task, r->plan.run, r->n_sh);
  } else if (conf->lister.shards > 1) {
    fprintf(stderr,
            "ferry-lister: task %s: run %d was started as one listing; it is "
            "resumed so (lister.shards applies to the next run)\n",
            r->def.task, r->plan.run);
  }
  return RUN_ON;
}

/* Opens what can fail on the operator's side before anything is published
 * (a mistyped list file must not leave an unfinished run behind), then the
 * source, the output and the segmenter. Returns an exit status to end
 * with, RUN_FAIL or RUN_ON. */
static int run_open(lrun_t *r, ferry_err_t *e, char *eb) {
  const lister_opts_t *o = r->opts;
  if (o->from_list && !(r->lf = listfile_open(o->from_list, eb))) {
    fprintf(stderr, "ferry-lister: task %s: --from-list: %s\n", o->task, eb);
    return LISTER_EXIT_FAIL;
  }
  if (r->kind == LISTPLAN_INCREMENTAL &&
      !(r->stream = lsrc_new(r->conf, r->t, LSRC_INCREMENTAL, eb))) {
    fprintf(stderr, "ferry-lister: task %s: --incremental: %s\n", o->task, eb);
    return LISTER_EXIT_FAIL;
  }
  if (r->kind == LISTPLAN_LIST && r->t->src.kind == CONF_LOC_URLS) {
    if (!(r->stream = lsrc_new(r->conf, r->t, LSRC_URLS, eb))) {
      fprintf(stderr, "ferry-lister: task %s: %s\n", o->task, eb);
      return LISTER_EXIT_FAIL;
    }
    urls_restart(r);
  }
  if (!(r->store = store_new(r->sc, eb))) {
    *e = FERRY_ERR_CONFIG;
    return RUN_FAIL;
  }
  r->out = o->segments_to ? lout_file(o->segments_to, eb) : lout_kafka(&r->bc, eb);
  if (!r->out) {
    *e = o->segments_to ? FERRY_ERR_IO : FERRY_ERR_KAFKA;
    return RUN_FAIL;
  }
  lout_set_limits(r->out, r->t->qps_limit, r->t->bandwidth_limit);
  lout_set_schedule(r->out, r->t->bandwidth_schedule.v, r->t->bandwidth_schedule.n);
  lout_set_audit(r->out, r->t->audit);
  lout_set_copy(r->out, &r->t->storage_class_map, r->t->record_source_etag);
  /* An incremental run copies objects known to differ: overwrite them. */
  r->seg = seg_new(r->def.task, r->plan.run, &r->def.src, &r->def.dst,
                   r->kind == LISTPLAN_INCREMENTAL ? POLICY_OVERWRITE : r->def.policy,
                   (size_t)r->conf->lister.segment_max_objects,
                   r->conf->lister.segment_max_bytes, NULL, eb);
  if (!r->seg) {
    *e = FERRY_ERR_INVALID;
    return RUN_FAIL;
  }
  return run_resume(r, e, eb);
}

/* Records the run as listing, lists or replays, flushes, waits for every
 * delivery and records the run as listed. Returns RUN_FAIL or RUN_ON. */
static int run_dispatch(lrun_t *r, ferry_err_t *e, char *eb) {
  msg_task_t rec;
  msg_segment_t *last = NULL;
  LOG_INFO(FAC, "task=%s run=%d kind=%s resume=%d", FLOG_V(r->def.task), r->plan.run,
           listplan_kind_str(r->kind), r->plan.resume);
  fill_record(r, &rec, "listing", r->kind == LISTPLAN_LIST ? r->last_key : NULL);
  if ((*e = put_record(r, &rec, eb))) return RUN_FAIL;
  /* A sharded run's ranges are stored before anything is listed, so that
   * a restart lists the same ranges (and gives the same segment ids). */
  if (r->sh && lout_is_kafka(r->out) && (*e = lout_drain(r->out, drain_timeout(r), eb)))
    return RUN_FAIL;

  switch (r->kind) {
  case LISTPLAN_LIST:
    *e = r->t->src.kind == CONF_LOC_URLS ? list_stream(r, eb)
         : r->sh                         ? lrun_list_sharded(r, eb)
                                         : list_source(r, eb);
    break;
  case LISTPLAN_RETRY: *e = lrun_replay_failed(r, &r->rs, eb); break;
  case LISTPLAN_FROM_LIST: *e = lrun_replay_file(r, r->lf, eb); break;
  case LISTPLAN_INCREMENTAL: *e = list_stream(r, eb); break;
  }
  if (!*e) {
    seg_flush(r->seg, &last);
    *e = emit(r, last, eb);
  }
  if (!*e && lout_is_kafka(r->out)) *e = lout_drain(r->out, drain_timeout(r), eb);
  if (!*e) {
    fill_record(r, &rec, "listed", r->kind == LISTPLAN_LIST ? r->last_key : NULL);
    *e = put_record(r, &rec, eb);
  }
  if (!*e) *e = lout_drain(r->out, drain_timeout(r), eb);
  return *e ? RUN_FAIL : RUN_ON;
}

/* What the source stream saw: an incremental run's comparison, a URL
 * list's entries. */
static void stream_summary(const lrun_t *r) {
  lsrc_stats_t st;
  lsrc_stats(r->stream, &st);
  if (r->kind == LISTPLAN_INCREMENTAL) {
    size_t k;
    fprintf(stderr, "ferry-lister: task %s run %d: %" PRIu64 " source objects examined, %"
            PRIu64 " left out by the filters, %" PRIu64 " in step", r->def.task, r->plan.run,
            st.examined, st.filtered, st.in_step);
    for (k = SD_MISSING; k < SD_KINDS; k++)
      if (st.by_kind[k])
        fprintf(stderr, ", %s %" PRIu64, sd_kind_str((sd_kind_t)k), st.by_kind[k]);
    fputc('\n', stderr);
  } else {
    fprintf(stderr, "ferry-lister: task %s run %d: URL list %s: %" PRIu64 " URLs, %" PRIu64
            " left out by the filters, %" PRIu64 " HEAD failures (published; the run "
            "records them)\n", r->def.task, r->plan.run, r->t->src.path, st.examined,
            st.filtered, st.head_failed);
  }
}

/* The summary of a run that went through; returns its exit status. */
static int run_summary(lrun_t *r) {
  const lister_opts_t *o = r->opts;
  if (r->stream && r->t->src.kind == CONF_LOC_URLS) {
    lsrc_stats_t st;
    lsrc_stats(r->stream, &st);
    r->rejected += st.bad;
  }
  fprintf(stderr,
          "ferry-lister: task %s run %d (%s): listed %" PRIu64 " objects, %" PRIu64
          " bytes in %" PRIu64 " segments -> %s%s\n",
          r->def.task, r->plan.run, listplan_kind_str(r->kind), r->objects, r->bytes,
          lrun_total_segments(r),
          o->segments_to ? (strcmp(o->segments_to, "-") ? o->segments_to : "stdout")
                         : "kafka",
          o->segments_to ? "" : " (all delivered)");
  if (r->stream)
    stream_summary(r);
  else if (r->kind != LISTPLAN_LIST)
    fprintf(stderr, "ferry-lister: task %s run %d: %" PRIu64 " changed at the source, %"
            PRIu64 " vanished (replayed; the run records them)\n", r->def.task, r->plan.run,
            r->stale, r->vanished);
  if (r->rejected) {
    fprintf(stderr, "ferry-lister: task %s run %d: %" PRIu64 " entr%s not published (see "
            "above)\n", r->def.task, r->plan.run, r->rejected, r->rejected == 1 ? "y" : "ies");
    return LISTER_EXIT_FAIL;
  }
  if (r->kind == LISTPLAN_RETRY && r->rs.n && r->rs.permanent == r->rs.n) {
    /* A script that retries until done stops here: another retry cannot
     * copy these until someone fixes their cause. */
    fprintf(stderr, "ferry-lister: task %s run %d: every replayed object had already "
            "failed permanently in a retry (%s): retrying again will not copy them until "
            "their cause is fixed\n", r->def.task, r->plan.run, fbuf_str(&r->rs.labels));
    return LISTER_EXIT_PERMANENT;
  }
  return LISTER_EXIT_OK;
}

/* After error e: the record of where the run stopped, and why. */
static int run_failed(lrun_t *r, ferry_err_t e, const char *eb) {
  if (r->seg) record_stop(r, e);
  if (lister_stop && e == FERRY_ERR_TIMEOUT && strstr(eb, "interrupted"))
    fprintf(stderr,
            "ferry-lister: task %s run %d: interrupted after %" PRIu64
            " segments; run the same command again to %s\n",
            r->def.task, r->plan.run, lrun_total_segments(r),
            r->kind == LISTPLAN_LIST ? "resume" : "redo the run");
  else
    fprintf(stderr, "ferry-lister: task %s: %s\n", r->opts->task,
            *eb ? eb : ferry_err_str(e));
  return LISTER_EXIT_FAIL;
}

static void run_release(lrun_t *r) {
  listfile_close(r->lf);
  lsrc_destroy(r->stream);
  if (r->have_urls_conf) store_conf_release(&r->urls_conf);
  lretry_release(&r->rs);
  bus_lease_release(r->lease);
  lfan_destroy(r->fan);
  lrun_shards_free(r);
  msg_shards_release(r->resume_sh, r->n_resume_sh);
  seg_destroy(r->seg);
  lout_destroy(r->out);
  store_destroy(r->store);
  if (r->have_bc) bus_conf_release(&r->bc);
  fx_free(r->last_key);
  fx_free(r->resume_key);
  msg_task_release(&r->def);
}

int lister_run(const ferry_conf_t *conf, const lister_opts_t *o) {
  lrun_t r;
  char eb[FERRY_ERRLEN];
  ferry_err_t e = FERRY_OK;
  int rc;
  memset(&r, 0, sizeof(r));
  fbuf_init(&r.rs.labels, 0);
  eb[0] = '\0';
  r.conf = conf;
  r.opts = o;
  if ((rc = run_check(&r)) != RUN_ON || (rc = run_init(&r)) != RUN_ON) {
    if (r.have_urls_conf) store_conf_release(&r.urls_conf);
    return rc;
  }
  rc = run_plan(&r, &e, eb);
  if (rc == RUN_ON) rc = run_open(&r, &e, eb);
  if (rc == RUN_ON) rc = run_dispatch(&r, &e, eb);
  if (rc == RUN_ON) rc = run_summary(&r);
  if (rc == RUN_FAIL) rc = run_failed(&r, e, eb);
  run_release(&r);
  return rc;
}
