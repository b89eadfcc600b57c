/* Unit tests for lib/web/promtext.c: the lines /metrics is made of. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "web/promtext.h"

static void test_lines(void **state) {
  fbuf_t b;
  const char *l[] = {"store", "a\"b\\c\nd", "status", "2xx", NULL};
  (void)state;
  fbuf_init(&b, 0);
  prom_head(&b, "m_total", "counter", "Help text.");
  prom_u64(&b, "m_total", l, UINT64_MAX);
  prom_u64(&b, "m_total", NULL, 0);
  prom_f64(&b, "g", (const char *[]){NULL}, 0.5);
  assert_string_equal(fbuf_str(&b),
                      "# HELP m_total Help text.\n# TYPE m_total counter\n"
                      "m_total{store=\"a\\\"b\\\\c\\nd\",status=\"2xx\"} 18446744073709551615\n"
                      "m_total 0\n"
                      "g 0.5\n");
  fbuf_release(&b);
}

static void test_escape_nothing_to_do(void **state) {
  fbuf_t b;
  (void)state;
  fbuf_init(&b, 0);
  prom_label_escape(&b, "plain/ключ");
  prom_label_escape(&b, NULL);
  assert_string_equal(fbuf_str(&b), "plain/ключ");
  fbuf_release(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lines),
      cmocka_unit_test(test_escape_nothing_to_do),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
