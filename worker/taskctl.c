/* taskctl.c: the worker's table of task states (taskctl.h). */
#include "worker/taskctl.h"

#include <string.h>

#include "core/ferry.h"
#include "core/units.h"

void taskctl_init(taskctl_t *t) { memset(t, 0, sizeof(*t)); }

static void entry_release(taskctl_entry_t *e) {
  fx_free(e->task);
  ctl_limits_release(&e->limits);
}

void taskctl_release(taskctl_t *t) {
  size_t i;
  for (i = 0; i < t->n; i++) entry_release(&t->v[i]);
  fx_free(t->v);
  memset(t, 0, sizeof(*t));
}

static taskctl_entry_t *find(const taskctl_t *t, const char *task) {
  size_t i;
  for (i = 0; task && i < t->n; i++)
    if (strcmp(t->v[i].task, task) == 0) return &t->v[i];
  return NULL;
}

const taskctl_entry_t *taskctl_find(const taskctl_t *t, const char *task) {
  return find(t, task);
}

static int same_limits(const ctl_limits_t *a, const ctl_limits_t *b) {
  size_t i;
  if (a->qps != b->qps || a->bandwidth != b->bandwidth || a->n_schedule != b->n_schedule)
    return 0;
  for (i = 0; i < a->n_schedule; i++)
    if (strcmp(a->schedule[i], b->schedule[i]) != 0) return 0;
  return 1;
}

int taskctl_apply(taskctl_t *t, const msg_taskstate_t *rec) {
  taskctl_entry_t *e = find(t, rec->task);
  int changed;
  if (!e) {
    t->v = fx_realloc(t->v, (t->n + 1) * sizeof(*t->v));
    e = &t->v[t->n++];
    memset(e, 0, sizeof(*e));
    e->task = fx_strdup(rec->task);
    e->state = rec->state;
    e->run = rec->run;
    ctl_limits_copy(&e->limits, &rec->limits);
    return 1;
  }
  changed = e->state != rec->state || e->run != rec->run || !same_limits(&e->limits, &rec->limits);
  e->state = rec->state;
  e->run = rec->run;
  ctl_limits_release(&e->limits);
  ctl_limits_copy(&e->limits, &rec->limits);
  return changed;
}

int taskctl_forget(taskctl_t *t, const char *task) {
  taskctl_entry_t *e = find(t, task);
  if (!e) return 0;
  entry_release(e);
  *e = t->v[--t->n];
  return 1;
}

int taskctl_paused(const taskctl_t *t, const char *task) {
  const taskctl_entry_t *e = find(t, task);
  return e && e->state == CTLS_PAUSED;
}

int taskctl_cancelled(const taskctl_t *t, const char *task, int run) {
  const taskctl_entry_t *e = find(t, task);
  return e && e->state == CTLS_CANCELLED && (e->run == 0 || run <= e->run);
}

int taskctl_limits_at(const taskctl_t *t, const char *task, int minute_of_day, uint64_t *qps,
                      uint64_t *bw) {
  const taskctl_entry_t *e = find(t, task);
  if (!e) return 0;
  *qps = e->limits.qps;
  *bw = conf_bwsched_at((const char *const *)e->limits.schedule, e->limits.n_schedule,
                        minute_of_day, e->limits.bandwidth);
  return 1;
}
