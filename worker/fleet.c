/* fleet.c: each task's own limits, shared by the workers working on it. */
#include "worker/fleet.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/units.h"
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
/* The heartbeat's rate is over the last RATE_WINDOW_MS, from one sample
 * of the engine's counters a second. */
#define RATE_WINDOW_MS 10000
#define RATE_SAMPLES 12

typedef struct wtask {
  char *task;
  uint64_t qps, bw;          /* fleet-wide; 0 = unlimited */
  int64_t since_ms;          /* working on it here since; 0 = not */
  int64_t idle_ms;           /* no objects of it here since; 0 = busy */
  int echoed;                /* our heartbeat naming it was read back */
  uint64_t share_qps, share_bw;  /* last applied */
  int live;                  /* limits from taskstate, over the segments' */
  uint64_t seg_qps, seg_bw;  /* the limits its segments carry */
  uint64_t seg_bw_base;      /* their bandwidth outside the schedule */
  char **seg_sched;          /* ... and their bandwidth schedule (owned) */
  size_t n_seg_sched;
  size_t peers;
} wtask_t;

/* One sample of the engine's counters, for the heartbeat's rate. */
typedef struct rate_sample {
  int64_t at_ms;
  uint64_t objects, bytes;
} rate_sample_t;

/* A segments partition assigned to this worker. */
typedef struct wpart {
  char *topic;
  int32_t partition;
} wpart_t;

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
  char host[256];            /* for the fleet view; "" when unknown */
  wpart_t *parts;            /* assigned segments partitions */
  size_t n_parts;
  rate_sample_t samples[RATE_SAMPLES];  /* ring, one a second */
  size_t n_samples, next_sample;
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
  if (gethostname(f->host, sizeof(f->host) - 1) != 0) f->host[0] = 0;
  if (bc) open_reader(f);
  return f;
}

void wfleet_destroy(wfleet_t *f) {
  size_t i;
  if (!f) return;
  bus_consumer_destroy(f->reader);
  fs_release(&f->peers);
  for (i = 0; i < f->n_tasks; i++) {
    size_t k;
    fx_free(f->tasks[i].task);
    for (k = 0; k < f->tasks[i].n_seg_sched; k++) fx_free(f->tasks[i].seg_sched[k]);
    fx_free(f->tasks[i].seg_sched);
  }
  fx_free(f->tasks);
  for (i = 0; i < f->n_parts; i++) fx_free(f->parts[i].topic);
  fx_free(f->parts);
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
    size_t k;
    t->seg_qps = seg->qps_limit;
    t->seg_bw = seg->bandwidth_limit;
    for (k = 0; k < t->n_seg_sched; k++) fx_free(t->seg_sched[k]);
    fx_free(t->seg_sched);
    t->seg_sched = seg->n_schedule ? fx_calloc(seg->n_schedule, sizeof(char *)) : NULL;
    for (k = 0; k < seg->n_schedule; k++) t->seg_sched[k] = fx_strdup(seg->schedule[k]);
    t->n_seg_sched = seg->n_schedule;
    t->seg_bw_base = seg->bandwidth_limit;
    if (t->n_seg_sched)
      t->seg_bw = conf_bwsched_at((const char *const *)t->seg_sched, t->n_seg_sched,
                                  wfleet_minute(), seg->bandwidth_limit);
  } else {
    const task_conf_t *tc = conf_task(f->conf, seg->task);
    t->seg_qps = tc ? tc->qps_limit : 0;
    t->seg_bw = tc ? tc->bandwidth_limit : 0;
  }
  if (!t->live) {
    t->qps = t->seg_qps;
    t->bw = t->seg_bw;
  }
  if (!t->since_ms) t->since_ms = now;
  t->idle_ms = 0;
  apply_share(f, e, t, now);
}

int wfleet_minute(void) {
  time_t now = time(NULL);
  struct tm tm;
  localtime_r(&now, &tm);
  return tm.tm_hour * 60 + tm.tm_min;
}

void wfleet_minute_tick(wfleet_t *f, xfer_engine_t *e) {
  size_t i;
  int minute = wfleet_minute();
  for (i = 0; i < f->n_tasks; i++) {
    wtask_t *t = &f->tasks[i];
    if (!t->n_seg_sched) continue;
    t->seg_bw = conf_bwsched_at((const char *const *)t->seg_sched, t->n_seg_sched, minute,
                                t->seg_bw_base);
    if (!t->live) {
      t->bw = t->seg_bw;
      apply_share(f, e, t, ferry_mono_ms());
    }
  }
}

