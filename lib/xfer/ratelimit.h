/*
 * ratelimit.h: a token bucket for the copy engine's QPS and bandwidth limits.
 *
 * Pure logic: the caller passes the monotonic time (ferry_now_us() in the
 * services, a simulated clock in tests). The event loop asks rl_take() for
 * what it wants to spend; when less is granted it arms a timer for
 * rl_wait_us() and tries again then, so nothing ever sleeps.
 *
 * Tokens are integers (requests, or bytes); the sub-token remainder of the
 * refill is carried exactly, so many small refills add up to the same amount
 * as one large one (no drift, fair over time). All arithmetic saturates:
 * huge rates, huge bursts and long idle times cannot overflow.
 *
 * An embedded struct (rl_init, no release needed). Not thread-safe: one
 * bucket per event loop.
 */
#ifndef FERRY_XFER_RATELIMIT_H
#define FERRY_XFER_RATELIMIT_H

#include <stdint.h>

/* Rates and bursts above this are clamped to it: 10^12 tokens/s (1 TB/s of
 * bytes) is unlimited for every practical purpose, and the bound keeps the
 * microsecond arithmetic inside 64 bits. */
#define RL_MAX ((uint64_t)1000000000000ULL)

typedef struct ratelimit {
  uint64_t rate;       /* tokens per second; 0 = unlimited */
  uint64_t burst;      /* bucket capacity in tokens, >= 1 when limited */
  int burst_auto;      /* burst was derived from the rate (follows rl_set_rate) */
  uint64_t tokens;     /* whole tokens available */
  uint64_t frac;       /* sub-token remainder, in millionths of a token */
  int64_t last_us;     /* time of the last refill */
} ratelimit_t;

/* Initialises rl. rate 0 = unlimited. burst 0 = one second's worth of the
 * rate (at least 1), and then follows rate changes. The bucket starts full,
 * so a fresh worker may spend one burst at once. */
void rl_init(ratelimit_t *rl, uint64_t rate, uint64_t burst, int64_t now_us);

/* Takes up to n tokens and returns how many were granted (0..n): partial
 * grants let a byte stream send what the bucket holds now. A request larger
 * than the burst is therefore served in chunks of at most burst. Unlimited
 * buckets grant n. A clock that stands still or goes backwards refills
 * nothing (and is not an error). */
uint64_t rl_take(ratelimit_t *rl, uint64_t n, int64_t now_us);

/* Microseconds from now_us until min(n, burst) tokens are available: 0 when
 * they are there already (or the bucket is unlimited, or n is 0). Use it to
 * arm the event loop's timer after a short grant; for n > burst it is the
 * time until the bucket is full, i.e. until the next chunk can go. Does not
 * change rl. */
int64_t rl_wait_us(const ratelimit_t *rl, uint64_t n, int64_t now_us);

/* Changes the rate (this worker's share of a fleet-wide limit moved).
 * Tokens earned so far at the old rate are kept, clamped to the (possibly
 * new) burst; an automatic burst follows the new rate. Going from unlimited
 * to limited starts with a full bucket. */
void rl_set_rate(ratelimit_t *rl, uint64_t rate, int64_t now_us);

/* Changes rate and burst together (a task's share moved): tokens are kept,
 * clamped to the new burst; from unlimited the bucket starts full. burst 0
 * = one second's worth, following the rate from then on. */
void rl_set(ratelimit_t *rl, uint64_t rate, uint64_t burst, int64_t now_us);

/* Whole tokens the bucket could grant at now_us (the burst's worth when it
 * is unlimited is meaningless: UINT64_MAX). Does not change rl. */
uint64_t rl_available(const ratelimit_t *rl, int64_t now_us);

/* 1 when the bucket limits nothing (rate 0). */
int rl_unlimited(const ratelimit_t *rl);

#endif
