/* lib/core/watchdog: fires once when the beats stop, never while they come. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/ferry.h"
#include "core/watchdog.h"

typedef struct {
  atomic_int fired;
  _Atomic int64_t stalled;
  _Atomic(const char *) where;
} seen_t;

static void on_expire(int64_t stalled_ms, const char *where, void *ctx) {
  seen_t *s = ctx;
  atomic_store(&s->stalled, stalled_ms);
  atomic_store(&s->where, where);
  atomic_fetch_add(&s->fired, 1);
}

static void test_beats_keep_it_quiet_then_it_fires_once(void **state) {
  seen_t s;
  wd_t *w;
  int i;
  (void)state;
  memset(&s, 0, sizeof(s));
  w = wd_start(400, on_expire, &s);
  assert_non_null(w);
  for (i = 0; i < 12; i++) { /* 1.2 s of beats every 100 ms */
    wd_beat(w, "loop");
    usleep(100 * 1000);
  }
  assert_int_equal(atomic_load(&s.fired), 0);
  wd_beat(w, "poll");
  for (i = 0; i < 30 && !atomic_load(&s.fired); i++) usleep(100 * 1000);
  assert_int_equal(atomic_load(&s.fired), 1);
  assert_true(atomic_load(&s.stalled) > 400);
  assert_string_equal(atomic_load(&s.where), "poll");
  usleep(600 * 1000);
  assert_int_equal(atomic_load(&s.fired), 1); /* once */
  wd_stop(w);
}

/* wd_limit: a longer limit holds; and then a stop ends the watchdog before
 * the longer limit passes: it never fires. */
static void test_longer_limit_and_stop(void **state) {
  seen_t s;
  wd_t *w;
  int64_t t0;
  (void)state;
  memset(&s, 0, sizeof(s));
  w = wd_start(200, on_expire, &s);
  assert_non_null(w);
  wd_limit(w, 1000, "shutdown"); /* e.g. while leaving the group */
  usleep(700 * 1000);
  assert_int_equal(atomic_load(&s.fired), 0);
  t0 = ferry_mono_ms();
  wd_stop(w);
  /* The thread is joined within one of its 100 ms turns, not at the limit. */
  assert_true(ferry_mono_ms() - t0 < 500);
  usleep(800 * 1000); /* well past the 1000 ms limit of the stopped watchdog */
  assert_int_equal(atomic_load(&s.fired), 0);
}

/* A loop that stopped beating, but is stopped itself before the limit (a
 * clean shutdown): no stall is reported, then or later. And NULL (no
 * watchdog: the thread could not start) is accepted everywhere. */
static void test_stop_before_the_limit(void **state) {
  seen_t s;
  wd_t *w;
  (void)state;
  memset(&s, 0, sizeof(s));
  w = wd_start(400, on_expire, &s);
  assert_non_null(w);
  usleep(250 * 1000); /* no beat */
  wd_stop(w);
  usleep(500 * 1000);
  assert_int_equal(atomic_load(&s.fired), 0);
  assert_null(atomic_load(&s.where));
  wd_stop(NULL);
  wd_beat(NULL, "x");
  wd_limit(NULL, 1, "x");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_beats_keep_it_quiet_then_it_fires_once),
      cmocka_unit_test(test_longer_limit_and_stop),
      cmocka_unit_test(test_stop_before_the_limit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
