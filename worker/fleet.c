/* fleet.c: each task's own limits, shared by the workers working on it. */
#include "worker/fleet.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "xfer/fleetshare.h"

#define FAC "worker"
/* The heartbeat reader starts this many messages back (a few seconds of a
 * large fleet); older heartbeats are dropped by their age anyway. */
#define HB_TAIL 2000
/* A task idle here for less than this stays named in the heartbeat (the gap
 * between two of its segments is not a departure; the next one is usually
 * fetched already). */
#define IDLE_LINGER_MS 250
/* Changes of the task set are published at most this often. */
#define HB_MIN_GAP_MS 100
#define READER_RETRY_MS 30000
#define MAX_TASKS 256

typedef struct wtask {
  char *task;
  uint64_t qps, bw;          /* fleet-wide; 0 = unlimited */
  int64_t since_ms;          /* working on it here since; 0 = not */
  int64_t idle_ms;           /* no objects of it here since; 0 = busy */
  int echoed;                /* our heartbeat naming it was read back */
  uint64_t share_qps, share_bw;  /* last applied */
  size_t peers;
} wtask_t;

struct wfleet {
  const ferry_conf_t *conf;
  const bus_conf_t *bc;
  bus_consumer_t *reader;
  int64_t reader_retry_ms;
  fleetshare_t peers;
  char *self;                /* id/instance */
  char *instance;
  wtask_t *tasks;
  size_t n_tasks;
  int64_t next_hb_ms, last_hb_ms;
  char *last_set;            /* tasks named in the last heartbeat */
  int assigned, total;
};

static void open_reader(wfleet_t *f) {
  char errbuf[FERRY_ERRLEN];
  f->reader_retry_ms = ferry_mono_ms() + READER_RETRY_MS;
  f->reader = bus_reader_new_tail(f->bc, BUS_WORKERS, HB_TAIL, errbuf);
  if (!f->reader)
    LOG_WARN(FAC, "event=heartbeats-unread error=%s msg=\"task limits are shared by the "
             "partition estimate until the workers topic can be read\"", FLOG_Q(errbuf));
}

wfleet_t *wfleet_new(const ferry_conf_t *conf, const bus_conf_t *bc) {
  wfleet_t *f = fx_calloc(1, sizeof(*f));
  f->conf = conf;
  f->bc = bc;
  fs_init(&f->peers);
  f->instance = fx_asprintf("%ld-%" PRIx64, (long)getpid(), (uint64_t)ferry_now_us());
  f->self = fx_asprintf("%s/%s", conf->worker.id ? conf->worker.id : "", f->instance);
  if (bc) open_reader(f);
  return f;
}

void wfleet_destroy(wfleet_t *f) {
  size_t i;
  if (!f) return;
  bus_consumer_destroy(f->reader);
  fs_release(&f->peers);
  for (i = 0; i < f->n_tasks; i++) fx_free(f->tasks[i].task);
  fx_free(f->tasks);
  fx_free(f->self);
  fx_free(f->instance);
  fx_free(f->last_set);
  fx_free(f);
}

void wfleet_partitions(wfleet_t *f, int assigned, int total) {
  f->assigned = assigned;
  f->total = total;
}

static wtask_t *task_find(wfleet_t *f, const char *name) {
  size_t i;
  for (i = 0; i < f->n_tasks; i++)
    if (strcmp(f->tasks[i].task, name) == 0) return &f->tasks[i];
  return NULL;
}

static wtask_t *task_get(wfleet_t *f, const char *name) {
  wtask_t *t = task_find(f, name);
  if (t) return t;
  f->tasks = fx_realloc(f->tasks, (f->n_tasks + 1) * sizeof(*f->tasks));
  memset(&f->tasks[f->n_tasks], 0, sizeof(*f->tasks));
  f->tasks[f->n_tasks].task = fx_strdup(name);
  return &f->tasks[f->n_tasks++];
}

