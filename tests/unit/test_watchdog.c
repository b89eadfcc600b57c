/* lib/core/watchdog: fires once when the beats stop, never while they come. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

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

static void test_longer_limit_and_stop(void **state) {
  seen_t s;
  wd_t *w;
  (void)state;
  memset(&s, 0, sizeof(s));
  w = wd_start(200, on_expire, &s);
  assert_non_null(w);
  wd_limit(w, 5000, "shutdown"); /* e.g. while leaving the group */
  usleep(700 * 1000);
  assert_int_equal(atomic_load(&s.fired), 0);
  wd_stop(w);
  wd_stop(NULL);
  wd_beat(NULL, "x");
  wd_limit(NULL, 1, "x");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_beats_keep_it_quiet_then_it_fires_once),
      cmocka_unit_test(test_longer_limit_and_stop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
