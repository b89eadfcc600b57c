/* Unit tests for lib/plan/estimate: buckets, request counts, the duration
 * model's three bounds, measured rates, formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "plan/estimate.h"

#define MiB (1024.0 * 1024.0)

static est_params_t params(void) {
  est_params_t p;
  memset(&p, 0, sizeof(p));
  p.workers = 1;
  p.concurrency = 32;
  p.request_s = 0.02;
  p.src_rate = 100 * MiB;
  p.dst_rate = 100 * MiB;
  p.dst_type = STORE_COS;
  p.multipart_threshold = 64ull << 20;
  p.part_size = 16ull << 20;
  return p;
}

static void test_buckets(void **state) {
  uint64_t lo, hi;
  (void)state;
  assert_int_equal(est_bucket(0), 0);
  assert_int_equal(est_bucket(1), 1);
  assert_int_equal(est_bucket(2), 2);
  assert_int_equal(est_bucket(3), 2);
  assert_int_equal(est_bucket(1023), 10);
  assert_int_equal(est_bucket(1024), 11);
  assert_int_equal(est_bucket(UINT64_MAX), 64);
  est_bucket_range(0, &lo, &hi);
  assert_true(lo == 0 && hi == 1);
  est_bucket_range(11, &lo, &hi);
  assert_true(lo == 1024 && hi == 2048);
  est_bucket_range(64, &lo, &hi);
  assert_true(lo == (1ull << 63) && hi == 0);
  /* Every size lies in its bucket's range. */
  for (lo = 1; lo < (1ull << 40); lo = lo * 3 + 1) {
    uint64_t a, b;
    est_bucket_range(est_bucket(lo), &a, &b);
    assert_true(lo >= a && lo < b);
  }
}

static void test_requests(void **state) {
  est_params_t p = params();
  est_t e;
  (void)state;
  est_init(&e, &p);
  assert_true(est_requests(&e, 0) == 2);
  assert_true(est_requests(&e, (64ull << 20) - 1) == 2);
  /* From the threshold (64 MiB) up, multipart: 4 parts -> 3 + 8. */
  assert_true(est_requests(&e, 64ull << 20) == 3 + 8);
  /* 100 MiB in 16 MiB parts: 7 parts -> HEAD + init + 14 + complete. */
  assert_true(est_requests(&e, 100ull << 20) == 3 + 14);
  p.head_dst = 1;
  est_init(&e, &p);
  assert_true(est_requests(&e, 10) == 3);
  assert_true(est_requests(&e, 100ull << 20) == 4 + 14);
  est_add(&e, 10);
  est_add(&e, 100ull << 20);
  assert_int_equal(e.objects, 2);
  assert_int_equal(e.multipart, 1);
  assert_true(e.requests == 3 + 18);
  assert_int_equal(e.count[est_bucket(10)], 1);
  assert_int_equal(e.bucket_bytes[est_bucket(100ull << 20)], 100ull << 20);
}

