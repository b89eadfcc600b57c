/*
 * engine.c: the copy engine's event loop (libcurl multi).
 *
 * Units of work:
 *  - a job is one object: HEAD destination (skip policies), then either one
 *    "pair" (source GET streamed into destination PUT) or a multipart upload
 *    (HEAD source, initiate, one pair per part, complete; abort on failure);
 *  - a pair couples a GET and a PUT through a ring buffer with flow control
 *    both ways: the GET pauses when the ring is full, the PUT when it is
 *    empty. Small objects use a ring the size of the object and start the PUT
 *    when the GET is complete (so Content-MD5 can be sent);
 *  - a single request (HEAD, initiate, complete, abort) uses one slot, a
 *    streamed pair two: slots are reserved before a unit starts, so a
 *    started GET always has its PUT slot and the loop cannot deadlock on
 *    paused GETs. A small object's pair uses one: its PUT starts only when
 *    its GET has ended, and takes the GET's slot over.
 *
 * Pausing and unpausing another handle is never done inside a libcurl
 * callback: callbacks set flags and the loop applies them after libcurl
 * returns.
 *
 * The loop drives libcurl through its socket interface: the multi's sockets
 * live in an epoll set and each turn gives libcurl only those that are
 * ready (and its timeout when due). curl_multi_perform checked every
 * transfer's socket on every turn (one poll() each): on a WAN link, where
 * each turn brings a TLS record or two, that cost a worker 4x the CPU per
 * GiB it needs.
 *
 * This file holds the engine, its requests, scheduling and the loop; jobs,
 * pairs and multipart jobs have files of their own (xfer/engine_int.h).
 */
#include "xfer/engine.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/log.h"
#include "xfer/engine_int.h"
#include "xfer/flow.h"

const char *const rq_name[] = {"head-dst", "head-src", "get", "put",
                               "mpu-init", "mpu-complete", "mpu-abort",
                               "mpu-list-parts", "verify-dst", "mpu-list-uploads",
                               "mpu-abort-stale"};

/* ------------------------------------------------------------------------ */

void xfer_conf_defaults(xfer_conf_t *c) {
  memset(c, 0, sizeof(*c));
  c->concurrency = 32;
  c->max_host_conns = 64;
  c->buffer_size = 256 * 1024;
  c->small_threshold = 1024 * 1024;
  c->multipart_threshold = 64ull * 1024 * 1024;
  c->part_size = 16ull * 1024 * 1024;
  c->max_attempts = 5;
  c->backoff_base_ms = 200;
  c->backoff_max_ms = 20000;
  c->stall_timeout_s = 30;
  c->complete_timeout_s = 600;
  c->store_down_max_s = 3600;
}

static store_t *find_store(xfer_engine_t *e, const char *name) {
  size_t i;
  if (!name) return NULL;
  for (i = 0; i < e->n_stores; i++)
    if (strcmp(store_conf(e->stores[i])->name, name) == 0) return e->stores[i];
  return NULL;
}

/* Ready sockets taken per wait (more stay ready for the next). */
#define EV_MAX 256
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp);
static int on_timer(CURLM *multi, long timeout_ms, void *userp);

