/* ratelimit.c: token bucket over a caller-supplied clock. */
#include "xfer/ratelimit.h"

#define US_PER_S 1000000ULL

static uint64_t sat_add(uint64_t a, uint64_t b) {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t sat_mul(uint64_t a, uint64_t b) {
  if (a != 0 && b > UINT64_MAX / a) return UINT64_MAX;
  return a * b;
}

static uint64_t clamp_rate(uint64_t r) {
  return r > RL_MAX ? RL_MAX : r;
}

static uint64_t auto_burst(uint64_t rate) {
  return rate ? rate : 1;
}

/* Adds what the time since last_us earned. The elapsed time is split into
 * whole seconds and microseconds so that no product leaves 64 bits: with
 * rate <= 10^12, rem * rate <= 10^18. The remainder below one token is kept
 * in frac (millionths), which makes the refill exact whatever the step. */
static void refill(ratelimit_t *rl, int64_t now_us) {
  uint64_t el, sec, rem, add, micro;
  if (now_us <= rl->last_us) return;
  el = (uint64_t)now_us - (uint64_t)rl->last_us;
  rl->last_us = now_us;
  if (rl->rate == 0) return;
  if (rl->tokens >= rl->burst) {
    rl->tokens = rl->burst;
    rl->frac = 0;
    return;
  }
  sec = el / US_PER_S;
  rem = el % US_PER_S;
  add = sat_mul(sec, rl->rate);
  micro = rem * rl->rate + rl->frac;
  add = sat_add(add, micro / US_PER_S);
  rl->frac = micro % US_PER_S;
  rl->tokens = sat_add(rl->tokens, add);
  if (rl->tokens >= rl->burst) {
    rl->tokens = rl->burst;
    rl->frac = 0;
  }
}

void rl_init(ratelimit_t *rl, uint64_t rate, uint64_t burst, int64_t now_us) {
  rl->rate = clamp_rate(rate);
  rl->burst_auto = burst == 0;
  rl->burst = burst ? clamp_rate(burst) : auto_burst(rl->rate);
  rl->tokens = rl->burst;
  rl->frac = 0;
  rl->last_us = now_us;
}

int rl_unlimited(const ratelimit_t *rl) {
  return rl->rate == 0;
}

uint64_t rl_take(ratelimit_t *rl, uint64_t n, int64_t now_us) {
  uint64_t grant;
  refill(rl, now_us);
  if (rl->rate == 0) return n;
  grant = n < rl->tokens ? n : rl->tokens;
  rl->tokens -= grant;
  return grant;
}

int64_t rl_wait_us(const ratelimit_t *rl, uint64_t n, int64_t now_us) {
  ratelimit_t c = *rl;
  uint64_t want, need_micro, wait;
  int64_t behind = 0;
  if (c.rate == 0 || n == 0) return 0;
  /* A clock behind last_us earns nothing until it passes last_us again. */
  if (now_us < c.last_us) behind = c.last_us - now_us;
  refill(&c, now_us);
  want = n < c.burst ? n : c.burst;
  if (c.tokens >= want) return 0;
  /* want - tokens <= burst <= 10^12, so the product stays below 10^18. */
  need_micro = (want - c.tokens) * US_PER_S - c.frac;
  wait = (need_micro + c.rate - 1) / c.rate;
  return (int64_t)wait + behind;
}

void rl_set_rate(ratelimit_t *rl, uint64_t rate, int64_t now_us) {
  int was_unlimited = rl->rate == 0;
  refill(rl, now_us);
  rl->rate = clamp_rate(rate);
  if (rl->burst_auto) rl->burst = auto_burst(rl->rate);
  if (was_unlimited) {
    rl->tokens = rl->burst;
    rl->frac = 0;
  } else if (rl->tokens >= rl->burst) {
    rl->tokens = rl->burst;
    rl->frac = 0;
  }
}

void rl_set(ratelimit_t *rl, uint64_t rate, uint64_t burst, int64_t now_us) {
  rl->burst_auto = burst == 0;
  if (!rl->burst_auto) rl->burst = clamp_rate(burst);
  rl_set_rate(rl, rate, now_us);
  if (rl->tokens > rl->burst) rl->tokens = rl->burst;
}

uint64_t rl_available(const ratelimit_t *rl, int64_t now_us) {
  ratelimit_t c = *rl;
  if (c.rate == 0) return UINT64_MAX;
  refill(&c, now_us);
  return c.tokens;
}