static void test_model_bounds(void **state) {
  est_params_t p = params();
  est_t *e = test_malloc(sizeof(*e));
  est_result_t r;
  int i;
  (void)state;
  /* 10 000 small objects: request overhead bound, 20 000 x 0.02 / 16. */
  est_init(e, &p);
  for (i = 0; i < 10000; i++) est_add(e, 1000);
  est_compute(e, &r);
  assert_true(r.t_requests > 24.99 && r.t_requests < 25.01);
  assert_string_equal(r.bound, "request overhead");
  assert_true(r.t_estimate == r.t_model && r.t_measured < 0);
  /* Four workers: a quarter. */
  p.workers = 4;
  est_init(e, &p);
  for (i = 0; i < 10000; i++) est_add(e, 1000);
  est_compute(e, &r);
  assert_true(r.t_estimate > 6.24 && r.t_estimate < 6.26);
  /* Big objects: transfer bound, B / (W x min(src, dst)); a task bandwidth
   * limit caps the fleet. */
  p = params();
  p.dst_rate = 50 * MiB;
  p.workers = 2;
  est_init(e, &p);
  for (i = 0; i < 10; i++) est_add(e, 1000ull << 20);
  est_compute(e, &r);
  assert_string_equal(r.bound, "transfer");
  assert_true(r.fleet_bps == 100 * MiB);
  assert_true(r.t_transfer > 99.9 && r.t_transfer < 100.1);
  p.task_bw = 10 * MiB;
  est_init(e, &p);
  for (i = 0; i < 10; i++) est_add(e, 1000ull << 20);
  est_compute(e, &r);
  assert_true(r.t_estimate > 999.9 && r.t_estimate < 1000.1);
  /* A worker bandwidth limit is per worker. */
  p.task_bw = 0;
  p.worker_bw = 1 * MiB;
  est_init(e, &p);
  est_add(e, 100ull << 20);
  est_compute(e, &r);
  assert_true(r.t_transfer > 49.9 && r.t_transfer < 50.1);
  /* QPS: the lower of the task's and the fleet of workers'. */
  p = params();
  p.task_qps = 100;
  p.worker_qps = 10;
  p.workers = 3;
  est_init(e, &p);
  for (i = 0; i < 300; i++) est_add(e, 1);
  est_compute(e, &r);
  assert_string_equal(r.bound, "qps limit");
  assert_true(r.fleet_qps == 30);
  assert_true(r.t_qps > 19.99 && r.t_qps < 20.01);
  /* Unbounded rates: no transfer term. */
  p = params();
  p.src_rate = p.dst_rate = 0;
  p.request_s = 0;
  est_init(e, &p);
  est_add(e, 1ull << 30);
  est_compute(e, &r);
  assert_true(r.t_estimate == 0);
  assert_string_equal(r.bound, "nothing");
  test_free(e);
}

#define NEAR(x, v) assert_true((x) > (v) - 0.001 && (x) < (v) + 0.001)

/* 3 x 64 MiB alone each; 12 x 10 MiB three to a segment; 300 x 32 KiB: the
 * first 64 fill the last medium segment to exactly 32 MiB, 236 more make
 * segment 8. Worker i mod 4 (8 partitions): 64 + 30, 64 + 30, 64 + 32,
 * 30 + 7.375 MiB. */
static void add_mixed(est_t *e, const est_params_t *p, est_result_t *r) {
  int i;
  est_init(e, p);
  for (i = 0; i < 3; i++) est_add(e, 64ull << 20);
  for (i = 0; i < 12; i++) est_add(e, 10ull << 20);
  for (i = 0; i < 300; i++) est_add(e, 32ull << 10);
  est_compute(e, r);
}

/* The lister's cut and the round-robin placement: the slowest worker's
 * share bounds a task of a few large objects, not its balanced mean. */
static void test_placement(void **state) {
  est_params_t p = params();
  est_t *e = test_malloc(sizeof(*e));
  est_result_t r;
  (void)state;
  p.workers = 4;
  p.partitions = 8;
  p.seg_max_bytes = 32ull << 20;
  p.multipart_threshold = 1ull << 40;  /* requests do not matter here */
  p.request_s = 0;
  p.measured_bps = 1 * MiB;            /* per worker */
  /* A mixed trial's objects/s, held down by its large objects: the
   * balanced N / (W x o) = 315 / 2 = 157.5 s bounds the task, but a share
   * is weighed by its bytes, or the worker holding the 236 small objects
   * would be charged 239 / 0.5 = 478 s for 37 MiB. */
  p.measured_ops = 0.5;
  p.start_s = 5;
  add_mixed(e, &p, &r);
  assert_int_equal(r.segments, 8);
  NEAR(r.t_placed, 96.0);
  NEAR(r.t_placed_lo, 96.0);
  NEAR(r.t_placed_hi, 96.0);
  NEAR(r.t_measured, 157.5);
  NEAR(r.t_estimate, 162.5);           /* + the start */
  assert_string_equal(r.bound, "measured rate");
  /* Without the objects/s the busiest share, not the balanced 321.375 / 4,
   * bounds it. */
  p.measured_ops = 0;
  est_release(e);
  add_mixed(e, &p, &r);
  NEAR(r.t_measured, 96.0);
  NEAR(r.t_estimate, 101.0);
  assert_string_equal(r.bound, "slowest worker's share");
  est_release(e);

  /* Where the run starts matters when W does not divide P: 2 segments, 3
   * partitions, 2 workers: partitions {0,1} or {1,2} go to both workers,
   * {2,0} to worker 0 alone. */
  p = params();
  p.workers = 2;
  p.partitions = 3;
  p.seg_max_objects = 1;
  p.request_s = 0;
  p.measured_bps = 1 * MiB;
  est_init(e, &p);
  est_add(e, 1ull << 20);
  est_add(e, 1ull << 20);
  est_compute(e, &r);
  assert_int_equal(r.segments, 2);
  NEAR(r.t_placed_lo, 1.0);
  NEAR(r.t_placed_hi, 2.0);
  NEAR(r.t_placed, 4.0 / 3);
  est_release(e);

  /* Fan-out: a 256 MiB object from the threshold up goes in 8 part ranges
   * of 32 MiB (2 parts of 16 MiB each), two per worker: 64 s, not 256. The
   * model's own rates (no measurement) place the same way. */
  p = params();
  p.workers = 4;
  p.partitions = 8;
  p.seg_max_bytes = 32ull << 20;
  p.fanout_threshold = 256ull << 20;
  p.request_s = 0;
  p.src_rate = p.dst_rate = 1 * MiB;
  est_init(e, &p);
  est_add(e, 256ull << 20);
  est_compute(e, &r);
  assert_int_equal(r.segments, 8);
  NEAR(r.t_placed, 64.0);
  NEAR(r.t_model, 64.0);
  p.fanout_threshold = 0;              /* whole, on one worker */
  est_release(e);
  est_init(e, &p);
  est_add(e, 256ull << 20);
  est_compute(e, &r);
  NEAR(r.t_placed, 256.0);
  assert_string_equal(r.bound, "slowest worker's share");
  est_release(e);
  test_free(e);
}

