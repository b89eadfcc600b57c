/* window.c: is now inside one of worker.windows? (window.h) */
#include "worker/window.h"

#include <time.h>

#include "core/buf.h"
#include "core/log.h"

#define FAC "worker"

static void describe(const conf_windows_t *ws, fbuf_t *out) {
  size_t i;
  for (i = 0; i < ws->n; i++)
    fbuf_addf(out, "%s%02d:%02d-%02d:%02d", i ? "," : "", ws->v[i].start_min / 60,
              ws->v[i].start_min % 60, ws->v[i].end_min / 60, ws->v[i].end_min % 60);
}

int wwin_open(wwin_t *w, const conf_windows_t *ws) {
  int64_t now = ferry_now_us();
  if (!ws || ws->n == 0) return 1;
  if (w->state < 0 || now >= w->next_check_us) {
    time_t t = time(NULL);
    struct tm tm;
    int open;
    localtime_r(&t, &tm);
    open = conf_windows_allow(ws, tm.tm_hour * 60 + tm.tm_min);
    w->next_check_us = now + 1000000;
    if (open != w->state) {
      fbuf_t b;
      fbuf_init(&b, 0);
      describe(ws, &b);
      if (open)
        LOG_INFO(FAC,
                 "event=window state=inside time=%02d:%02d windows=%s msg=\"inside a "
                 "copy window: taking segments\"",
                 tm.tm_hour, tm.tm_min, FLOG_Q(fbuf_str(&b)));
      else
        LOG_INFO(FAC,
                 "event=window state=outside time=%02d:%02d windows=%s msg=\"outside "
                 "every copy window: no new segments until the next one\"",
                 tm.tm_hour, tm.tm_min, FLOG_Q(fbuf_str(&b)));
      fbuf_release(&b);
      w->state = open;
    }
  }
  return w->state;
}
