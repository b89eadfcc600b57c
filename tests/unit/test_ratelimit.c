/* Unit tests for lib/xfer/ratelimit (token bucket), tasklimit (each task's
 * own limits in one engine) and fleetshare (a task's limit shared by the
 * workers on it), over a simulated clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "xfer/fleetshare.h"
#include "xfer/ratelimit.h"
#include "xfer/tasklimit.h"

#define S 1000000LL /* microseconds per second */

/* Deterministic pseudo-random steps for the simulations. */
static uint64_t lcg(uint64_t *s) {
  *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
  return *s >> 33;
}

static void test_unlimited(void **state) {
  ratelimit_t rl;
  (void)state;
  rl_init(&rl, 0, 0, 0);
  assert_true(rl_unlimited(&rl));
  assert_int_equal(rl_take(&rl, 12345, 0), 12345);
  assert_int_equal(rl_take(&rl, UINT64_MAX, 0), UINT64_MAX);
  assert_int_equal(rl_wait_us(&rl, UINT64_MAX, 0), 0);
  assert_int_equal(rl_take(&rl, 7, -5), 7);
}

static void test_basic(void **state) {
  ratelimit_t rl;
  (void)state;
  rl_init(&rl, 100, 100, 1000);
  assert_false(rl_unlimited(&rl));
  /* Starts full. */
  assert_int_equal(rl_take(&rl, 100, 1000), 100);
  assert_int_equal(rl_take(&rl, 1, 1000), 0);
  /* One token per 10 ms. */
  assert_int_equal(rl_wait_us(&rl, 1, 1000), 10000);
  assert_int_equal(rl_wait_us(&rl, 1, 6000), 5000);
  assert_int_equal(rl_take(&rl, 1, 10999), 0);
  assert_int_equal(rl_take(&rl, 1, 11000), 1);
  assert_int_equal(rl_wait_us(&rl, 3, 11000), 30000);
  /* n = 0 is always available. */
  assert_int_equal(rl_wait_us(&rl, 0, 11000), 0);
  assert_int_equal(rl_take(&rl, 0, 11000), 0);
  /* A long idle time fills the bucket to burst, not beyond. */
  assert_int_equal(rl_take(&rl, 1000, 11000 + 3600 * S), 100);
}

static void test_partial_and_chunks(void **state) {
  ratelimit_t rl;
  int64_t now = 0;
  uint64_t want = 1000000, got = 0, g;
  int rounds = 0;
  (void)state;
  /* 1000 bytes/s, burst 100: a 1 MB "request" goes in chunks <= 100. */
  rl_init(&rl, 1000, 100, now);
  g = rl_take(&rl, 500, now);
  assert_int_equal(g, 100); /* partial grant */
  got = 0;
  want = 1000;
  /* The wait for more than burst is the time to a full bucket. */
  assert_int_equal(rl_wait_us(&rl, want, now), 100000);
  while (got < want) {
    int64_t w = rl_wait_us(&rl, want - got, now);
    now += w;
    g = rl_take(&rl, want - got, now);
    assert_true(g > 0);
    assert_true(g <= 100);
    got += g;
    rounds++;
    assert_true(rounds < 100);
  }
  assert_int_equal(got, want);
  /* 1000 tokens at 1000/s from an empty bucket: exactly one second. */
  assert_int_equal(now, 1 * S);
  assert_int_equal(rounds, 10);
}

static void test_clock_still_and_backwards(void **state) {
  ratelimit_t rl;
  int i;
  (void)state;
  rl_init(&rl, 10, 5, 5 * S);
  assert_int_equal(rl_take(&rl, 5, 5 * S), 5);
  for (i = 0; i < 1000; i++) assert_int_equal(rl_take(&rl, 1, 5 * S), 0);
  /* Backwards: earns nothing, and the wait counts from the last refill. */
  assert_int_equal(rl_take(&rl, 1, 4 * S), 0);
  assert_int_equal(rl_wait_us(&rl, 1, 4 * S), S + 100000);
  assert_int_equal(rl_take(&rl, 1, 5 * S + 99999), 0);
  assert_int_equal(rl_take(&rl, 1, 5 * S + 100000), 1);
}