xfer_engine_t *xfer_engine_new(const xfer_conf_t *conf, const store_conf_t *stores,
                               size_t n_stores, char *errbuf) {
  xfer_engine_t *e = fx_calloc(1, sizeof(*e));
  size_t i;
  e->epfd = -1;
  e->conf = *conf;
  if (e->conf.concurrency < 2) e->conf.concurrency = 2;
  if (e->conf.buffer_size < 2 * RECV_CHUNK) e->conf.buffer_size = 2 * RECV_CHUNK;
  if (e->conf.max_attempts < 1) e->conf.max_attempts = 1;
  /* libcurl copies a PUT's body through an upload buffer of its own, 64 KiB
   * by default: one read callback and one send() per 64 KiB. A streamed
   * PUT's is raised to up to 512 KiB, taken from its pair's ring (which
   * keeps at least two receive chunks), so a pair still holds buffer_size
   * + 64 KiB: it cut the worker's CPU on large objects by a quarter
   * (bench/RESULTS.md, "Upload buffer"). */
  {
    size_t extra = e->conf.buffer_size - 2 * RECV_CHUNK;
    if (extra > UPLOAD_EXTRA_MAX) extra = UPLOAD_EXTRA_MAX;
    e->ring_size = e->conf.buffer_size - extra;
    e->upload_buf = (long)(CURL_UPLOAD_DEFAULT + extra);
  }
  /* A pair holds two slots, so at most concurrency / 2 pairs run, each with
   * one ring: the pool never needs to keep more than that. */
  bufpool_init(&e->rings, e->ring_size, (size_t)e->conf.concurrency / 2);
  e->cap_easy_pool = (size_t)e->conf.concurrency;
  e->easy_pool = fx_calloc(e->cap_easy_pool, sizeof(*e->easy_pool));
  kvlist_init(&e->class_map);
  if (conf->storage_class_map) kvlist_copy(&e->class_map, conf->storage_class_map);
  e->conf.storage_class_map = &e->class_map;
  e->stores = fx_calloc(n_stores + 1, sizeof(*e->stores));
  e->req_counts = fx_calloc(n_stores + 1, sizeof(*e->req_counts));
  for (i = 0; i < n_stores; i++) {
    e->stores[i] = store_new(&stores[i], errbuf);
    if (!e->stores[i]) {
      e->n_stores = i;
      xfer_engine_destroy(e);
      return NULL;
    }
  }
  e->n_stores = n_stores;
  if (!find_store(e, STORE_URLS_NAME)) {
    /* URL-list segments name the built-in anonymous HTTP store as their
     * source ("urls" is reserved in the config for it). */
    store_conf_t uc;
    store_conf_urls(&uc);
    e->stores[e->n_stores] = store_new(&uc, errbuf);
    store_conf_release(&uc);
    if (e->stores[e->n_stores]) e->n_stores++;
  }
  e->multi = curl_multi_init();
  e->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (e->epfd < 0) {
    snprintf(errbuf, FERRY_ERRLEN, "epoll_create1: %s", strerror(errno));
    curl_multi_cleanup(e->multi);
    e->multi = NULL;
    xfer_engine_destroy(e);
    return NULL;
  }
  e->curl_timer_us = -1;
  e->evs = fx_calloc(EV_MAX, sizeof(*e->evs));
  curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
  curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
  curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS, conf->max_host_conns);
  curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, (long)e->conf.concurrency * 2);
  e->rng = conf->rng_seed ? conf->rng_seed : (uint64_t)ferry_now_us() | 1;
  backoff_init(&e->backoff);
  if (conf->backoff_base_ms > 0) e->backoff.base_ms = conf->backoff_base_ms;
  if (conf->backoff_max_ms > 0) e->backoff.cap_ms = conf->backoff_max_ms;
  backoff_rng_seed(&e->rng, e->rng);
  tl_init(&e->tasks);
  xfer_set_limits(e, conf->qps_limit, conf->bandwidth_limit);
  adapt_init(e);
  return e;
}

/* Bursts are a tenth of a second's worth: enough to keep transfers busy,
 * small enough that a limit holds over short windows. The bandwidth burst is
 * at least two receive chunks so a paused GET can always resume. */
void xfer_set_limits(xfer_engine_t *e, double qps, double bandwidth) {
  int64_t now = ferry_now_us();
  uint64_t q = qps > 0 ? (uint64_t)(qps + 0.5) : 0;
  uint64_t b = bandwidth > 0 ? (uint64_t)bandwidth : 0;
  e->conf.qps_limit = qps;
  e->conf.bandwidth_limit = bandwidth;
  if (q == 0 && qps > 0) q = 1;
  rl_init(&e->qps, q, q ? FERRY_MAX(q / 10, 2) : 0, now);
  rl_init(&e->bw, b, b ? FERRY_MAX(b / 10, 2 * RECV_CHUNK) : 0, now);
}

void xfer_task_limits(xfer_engine_t *e, const char *task, double qps, double bandwidth) {
  uint64_t q = qps > 0 ? (uint64_t)(qps + 0.5) : 0;
  if (q == 0 && qps > 0) q = 1;
  tl_set_limits(tl_get(&e->tasks, task, ferry_now_us()), q,
                bandwidth > 0 ? (uint64_t)bandwidth : 0, ferry_now_us());
}

size_t xfer_tasks(const xfer_engine_t *e, xfer_task_stat_t *out, size_t max) {
  size_t i;
  int64_t now = ferry_now_us();
  for (i = 0; i < e->tasks.n && i < max; i++) {
    const tl_task_t *k = e->tasks.v[i];
    out[i].task = k->name;
    out[i].jobs = k->jobs;
    out[i].held = k->paused || (tl_limited(k) && tl_held(k, now));
    out[i].paused = k->paused;
    out[i].qps = k->qps_rate;
    out[i].bandwidth = k->bw_rate;
    out[i].requests = k->requests;
    out[i].bytes = k->bytes;
  }
  return e->tasks.n;
}

void xfer_get_stats(const xfer_engine_t *e, xfer_stats_t *out) { *out = e->stats; }

size_t xfer_store_count(const xfer_engine_t *e) { return e->n_stores; }

const char *xfer_store_name(const xfer_engine_t *e, size_t i) {
  return i < e->n_stores ? store_conf(e->stores[i])->name : NULL;
}

void xfer_get_req_counts(const xfer_engine_t *e, size_t i, uint64_t out[XFER_RC__N]) {
  memcpy(out, e->req_counts[i], sizeof(e->req_counts[i]));
}

