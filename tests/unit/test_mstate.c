/*
 * Unit tests for lister/mstate.c: the console master's rules for a command
 * on a task in each state (docs/lister.md "Master"), and its check of live
 * limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lister/mstate.h"

#define CR CTLS_CREATED
#define RU CTLS_RUNNING
#define PA CTLS_PAUSED
#define CA CTLS_CANCELLED
#define OK_ ""

static void test_transitions(void **state) {
  static const struct {
    ctl_cmd_t cmd;
    ctl_state_t from;
    int listing;
    ctl_state_t to;
    const char *error; /* OK_ = applied */
  } t[] = {
      {CTL_START, CR, 0, RU, OK_},
      {CTL_START, RU, 0, RU, OK_}, /* a new run once the listing ended */
      {CTL_START, RU, 1, RU, "a listing of task \"x\" is at work"},
      {CTL_START, PA, 0, PA, "task \"x\" is paused: resume it first"},
      {CTL_START, CA, 0, CA, "task \"x\" is cancelled"},
      {CTL_RETRY, CR, 0, CR, "task \"x\" was never started: nothing to retry"},
      {CTL_RETRY, RU, 0, RU, OK_},
      {CTL_RETRY, RU, 1, RU, "a listing of task \"x\" is at work"},
      {CTL_PAUSE, CR, 0, CR, "task \"x\" was never started"},
      {CTL_PAUSE, RU, 1, PA, OK_},
      {CTL_PAUSE, PA, 0, PA, OK_},
      {CTL_PAUSE, CA, 0, CA, "task \"x\" is cancelled"},
      {CTL_RESUME, CR, 0, CR, "task \"x\" was never started"},
      {CTL_RESUME, PA, 0, RU, OK_},
      {CTL_RESUME, RU, 0, RU, OK_},
      {CTL_RESUME, CA, 0, CA, "task \"x\" is cancelled"},
      {CTL_CANCEL, CR, 0, CA, OK_},
      {CTL_CANCEL, RU, 1, CA, OK_},
      {CTL_CANCEL, PA, 0, CA, OK_},
      {CTL_CANCEL, CA, 0, CA, "task \"x\" is cancelled"},
      {CTL_LIMITS, CR, 0, CR, OK_},
      {CTL_LIMITS, PA, 0, PA, OK_},
      {CTL_LIMITS, CA, 0, CA, "task \"x\" is cancelled"},
      {CTL_CREATE, RU, 0, RU, "task \"x\": not a command on an existing task"},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
    char err[256] = "";
    ctl_state_t next = CTLS__COUNT;
    const char *r = mstate_apply(t[i].cmd, "x", t[i].from, t[i].listing, &next, err, sizeof(err));
    if (*t[i].error) {
      if (!r) fprintf(stderr, "case %zu applied\n", i);
      assert_non_null(r);
      assert_string_equal(r, t[i].error);
    } else {
      if (r) fprintf(stderr, "case %zu: %s\n", i, r);
      assert_null(r);
    }
    assert_int_equal(next, t[i].to);
  }
}

static void test_limits(void **state) {
  char err[256];
  char *good[] = {"08:00-19:00=10M", "19:00-08:00=0"}, *bad[] = {"08:00-19:00=10M", "25:00-26:00=1M"};
  ctl_limits_t l;
  (void)state;
  memset(&l, 0, sizeof(l));
  assert_null(mstate_check_limits(&l, err, sizeof(err)));  /* all unlimited */
  l.qps = 1000000;
  l.bandwidth = 1024;
  l.schedule = good;
  l.n_schedule = 2;
  assert_null(mstate_check_limits(&l, err, sizeof(err)));
  l.qps = 1000001;
  assert_string_equal(mstate_check_limits(&l, err, sizeof(err)),
                      "limits.qps: 1000001 is out of range 1..1000000 (0 = unlimited)");
  l.qps = 0;
  l.bandwidth = 1023;
  assert_string_equal(mstate_check_limits(&l, err, sizeof(err)),
                      "limits.bandwidth: 1023 is out of range 1K..1T (0 = unlimited)");
  l.bandwidth = 0;
  l.schedule = bad;
  assert_non_null(mstate_check_limits(&l, err, sizeof(err)));
  assert_memory_equal(err, "limits.schedule[1]: ", 20);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_transitions),
      cmocka_unit_test(test_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