static void test_tiny_rate_exact(void **state) {
  ratelimit_t rl;
  int64_t t;
  uint64_t got = 0;
  (void)state;
  /* 3 tokens/s, refilled every microsecond: the sub-token remainder must
   * add up, or nothing would ever be granted (and rounding would drift). */
  rl_init(&rl, 3, 2, 0);
  assert_int_equal(rl_take(&rl, 2, 0), 2);
  for (t = 1; t <= 2 * S; t++) got += rl_take(&rl, 1, t);
  assert_int_equal(got, 6);
  /* 1 token/s, asked every 7 us: one per second, exactly. */
  rl_init(&rl, 1, 2, 0);
  assert_int_equal(rl_take(&rl, 2, 0), 2);
  got = 0;
  for (t = 7; t <= 10 * S; t += 7) got += rl_take(&rl, 1, t);
  assert_int_equal(got, 9); /* 9999997 us is the last multiple of 7 */
  assert_int_equal(rl_take(&rl, 1, 10 * S), 1);
  /* A full bucket keeps no fraction beyond its burst (as a continuous
   * bucket would cap at burst): burst 1 at 3/s from t = 0. */
  rl_init(&rl, 3, 1, 0);
  assert_int_equal(rl_take(&rl, 5, 10 * S), 1);
  assert_int_equal(rl_wait_us(&rl, 1, 10 * S), 333334);
}

static void test_huge_values(void **state) {
  ratelimit_t rl;
  int64_t now = 0;
  (void)state;
  rl_init(&rl, UINT64_MAX, UINT64_MAX, now);
  assert_int_equal(rl.rate, RL_MAX);
  assert_int_equal(rl.burst, RL_MAX);
  assert_int_equal(rl_take(&rl, UINT64_MAX, now), RL_MAX);
  assert_int_equal(rl_take(&rl, 1, now), 0);
  assert_int_equal(rl_wait_us(&rl, UINT64_MAX, now), S);
  assert_int_equal(rl_wait_us(&rl, 1, now), 1);
  /* Years of idle time at the maximum rate: saturates at burst. */
  now = INT64_MAX / 2;
  assert_int_equal(rl_take(&rl, UINT64_MAX, now), RL_MAX);
  /* Half a second. */
  assert_int_equal(rl_take(&rl, UINT64_MAX, now + S / 2), RL_MAX / 2);
  /* Clock from the far past to the far future. */
  rl_init(&rl, 7, 0, INT64_MIN);
  assert_int_equal(rl_take(&rl, 100, INT64_MIN), 7);
  assert_int_equal(rl_take(&rl, 100, INT64_MAX), 7);
  /* Tiny rate, huge request: the wait is bounded by the burst. */
  rl_init(&rl, 1, 1, 0);
  rl_take(&rl, 1, 0);
  assert_int_equal(rl_wait_us(&rl, UINT64_MAX, 0), S);
}

static void test_auto_burst(void **state) {
  ratelimit_t rl;
  (void)state;
  rl_init(&rl, 250, 0, 0);
  assert_int_equal(rl.burst, 250);
  assert_int_equal(rl_take(&rl, 1000, 0), 250);
  rl_set_rate(&rl, 50, 0);
  assert_int_equal(rl.burst, 50);
  /* Explicit bursts stay. */
  rl_init(&rl, 250, 10, 0);
  rl_set_rate(&rl, 5000, 0);
  assert_int_equal(rl.burst, 10);
}