/* This worker's share of the task's limits, to the engine when it moved. */
static void apply_share(wfleet_t *f, xfer_engine_t *e, wtask_t *t, int64_t now) {
  size_t rank;
  size_t peers = fs_peers_on(&f->peers, f->self, t->task, now, &rank);
  /* Alone (--segments-from) the estimate is 1; without heartbeats read
   * back, the partition estimate holds. */
  int est = f->bc ? fs_group_estimate(f->assigned, f->total) : 1;
  uint64_t q = fs_share(t->qps, peers, rank, !t->echoed, est);
  uint64_t b = fs_share(t->bw, peers, rank, !t->echoed, est);
  if (q == t->share_qps && b == t->share_bw) return;
  t->share_qps = q;
  t->share_bw = b;
  t->peers = peers;
  xfer_task_limits(e, t->task, (double)q, (double)b);
  LOG_INFO(FAC, "event=limits task=%s peers=%zu fleet_qps=%" PRIu64 " qps=%" PRIu64
           " fleet_bandwidth=%" PRIu64 " bandwidth=%" PRIu64,
           FLOG_V(t->task), peers, t->qps, q, t->bw, b);
}

void wfleet_segment(wfleet_t *f, xfer_engine_t *e, const msg_segment_t *seg) {
  wtask_t *t = task_get(f, seg->task);
  int64_t now = ferry_mono_ms();
  if (seg->has_limits) {
    t->qps = seg->qps_limit;
    t->bw = seg->bandwidth_limit;
  } else {
    const task_conf_t *tc = conf_task(f->conf, seg->task);
    t->qps = tc ? tc->qps_limit : 0;
    t->bw = tc ? tc->bandwidth_limit : 0;
  }
  if (!t->since_ms) t->since_ms = now;
  t->idle_ms = 0;
  apply_share(f, e, t, now);
}

static void read_heartbeats(wfleet_t *f) {
  int k;
  if (!f->reader) {
    if (f->bc && ferry_mono_ms() >= f->reader_retry_ms) open_reader(f);
    return;
  }
  for (k = 0; k < 512; k++) {
    char errbuf[FERRY_ERRLEN];
    bus_msg_t *m = NULL;
    msg_heartbeat_t hb;
    const char *names[MAX_TASKS];
    char *who;
    size_t i, n;
    if (bus_consumer_poll(f->reader, 0, &m, errbuf) != FERRY_OK) break;
    if (!m->value || msg_heartbeat_decode(m->value, m->len, &hb, errbuf) != FERRY_OK) {
      LOG_DEBUG(FAC, "event=heartbeat-ignored offset=%" PRId64 " error=%s", m->offset,
                FLOG_Q(m->value ? errbuf : "empty"));
      bus_msg_destroy(m);
      continue;
    }
    bus_msg_destroy(m);
    who = fx_asprintf("%s/%s", hb.worker, hb.instance);
    /* A heartbeat older than its own expiry (history read at start) is
     * news of nothing; clocks of hosts may differ by a few seconds. */
    if (strcmp(who, f->self) == 0) {
      for (i = 0; i < hb.n_tasks; i++) {
        wtask_t *t = task_find(f, hb.tasks[i].task);
        if (t && t->since_ms) t->echoed = 1;
      }
    } else if (ferry_wall_ms() - hb.at_ms < hb.every_ms * FS_MISSED + 5000) {
      n = hb.n_tasks < MAX_TASKS ? hb.n_tasks : MAX_TASKS;
      for (i = 0; i < n; i++) names[i] = hb.tasks[i].task;
      fs_heard(&f->peers, who, ferry_mono_ms(), hb.every_ms, names, n, hb.leaving);
    }
    fx_free(who);
    msg_heartbeat_release(&hb);
  }
}

