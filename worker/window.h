/*
 * window.h: worker.windows, the daily times the worker may copy
 * (docs/worker.md, "Time windows"). Outside every window the worker takes
 * no new segment (segments in flight finish) and keeps polling the consumer,
 * so it stays in the group and keeps its partitions.
 *
 * One owner thread.
 */
#ifndef FERRY_WORKER_WINDOW_H
#define FERRY_WORKER_WINDOW_H

#include <stdint.h>

#include "conf/config.h"

typedef struct wwin {
  int state;              /* -1 not checked yet, 0 outside, 1 inside */
  int64_t next_check_us;  /* the local time is read at most once a second */
} wwin_t;

#define WWIN_INIT {-1, 0}

/* 1 when copying is allowed now (always with no windows). Logs one line
 * when the state changes, the first check included. */
int wwin_open(wwin_t *w, const conf_windows_t *windows);

#endif
