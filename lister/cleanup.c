/*
 * cleanup.c: ferry-lister --cleanup: abort the multipart uploads a task left
 * open at its destination (docs/lister.md).
 *
 * A worker aborts an upload that fails, but a worker killed outright
 * (SIGKILL, a crash, a lost machine) cannot: its segment is redone by
 * another worker with a new upload, and the old one stays open, its parts
 * stored (and billed) until someone aborts it. No record in ferry holds the
 * upload id, so the store is asked: ListMultipartUploads under the task's
 * destination prefix. That listing carries no metadata, so ferry cannot tell
 * its uploads from anybody else's under the prefix: the criterion is the
 * prefix and the age, initiated more than --older-than ago (default 24 h,
 * far longer than a part upload of a running worker takes). With
 * --older-than 0 every open upload under the prefix is aborted: for a task
 * that is done, when no worker runs it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "lister/lister.h"
#include "store/client.h"
#include "xfer/backoff.h"

#define FAC "lister"
#define CLEANUP_ROUNDS 1000 /* listings of at most 1000 uploads each */

typedef struct cctx {
  backoff_t bo;
  uint64_t rng;
  int max_attempts;
} cctx_t;

/* Waits before retry `attempt` (0-based); 0 when interrupted. */
static int pause_retry(cctx_t *c, int attempt, const store_error_t *err) {
  long ms = backoff_delay_ms(&c->bo, attempt, err->retry_after_s, &c->rng);
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && !lister_stop) {
  }
  return !lister_stop;
}

static ferry_err_t list_uploads(cctx_t *c, store_t *s, const char *bucket,
                                const char *prefix, store_uploads_t *out,
                                store_error_t *err) {
  ferry_err_t e;
  int attempt;
  for (attempt = 1;; attempt++) {
    store_error_clear(err);
    e = store_mpu_list_uploads(s, bucket, prefix, out, err);
    if (!e || !backoff_should_retry(err, attempt, c->max_attempts)) return e;
    if (!pause_retry(c, attempt - 1, err)) return e;
  }
}

/* FERRY_OK also when the upload is already gone (NoSuchUpload): someone
 * completed or aborted it meanwhile. */
static ferry_err_t abort_upload(cctx_t *c, store_t *s, const char *bucket,
                                const store_upload_t *u, store_error_t *err) {
  ferry_err_t e;
  int attempt;
  for (attempt = 1;; attempt++) {
    store_error_clear(err);
    e = store_mpu_abort(s, bucket, u->key, u->upload_id, err);
    if (e && err->http_status == 404) return FERRY_OK;
    if (!e || !backoff_should_retry(err, attempt, c->max_attempts)) return e;
    if (!pause_retry(c, attempt - 1, err)) return e;
  }
}

int lister_cleanup(const ferry_conf_t *conf, const char *task, int64_t older_than_ms) {
  const task_conf_t *t = conf_task(conf, task);
  const store_conf_t *sc;
  const char *bucket, *prefix;
  store_t *s;
  cctx_t c;
  char eb[FERRY_ERRLEN];
  uint64_t aborted = 0, failed = 0, young = 0;
  int round, truncated = 0, rc = LISTER_EXIT_OK;
  time_t now = time(NULL);

  if (!t) {
    fprintf(stderr, "ferry-lister: unknown task \"%s\" in %s\n", task,
            conf->path ? conf->path : "the config");
    return LISTER_EXIT_USAGE;
  }
  sc = conf_store(conf, t->dst.store);
  if (!sc) {
    fprintf(stderr, "ferry-lister: task %s: destination store \"%s\" not in the config\n",
            task, t->dst.store);
    return LISTER_EXIT_USAGE;
  }
  bucket = t->dst.bucket;
  prefix = t->dst.prefix ? t->dst.prefix : "";
  eb[0] = '\0';
  s = store_new(sc, eb);
  if (!s) {
    fprintf(stderr, "ferry-lister: task %s: destination store %s: %s\n", task, sc->name, eb);
    return LISTER_EXIT_USAGE;
  }
  backoff_init(&c.bo);
  if (conf->worker.backoff_base_ms > 0) c.bo.base_ms = conf->worker.backoff_base_ms;
  if (conf->worker.backoff_max_ms > 0) c.bo.cap_ms = conf->worker.backoff_max_ms;
  backoff_rng_seed(&c.rng, (uint64_t)ferry_now_us() ^ ((uint64_t)getpid() << 32));
  c.max_attempts = conf->worker.max_attempts > 0 ? (int)conf->worker.max_attempts : 5;

  /* Abort what is old enough, then list again (the store lists at most
   * 1000 uploads per answer; the aborted ones are gone from the next). */
  for (round = 0; round < CLEANUP_ROUNDS && !lister_stop; round++) {
    store_uploads_t ups;
    store_error_t err;
    uint64_t done_now = 0;
    size_t i;
    if (list_uploads(&c, s, bucket, prefix, &ups, &err)) {
      store_error_format(&err, eb, sizeof(eb));
      fprintf(stderr, "ferry-lister: task %s: listing multipart uploads of %s:%s/%s failed: %s\n",
              task, sc->name, bucket, prefix, eb);
      rc = LISTER_EXIT_FAIL;
      break;
    }
    young = 0;
    for (i = 0; i < ups.n && !lister_stop; i++) {
      const store_upload_t *u = &ups.uploads[i];
      if (strncmp(u->key, prefix, strlen(prefix)) != 0) continue;
      if (older_than_ms > 0 &&
          (u->initiated < 0 || (int64_t)(now - u->initiated) * 1000 < older_than_ms)) {
        young++;
        continue;
      }
      if (abort_upload(&c, s, bucket, u, &err)) {
        store_error_format(&err, eb, sizeof(eb));
        fprintf(stderr, "ferry-lister: task %s: aborting upload %s of \"%s\" failed: %s\n",
                task, u->upload_id, u->key, eb);
        failed++;
        continue;
      }
      LOG_INFO(FAC, "task=%s event=aborted key=%s upload_id=%s initiated=%" PRId64,
               FLOG_V(task), FLOG_Q(u->key), FLOG_V(u->upload_id), (int64_t)u->initiated);
      aborted++;
      done_now++;
    }
    truncated = ups.truncated;
    store_uploads_release(&ups);
    if (!truncated || done_now == 0) break;
  }
  store_destroy(s);
  if (lister_stop) {
    fprintf(stderr, "ferry-lister: task %s: cleanup interrupted\n", task);
    return LISTER_EXIT_FAIL;
  }
  fprintf(stderr,
          "ferry-lister: task %s: cleanup of %s:%s/%s: %" PRIu64 " open upload%s aborted, %" PRIu64
          " younger than %" PRId64 " s kept, %" PRIu64 " failed%s\n", task, sc->name, bucket,
          prefix, aborted, aborted == 1 ? "" : "s", young, older_than_ms / 1000, failed,
          truncated ? " (more uploads listed than were looked at: run it again)" : "");
  return failed ? LISTER_EXIT_FAIL : rc;
}