static void test_set_rate(void **state) {
  ratelimit_t rl;
  (void)state;
  rl_init(&rl, 100, 100, 0);
  assert_int_equal(rl_take(&rl, 100, 0), 100);
  /* 50 ms at 100/s earn 5 tokens; then the rate doubles. */
  rl_set_rate(&rl, 200, 50000);
  assert_int_equal(rl_take(&rl, 100, 50000), 5);
  assert_int_equal(rl_wait_us(&rl, 10, 50000), 50000);
  assert_int_equal(rl_take(&rl, 100, 100000), 10);
  /* Limited -> unlimited -> limited: starts with a full bucket. */
  rl_set_rate(&rl, 0, 100000);
  assert_true(rl_unlimited(&rl));
  assert_int_equal(rl_take(&rl, 1u << 30, 100000), 1u << 30);
  rl_set_rate(&rl, 10, 200000);
  assert_int_equal(rl_take(&rl, 1000, 200000), 100);
  assert_int_equal(rl_take(&rl, 1, 200000), 0);
  /* An automatic burst shrinks with the rate; the tokens are clamped to it. */
  rl_init(&rl, 1000, 0, 0);
  rl_set_rate(&rl, 10, 0);
  assert_int_equal(rl_take(&rl, 1000, 0), 10);
}

/* Under constant demand the bucket hands out exactly burst + rate * t,
 * whatever the step sizes and request sizes: no drift, no loss. */
static void test_fairness_exact(void **state) {
  ratelimit_t rl;
  uint64_t seed = 42, got = 0, rate = 1234567, burst = 65536;
  int64_t now = 0;
  int i;
  (void)state;
  rl_init(&rl, rate, burst, 0);
  /* Drain at once: a full bucket earns nothing while time passes. */
  got = rl_take(&rl, UINT64_MAX, 0);
  for (i = 0; i < 200000; i++) {
    now += (int64_t)(lcg(&seed) % 3000);
    got += rl_take(&rl, 1 + lcg(&seed) % 100000, now);
    /* Never more than the bucket allows. */
    assert_true(got <= burst + (uint64_t)now * rate / S);
  }
  /* Drain what is left at the end: the total is then exact. */
  got += rl_take(&rl, UINT64_MAX, now);
  assert_int_equal(got, burst + (uint64_t)now * rate / S);
}

/* Two buckets with shares of one fleet rate (3/4 and 1/4), served by one
 * simulated event loop each: each gets its share within one burst, and
 * together they stay within the fleet rate. */
static void test_fairness_shares(void **state) {
  ratelimit_t a, b;
  uint64_t fleet = 10000000, ga = 0, gb = 0;
  uint64_t ra = fleet / 4 * 3, rb = fleet / 4;
  int64_t ta = 0, tb = 0, end = 30 * S;
  (void)state;
  assert_int_equal(ra, 7500000);
  assert_int_equal(rb, 2500000);
  rl_init(&a, ra, 0, 0);
  rl_init(&b, rb, 0, 0);
  while (ta < end) {
    uint64_t g = rl_take(&a, 1 << 20, ta);
    ga += g;
    if (g < (1 << 20)) ta += rl_wait_us(&a, 1 << 20, ta) + 1;
  }
  while (tb < end) {
    uint64_t g = rl_take(&b, 4096, tb);
    gb += g;
    if (g < 4096) tb += rl_wait_us(&b, 4096, tb);
  }
  assert_true(ga <= ra + (uint64_t)ta * ra / S);
  assert_true(ga + (1 << 20) >= (uint64_t)end * ra / S);
  assert_true(gb <= rb + (uint64_t)tb * rb / S);
  assert_true(gb + 4096 >= (uint64_t)end * rb / S);
  /* Combined: within the fleet rate plus the two initial bursts. */
  assert_true(ga + gb <= ra + rb + (uint64_t)end * fleet / S + (1 << 21));
}

/* Whenever rl_wait_us says w, taking at now + w succeeds in full (n <= burst)
 * and taking at now + w - 1 does not. */
static void test_wait_is_exact(void **state) {
  ratelimit_t rl;
  uint64_t seed = 7;
  int64_t now = 0;
  int i;
  (void)state;
  for (i = 0; i < 2000; i++) {
    uint64_t rate = 1 + lcg(&seed) % 5000000, burst = 1 + lcg(&seed) % 100000;
    uint64_t n;
    int64_t w;
    ratelimit_t probe;
    rl_init(&rl, rate, burst, now);
    rl_take(&rl, lcg(&seed) % (burst + 1), now);
    now += (int64_t)(lcg(&seed) % 5000);
    n = 1 + lcg(&seed) % burst;
    w = rl_wait_us(&rl, n, now);
    assert_true(w >= 0);
    if (w > 0) {
      probe = rl;
      assert_true(rl_take(&probe, n, now + w - 1) < n);
    }
    assert_int_equal(rl_take(&rl, n, now + w), n);
    now += w;
  }
}