void wfleet_task_limits(wfleet_t *f, xfer_engine_t *e, const char *task, int have, uint64_t qps,
                        uint64_t bw) {
  wtask_t *t = task_get(f, task);
  t->live = have;
  t->qps = have ? qps : t->seg_qps;
  t->bw = have ? bw : t->seg_bw;
  apply_share(f, e, t, ferry_mono_ms());
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

void wfleet_assign(wfleet_t *f, const char *topic, int32_t partition, int on) {
  size_t i;
  for (i = 0; i < f->n_parts; i++)
    if (f->parts[i].partition == partition && strcmp(f->parts[i].topic, topic) == 0) break;
  if (on && i == f->n_parts) {
    f->parts = fx_realloc(f->parts, (f->n_parts + 1) * sizeof(*f->parts));
    f->parts[f->n_parts].topic = fx_strdup(topic);
    f->parts[f->n_parts].partition = partition;
    f->n_parts++;
  } else if (!on && i < f->n_parts) {
    fx_free(f->parts[i].topic);
    f->parts[i] = f->parts[--f->n_parts];
  }
}

/* A sample of the engine's counters, at most one a second. */
static void rate_sample(wfleet_t *f, xfer_engine_t *e, int64_t now) {
  xfer_stats_t st;
  rate_sample_t *last = f->n_samples
                            ? &f->samples[(f->next_sample + RATE_SAMPLES - 1) % RATE_SAMPLES]
                            : NULL;
  if (last && now - last->at_ms < 1000) return;
  xfer_get_stats(e, &st);
  f->samples[f->next_sample].at_ms = now;
  f->samples[f->next_sample].objects = st.copied + st.skipped + st.failed;
  f->samples[f->next_sample].bytes = st.bytes_out;
  f->next_sample = (f->next_sample + 1) % RATE_SAMPLES;
  if (f->n_samples < RATE_SAMPLES) f->n_samples++;
}

/* Objects and bytes per second from the oldest sample within the window to
 * the newest; 0 without two samples. */
static int rate_get(const wfleet_t *f, int64_t now, double *objects_s, double *bytes_s) {
  const rate_sample_t *newest, *oldest = NULL;
  size_t k;
  if (f->n_samples < 2) return 0;
  newest = &f->samples[(f->next_sample + RATE_SAMPLES - 1) % RATE_SAMPLES];
  for (k = f->n_samples; k >= 2; k--) {
    const rate_sample_t *s = &f->samples[(f->next_sample + RATE_SAMPLES - k) % RATE_SAMPLES];
    if (now - s->at_ms <= RATE_WINDOW_MS) {
      oldest = s;
      break;
    }
  }
  if (!oldest || newest->at_ms <= oldest->at_ms) return 0;
  *objects_s = (double)(newest->objects - oldest->objects) * 1000.0 /
               (double)(newest->at_ms - oldest->at_ms);
  *bytes_s = (double)(newest->bytes - oldest->bytes) * 1000.0 /
             (double)(newest->at_ms - oldest->at_ms);
  return 1;
}

/* The heartbeat's fleet-view members: host, partitions by topic, rate. */
static void fleet_view(const wfleet_t *f, msg_heartbeat_t *hb, int64_t now) {
  size_t i, k;
  hb->host = f->host[0] ? (char *)f->host : NULL;
  hb->parts = f->n_parts ? fx_calloc(f->n_parts, sizeof(*hb->parts)) : NULL;
  hb->n_parts = 0;
  for (i = 0; i < f->n_parts; i++) {
    msg_hb_parts_t *g = NULL;
    for (k = 0; k < hb->n_parts && !g; k++)
      if (strcmp(hb->parts[k].topic, f->parts[i].topic) == 0) g = &hb->parts[k];
    if (!g) {
      g = &hb->parts[hb->n_parts++];
      g->topic = f->parts[i].topic;
    }
    g->partitions = fx_realloc(g->partitions, (g->n + 1) * sizeof(*g->partitions));
    g->partitions[g->n++] = f->parts[i].partition;
  }
  hb->has_rate = rate_get(f, now, &hb->objects_s, &hb->bytes_s);
}

static void fleet_view_release(msg_heartbeat_t *hb) {
  size_t k;
  for (k = 0; k < hb->n_parts; k++) fx_free(hb->parts[k].partitions);
  fx_free(hb->parts);
  hb->parts = NULL;
  hb->n_parts = 0;
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
  rate_sample(f, e, now);
  memset(&hb, 0, sizeof(hb));
  hb.tasks = named;
  set = task_set(f, e, named, &hb.n_tasks, now);
  if (p && (now >= f->next_hb_ms ||
            (now - f->last_hb_ms >= HB_MIN_GAP_MS && strcmp(set, f->last_set ? f->last_set : "")))) {
    fleet_view(f, &hb, now);
    publish(f, p, &hb);
    fleet_view_release(&hb);
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