/* Counts a finished request by its store and status class. */
static void count_req(xfer_engine_t *e, const xreq_t *x, CURLcode cc) {
  const store_t *s = x->kind == RQ_GET || x->kind == RQ_HEAD_SRC ? x->job->src : x->job->dst;
  long status = 0;
  int cls = XFER_RC_ERROR;
  size_t i;
  if (cc == CURLE_OK) curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 200 && status < 600) cls = (int)(status / 100) - 2;
  for (i = 0; i < e->n_stores; i++)
    if (e->stores[i] == s) e->req_counts[i][cls]++;
  adapt_note(e, s, status, cc);
}

size_t xfer_pending(const xfer_engine_t *e) { return e->n_queued + e->n_active; }

const xfer_written_t *xfer_done_written(const xfer_engine_t *e) { return e->written; }

/* ------------------------------------------------------------------------ */
/* Requests. */

/* Takes a handle out of the multi (and of the running list). */
void xreq_detach(xfer_engine_t *e, xreq_t *x) {
  if (!x || !x->in_multi) return;
  curl_multi_remove_handle(e->multi, x->easy);
  x->in_multi = 0;
  if (x->run_prev) x->run_prev->run_next = x->run_next;
  else e->running = x->run_next;
  if (x->run_next) x->run_next->run_prev = x->run_prev;
  x->run_prev = x->run_next = NULL;
}

void xreq_free(xfer_engine_t *e, xreq_t *x) {
  if (!x) return;
  xreq_detach(e, x);
  /* A handle is reset and kept for the next request (libcurl's handle
   * setup and teardown were a twentieth of a small copy's CPU); its
   * connections live in the multi's cache either way. */
  if (x->easy && e->n_easy_pool < e->cap_easy_pool) {
    curl_easy_reset(x->easy);
    e->easy_pool[e->n_easy_pool++] = x->easy;
  } else if (x->easy) {
    curl_easy_cleanup(x->easy);
  }
  curl_slist_free_all(x->hdrs);
  kvlist_release(&x->rhdrs);
  fbuf_release(&x->body);
  /* Drop a pending unpause of this handle. */
  for (size_t i = 0; i < e->n_unpause; i++)
    if (e->unpause[i] == x) e->unpause[i] = NULL;
  for (size_t i = 0; i < e->n_pause; i++)
    if (e->pause[i] == x) e->pause[i] = NULL;
  for (size_t i = 0; i < e->n_bw_held; i++)
    if (e->bw_held[i] == x) e->bw_held[i] = NULL;
  fx_free(x);
}

void want_unpause(xfer_engine_t *e, xreq_t *x) {
  if (!x || !x->paused || x->want_unpause) return;
  x->want_unpause = 1;
  if (e->n_unpause == e->cap_unpause) {
    e->cap_unpause = e->cap_unpause ? e->cap_unpause * 2 : 16;
    e->unpause = fx_realloc(e->unpause, e->cap_unpause * sizeof(*e->unpause));
  }
  e->unpause[e->n_unpause++] = x;
}

/* A GET whose ring can no longer take a whole chunk is paused by the loop
 * (xfer/flow.h says why), unless the PUT made room meanwhile. */
void want_pause(xfer_engine_t *e, xreq_t *x) {
  if (x->paused || x->want_pause) return;
  x->want_pause = 1;
  if (e->n_pause == e->cap_pause) {
    e->cap_pause = e->cap_pause ? e->cap_pause * 2 : 16;
    e->pause = fx_realloc(e->pause, e->cap_pause * sizeof(*e->pause));
  }
  e->pause[e->n_pause++] = x;
}

void bw_hold(xfer_engine_t *e, xreq_t *x) {
  if (e->n_bw_held == e->cap_bw_held) {
    e->cap_bw_held = e->cap_bw_held ? e->cap_bw_held * 2 : 16;
    e->bw_held = fx_realloc(e->bw_held, e->cap_bw_held * sizeof(*e->bw_held));
  }
  e->bw_held[e->n_bw_held++] = x;
}

/* Every byte that arrives or leaves restarts the request's stall clock. */
void xreq_moved(xreq_t *x) { x->moved_us = ferry_now_us(); }

static size_t hdr_cb(char *p, size_t sz, size_t n, void *ud) {
  xreq_t *x = ud;
  xreq_moved(x);
  return store_hdr_cb(p, sz, n, &x->rhdrs);
}

static size_t body_cb(char *p, size_t sz, size_t n, void *ud) {
  xreq_t *x = ud;
  xreq_moved(x);  /* whitespace before a Complete's answer included */
  if (fbuf_add(&x->body, p, sz * n) != FERRY_OK) return 0;  /* capped */
  return sz * n;
}

/* Creates a request of the given kind with a signed store request. */
xreq_t *xreq_new(job_t *j, rq_kind_t kind) {
  xreq_t *x = fx_calloc(1, sizeof(*x));
  x->job = j;
  x->kind = kind;
  kvlist_init(&x->rhdrs);
  fbuf_init(&x->body, 1024 * 1024);
  x->easy = j->e && j->e->n_easy_pool ? j->e->easy_pool[--j->e->n_easy_pool] : curl_easy_init();
  return x;
}

