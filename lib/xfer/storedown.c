/* storedown.c: a store's down/up state (xfer/storedown.h). */
#include "xfer/storedown.h"

#include <string.h>

sd_answer_t sd_classify(long http_status, int net_failure) {
  if (http_status == 0) return net_failure ? SD_FAILURE : SD_NEUTRAL;
  if (http_status >= 500 || http_status == 408 || http_status == 429) return SD_FAILURE;
  return SD_ANSWER;
}

void sd_init(storedown_t *s) { memset(s, 0, sizeof(*s)); }

int sd_note(storedown_t *s, sd_answer_t a, int64_t now_us) {
  if (a == SD_NEUTRAL) return 0;
  if (a == SD_ANSWER) {
    int was = s->down;
    s->failures = 0;
    s->down = 0;
    s->probe_started_us = 0;
    return was ? -1 : 0;
  }
  if (s->down) {
    /* The probe failed (a request started before the store went down says
     * nothing new): the next probe waits twice as long. */
    if (!s->probe_started_us) return 0;
    s->probe_started_us = 0;
    s->next_probe_us = now_us + s->probe_delay_us;
    s->probe_delay_us *= 2;
    if (s->probe_delay_us > SD_PROBE_MAX_US) s->probe_delay_us = SD_PROBE_MAX_US;
    return 0;
  }
  if (++s->failures < SD_FAILURES) return 0;
  s->down = 1;
  s->down_since_us = now_us;
  s->next_probe_us = now_us + SD_PROBE_MIN_US;
  s->probe_delay_us = 2 * SD_PROBE_MIN_US;
  s->probe_started_us = 0;
  return 1;
}

int sd_may_start(const storedown_t *s, int64_t now_us, int64_t *wake_us) {
  int64_t at = s->next_probe_us;
  if (!s->down) return 1;
  if (s->probe_started_us && now_us - s->probe_started_us < SD_PROBE_LOST_US) {
    at = s->probe_started_us + SD_PROBE_LOST_US;
  } else if (now_us >= s->next_probe_us) {
    return 2;
  }
  if (wake_us && (!*wake_us || at < *wake_us)) *wake_us = at;
  return 0;
}

void sd_probe_started(storedown_t *s, int64_t now_us) { s->probe_started_us = now_us; }

int sd_expired(const storedown_t *s, int64_t now_us, int64_t max_down_us) {
  return s->down && max_down_us > 0 && now_us - s->down_since_us >= max_down_us;
}