static void test_set_and_available(void **state) {
  ratelimit_t rl;
  (void)state;
  rl_init(&rl, 0, 0, 0);
  assert_int_equal(rl_available(&rl, 0), UINT64_MAX);
  /* From unlimited: full at the new burst. */
  rl_set(&rl, 100, 10, 0);
  assert_int_equal(rl_available(&rl, 0), 10);
  assert_int_equal(rl_take(&rl, 10, 0), 10);
  assert_int_equal(rl_available(&rl, 0), 0);
  assert_int_equal(rl_available(&rl, 50000), 5); /* 100/s: 5 in 50 ms */
  assert_int_equal(rl_available(&rl, 0), 0);     /* const: nothing taken */
  /* A new rate keeps what was saved (no fresh burst), clamped to the burst. */
  rl_set(&rl, 1000, 4, 50000);
  assert_int_equal(rl_available(&rl, 50000), 4);
  rl_take(&rl, 4, 50000);
  rl_set(&rl, 10, 2, 50000);
  assert_int_equal(rl_available(&rl, 50000), 0);
  assert_int_equal(rl_available(&rl, 150000), 1);
  /* burst 0 follows the rate. */
  rl_set(&rl, 7, 0, 150000);
  assert_int_equal(rl.burst, 7);
}

/* A scheduler like the engine's: waiting requests of two tasks, in order;
 * a task short of its own tokens is passed over, the worker's bucket short
 * stops everyone. Returns the requests granted per task over `secs`. */
static void simulate(tl_table_t *t, ratelimit_t *worker, int secs, uint64_t got[2]) {
  tl_task_t *k[2] = {tl_get(t, "limited", 0), tl_get(t, "free", 0)};
  int64_t now;
  got[0] = got[1] = 0;
  for (now = 0; now < (int64_t)secs * S; now += 1000) {
    int i, round;
    tl_pass_requests(t);
    /* Each task has 5 requests waiting on every tick, limited first. */
    for (round = 0; round < 5; round++) {
      for (i = 0; i < 2; i++) {
        int wshort = 0;
        if (tl_take_requests(k[i], worker, 1, now, &wshort) == 0) got[i]++;
        else if (wshort) break;
      }
    }
  }
}

static void test_task_isolation(void **state) {
  tl_table_t t;
  ratelimit_t worker;
  uint64_t got[2];
  tl_task_t *lim;
  (void)state;
  tl_init(&t);
  lim = tl_get(&t, "limited", 0);
  tl_set_limits(lim, 10, 0, 0);
  assert_true(tl_limited(lim));
  assert_false(tl_limited(tl_get(&t, "free", 0)));
  assert_ptr_equal(tl_get(&t, "limited", 0), lim);
  assert_ptr_equal(tl_find(&t, "limited"), lim);
  assert_null(tl_find(&t, "other"));
  rl_init(&worker, 0, 0, 0);
  simulate(&t, &worker, 10, got);
  /* The limited task: 10/s for 10 s plus its burst (4), never more. */
  assert_true(got[0] <= 10 * 10 + 4);
  assert_true(got[0] >= 10 * 10 - 1);
  /* The other: everything it asked for (5 per ms), limit or not beside it. */
  assert_int_equal(got[1], 5 * 10000);
  assert_int_equal(lim->requests, got[0]);
  assert_int_equal(tl_get(&t, "free", 0)->requests, got[1]);
  /* The worker's own limit applies to both: 1000/s shared by the two. */
  tl_release(&t);
  tl_init(&t);
  tl_set_limits(tl_get(&t, "limited", 0), 10, 0, 0);
  rl_init(&worker, 1000, 100, 0);
  simulate(&t, &worker, 10, got);
  assert_true(got[0] <= 104);
  assert_true(got[0] + got[1] <= 1000 * 10 + 100);
  assert_true(got[1] >= 1000 * 10 - 104);
  tl_release(&t);
}