/* Common easy options after store_http_setup. */
ferry_err_t xreq_setup(xfer_engine_t *e, xreq_t *x, store_t *s, store_req_t *r,
                       curl_off_t body_len) {
  char errbuf[FERRY_ERRLEN];
  ferry_err_t err = store_http_setup(s, x->easy, r, body_len, &x->hdrs, errbuf);
  if (err) {
    LOG_ERROR(FAC, "event=setup-failed error=%s", FLOG_Q(errbuf));
    return err;
  }
  curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
  curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, hdr_cb);
  curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
  curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->curl_err);
  curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, body_cb);
  curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
  /* libcurl allocates a receive buffer of this size per transfer: a GET's
   * body comes through it; the other requests' answers are a few headers
   * and a little XML, so they take libcurl's smallest sensible one. */
  curl_easy_setopt(x->easy, CURLOPT_BUFFERSIZE, (long)(x->kind == RQ_GET ? RECV_CHUNK : SMALL_RECV));
  /* A body (GET, PUT, UploadPart) lasts as long as its bytes keep moving,
   * however slow the link or the limits: only stall_check cuts it. Complete
   * may merge for minutes: complete_timeout_s of silence (stall_check).
   * The requests without a body also get a total cap. */
  if (e->conf.request_timeout_s > 0 && !x->pair && x->kind != RQ_MPU_COMPLETE)
    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT, e->conf.request_timeout_s);
  return FERRY_OK;
}

void xreq_start(xfer_engine_t *e, xreq_t *x) {
  curl_multi_add_handle(e->multi, x->easy);
  x->in_multi = 1;
  x->moved_us = ferry_now_us();
  x->run_prev = NULL;
  x->run_next = e->running;
  if (e->running) e->running->run_prev = x;
  e->running = x;
  e->stats.requests++;
}

/* ------------------------------------------------------------------------ */
/* Scheduling. */

void schedule(xfer_engine_t *e, unit_t *u) {
  u->next = NULL;
  if (e->ready_tail) e->ready_tail->next = u;
  else e->ready_head = u;
  e->ready_tail = u;
}

/* Aborts still run for a failed job. */
static int unit_survives_failure(const unit_t *u) {
  return !u->pair && (u->kind == RQ_MPU_ABORT || u->kind == RQ_MPU_ABORT_STALE);
}

/* A unit of a failed job that will not run: the last one ends the job. */
static void unit_drop(xfer_engine_t *e, unit_t *u) {
  job_t *j = u->job;
  j->units--;
  if (u->pair) {
    if (u->pair->part >= 0) j->parts_inflight--;
    pair_free(e, u->pair);
  }
  fx_free(u);
  if (j->units == 0) job_fail(e, j, j->out.status, j->out.reason, NULL, NULL);
}

/* Starts ready units while slots and tokens allow. Returns the earliest time
 * a waiting unit could start (0 when none waits on time). */
static int64_t start_ready(xfer_engine_t *e) {
  unit_t **pp = &e->ready_head, *prev = NULL;
  int64_t now = ferry_now_us(), wake = 0;
  tl_pass_requests(&e->tasks);
  while (*pp) {
    unit_t *u = *pp;
    int need = u->pair ? pair_slots(u->pair) : 1;
    int tokens = u->pair ? 2 : 1;
    int gate;
    job_t *j = u->job;
    if (j->finishing && !unit_survives_failure(u)) {
      /* The job failed meanwhile (or the worker shuts down): drop the
       * unit, even one waiting out a backoff. */
      *pp = u->next;
      if (e->ready_tail == u) e->ready_tail = prev;
      unit_drop(e, u);
      continue;
    }
    if (u->not_before_us > now) {
      if (!wake || u->not_before_us < wake) wake = u->not_before_us;
      prev = u;
      pp = &u->next;
      continue;
    }
    /* A store down: wait for it (or its probe); down too long: fail. */
    gate = adapt_gate(e, u, now, &wake);
    if (gate == 0) {
      prev = u;
      pp = &u->next;
      continue;
    }
    if (gate < 0) {
      *pp = u->next;
      if (e->ready_tail == u) e->ready_tail = prev;
      if (!j->finishing)
        set_fail(j, ST_FAILED, "store-down", NULL,
                 "a store of the object was down for longer than worker.store_down_max_s");
      j->finishing = 1;
      unit_drop(e, u);
      continue;
    }
    if (e->slots_used + need > adapt_cap(e)) {
      adapt_full(e);
      break;
    }
    if (!adapt_mem_ok(e, u, need)) break;
    {
      int worker_short = 0;
      int64_t w = tl_take_requests(j->lim, &e->qps, (uint64_t)tokens, now, &worker_short);
      if (w > 0) {
        adapt_held(e);
        if (!wake || now + w < wake) wake = now + w;
        if (worker_short) break;
        /* Only this task waits for its tokens: the others go first. */
        prev = u;
        pp = &u->next;
        continue;
      }
    }
    /* Unlink. */
    *pp = u->next;
    if (e->ready_tail == u) e->ready_tail = prev;
    e->slots_used += need;
    if (gate == 2) adapt_started(e, u, now);
    if (u->pair) {
      if (pair_start_get(e, u->pair) != FERRY_OK) {
        e->slots_used -= need;
        j->units--;
        pair_free(e, u->pair);
        fx_free(u);
        job_fail(e, j, ST_FAILED, "internal", NULL, "could not start a source GET");
        continue;
      }
    } else if (start_single(e, j, u->kind) != FERRY_OK) {
      e->slots_used -= need;
      j->units--;
      fx_free(u);
      if (u->kind == RQ_MPU_ABORT) {
        job_finish(e, j);
      } else if (u->kind == RQ_MPU_ABORT_STALE) {
        stale_done(e, j, 0);
      } else {
        job_fail(e, j, ST_FAILED, "internal", NULL, "could not start a request");
      }
      continue;
    }
    fx_free(u);
  }
  return wake;
}