static void test_measured(void **state) {
  est_params_t p = params();
  est_t *e = test_malloc(sizeof(*e));
  est_result_t r;
  int i;
  (void)state;
  p.measured_ops = 100;       /* objects/s per worker */
  p.measured_bps = 10 * MiB;  /* bytes/s per worker */
  p.workers = 2;
  est_init(e, &p);
  for (i = 0; i < 1000; i++) est_add(e, 1024);
  est_compute(e, &r);
  /* max(1000 / 200, 1000 KiB / 20 MiB) = 5 s */
  assert_true(r.t_measured > 4.99 && r.t_measured < 5.01);
  assert_true(r.t_estimate == r.t_measured);
  assert_string_equal(r.bound, "measured rate");
  /* Configured limits still hold for the measured estimate. */
  p.task_qps = 100;
  est_init(e, &p);
  for (i = 0; i < 1000; i++) est_add(e, 1024);
  est_compute(e, &r);
  assert_true(r.t_estimate > 19.99 && r.t_estimate < 20.01);
  assert_string_equal(r.bound, "qps limit");
  p.task_qps = 0;
  p.task_bw = 10 * 1024;
  est_init(e, &p);
  for (i = 0; i < 1000; i++) est_add(e, 1024);
  est_compute(e, &r);
  assert_true(r.t_estimate > 99.9 && r.t_estimate < 100.1);
  assert_string_equal(r.bound, "bandwidth limit");
  test_free(e);
}

static void test_format(void **state) {
  char b[64];
  (void)state;
  est_fmt_size(b, sizeof(b), 12);
  assert_string_equal(b, "12 B");
  est_fmt_size(b, sizeof(b), 1536);
  assert_string_equal(b, "1.5 KiB");
  est_fmt_size(b, sizeof(b), 100 * MiB);
  assert_string_equal(b, "100 MiB");
  est_fmt_duration(b, sizeof(b), 0.42);
  assert_string_equal(b, "0.4 s");
  est_fmt_duration(b, sizeof(b), 42);
  assert_string_equal(b, "42 s");
  est_fmt_duration(b, sizeof(b), 185);
  assert_string_equal(b, "3 min 05 s");
  est_fmt_duration(b, sizeof(b), 7440);
  assert_string_equal(b, "2 h 04 min");
  est_fmt_duration(b, sizeof(b), 3 * 86400 + 7200);
  assert_string_equal(b, "3 d 02 h");
  est_fmt_duration(b, sizeof(b), -1);
  assert_string_equal(b, "0.0 s");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_buckets),      cmocka_unit_test(test_requests),
      cmocka_unit_test(test_model_bounds), cmocka_unit_test(test_measured),
      cmocka_unit_test(test_placement),
      cmocka_unit_test(test_format),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