static void publish(wfleet_t *f, bus_producer_t *p, msg_heartbeat_t *hb) {
  char errbuf[FERRY_ERRLEN];
  char *json;
  hb->worker = f->conf->worker.id ? f->conf->worker.id : "";
  hb->instance = f->instance;
  hb->at_ms = ferry_wall_ms();
  hb->every_ms = FS_EVERY_MS;
  json = msg_heartbeat_encode(hb);
  if (!json || bus_producer_send(p, BUS_WORKERS, hb->worker, json, strlen(json), NULL,
                                 errbuf) != FERRY_OK)
    LOG_DEBUG(FAC, "event=heartbeat-unsent error=%s",
              FLOG_Q(json ? errbuf : "heartbeat not encodable"));
  fx_free(json);
}

/* Marks the tasks busy or idle here from the engine's counts; fills hb with
 * the tasks to name (busy, or idle for less than IDLE_LINGER_MS) and
 * returns their names joined, to notice a change. */
static char *task_set(wfleet_t *f, xfer_engine_t *e, msg_hb_task_t *out, size_t *n_out,
                      int64_t now) {
  xfer_task_stat_t st[MAX_TASKS];
  size_t n = xfer_tasks(e, st, MAX_TASKS), i;
  fbuf_t names;
  fbuf_init(&names, 0);
  *n_out = 0;
  for (i = 0; i < n && i < MAX_TASKS; i++) {
    wtask_t *t = task_get(f, st[i].task);
    if (st[i].jobs > 0) {
      t->idle_ms = 0;
      if (!t->since_ms) t->since_ms = now;
    } else if (t->since_ms && !t->idle_ms) {
      t->idle_ms = now;
    }
    if (t->idle_ms && now - t->idle_ms >= IDLE_LINGER_MS) t->since_ms = t->idle_ms = t->echoed = 0;
    if (!t->since_ms) continue;
    out[*n_out].task = (char *)st[i].task;
    out[*n_out].objects = st[i].jobs;
    out[*n_out].held = st[i].held;
    (*n_out)++;
    fbuf_addf(&names, "%s\n", st[i].task);
  }
  return fbuf_steal(&names);
}

void wfleet_turn(wfleet_t *f, xfer_engine_t *e, bus_producer_t *p) {
  msg_hb_task_t named[MAX_TASKS];
  msg_heartbeat_t hb;
  int64_t now = ferry_mono_ms();
  size_t i;
  char *set;
  read_heartbeats(f);
  memset(&hb, 0, sizeof(hb));
  hb.tasks = named;
  set = task_set(f, e, named, &hb.n_tasks, now);
  if (p && (now >= f->next_hb_ms ||
            (now - f->last_hb_ms >= HB_MIN_GAP_MS && strcmp(set, f->last_set ? f->last_set : "")))) {
    publish(f, p, &hb);
    f->next_hb_ms = now + FS_EVERY_MS;
    f->last_hb_ms = now;
    fx_free(f->last_set);
    f->last_set = set;
    set = NULL;
  }
  fx_free(set);
  /* An idle task keeps its last share until its next segment. */
  for (i = 0; i < f->n_tasks; i++)
    if ((f->tasks[i].qps || f->tasks[i].bw) && f->tasks[i].since_ms)
      apply_share(f, e, &f->tasks[i], now);
}

void wfleet_leave(wfleet_t *f, bus_producer_t *p) {
  msg_heartbeat_t hb;
  if (!p) return;
  memset(&hb, 0, sizeof(hb));
  hb.leaving = 1;
  publish(f, p, &hb);
}

void worker_log_task_totals(const xfer_engine_t *e) {
  xfer_task_stat_t st[MAX_TASKS];
  size_t n = xfer_tasks(e, st, MAX_TASKS), i;
  for (i = 0; i < n && i < MAX_TASKS; i++)
    LOG_INFO(FAC, "event=task-summary task=%s requests=%" PRIu64 " bytes=%" PRIu64
             " qps=%" PRIu64 " bandwidth=%" PRIu64,
             FLOG_V(st[i].task), st[i].requests, st[i].bytes, st[i].qps, st[i].bandwidth);
}