/* Takes the first queued object whose task may start one (tasklimit.h) at
 * or after *pp (the scan's place, so a pass reads the queue once); objects
 * of a task its own limit holds back stay in the queue, in their place. */
static job_t *next_startable(xfer_engine_t *e, job_t ***pp, job_t **prev, int64_t now) {
  while (**pp) {
    job_t *j = **pp;
    if (tl_may_start_job(j->lim, now)) {
      **pp = j->next;
      if (e->queue_tail == j) e->queue_tail = *prev;
      e->n_queued--;
      return j;
    }
    *prev = j;
    *pp = &j->next;
  }
  return NULL;
}

/* An object whose destination key would be empty (policy_dst_key): never a
 * request with an empty key, which would address the bucket. */
static void job_no_key(xfer_engine_t *e, job_t *j) {
  if (j->dk == POLICY_DK_SKIP_MARKER) {
    j->out.status = ST_SKIPPED;
    j->out.reason = fx_strdup("prefix-marker");
    j->out.message = fx_strdup("the folder marker of the task's source prefix: its copy would "
                               "be the destination bucket's root, which needs no marker");
    job_finish(e, j);
    return;
  }
  job_fail(e, j, ST_FAILED, "empty-key", NULL,
           "the destination key would be empty (the source key equals the task's source "
           "prefix and the destination prefix is empty)");
}

/* Links a job (off the queue) into the active list: it has started. */
static void make_active(xfer_engine_t *e, job_t *j) {
  j->next = e->active;
  j->prev = NULL;
  if (e->active) e->active->prev = j;
  e->active = j;
  e->n_active++;
  j->start_us = ferry_now_us();
}

/* Starts queued jobs while fewer jobs are active than transfers may run
 * (`concurrency`, or the adaptive limit). */
static void start_jobs(xfer_engine_t *e) {
  job_t *j, **pp = &e->queue_head, *prev = NULL;
  int64_t now = ferry_now_us();
  tl_pass_jobs(&e->tasks);
  while (e->n_active < (size_t)adapt_cap(e) &&
         (j = next_startable(e, &pp, &prev, now)) != NULL) {
    make_active(e, j);
    if (!j->src || !j->dst) {
      job_fail(e, j, ST_FAILED, "config", NULL,
               !j->src ? "unknown source store" : "unknown destination store");
      continue;
    }
    if (j->dk != POLICY_DK_OK) {
      job_no_key(e, j);
    } else if (j->is_range) {
      range_start(e, j);
    } else if (j->seg->policy == POLICY_OVERWRITE) {
      job_start_copy(e, j);
    } else {
      j->phase = PH_HEAD_DST;
      queue_single(e, j, RQ_HEAD_DST, 0);
    }
  }
  if (e->queue_head && e->n_active >= (size_t)adapt_cap(e)) adapt_full(e);
}

void xfer_submit(xfer_engine_t *e, const msg_segment_t *seg, size_t index, xfer_done_cb *cb,
                 void *opaque) {
  job_t *j = fx_calloc(1, sizeof(*j));
  const msg_obj_t *o = &seg->objs[index];
  j->dst_existed = -1;
  j->e = e;
  j->seg = seg;
  j->index = index;
  j->obj = o;
  j->cb = cb;
  j->opaque = opaque;
  j->lim = tl_get(&e->tasks, seg->task, ferry_now_us());
  j->lim->jobs++;
  j->src = find_store(e, seg->src.store);
  j->dst = find_store(e, seg->dst.store);
  j->dk = policy_dst_key(seg->src.prefix, seg->dst.prefix, o->key, o->size, o->dst_key,
                         &j->dst_key);
  if (!j->dst_key) j->dst_key = fx_strdup(""); /* never sent: start_jobs ends the job */
  j->out.key = fx_strdup(o->key);
  j->out.size = o->size;
  j->out.etag = o->etag ? fx_strdup(o->etag) : NULL;
  j->is_range = seg->range.present;
  j->phase = PH_QUEUED;
  if (e->queue_tail) e->queue_tail->next = j;
  else e->queue_head = j;
  e->queue_tail = j;
  e->n_queued++;
}

