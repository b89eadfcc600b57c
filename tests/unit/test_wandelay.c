/* Unit tests for tests/wan/delayq: the WAN bed's delay line (release times
 * with jitter, FIFO order, the queue cap). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../wan/delayq.h"

#define MS 1000000ull

static void test_release_delay_and_jitter(void **state) {
  (void)state;
  /* u = 0.5: no jitter; u -> 0 / 1: -j / +j. */
  assert_int_equal(delayq_release_ns(100 * MS, 15 * MS, 2 * MS, 0.5, 0), 115 * MS);
  assert_int_equal(delayq_release_ns(100 * MS, 15 * MS, 2 * MS, 0.0, 0), 113 * MS);
  assert_int_equal(delayq_release_ns(100 * MS, 15 * MS, 2 * MS, 0.75, 0), 116 * MS);
  /* Jitter larger than the delay never releases before the arrival. */
  assert_int_equal(delayq_release_ns(100 * MS, 1 * MS, 5 * MS, 0.0, 0), 100 * MS);
  /* Never before the packet ahead: a link does not reorder. */
  assert_int_equal(delayq_release_ns(100 * MS, 15 * MS, 2 * MS, 0.0, 116 * MS), 116 * MS);
}

static void test_queue_fifo_and_due(void **state) {
  (void)state;
  delayq q;
  delayq_init(&q, 3, 10 * MS, 0);
  assert_int_equal(delayq_next_ns(&q), UINT64_MAX);
  for (int i = 0; i < 3; i++) {
    dq_pkt *p = delayq_slot(&q);
    assert_non_null(p);
    p->len = 1;
    p->data[0] = (unsigned char)i;
    delayq_push(&q, p, (uint64_t)i * MS, 0.5);
  }
  /* Full: no slot; the caller drops and counts. */
  assert_null(delayq_slot(&q));
  assert_int_equal(delayq_next_ns(&q), 10 * MS);
  assert_null(delayq_due(&q, 10 * MS - 1));
  for (int i = 0; i < 3; i++) {
    dq_pkt *p = delayq_due(&q, 12 * MS);
    assert_non_null(p);
    assert_int_equal(p->data[0], i);
    delayq_pop(&q);
  }
  assert_null(delayq_due(&q, 100 * MS));
  assert_int_equal(q.in, 3);
  assert_int_equal(q.out, 3);
  /* Slots are reused from the free list. */
  assert_non_null(q.free_list);
  dq_pkt *again = delayq_slot(&q);
  assert_non_null(again);
  delayq_unslot(&q, again);
  delayq_free(&q);
}

static void test_delay_change_keeps_order(void **state) {
  (void)state;
  delayq q;
  delayq_init(&q, 10, 150 * MS, 0);
  dq_pkt *a = delayq_slot(&q);
  delayq_push(&q, a, 0, 0.5);
  /* The delay drops (an RTT change): the next packet still leaves after the first. */
  q.delay_ns = 15 * MS;
  dq_pkt *b = delayq_slot(&q);
  delayq_push(&q, b, 1 * MS, 0.5);
  assert_int_equal(b->release_ns, 150 * MS);
  delayq_free(&q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_release_delay_and_jitter),
      cmocka_unit_test(test_queue_fifo_and_due),
      cmocka_unit_test(test_delay_change_keeps_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
