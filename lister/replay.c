/*
 * replay.c: replays of failed objects: --retry-failed (the task's
 * still-failed set, retry.c) and --from-list (a reporter export). Each
 * object is read again at the source with HEAD before it is published.
 */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "lister/run.h"

#define FAC "lister"

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
    if (lrun_retry_wait(r, "head", attempt, &err, errbuf)) return -1;
  }
}

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

/* An object that failed as "integrity" may have left bytes known to be
 * wrong at the destination (a PUT answered with another digest, a Complete
 * with another CRC): a "skip" policy would now find it and skip it as
 * `exists`, and it would leave the failed list. It goes in segments of its
 * own that say `overwrite`. */
static ferry_err_t add_overwriting(lrun_t *r, msg_obj_t *o, char *errbuf) {
  msg_policy_t keep = r->def.policy;
  ferry_err_t e;
  if ((e = lrun_flush(r, errbuf))) return e;
  r->def.policy = POLICY_OVERWRITE;
  seg_set_policy(r->seg, POLICY_OVERWRITE);
  e = lrun_add_obj(r, o, errbuf);
  if (!e) e = lrun_flush(r, errbuf);
  r->def.policy = keep;
  seg_set_policy(r->seg, keep);
  return e;
}

static ferry_err_t replay_one(lrun_t *r, msg_obj_t *o, int integrity, char *errbuf) {
  const char *prefix = r->t->src.prefix ? r->t->src.prefix : "";
  msg_segment_t *ready = NULL;
  ferry_err_t e;
  if (strncmp(o->key, prefix, strlen(prefix)) != 0) {
    fprintf(stderr, "ferry-lister: task %s: %s is outside the source prefix \"%s\"; not "
            "replayed\n", r->def.task, o->key, prefix);
    r->rejected++;
    return FERRY_OK;
  }
  if (!lrun_key_ok(r, o->key)) return FERRY_OK;
  refresh(r, o, errbuf);
  (void)ready;
  if (integrity && r->def.policy != POLICY_OVERWRITE) return add_overwriting(r, o, errbuf);
  e = lrun_add_obj(r, o, errbuf);
  return e;
}

/* --retry-failed: the still-failed set, sorted by key (retry.c), so a redone
 * retry run has the same segment ids. */
ferry_err_t lrun_replay_failed(lrun_t *r, lretry_t *rs, char *errbuf) {
  size_t i = 0;
  ferry_err_t e = FERRY_OK;
  msg_obj_t o;
  while (!e && lretry_next(rs, &o)) {
    if (lister_stop) {
      msg_obj_release(&o);
      e = ferry_seterr(errbuf, FERRY_ERR_TIMEOUT, "interrupted by a signal");
      break;
    }
    e = replay_one(r, &o, rs->last_integrity, errbuf);
    msg_obj_release(&o);
    if (!e) i++;
  }
  LOG_INFO(FAC, "task=%s run=%d base_run=%d replayed=%zu", FLOG_V(r->def.task),
           r->plan.run, rs->base_run, i);
  return e;
}

ferry_err_t lrun_replay_file(lrun_t *r, listfile_t *lf, char *errbuf) {
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
    e = replay_one(r, &o, 0, errbuf);
    msg_obj_release(&o);
    if (e) break;
  }
  return e;
}