/* ------------------------------------------------------------------------ */
/* The loop. */

static void apply_pauses(xfer_engine_t *e) {
  size_t i;
  for (i = 0; i < e->n_pause; i++) {
    xreq_t *x = e->pause[i];
    pair_t *p;
    if (!x) continue;
    x->want_pause = 0;
    p = x->pair;
    if (x->paused || !x->in_multi || p->failed || p->get_done) continue;
    if (!flow_should_pause(p->cap, p->fill, p->len - p->got, RECV_CHUNK)) continue;
    x->paused = 1;
    curl_easy_pause(x->easy, CURLPAUSE_RECV);
  }
  e->n_pause = 0;
}

static void apply_unpauses(xfer_engine_t *e) {
  size_t i;
  for (i = 0; i < e->n_unpause; i++) {
    xreq_t *x = e->unpause[i];
    if (!x) continue;
    x->want_unpause = 0;
    if (!x->paused || !x->in_multi) continue;
    if (x->pair && x == x->pair->get && x->pair->bw_wake_us) continue; /* on the bw timer */
    x->paused = 0;
    x->moved_us = ferry_now_us();  /* time paused by us is not a stall */
    curl_easy_pause(x->easy, CURLPAUSE_CONT);
  }
  e->n_unpause = 0;
}

/* Releases bandwidth-held GETs whose time has come; returns the next wake
 * time, 0 if none is held. */
static int64_t bw_release(xfer_engine_t *e) {
  size_t i, k = 0;
  int64_t now = ferry_now_us(), next = 0;
  for (i = 0; i < e->n_bw_held; i++) {
    xreq_t *x = e->bw_held[i];
    if (!x) continue;
    if (x->pair->bw_wake_us <= now) {
      x->pair->bw_wake_us = 0;
      want_unpause(e, x);
      continue;
    }
    if (!next || x->pair->bw_wake_us < next) next = x->pair->bw_wake_us;
    e->bw_held[k++] = x;
  }
  e->n_bw_held = k;
  return next;
}

/* Starts the PUTs that GET callbacks asked for. */
static void start_puts(xfer_engine_t *e) {
  size_t i;
  for (i = 0; i < e->n_put_pending; i++) {
    pair_t *p = e->put_pending[i];
    if (!p) continue;
    p->put_queued = 0;
    if (p->put_started || p->failed) continue;
    if (pair_start_put(e, p) != FERRY_OK) {
      if (!p->job->finishing)
        set_fail(p->job, ST_FAILED, "internal", NULL, "could not start the destination PUT");
      p->failed = 1;
      p->job->finishing = 1;
      /* The paused GET learns of it when resumed. */
      if (p->get) want_unpause(e, p->get);
    }
  }
  e->n_put_pending = 0;
}

/* A request's stall limit: complete_timeout_s for Complete (the store may
 * merge for minutes before it answers), else stall_timeout_s; 0 = none. */
static long stall_limit_s(const xfer_engine_t *e, const xreq_t *x) {
  return x->kind == RQ_MPU_COMPLETE ? e->conf.complete_timeout_s : e->conf.stall_timeout_s;
}

/* Cuts, as a timeout (retried like one), every running request that moved
 * no byte for its limit. A request paused by the engine (flow control, the
 * bandwidth limit) is not stalled: its clock restarts when it resumes; time
 * waiting for a QPS token is spent before a request starts. libcurl's
 * low-speed check is not used: it would need a byte a second, and S3 sends
 * Complete's keep-alive whitespace more rarely. One request at a time: ending
 * one may end others (its pair's other half). */
static void stall_check(xfer_engine_t *e) {
  int64_t now = ferry_now_us();
  xreq_t *x;
  if (now < e->stall_check_us) return;
  e->stall_check_us = now + STALL_CHECK_US;
again:
  for (x = e->running; x; x = x->run_next) {
    long lim = stall_limit_s(e, x);
    if (x->paused || lim <= 0 || now - x->moved_us < (int64_t)lim * 1000000) continue;
    snprintf(x->curl_err, sizeof(x->curl_err), "no byte moved for %ld s (worker.%s)", lim,
             x->kind == RQ_MPU_COMPLETE ? "complete_timeout_s" : "stall_timeout_s");
    LOG_INFO(FAC, "event=stall op=%s key=%s seconds=%ld", rq_name[x->kind],
             FLOG_Q(x->job->obj->key), lim);
    count_req(e, x, CURLE_OPERATION_TIMEDOUT);
    if (x->pair) {
      pair_on_done(e, x, CURLE_OPERATION_TIMEDOUT);
    } else {
      xreq_detach(e, x);
      job_on_req(e, x, CURLE_OPERATION_TIMEDOUT);
    }
    goto again;
  }
}

