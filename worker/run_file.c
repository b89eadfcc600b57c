/*
 * run_file.c: `ferry-worker --segments-from FILE`: the service's copy path
 * without Kafka. Segments are read as JSON lines and fed to the engine with a
 * bounded number of objects in flight; each object's outcome is printed as a
 * JSON line on stdout as soon as it is known.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "worker/fleet.h"
#include "worker/segrun.h"
#include "worker/worker.h"
#include "xfer/engine.h"
#include "conf/xconf.h"

#define FAC "worker"

volatile int worker_stop;

static void on_signal(int sig) {
  (void)sig;
  worker_stop = 1;
}

void worker_install_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
}

const char *worker_uploads_summary(const xfer_stats_t *st) {
  static char buf[192];
  snprintf(buf, sizeof(buf),
           "uploads_resumed=%" PRIu64 " parts_reused=%" PRIu64 " uploads_left=%" PRIu64
           " uploads_aborted=%" PRIu64 " uploads_abort_failed=%" PRIu64,
           st->uploads_resumed, st->parts_reused, st->uploads_left, st->uploads_aborted,
           st->uploads_abort_failed);
  return buf;
}

typedef struct file_run {
  uint64_t failed, copied, skipped, bytes, bad_lines;
} file_run_t;

static void on_outcome(void *opaque, const msg_segment_t *seg, size_t index,
                       const msg_outcome_t *o) {
  segrun_t *r = opaque;
  file_run_t *fr = r->opaque;
  char *line = msg_outcome_encode(o);
  (void)seg;
  (void)index;
  fputs(line, stdout);
  fputc('\n', stdout);
  fx_free(line);
  if (o->status == ST_COPIED) {
    fr->copied++;
    fr->bytes += o->bytes;
  } else if (o->status == ST_SKIPPED) {
    fr->skipped++;
  } else {
    fr->failed++;
  }
  if (segrun_add(r, o)) segrun_destroy(r);
}

int worker_run_file(const ferry_conf_t *conf, const char *path) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
  xfer_conf_t xc;
  xfer_engine_t *e;
  wfleet_t *fleet;
  char errbuf[FERRY_ERRLEN];
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  long lineno = 0;
  file_run_t fr;
  int64_t t0 = ferry_now_us();
  size_t max_inflight;
  double secs;
  memset(&fr, 0, sizeof(fr));
  if (!f) {
    fprintf(stderr, "ferry-worker: cannot open segments file '%s': %s\n", path,
            strerror(errno));
    return 1;
  }
  xfer_conf_from_config(&xc, conf);
  e = xfer_engine_new(&xc, conf->stores, conf->n_stores, errbuf);
  if (!e) {
    fprintf(stderr, "ferry-worker: %s\n", errbuf);
    if (f != stdin) fclose(f);
    return 1;
  }
  fleet = wfleet_new(conf, NULL); /* alone: a task's limits apply in full */
  worker_install_signals();
  /* Enough queued objects to keep every transfer slot busy, few enough that
   * memory stays flat however long the file is. */
  max_inflight = (size_t)FERRY_MAX(xc.concurrency, xc.concurrency_max) * 4;
  for (;;) {
    while (!worker_stop && xfer_pending(e) < max_inflight &&
           (n = getline(&line, &cap, f)) >= 0) {
      msg_segment_t seg;
      segrun_t *r;
      size_t i;
      lineno++;
      while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
      if (n == 0) continue;
      if (msg_segment_decode(line, (size_t)n, &seg, errbuf) != FERRY_OK) {
        LOG_ERROR(FAC, "event=bad-segment file=%s line=%ld error=%s", FLOG_Q(path),
                  lineno, FLOG_Q(errbuf));
        fr.bad_lines++;
        continue;
      }
      r = segrun_new(&seg, conf->worker.id);
      r->opaque = &fr;
      if (r->seg.n_objs == 0) {
        segrun_destroy(r);
        continue;
      }
      wfleet_segment(fleet, e, &r->seg);
      for (i = 0; i < r->seg.n_objs; i++) xfer_submit(e, &r->seg, i, on_outcome, r);
    }
    if (xfer_pending(e) == 0 && (worker_stop || feof(f) || ferror(f))) break;
    if (worker_stop) {
      LOG_WARN(FAC, "event=stopping pending=%zu", xfer_pending(e));
      xfer_abandon_all(e, (int)conf->worker.shutdown_timeout_s * 1000, 0);
      break;
    }
    xfer_run(e, 1000);
    fflush(stdout);
  }
  fflush(stdout);
  secs = (double)(ferry_now_us() - t0) / 1e6;
  {
    xfer_stats_t st;
    xfer_get_stats(e, &st);
    LOG_INFO(FAC,
             "event=summary copied=%" PRIu64 " skipped=%" PRIu64 " failed=%" PRIu64
             " bad_lines=%" PRIu64 " bytes=%" PRIu64 " seconds=%.3f requests=%" PRIu64
             " retries=%" PRIu64 " %s",
             fr.copied, fr.skipped, fr.failed, fr.bad_lines, fr.bytes, secs, st.requests,
             st.retries, worker_uploads_summary(&st));
  }
  worker_log_task_totals(e);
  wfleet_destroy(fleet);
  xfer_engine_destroy(e);
  free(line);
  if (f != stdin) fclose(f);
  if (fr.bad_lines || worker_stop) return fr.failed || fr.bad_lines ? 3 : 1;
  return fr.failed ? 3 : 0;
}
