/*
 * inflight.h: how many requests the copy engine keeps in flight when it
 * adapts the number (worker.concurrency_max > concurrency). When latency,
 * not CPU or memory, limits a worker, more requests at once is the lever;
 * when the store pushes back, fewer.
 *
 * A window-based controller, pure logic (no clock of its own, no I/O):
 *  - every window (1 s) it compares the requests completed per second with
 *    the previous window's; when the limit was reached in the window (more
 *    requests were waiting), nothing else held them back (QPS tokens,
 *    memory) and the rate rose by more than 5 %, it grows: doubles at
 *    first (a slow start, as TCP's: from 32 to 256 in three seconds), by a
 *    quarter (at least 1) once a window did not rise or the store pushed
 *    back; when a growth was followed by a lower rate it steps back;
 *  - a congestion signal (503/SlowDown, 429, 5xx, a reset or timeout)
 *    halves it, at most once per window (one burst of 503s is one signal);
 *  - it stays within [floor, ceiling].
 */
#ifndef FERRY_XFER_INFLIGHT_H
#define FERRY_XFER_INFLIGHT_H

#include <stdint.h>

#define INFLIGHT_WINDOW_US 1000000

typedef struct inflight {
  int floor, ceiling;   /* bounds, floor <= ceiling */
  int cur;              /* the limit in force */
  int prev;             /* the limit before the last growth (0: none to revert) */
  int64_t win_start_us; /* the current window */
  uint64_t win_done;    /* requests completed in it */
  int win_full;         /* the limit was reached in it */
  int win_held;         /* something else held requests back in it */
  int win_cut;          /* halved in it already */
  int slow_start;       /* doubling until the rate stops rising or a cut */
  double last_rate;     /* completions/s of the last window counted, < 0: none */
} inflight_t;

/* Starts at `start`, clamped to [floor, ceiling] (floor >= 1; a ceiling
 * below floor is raised to it). */
void inflight_init(inflight_t *f, int start, int floor, int ceiling, int64_t now_us);

/* A request completed well. */
void inflight_done(inflight_t *f);
/* The limit was reached: a request waited for a slot. */
void inflight_full(inflight_t *f);
/* Something other than the limit held requests back (QPS, memory). */
void inflight_held(inflight_t *f);

/* The store pushed back: halves the limit unless it was halved in this
 * window already. Returns 1 when the limit changed. */
int inflight_congested(inflight_t *f);

/* Ends the window when its time is up and decides. Returns 1 when the
 * limit changed. */
int inflight_tick(inflight_t *f, int64_t now_us);

/* Lowers the ceiling (e.g. a memory bound), bringing cur under it. */
void inflight_set_ceiling(inflight_t *f, int ceiling);

#endif
