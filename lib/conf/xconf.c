/* xconf.c: worker config -> engine settings. */
#include "conf/xconf.h"

void xfer_conf_from_config(xfer_conf_t *x, const ferry_conf_t *c) {
  const conf_worker_t *w = &c->worker;
  xfer_conf_defaults(x);
  x->concurrency = (int)w->concurrency;
  x->concurrency_max = (int)w->concurrency_max;
  x->store_down_max_s = w->store_down_max_s;
  x->max_host_conns = w->max_host_conns;
  x->buffer_size = (size_t)w->buffer_size;
  x->small_threshold = w->small_object_threshold;
  x->multipart_threshold = w->multipart_threshold;
  x->part_size = w->part_size;
  x->max_attempts = (int)w->max_attempts;
  x->backoff_base_ms = w->backoff_base_ms;
  x->backoff_max_ms = w->backoff_max_ms;
  x->stall_timeout_s = w->stall_timeout_s;
  x->request_timeout_s = w->request_timeout_s;
  x->complete_timeout_s = w->complete_timeout_s;
  x->qps_limit = (double)w->qps_limit;
  x->bandwidth_limit = (double)w->bandwidth_limit;
  x->storage_class_map = &w->storage_class_map;
  x->record_source_etag = w->record_source_etag;
}
