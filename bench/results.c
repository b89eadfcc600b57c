/*
 * results.c: ferry-bench-results, a BENCH-ONLY stand-in for the workers'
 * reporting side (bench/scale.sh): it reads a task run's segments from the
 * task's segments topic (<prefix>segments.<task>; the legacy segments topic
 * when that one does not exist) (bus_scan, from the beginning to the high watermark) and
 * publishes, for each, the result a worker would publish had it copied every
 * object: n_copied = n_objects, bytes = the sum of the sizes, no outcomes
 * (in a run > 1, a replay, one "copied" outcome per object, as a worker
 * lists them there).
 * Same codec (msg_result_encode) and producer (bus_producer_send, key = task)
 * as ferry-worker; nothing is copied. It lets the reporter's ingest of a
 * 10 M-object task be measured on one machine. With --fail-every K, every
 * K-th object (in listing order) is reported failed instead (HTTP 503
 * SlowDown after 5 attempts), in the result's outcomes and with a record on
 * the failed topic, as a worker reports it: the reporter keeps such objects
 * one by one (for --export-failed), so this is its memory under failures.
 *
 *   ferry-bench-results -c CONF -t TASK [--run N] [--fail-every K]
 *                       [--segments-from FILE]
 *
 * --segments-from reads the segments from a `ferry-lister --segments-to`
 * file instead: the dev broker (librdkafka's mock cluster) keeps only the
 * newest few MB of each partition, so at 10 M objects the first segments are
 * gone before they can be read back.
 *
 * Prints "results: S segments, O objects, B bytes in T s" on stderr.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus/bus.h"
#include "conf/busconf.h"
#include "bus/msg.h"
#include "bus/topicscan.h"
#include "conf/config.h"
#include "core/log.h"

typedef struct ctx {
  const char *task;
  int run;
  bus_producer_t *prod;
  uint64_t segments, objects, bytes, bad, failed, fail_every, seen, n_failed;
  ferry_err_t err;
  char eb[FERRY_ERRLEN];
} ctx_t;

static void on_delivery(const bus_delivery_t *d, void *c) {
  ctx_t *x = c;
  if (d->err) x->failed++;
}

static int on_segment(const bus_msg_t *m, void *c) {
  ctx_t *x = c;
  msg_segment_t s;
  msg_result_t r;
  char eb[FERRY_ERRLEN], *json;
  size_t i;
  int64_t now;
  if (!m->value || msg_segment_decode(m->value, m->len, &s, eb)) {
    x->bad++;
    return 0;
  }
  if (strcmp(s.task, x->task) != 0 || (x->run && s.run != x->run)) {
    msg_segment_release(&s);
    return 0;
  }
  now = ferry_wall_ms();
  memset(&r, 0, sizeof(r));
  r.task = s.task;
  r.segment = s.id;
  r.run = s.run;
  r.worker = "bench-results";
  r.n_objects = s.n_objs;
  r.outcomes = fx_calloc(s.n_objs, sizeof(*r.outcomes));
  for (i = 0; i < s.n_objs; i++) {
    x->seen++;
    if (x->fail_every && x->seen % x->fail_every == 0) {
      msg_outcome_t *oc = &r.outcomes[r.n_outcomes++];
      msg_failed_t f;
      char *fj;
      oc->key = s.objs[i].key;
      oc->size = s.objs[i].size;
      oc->status = ST_FAILED;
      oc->reason = "http-503";
      oc->attempts = 5;
      oc->duration_ms = 30000;
      oc->http_status = 503;
      oc->code = "SlowDown";
      oc->message = "Please reduce your request rate.";
      oc->etag = s.objs[i].etag;
      r.n_failed++;
      x->n_failed++;
      memset(&f, 0, sizeof(f));
      f.task = s.task;
      f.segment = s.id;
      f.run = s.run;
      f.src = s.src;
      f.dst = s.dst;
      f.obj = s.objs[i];
      f.outcome = *oc;
      f.at_ms = now;
      fj = msg_failed_encode(&f);
      if (!fj || (x->err = bus_producer_send(x->prod, BUS_FAILED, s.task, fj, strlen(fj),
                                             NULL, x->eb))) {
        fx_free(fj);
        fx_free(r.outcomes);
        msg_segment_release(&s);
        if (!x->err) x->err = ferry_seterr(x->eb, FERRY_ERR_INVALID, "failed record encoding");
        return 1;
      }
      fx_free(fj);
    } else {
      r.n_copied++;
      r.bytes += s.objs[i].size;
      /* A worker's result of a run > 1 (a replay) lists the copied objects
       * too (worker/segrun.c): the reporter moves them out of the failed set. */
      if (s.run > 1) {
        msg_outcome_t *oc = &r.outcomes[r.n_outcomes++];
        oc->key = s.objs[i].key;
        oc->size = s.objs[i].size;
        oc->status = ST_COPIED;
        oc->bytes = s.objs[i].size;
        oc->attempts = 1;
        oc->duration_ms = 20;
        oc->etag = s.objs[i].etag;
      }
    }
  }
  r.started_ms = r.finished_ms = now;
  json = msg_result_encode(&r);
  fx_free(r.outcomes);
  if (!json) {
    x->bad++;
  } else if ((x->err = bus_producer_send(x->prod, BUS_RESULTS, s.task, json, strlen(json),
                                         NULL, x->eb))) {
    fx_free(json);
    msg_segment_release(&s);
    return 1;
  } else {
    x->segments++;
    x->objects += s.n_objs;
    x->bytes += r.bytes;
    fx_free(json);
  }
  msg_segment_release(&s);
  bus_producer_poll(x->prod, 0);
  return 0;
}

