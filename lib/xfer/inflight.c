/* inflight.c: the adaptive in-flight limit (xfer/inflight.h). */
#include "xfer/inflight.h"

static int clamp(const inflight_t *f, int v) {
  if (v > f->ceiling) v = f->ceiling;
  if (v < f->floor) v = f->floor;
  return v;
}

static void window_reset(inflight_t *f, int64_t now_us) {
  f->win_start_us = now_us;
  f->win_done = 0;
  f->win_full = f->win_held = f->win_cut = 0;
}

void inflight_init(inflight_t *f, int start, int floor, int ceiling, int64_t now_us) {
  f->floor = floor < 1 ? 1 : floor;
  f->ceiling = ceiling < f->floor ? f->floor : ceiling;
  f->cur = clamp(f, start);
  f->prev = 0;
  f->last_rate = -1;
  f->slow_start = 1;
  window_reset(f, now_us);
}

void inflight_done(inflight_t *f) { f->win_done++; }
void inflight_full(inflight_t *f) { f->win_full = 1; }
void inflight_held(inflight_t *f) { f->win_held = 1; }

int inflight_congested(inflight_t *f) {
  int old = f->cur;
  if (f->win_cut) return 0;
  f->win_cut = 1;
  f->slow_start = 0;
  f->cur = clamp(f, f->cur / 2);
  f->prev = 0;
  /* The rate measured before the cut says nothing of the new limit. */
  f->last_rate = -1;
  return f->cur != old;
}

int inflight_tick(inflight_t *f, int64_t now_us) {
  int64_t span = now_us - f->win_start_us;
  double rate;
  int old = f->cur;
  if (span < INFLIGHT_WINDOW_US) return 0;
  rate = (double)f->win_done * 1e6 / (double)span;
  if (f->win_cut) {
    f->last_rate = -1;  /* a window with a cut is not a measure */
  } else if (f->prev && f->last_rate >= 0 && rate < f->last_rate * 0.95) {
    /* The last growth made things worse: back to where we were. */
    f->cur = clamp(f, f->prev);
    f->prev = 0;
    f->last_rate = -1;
    f->slow_start = 0;
  } else if (f->win_full && !f->win_held && (f->last_rate < 0 || rate > f->last_rate * 1.05)) {
    int step = f->slow_start ? f->cur : f->cur / 4;
    f->prev = f->cur;
    f->cur = clamp(f, f->cur + (step < 1 ? 1 : step));
    if (f->cur == f->prev) f->prev = 0;
    f->last_rate = rate;
  } else {
    if (f->win_full && !f->win_held) f->slow_start = 0;  /* flat at the limit */
    f->prev = 0;
    f->last_rate = rate;
  }
  window_reset(f, now_us);
  return f->cur != old;
}

void inflight_set_ceiling(inflight_t *f, int ceiling) {
  f->ceiling = ceiling < f->floor ? f->floor : ceiling;
  f->cur = clamp(f, f->cur);
}
