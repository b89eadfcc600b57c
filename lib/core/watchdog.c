/* watchdog: see watchdog.h. */
#include "core/watchdog.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "core/ferry.h"
#include "core/log.h"

struct wd {
  pthread_t th;
  _Atomic int64_t beat_ms;
  _Atomic int64_t limit_ms;
  _Atomic(const char *) where;
  atomic_int stop;
  wd_expire_cb *cb;
  void *ctx;
};

static void default_expire(int64_t stalled_ms, const char *where, void *ctx) {
  (void)ctx;
  LOG_ERROR("watchdog", "event=stalled stalled_ms=%" PRId64 " where=%s action=exit status=70",
            stalled_ms, where);
  /* FERRY_STALL_GDB=1 (diagnosis, e.g. in tests): every thread's stack
   * goes to stderr through gdb, if installed, before the exit. */
  if (getenv("FERRY_STALL_GDB")) {
    char cmd[160];
    snprintf(cmd, sizeof(cmd),
             "gdb -batch -nx -p %ld -ex 'thread apply all bt' 1>&2 2>/dev/null </dev/null",
             (long)getpid());
    if (system(cmd) != 0) LOG_WARN("watchdog", "msg=\"gdb gave no stacks\"");
  }
  _exit(70);
}

static void *run(void *arg) {
  wd_t *w = arg;
  while (!atomic_load(&w->stop)) {
    int64_t now = ferry_mono_ms(), beat = atomic_load(&w->beat_ms);
    int64_t limit = atomic_load(&w->limit_ms);
    if (limit > 0 && now - beat > limit) {
      w->cb(now - beat, atomic_load(&w->where), w->ctx);
      return NULL; /* once */
    }
    usleep(100 * 1000);
  }
  return NULL;
}

wd_t *wd_start(int64_t limit_ms, wd_expire_cb *cb, void *ctx) {
  wd_t *w = fx_calloc(1, sizeof(*w));
  atomic_store(&w->beat_ms, ferry_mono_ms());
  atomic_store(&w->limit_ms, limit_ms);
  atomic_store(&w->where, "start");
  w->cb = cb ? cb : default_expire;
  w->ctx = ctx;
  if (pthread_create(&w->th, NULL, run, w) != 0) {
    fx_free(w);
    return NULL;
  }
  return w;
}

void wd_beat(wd_t *w, const char *where) {
  if (!w) return;
  atomic_store(&w->where, where);
  atomic_store(&w->beat_ms, ferry_mono_ms());
}

void wd_limit(wd_t *w, int64_t limit_ms, const char *where) {
  if (!w) return;
  wd_beat(w, where);
  atomic_store(&w->limit_ms, limit_ms);
}

void wd_stop(wd_t *w) {
  if (!w) return;
  atomic_store(&w->stop, 1);
  pthread_join(w->th, NULL);
  fx_free(w);
}