static void test_take_requests_flags(void **state) {
  tl_table_t t;
  tl_task_t *k;
  ratelimit_t worker;
  int wshort = -1;
  (void)state;
  tl_init(&t);
  k = tl_get(&t, "a", 0);
  tl_set_limits(k, 20, 0, 0); /* burst 5 */
  assert_int_equal(k->qps.burst, 5);
  rl_init(&worker, 100, 6, 0);
  assert_int_equal(tl_take_requests(k, &worker, 5, 0, &wshort), 0);
  assert_false(wshort);
  assert_false(tl_held(k, 0));
  /* The task is short (0 left), the worker not (1 left): 50 ms for one. */
  assert_int_equal(tl_take_requests(k, &worker, 1, 0, &wshort), 50000);
  assert_false(wshort);
  assert_true(tl_held(k, 0));
  assert_int_equal(rl_available(&worker, 0), 1); /* nothing taken */
  tl_pass_requests(&t);
  assert_false(tl_held(k, 0));
  /* The worker short as well: flagged, the longer wait returned. */
  rl_take(&worker, 1, 0);
  assert_int_equal(tl_take_requests(k, &worker, 1, 0, &wshort), 50000);
  assert_true(wshort);
  /* NULL worker bucket: the task's alone. */
  assert_int_equal(tl_take_requests(k, NULL, 1, 50000, &wshort), 0);
  assert_false(wshort);
  tl_release(&t);
}

static void test_take_bytes_held(void **state) {
  tl_table_t t;
  tl_task_t *k, *f;
  (void)state;
  tl_init(&t);
  k = tl_get(&t, "a", 0);
  f = tl_get(&t, "b", 0);
  tl_set_limits(f, 0, 262144, 0); /* 256 KiB/s: burst TL_MIN_BYTE_BURST */
  assert_int_equal(f->bw.burst, TL_MIN_BYTE_BURST);
  tl_set_limits(f, 0, 0, 0);
  tl_set_limits(k, 0, 1048576, 0); /* 1 MiB/s: a quarter second, 256 KiB */
  assert_int_equal(k->bw.burst, 262144);
  assert_int_equal(tl_take_bytes(k, NULL, 131072, 0), 0);
  assert_int_equal(tl_take_bytes(k, NULL, 131072, 0), 0);
  /* Empty: 64 KiB at 1 MiB/s is 62.5 ms; held until then. */
  assert_int_equal(tl_take_bytes(k, NULL, 65536, 0), 62500);
  assert_true(tl_held(k, 0));
  assert_true(tl_held(k, 62499));
  assert_false(tl_held(k, 62500));
  assert_int_equal(k->bytes, 262144);
  /* The other task is never held by it. */
  assert_int_equal(tl_take_bytes(f, NULL, 1u << 30, 0), 0);
  assert_false(tl_held(f, 0));
  /* Large limits: a quarter of a second's worth. */
  tl_set_limits(k, 0, 100u << 20, 62500);
  assert_int_equal(k->bw.burst, (100u << 20) / 4);
  tl_release(&t);
}

