/*
 * libFuzzer target: the config module's pure value parsers (sizes,
 * durations, dates, time windows, locations; lib/conf/config.h), which the
 * loader applies to every such key. The first byte picks the parser
 * ((byte - '0') mod 5: '0' size, '1' duration, '2' time, '3' window, '4'
 * location, as the seeds start); the rest, up to a NUL,
 * is the value.
 *
 * Checked: out is untouched on error and the error is said; results are in
 * the documented ranges.
 */
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s, eb[FERRY_ERRLEN];
  ferry_err_t rc;
  if (size < 1) return 0;
  s = malloc(size);
  FUZZ_CHECK(s != NULL);
  memcpy(s, data + 1, size - 1);
  s[size - 1] = '\0';
  eb[0] = '\0';
  switch ((uint8_t)(data[0] - '0') % 5) {
    case 0: {
      uint64_t v = 12345;
      rc = conf_parse_size(s, &v, eb);
      FUZZ_CHECK(rc == FERRY_OK || (v == 12345 && eb[0]));
      break;
    }
    case 1: {
      int64_t ms = -12345;
      rc = conf_parse_duration(s, (size % 2) ? 1 : 1000, &ms, eb);
      FUZZ_CHECK(rc == FERRY_OK ? ms >= 0 : ms == -12345 && eb[0]);
      break;
    }
    case 2: {
      int64_t t = 12345;
      rc = conf_parse_time(s, &t, eb);
      FUZZ_CHECK(rc == FERRY_OK || (t == 12345 && eb[0]));
      break;
    }
    case 3: {
      conf_window_t w = {-7, -7};
      int m;
      rc = conf_parse_window(s, &w, eb);
      if (rc == FERRY_OK) {
        FUZZ_CHECK(w.start_min >= 0 && w.start_min < 1440);
        FUZZ_CHECK(w.end_min >= 0 && w.end_min <= 1440);
        for (m = 0; m < 1440; m += 97) {
          conf_windows_t ws = {&w, 1};
          (void)conf_windows_allow(&ws, m);
        }
      } else {
        FUZZ_CHECK(w.start_min == -7 && w.end_min == -7 && eb[0]);
      }
      break;
    }
    default: {
      conf_loc_t l;
      rc = conf_parse_location(s, &l, eb);
      if (rc == FERRY_OK) {
        if (l.kind == CONF_LOC_URLS) {
          FUZZ_CHECK(l.path && *l.path && !l.store && !l.bucket);
        } else {
          FUZZ_CHECK(l.kind == CONF_LOC_STORE);
          FUZZ_CHECK(l.store && *l.store && l.bucket && *l.bucket && l.prefix);
        }
        conf_loc_release(&l);
      } else {
        FUZZ_CHECK(eb[0] != '\0');
      }
      break;
    }
  }
  free(s);
  return 0;
}
