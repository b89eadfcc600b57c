/* Unit tests for worker/taskctl: the worker's table of task states. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "worker/taskctl.h"

static msg_taskstate_t rec(const char *task, ctl_state_t st, int run, uint64_t qps, uint64_t bw,
                           char **sched, size_t n) {
  msg_taskstate_t r;
  memset(&r, 0, sizeof(r));
  r.task = (char *)task;
  r.state = st;
  r.run = run;
  r.limits.qps = qps;
  r.limits.bandwidth = bw;
  r.limits.schedule = sched;
  r.limits.n_schedule = n;
  return r;
}

static void test_states(void **state) {
  taskctl_t t;
  msg_taskstate_t r;
  (void)state;
  taskctl_init(&t);
  assert_int_equal(taskctl_paused(&t, "logs"), 0);
  assert_int_equal(taskctl_cancelled(&t, "logs", 1), 0);
  r = rec("logs", CTLS_PAUSED, 2, 0, 0, NULL, 0);
  assert_int_equal(taskctl_apply(&t, &r), 1);
  assert_int_equal(taskctl_apply(&t, &r), 0);          /* the same again: no change */
  assert_int_equal(taskctl_paused(&t, "logs"), 1);
  assert_int_equal(taskctl_paused(&t, "other"), 0);
  r = rec("logs", CTLS_RUNNING, 2, 0, 0, NULL, 0);
  assert_int_equal(taskctl_apply(&t, &r), 1);
  assert_int_equal(taskctl_paused(&t, "logs"), 0);
  r = rec("logs", CTLS_CANCELLED, 2, 0, 0, NULL, 0);
  assert_int_equal(taskctl_apply(&t, &r), 1);
  assert_int_equal(taskctl_cancelled(&t, "logs", 1), 1);
  assert_int_equal(taskctl_cancelled(&t, "logs", 2), 1);
  assert_int_equal(taskctl_cancelled(&t, "logs", 3), 0);  /* a later run is not */
  r = rec("all", CTLS_CANCELLED, 0, 0, 0, NULL, 0);
  taskctl_apply(&t, &r);
  assert_int_equal(taskctl_cancelled(&t, "all", 7), 1);
  assert_int_equal(taskctl_forget(&t, "logs"), 1);
  assert_int_equal(taskctl_forget(&t, "logs"), 0);
  assert_int_equal(taskctl_cancelled(&t, "logs", 1), 0);
  assert_non_null(taskctl_find(&t, "all"));
  taskctl_release(&t);
}

static void test_limits_schedule(void **state) {
  taskctl_t t;
  msg_taskstate_t r;
  char *sched[] = {"08:00-19:00=10M", "19:00-08:00=0"};
  uint64_t q = 9, b = 9;
  (void)state;
  taskctl_init(&t);
  assert_int_equal(taskctl_limits_at(&t, "x", 600, &q, &b), 0);
  r = rec("x", CTLS_RUNNING, 1, 50, 1000, NULL, 0);
  taskctl_apply(&t, &r);
  assert_int_equal(taskctl_limits_at(&t, "x", 600, &q, &b), 1);
  assert_int_equal(q, 50);
  assert_int_equal(b, 1000);
  r = rec("x", CTLS_RUNNING, 1, 50, 1000, sched, 2);
  assert_int_equal(taskctl_apply(&t, &r), 1);            /* the schedule changed */
  taskctl_limits_at(&t, "x", 9 * 60, &q, &b);
  assert_int_equal(b, 10u * 1024 * 1024);
  taskctl_limits_at(&t, "x", 20 * 60, &q, &b);
  assert_int_equal(b, 0);                                /* 0 = unlimited at night */
  taskctl_limits_at(&t, "x", 7 * 60, &q, &b);
  assert_int_equal(b, 0);
  taskctl_release(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_states),
      cmocka_unit_test(test_limits_schedule),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