static void test_may_start_job(void **state) {
  tl_table_t t;
  tl_task_t *k, *f;
  int i, n;
  int wshort;
  (void)state;
  tl_init(&t);
  k = tl_get(&t, "lim", 0);
  f = tl_get(&t, "free", 0);
  tl_set_limits(k, 10, 0, 0); /* burst 4 */
  /* One pass: as many objects start as there are tokens, not more. */
  tl_pass_jobs(&t);
  for (n = 0, i = 0; i < 10; i++) n += tl_may_start_job(k, 0);
  assert_int_equal(n, 4);
  for (n = 0, i = 0; i < 100; i++) n += tl_may_start_job(f, 0);
  assert_int_equal(n, 100);
  /* Spent: none in the next pass until a token comes back. */
  tl_take_requests(k, NULL, 4, 0, &wshort);
  tl_pass_jobs(&t);
  assert_false(tl_may_start_job(k, 0));
  assert_true(tl_may_start_job(k, 100000));
  /* Starved (a request of it waited): none, even with a token. */
  tl_pass_jobs(&t);
  tl_take_requests(k, NULL, 2, 100000, &wshort);
  assert_true(tl_held(k, 100000));
  assert_false(tl_may_start_job(k, 300000));
  tl_pass_requests(&t);
  assert_true(tl_may_start_job(k, 300000));
  /* Bandwidth: none while a transfer waits for bytes, or none are left. */
  tl_set_limits(k, 0, 1048576, 300000);
  tl_pass_jobs(&t);
  tl_take_bytes(k, NULL, 262144, 300000);
  assert_false(tl_may_start_job(k, 300000));
  assert_int_equal(tl_take_bytes(k, NULL, 65536, 300000), 62500);
  assert_false(tl_may_start_job(k, 362499));
  assert_true(tl_may_start_job(k, 362500));
  /* Limits removed: unlimited again. */
  tl_set_limits(k, 0, 0, 400000);
  assert_false(tl_limited(k));
  tl_release(&t);
}

static void test_fleet_share_equal(void **state) {
  (void)state;
  assert_int_equal(fs_share(0, 3, 0, 0, 1), 0);       /* unlimited */
  assert_int_equal(fs_share(60, 0, 0, 0, 1), 60);     /* alone */
  assert_int_equal(fs_share(60, 2, 0, 0, 1), 20);     /* three on it */
  assert_int_equal(fs_share(2, 5, 5, 0, 1), 1);       /* never 0 */
  assert_int_equal(fs_share(UINT64_MAX, 0, 0, 0, 1), UINT64_MAX);
  /* The remainder: one each to the lowest ranks; the shares add up. */
  assert_int_equal(fs_share(50, 2, 0, 0, 1), 17);
  assert_int_equal(fs_share(50, 2, 1, 0, 1), 17);
  assert_int_equal(fs_share(50, 2, 2, 0, 1), 16);
  assert_int_equal(fs_share(50, 2, 1, 1, 1), 17); /* the estimate is no more */
  assert_int_equal(fs_share(50, 2, 0, 1, 4), 12); /* warming: no remainder */
  /* Warming: at least the group estimate divides. */
  assert_int_equal(fs_share(64, 0, 0, 1, 32), 2);
  assert_int_equal(fs_share(64, 0, 0, 0, 32), 64);
  assert_int_equal(fs_share(64, 63, 0, 1, 32), 1);
  assert_int_equal(fs_share(64, 0, 0, 1, 0), 64);
  /* The estimate from partitions. */
  assert_int_equal(fs_group_estimate(2, 64), 32);
  assert_int_equal(fs_group_estimate(4, 12), 3);
  assert_int_equal(fs_group_estimate(5, 12), 3);
  assert_int_equal(fs_group_estimate(12, 12), 1);
  assert_int_equal(fs_group_estimate(0, 12), 1);
  assert_int_equal(fs_group_estimate(3, 0), 1);
}

