/*
 * taskctl.h: the worker's copy of the master's table of tasks (topic
 * `taskstate`, docs/messages.md): which tasks are paused or cancelled, and
 * their live limits, which apply over the limits a segment carries.
 * A task without a record is running with its segments' own limits.
 * Pure, single-threaded.
 */
#ifndef FERRY_WORKER_TASKCTL_H
#define FERRY_WORKER_TASKCTL_H

#include <stddef.h>
#include <stdint.h>

#include "bus/control.h"

typedef struct taskctl_entry {
  char *task;
  ctl_state_t state;
  int run;                 /* the latest run the master started, 0 = none */
  ctl_limits_t limits;
} taskctl_entry_t;

typedef struct taskctl {
  taskctl_entry_t *v;
  size_t n;
} taskctl_t;

void taskctl_init(taskctl_t *t);
void taskctl_release(taskctl_t *t);

/* A record read from taskstate: the task's entry replaced. Returns 1 when
 * the state or the limits changed, else 0. */
int taskctl_apply(taskctl_t *t, const msg_taskstate_t *rec);
/* A tombstone (the task's record deleted): its entry goes. 1 if there was one. */
int taskctl_forget(taskctl_t *t, const char *task);
const taskctl_entry_t *taskctl_find(const taskctl_t *t, const char *task);

/* Is the task paused? */
int taskctl_paused(const taskctl_t *t, const char *task);
/* Are the objects of a segment of this task and run cancelled? Those of the
 * runs up to the record's run (any run when the record names none); a later
 * run was started after the cancel and is not. */
int taskctl_cancelled(const taskctl_t *t, const char *task, int run);
/* The task's live limits at minute_of_day (local time, 0..1439): 1 with
 * *qps and *bw (bandwidth of the first schedule window holding the minute,
 * else limits.bandwidth; 0 = unlimited) when the task has a record, else 0. */
int taskctl_limits_at(const taskctl_t *t, const char *task, int minute_of_day, uint64_t *qps,
                      uint64_t *bw);

#endif