static void handle_done(xfer_engine_t *e) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(e->multi, &left))) {
    xreq_t *x = NULL;
    if (m->msg != CURLMSG_DONE) continue;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
    if (!x) continue;
    count_req(e, x, m->data.result);
    if (x->pair) {
      pair_on_done(e, x, m->data.result);
    } else {
      CURLcode cc = m->data.result;
      xreq_detach(e, x);
      job_on_req(e, x, cc);
    }
  }
}

/* libcurl's socket callback: keeps the epoll set in step with what each
 * socket waits for. A socket already in the set is marked by its socketp. */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
  xfer_engine_t *e = userp;
  struct epoll_event ev = {0};
  (void)easy;
  if (what == CURL_POLL_REMOVE) {
    /* A socket about to be closed may already be gone from the set. */
    epoll_ctl(e->epfd, EPOLL_CTL_DEL, s, NULL);
    curl_multi_assign(e->multi, s, NULL);
    return 0;
  }
  ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
  ev.data.fd = s;
  if (socketp) {
    if (epoll_ctl(e->epfd, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT)
      epoll_ctl(e->epfd, EPOLL_CTL_ADD, s, &ev);
  } else {
    if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, s, &ev) != 0 && errno == EEXIST)
      epoll_ctl(e->epfd, EPOLL_CTL_MOD, s, &ev);
    curl_multi_assign(e->multi, s, e);
  }
  return 0;
}

/* libcurl's timer callback: when it next wants to run (-1: not). */
static int on_timer(CURLM *multi, long timeout_ms, void *userp) {
  xfer_engine_t *e = userp;
  (void)multi;
  e->curl_timer_us = timeout_ms < 0 ? -1 : ferry_now_us() + (int64_t)timeout_ms * 1000;
  return 0;
}

/* Gives libcurl the sockets found ready at the last wait, then its timeout
 * when due. */