static void test_fleet_peers(void **state) {
  fleetshare_t fs;
  const char *tw[] = {"t", "u"}, *t1[] = {"t"}, *u1[] = {"u"};
  (void)state;
  fs_init(&fs);
  assert_int_equal(fs_peers_on(&fs, "me/1", "t", 0, NULL), 0);
  fs_heard(&fs, "a/1", 0, 1000, tw, 2, 0);
  fs_heard(&fs, "b/1", 0, 1000, t1, 1, 0);
  fs_heard(&fs, "me/1", 0, 1000, t1, 1, 0); /* our own, read back */
  assert_int_equal(fs_peers_on(&fs, "me/1", "t", 0, NULL), 2);
  assert_int_equal(fs_peers_on(&fs, "me/1", "u", 0, NULL), 1);
  assert_int_equal(fs_peers_on(&fs, "me/1", "v", 0, NULL), 0);
  /* The latest heartbeat replaces: b left t for u. */
  fs_heard(&fs, "b/1", 500, 1000, u1, 1, 0);
  assert_int_equal(fs_peers_on(&fs, "me/1", "t", 500, NULL), 1);
  assert_int_equal(fs_peers_on(&fs, "me/1", "u", 500, NULL), 2);
  /* One id, two processes: two peers. */
  fs_heard(&fs, "a/2", 600, 1000, t1, 1, 0);
  assert_int_equal(fs_peers_on(&fs, "me/1", "t", 600, NULL), 2);
  /* Leaving: forgotten at once. */
  fs_heard(&fs, "a/2", 700, 1000, NULL, 0, 1);
  assert_int_equal(fs_peers_on(&fs, "me/1", "t", 700, NULL), 1);
  /* Unheard for FS_MISSED intervals: gone (a crash). */
  assert_int_equal(fs_peers_on(&fs, "me/1", "t", FS_MISSED * 1000 - 1, NULL), 1);
  assert_int_equal(fs_peers_on(&fs, "me/1", "t", FS_MISSED * 1000, NULL), 0);
  assert_int_equal(fs_peers_on(&fs, "me/1", "u", 500 + FS_MISSED * 1000, NULL), 0);
  fs_heard(&fs, "c/1", 10000, 0, t1, 1, 0); /* every 0: the default */
  assert_int_equal(fs_peers_on(&fs, "me/1", "t", 10000 + FS_EVERY_MS * FS_MISSED - 1, NULL), 1);
  assert_int_equal(fs.n, 1); /* the expired ones were dropped */
  fs_release(&fs);
}

/* The layout: a task's segments in 2 of 64 partitions, held by 2
 * of 32 workers. Shares by partition gave each 1/32 of the limit (~3 % in
 * all); by heartbeats the two on it share the whole limit, and all shares
 * together never pass it. */
static void test_fleet_layout(void **state) {
  fleetshare_t fs[32];
  const char *t1[] = {"t"};
  char self[32][16];
  int i, j;
  uint64_t sum = 0;
  (void)state;
  for (i = 0; i < 32; i++) {
    fs_init(&fs[i]);
    snprintf(self[i], sizeof(self[i]), "w%d/1", i);
  }
  /* Workers 0 and 1 have the task; everyone hears everyone. */
  for (i = 0; i < 32; i++)
    for (j = 0; j < 2; j++) fs_heard(&fs[i], self[j], 0, 1000, t1, 1, 0);
  for (i = 0; i < 2; i++) {
    size_t rank;
    size_t peers = fs_peers_on(&fs[i], self[i], "t", 2500, &rank);
    uint64_t s = fs_share(6401, peers, rank, 0, fs_group_estimate(2, 64));
    assert_int_equal(rank, (size_t)i);
    assert_int_equal(peers, 1);
    assert_int_equal(s, i == 0 ? 3201 : 3200);
    sum += s;
    /* While warming the estimate (32 workers) bounds it. */
    assert_int_equal(fs_share(6401, peers, rank, 1, fs_group_estimate(2, 64)), 200);
  }
  assert_int_equal(sum, 6401);
  for (i = 0; i < 32; i++) fs_release(&fs[i]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unlimited),
      cmocka_unit_test(test_basic),
      cmocka_unit_test(test_partial_and_chunks),
      cmocka_unit_test(test_clock_still_and_backwards),
      cmocka_unit_test(test_tiny_rate_exact),
      cmocka_unit_test(test_huge_values),
      cmocka_unit_test(test_auto_burst),
      cmocka_unit_test(test_set_rate),
      cmocka_unit_test(test_fairness_exact),
      cmocka_unit_test(test_fairness_shares),
      cmocka_unit_test(test_wait_is_exact),
      cmocka_unit_test(test_set_and_available),
      cmocka_unit_test(test_task_isolation),
      cmocka_unit_test(test_take_requests_flags),
      cmocka_unit_test(test_take_bytes_held),
      cmocka_unit_test(test_may_start_job),
      cmocka_unit_test(test_fleet_share_equal),
      cmocka_unit_test(test_fleet_peers),
      cmocka_unit_test(test_fleet_layout),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
