/* metrics.c: see metrics.h. */
#include "worker/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "core/ferry.h"
#include "web/httpd.h"
#include "web/promtext.h"

struct wmetrics {
  httpd_t *h;
  pthread_mutex_t lock;
  char *text;               /* the latest rendering, under lock */
  size_t len;
  _Atomic int64_t beat_us;  /* ferry_now_us() of the last loop turn */
};

static enum MHD_Result on_get(void *cls, struct MHD_Connection *c, const char *url, int get) {
  wmetrics_t *wm = cls;
  fbuf_t b;
  if (strcmp(url, "/metrics") != 0) return httpd_send_error(c, MHD_HTTP_NOT_FOUND, "not found", NULL);
  if (!get) return httpd_send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", NULL);
  fbuf_init(&b, HTTPD_MAX_BODY);
  pthread_mutex_lock(&wm->lock);
  if (wm->text) fbuf_add(&b, wm->text, wm->len);
  pthread_mutex_unlock(&wm->lock);
  prom_head(&b, "ferry_worker_loop_age_seconds", "gauge",
            "Seconds since the worker's loop last turned (its watchdog ends it at 120).");
  prom_f64(&b, "ferry_worker_loop_age_seconds", NULL,
           (double)(ferry_now_us() - atomic_load(&wm->beat_us)) / 1e6);
  return httpd_send_text(c, "text/plain; version=0.0.4; charset=utf-8", &b, NULL);
}

wmetrics_t *wmetrics_start(const char *listen, char *errbuf) {
  wmetrics_t *wm = fx_calloc(1, sizeof(*wm));
  pthread_mutex_init(&wm->lock, NULL);
  atomic_store(&wm->beat_us, ferry_now_us());
  wm->h = httpd_new("worker-metrics", listen, on_get, wm, errbuf);
  if (!wm->h) {
    pthread_mutex_destroy(&wm->lock);
    fx_free(wm);
    return NULL;
  }
  return wm;
}

void wmetrics_publish(wmetrics_t *wm, const xmetrics_t *m, const xfer_engine_t *e) {
  fbuf_t b;
  char *old;
  if (!wm) return;
  fbuf_init(&b, 0);
  xmetrics_render(m, e, &b);
  pthread_mutex_lock(&wm->lock);
  old = wm->text;
  wm->len = b.len;
  wm->text = fbuf_steal(&b);
  pthread_mutex_unlock(&wm->lock);
  fx_free(old);
}

void wmetrics_beat(wmetrics_t *wm) {
  if (wm) atomic_store(&wm->beat_us, ferry_now_us());
}

void wmetrics_stop(wmetrics_t *wm) {
  if (!wm) return;
  httpd_destroy(wm->h);   /* first: its thread reads the text */
  pthread_mutex_destroy(&wm->lock);
  fx_free(wm->text);
  fx_free(wm);
}

const char *wmetrics_url(const wmetrics_t *wm) { return wm ? httpd_url(wm->h) : NULL; }