static void curl_turn(xfer_engine_t *e) {
  int i, running = 0;
  for (i = 0; i < e->n_evs; i++) {
    int mask = (e->evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
               (e->evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
               (e->evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
    curl_multi_socket_action(e->multi, e->evs[i].data.fd, mask, &running);
  }
  e->n_evs = 0;
  if (e->curl_timer_us >= 0 && ferry_now_us() >= e->curl_timer_us) {
    e->curl_timer_us = -1;
    curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  }
}

/* Waits up to wait_ms (and no longer than libcurl's timeout) for a socket. */
static void curl_wait(xfer_engine_t *e, int wait_ms) {
  int n;
  if (e->curl_timer_us >= 0) {
    int64_t left = e->curl_timer_us - ferry_now_us();
    int t = left <= 0 ? 0 : (int)((left + 999) / 1000);
    if (t < wait_ms) wait_ms = t;
  }
  if (wait_ms < 0) wait_ms = 0;
  n = epoll_wait(e->epfd, e->evs, EV_MAX, wait_ms);
  e->n_evs = n > 0 ? n : 0;
}

size_t xfer_run(xfer_engine_t *e, int timeout_ms) {
  int64_t deadline = ferry_now_us() + (int64_t)timeout_ms * 1000;
  e->completed_in_run = 0;
  for (;;) {
    int64_t now, wake, bw;
    int wait_ms;
    start_jobs(e);
    wake = start_ready(e);
    curl_turn(e);
    handle_done(e);
    stall_check(e);
    start_puts(e);
    bw = bw_release(e);
    apply_pauses(e);
    apply_unpauses(e);
    adapt_tick(e);
    if (xfer_pending(e) == 0) {
      /* Idle: the kept rings go back to the system until work comes. */
      bufpool_trim(&e->rings);
      break;
    }
    if (e->completed_in_run) break;
    now = ferry_now_us();
    if (now >= deadline) break;
    wait_ms = (int)((deadline - now) / 1000);
    if (wake && (wake - now) / 1000 < wait_ms) wait_ms = (int)((wake - now) / 1000);
    if (bw && (bw - now) / 1000 < wait_ms) wait_ms = (int)((bw - now) / 1000);
    if (e->running && wait_ms > STALL_CHECK_US / 1000) wait_ms = STALL_CHECK_US / 1000;
    if (wait_ms < 1 && (wake || bw)) wait_ms = 1;
    curl_wait(e, wait_ms);
  }
  return xfer_pending(e);
}

/* Cuts every running body transfer (its job is failing): the parts of an
 * upload end at once, not when their bytes next move. One at a time, as
 * ending one may free others. */
static void abandon_cut_pairs(xfer_engine_t *e) {
  xreq_t *x;
again:
  for (x = e->running; x; x = x->run_next) {
    if (!x->pair) continue;
    x->pair->failed = 1;
    pair_on_done(e, x->pair->get ? x->pair->get : x, CURLE_ABORTED_BY_CALLBACK);
    goto again;
  }
}

void xfer_task_pause(xfer_engine_t *e, const char *task, int on) {
  tl_get(&e->tasks, task, ferry_now_us())->paused = !!on;
}

static int job_of(const job_t *j, const char *task) {
  return j->lim && strcmp(j->lim->name, task) == 0;
}

/* A job just taken off the queue (the caller unlinked it) becomes active,
 * to be ended at once without a transfer (cancel, shutdown). */
static void activate_unqueued(xfer_engine_t *e, job_t *j) {
  e->n_queued--;
  make_active(e, j);
}

size_t xfer_task_cancel(xfer_engine_t *e, const char *task) {
  job_t *j, **pp = &e->queue_head, *prev = NULL, *next;
  xreq_t *x;
  size_t n = 0;
  /* Queued: never started, they end without a request. */
  while (*pp) {
    j = *pp;
    if (!job_of(j, task)) {
      prev = j;
      pp = &j->next;
      continue;
    }
    *pp = j->next;
    if (e->queue_tail == j) e->queue_tail = prev;
    activate_unqueued(e, j);
    set_fail(j, ST_SKIPPED, "cancelled", NULL, "the task was cancelled before the copy");
    j->finishing = 1;
    n++;
  }
  for (j = e->active; j; j = j->next) {
    if (!job_of(j, task)) continue;
    if (!j->finishing) {
      set_fail(j, ST_SKIPPED, "cancelled", NULL, "the task was cancelled mid-copy");
      n++;
    }
    j->finishing = 1;
  }
  /* Running transfers of the task are cut. */
again:
  for (x = e->running; x; x = x->run_next) {
    if (!x->pair || x->pair->failed || !job_of(x->pair->job, task)) continue;
    x->pair->failed = 1;
    pair_on_done(e, x->pair->get ? x->pair->get : x, CURLE_ABORTED_BY_CALLBACK);
    goto again;
  }
  /* Jobs with no unit left end now (a started upload is aborted first);
   * the others end when their last unit does. */
  for (j = e->active; j; j = next) {
    next = j->next;
    if (job_of(j, task) && j->units == 0 && j->phase != PH_ABORT)
      job_fail(e, j, j->out.status, j->out.reason, NULL, NULL);
  }
  return n;
}

void xfer_abandon_all(xfer_engine_t *e, int timeout_ms, int keep_uploads) {
  /* Mark every job failed; uploads are left or aborted by job_fail. */
  int64_t deadline = ferry_now_us() + (int64_t)timeout_ms * 1000;
  job_t *j;
  e->keep_uploads = keep_uploads;
  while (e->queue_head) {
    j = e->queue_head;
    e->queue_head = j->next;
    activate_unqueued(e, j);
    set_fail(j, ST_FAILED, "shutdown", NULL, "worker shut down before the copy");
    j->finishing = 1;
  }
  e->queue_tail = NULL;
  for (j = e->active; j; j = j->next) {
    if (!j->finishing) set_fail(j, ST_FAILED, "shutdown", NULL, "worker shut down mid-copy");
    j->finishing = 1;
  }
  abandon_cut_pairs(e);
  while (xfer_pending(e) && ferry_now_us() < deadline) {
    /* Jobs with no unit left finish (or abort) now; queued units, those
     * waiting out a backoff included, are dropped by the next run. */
    job_t *next;
    for (j = e->active; j; j = next) {
      next = j->next;
      if (j->units == 0 && j->phase != PH_ABORT) job_fail(e, j, j->out.status, j->out.reason, NULL, NULL);
    }
    xfer_run(e, 100);
  }
  if (xfer_pending(e))
    LOG_WARN(FAC, "event=abandon-timeout jobs=%zu", xfer_pending(e));
}

void xfer_engine_destroy(xfer_engine_t *e) {
  size_t i;
  if (!e) return;
  while (e->ready_head) {
    unit_t *u = e->ready_head;
    e->ready_head = u->next;
    if (u->pair) pair_free(e, u->pair);
    fx_free(u);
  }
  /* Remaining jobs (not finished) are dropped without callbacks. */
  while (e->queue_head) {
    job_t *j = e->queue_head;
    e->queue_head = j->next;
    job_free(j);
  }
  for (i = 0; i < e->n_easy_pool; i++) curl_easy_cleanup(e->easy_pool[i]);
  fx_free(e->easy_pool);
  if (e->multi) curl_multi_cleanup(e->multi);
  if (e->epfd >= 0) close(e->epfd);
  fx_free(e->evs);
  for (i = 0; i < e->n_stores; i++) store_destroy(e->stores[i]);
  fx_free(e->stores);
  fx_free(e->req_counts);
  fx_free(e->unpause);
  fx_free(e->pause);
  fx_free(e->put_pending);
  fx_free(e->bw_held);
  for (i = 0; i < e->n_completing; i++) fx_free(e->completing[i]);
  fx_free(e->completing);
  bufpool_release(&e->rings);
  kvlist_release(&e->class_map);
  tl_release(&e->tasks);
  adapt_release(e);
  fx_free(e);
}

