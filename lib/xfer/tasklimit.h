/*
 * tasklimit.h: each task's own QPS and bandwidth limit inside one copy
 * engine, and the rules that keep a task held back by its limit from taking
 * the engine's shared capacity from the other tasks.
 *
 * Every object the engine copies belongs to a task (the segment's task). A
 * task has two token buckets: requests (every request ferry sends for it, to
 * the source and to the destination, retries included) and bytes (read from
 * the source, which equals what is written). A request waits for the tokens
 * of its task's bucket and of the worker's (worker.qps_limit), and takes
 * from both; a task without limits only ever meets the worker's bucket.
 *
 * Isolation: a task whose requests wait for its own tokens is "held". The
 * engine skips its waiting requests (others go first, instead of queueing
 * behind it), and starts none of its queued objects while it is held or has
 * no token to spend, so a limited task never fills the engine's job or
 * transfer slots with objects that only wait. Starting more of its objects
 * could not make it faster anyway.
 *
 * Pure logic over a caller-supplied monotonic clock (microseconds); one
 * table per engine, not thread-safe.
 */
#ifndef FERRY_XFER_TASKLIMIT_H
#define FERRY_XFER_TASKLIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "xfer/ratelimit.h"

/* Smallest byte burst: two of the engine's 64 KiB receive chunks, so that a
 * paused GET can always take one chunk. */
#define TL_MIN_BYTE_BURST (128u * 1024u)

typedef struct tl_task {
  char *name;
  ratelimit_t qps;           /* requests, to the source and the destination */
  ratelimit_t bw;            /* bytes read from the source */
  uint64_t qps_rate, bw_rate;  /* in force on this engine; 0 = unlimited */
  size_t jobs;               /* objects submitted and not finished */
  int starved;               /* a request waited for the task's tokens in the
                                last pass over the waiting requests */
  int64_t bw_until_us;       /* a transfer waits for the task's bytes until then */
  unsigned started;          /* objects started in the current start pass */
  int paused;                /* the task is paused: none of its objects starts */
  uint64_t requests, bytes;  /* spent so far */
} tl_task_t;

typedef struct tl_table {
  tl_task_t **v;
  size_t n;
} tl_table_t;

void tl_init(tl_table_t *t);
void tl_release(tl_table_t *t);

/* The task's entry, added (unlimited) when it is new. Entries stay until
 * tl_release: their counters outlive the task's objects. */
tl_task_t *tl_get(tl_table_t *t, const char *name, int64_t now_us);
tl_task_t *tl_find(const tl_table_t *t, const char *name);

/* Sets the rates this engine may use for the task; 0 = unlimited. Bursts
 * are a quarter of a second's worth (at least 4 requests, two copies of a
 * small object, and TL_MIN_BYTE_BURST bytes): a loop that wakes late on a
 * busy host then loses no tokens, and a fleet of n workers stays within the
 * limit plus n bursts over any window. Tokens saved are kept (clamped to
 * the new burst), so a share that moves does not hand out a fresh burst. */
void tl_set_limits(tl_task_t *k, uint64_t qps, uint64_t bw, int64_t now_us);

int tl_limited(const tl_task_t *k);

/* 1 while the task's own limit holds it back: a request of it waited for
 * its tokens in the last pass, or a transfer waits for its bytes. */
int tl_held(const tl_task_t *k, int64_t now_us);

/* Start of the engine's pass over the waiting requests (clears starved)
 * and of its pass over the queued objects (clears started). */
void tl_pass_requests(tl_table_t *t);
void tl_pass_jobs(tl_table_t *t);

/* May one more queued object of the task start now? Never while paused.
 * Unlimited tasks: yes.
 * A limited one: not while held, and only while its request bucket holds
 * more tokens than objects started in this pass and its byte bucket has
 * some. Counts a yes in started. */
int tl_may_start_job(tl_task_t *k, int64_t now_us);

/* Takes n request tokens from the task's bucket and the worker's (may be
 * NULL). Returns 0 when both granted n; else the microseconds to wait,
 * nothing is taken, and *worker_short says whether the worker's bucket was
 * short (then every task waits; else only this one, and it is starved). */
int64_t tl_take_requests(tl_task_t *k, ratelimit_t *worker, uint64_t n, int64_t now_us,
                         int *worker_short);

/* Takes n byte tokens from the task's bucket and the worker's (may be
 * NULL): 0 when granted, else the microseconds to wait (nothing taken; the
 * task counts as held until then when its own bucket was short). */
int64_t tl_take_bytes(tl_task_t *k, ratelimit_t *worker, uint64_t n, int64_t now_us);

#endif
