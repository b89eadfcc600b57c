/* mstate.c: the master's rules for a command on a task (mstate.h). */
#include "lister/mstate.h"

#include <inttypes.h>
#include <stdio.h>

#include "core/units.h"

static const char *refuse(char *err, size_t n, const char *fmt, const char *task) {
  snprintf(err, n, fmt, task);
  return err;
}

const char *mstate_apply(ctl_cmd_t cmd, const char *task, ctl_state_t s, int listing,
                         ctl_state_t *next, char *err, size_t n) {
  *next = s;
  if (s == CTLS_CANCELLED) return refuse(err, n, "task \"%s\" is cancelled", task);
  switch (cmd) {
    case CTL_START:
    case CTL_RETRY:
      if (s == CTLS_PAUSED) return refuse(err, n, "task \"%s\" is paused: resume it first", task);
      if (cmd == CTL_RETRY && s == CTLS_CREATED)
        return refuse(err, n, "task \"%s\" was never started: nothing to retry", task);
      if (listing) return refuse(err, n, "a listing of task \"%s\" is at work", task);
      *next = CTLS_RUNNING;
      return NULL;
    case CTL_PAUSE:
    case CTL_RESUME:
      if (s == CTLS_CREATED) return refuse(err, n, "task \"%s\" was never started", task);
      *next = cmd == CTL_PAUSE ? CTLS_PAUSED : CTLS_RUNNING;
      return NULL;
    case CTL_CANCEL:
      *next = CTLS_CANCELLED;
      return NULL;
    case CTL_LIMITS:
      return NULL;
    default:
      return refuse(err, n, "task \"%s\": not a command on an existing task", task);
  }
}

const char *mstate_check_limits(const ctl_limits_t *l, char *err, size_t n) {
  size_t i;
  char eb[FERRY_ERRLEN];
  conf_window_t w;
  uint64_t bw;
  if (l->qps > 1000000) {
    snprintf(err, n, "limits.qps: %" PRIu64 " is out of range 1..1000000 (0 = unlimited)",
             l->qps);
    return err;
  }
  if (l->bandwidth && (l->bandwidth < 1024 || l->bandwidth > 1024ULL * 1024 * 1024 * 1024)) {
    snprintf(err, n, "limits.bandwidth: %" PRIu64 " is out of range 1K..1T (0 = unlimited)",
             l->bandwidth);
    return err;
  }
  for (i = 0; i < l->n_schedule; i++)
    if (conf_parse_bwsched(l->schedule[i], &w, &bw, eb)) {
      snprintf(err, n, "limits.schedule[%zu]: %s", i, eb);
      return err;
    }
  return NULL;
}