int main(int argc, char **argv) {
  const char *config = getenv("FERRY_CONFIG"), *from = NULL;
  ctx_t x;
  ferry_conf_t *conf;
  bus_conf_t bc;
  char eb[FERRY_ERRLEN];
  int c;
  int64_t t0, t1;
  static const struct option lo[] = {{"config", 1, 0, 'c'}, {"task", 1, 0, 't'},
                                     {"run", 1, 0, 'r'}, {"fail-every", 1, 0, 'f'},
                                     {"segments-from", 1, 0, 's'},
                                     {0, 0, 0, 0}};
  memset(&x, 0, sizeof(x));
  while ((c = getopt_long(argc, argv, "c:t:r:", lo, NULL)) != -1) {
    if (c == 'c') config = optarg;
    else if (c == 't') x.task = optarg;
    else if (c == 'r') x.run = atoi(optarg);
    else if (c == 'f') x.fail_every = strtoull(optarg, NULL, 10);
    else if (c == 's') from = optarg;
    else {
      fputs("usage: ferry-bench-results -c CONF -t TASK [--run N] [--fail-every K] [--segments-from FILE]  (bench only)\n", stderr);
      return 2;
    }
  }
  if (!config || !x.task) {
    fputs("usage: ferry-bench-results -c CONF -t TASK [--run N] [--fail-every K] [--segments-from FILE]  (bench only)\n", stderr);
    return 2;
  }
  conf = conf_load_or_exit(config, CONF_SKIP_CREDENTIALS);
  if (bus_conf_from_kafka(&bc, &conf->kafka, eb) || !(x.prod = bus_producer_new(&bc, on_delivery, &x, eb))) {
    fprintf(stderr, "ferry-bench-results: %s\n", eb);
    return 1;
  }
  t0 = ferry_now_us();
  if (from) {
    FILE *f = fopen(from, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    if (!f) {
      fprintf(stderr, "ferry-bench-results: %s: cannot open\n", from);
      return 1;
    }
    while ((n = getline(&line, &cap, f)) > 0) {
      bus_msg_t m;
      memset(&m, 0, sizeof(m));
      m.value = line;
      m.len = (size_t)n;
      if (on_segment(&m, &x)) break;
    }
    free(line);
    fclose(f);
  } else {
    char *topic = bus_segments_topic(&bc, x.task);
    ferry_err_t e = topic ? bus_scan_named(&bc, topic, 30000, on_segment, &x, NULL, eb)
                          : FERRY_ERR_NOTFOUND;
    if (e == FERRY_ERR_NOTFOUND) e = bus_scan(&bc, BUS_SEGMENTS, 30000, on_segment, &x, NULL, eb);
    fx_free(topic);
    if (e) {
      fprintf(stderr, "ferry-bench-results: %s\n", eb);
      return 1;
    }
  }
  if (x.err || bus_producer_flush(x.prod, 120000, eb) || x.failed) {
    fprintf(stderr, "ferry-bench-results: %s (%" PRIu64 " deliveries failed)\n",
            x.err ? x.eb : eb, x.failed);
    return 1;
  }
  t1 = ferry_now_us();
  fprintf(stderr, "results: %" PRIu64 " segments, %" PRIu64 " objects (%" PRIu64
          " failed), %" PRIu64 " bytes in %.2f s (%" PRIu64 " undecodable skipped)\n",
          x.segments, x.objects, x.n_failed, x.bytes, (double)(t1 - t0) / 1e6, x.bad);
  bus_producer_destroy(x.prod);
  bus_conf_release(&bc);
  conf_destroy(conf);
  return 0;
}
