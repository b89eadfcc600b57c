/*
 * run_kafka.c: the worker as a consumer-group member.
 *
 * Segments come from the tasks' segments topics (one per task, and the
 * legacy segments topic of older listers), taken from every topic in turn;
 * each one's objects go to the copy engine. When a segment's last object ends, its result (and one failed
 * record per failed object) is produced; once every one of those is
 * delivered, the segment's offset is marked finished, and the partition's
 * commit advances over the finished prefix only (offtrack). A crash at any
 * point therefore redoes unfinished segments and never skips one; the
 * reporter counts a redelivered segment once. For a task with its audit on,
 * the segment's audit records (one per object written) are produced and
 * delivered first, then the result: a counted segment's records are in the
 * audit topic.
 *
 * A message that does not decode goes to the dlq topic and counts as
 * finished once that is delivered. On a rebalance, revoked partitions are
 * forgotten (their in-flight segments finish, but are not committed). On
 * SIGTERM the worker stops taking segments, drains for up to
 * worker.shutdown_timeout_s, abandons the rest without publishing anything
 * for it, commits what is finished and leaves the group.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus/bus.h"
#include "bus/control.h"
#include "conf/busconf.h"
#include "bus/offtrack.h"
#include "core/log.h"
#include "core/watchdog.h"
#include "worker/fleet.h"
#include "worker/metrics.h"
#include "worker/segrun.h"
#include "worker/taskctl.h"
#include "worker/window.h"
#include "worker/worker.h"
#include "xfer/engine.h"
#include "conf/xconf.h"

#define FAC "worker"
/* A loop turn longer than this is a block inside a library (see wd_start). */
#define WD_STALL_MS 120000
/* Segments of tasks held back by their own limits do not count against
 * segments_in_flight (they would only wait, blocking the other tasks); up
 * to this many times segments_in_flight of them may be taken (memory). */
#define HELD_SEGS_FACTOR 4
#define MAX_TASK_STATS 256
/* The taskstate reader is opened again this often while it cannot be. */
#define TASKSTATE_RETRY_MS 30000
/* Taskstate records read per loop turn at most (the rest next turn). */
#define TASKSTATE_BATCH 256

/* A segments topic the worker reads, and why it holds it (stops reading
 * it): the topic is held while any reason stands. */
typedef struct wtopic {
  char *topic;
  char *task;              /* of a task's topic; NULL for the legacy one */
  int flow;                /* its task's limit holds it back and held
                              segments are at their bound */
  int paused;              /* its task is paused (taskstate) */
  int applied;             /* what the consumer was last told */
} wtopic_t;

typedef struct kworker {
  const ferry_conf_t *conf;
  bus_conf_t bc;
  bus_consumer_t *cons;
  bus_producer_t *prod;
  xfer_engine_t *e;
  wfleet_t *fleet;         /* each task's own limits, shared with the fleet */
  offtrack_t ot;
  char *seg_topic;         /* the legacy segments topic */
  segrun_t *runs;          /* segments being copied or published */
  size_t n_runs;
  int assigned;            /* segments partitions assigned to us (every topic) */
  int assigned_legacy;     /* ... of the legacy segments topic */
  int total_parts;         /* partitions of the legacy segments topic */
  wtopic_t *topics;        /* segments topics seen (bus_consumer_hold_topic) */
  taskctl_t tc;            /* the master's task states (taskstate topic) */
  bus_consumer_t *ts_reader;   /* reads taskstate whole, outside the group */
  int64_t ts_retry_ms;
  int ts_minute;           /* local minute of day the live limits were set for */
  size_t n_topics;
  bus_msg_t **pending;     /* fetched, not yet taken (FIFO) */
  size_t n_pending, cap_pending;
  int abandoning;          /* shutdown: publish nothing more */
  int fatal;
  uint64_t segs_done, objs_done, dlq;
} kworker_t;

/* What a delivery report is about: a segment's result or failed record, or
 * a dead-lettered message (finished when its DLQ copy is delivered). */
typedef struct dlq_tok {
  segrun_t *run;         /* NULL for a DLQ send */
  char *topic;           /* of a DLQ send */
  int32_t partition;
  int64_t offset;
} dlq_tok_t;

static dlq_tok_t *tok_new(segrun_t *run, const char *topic, int32_t partition,
                          int64_t offset) {
  dlq_tok_t *t = fx_calloc(1, sizeof(*t));
  t->run = run;
  t->topic = topic ? fx_strdup(topic) : NULL;
  t->partition = partition;
  t->offset = offset;
  return t;
}

static void run_unlink(kworker_t *w, segrun_t *r) {
  segrun_t **pp = &w->runs;
  while (*pp && *pp != r) pp = &(*pp)->next;
  if (*pp) {
    *pp = r->next;
    w->n_runs--;
  }
}

static wtopic_t *topic_get(kworker_t *w, const char *topic) {
  size_t i;
  for (i = 0; i < w->n_topics; i++)
    if (strcmp(w->topics[i].topic, topic) == 0) return &w->topics[i];
  w->topics = fx_realloc(w->topics, (w->n_topics + 1) * sizeof(*w->topics));
  memset(&w->topics[w->n_topics], 0, sizeof(*w->topics));
  w->topics[w->n_topics].topic = fx_strdup(topic);
  {
    const char *task = bus_segments_topic_task(w->bc.topic_prefix, topic);
    w->topics[w->n_topics].task = task ? fx_strdup(task) : NULL;
  }
  return &w->topics[w->n_topics++];
}

/* Tells the consumer what changed. */
static void topics_apply(kworker_t *w) {
  size_t i;
  for (i = 0; i < w->n_topics; i++) {
    wtopic_t *t = &w->topics[i];
    int want = t->flow || t->paused;
    if (want == t->applied) continue;
    bus_consumer_hold_topic(w->cons, t->topic, want);
    t->applied = want;
  }
}

static void run_finish(kworker_t *w, segrun_t *r) {
  if (!r->revoked && !r->delivery_failed)
    offtrack_done(&w->ot, r->topic, r->partition, r->offset);
  run_unlink(w, r);
  w->segs_done++;
  segrun_destroy(r);
}

static void segment_sent(kworker_t *w, segrun_t *r);

/* A message of r the broker cannot take: the segment goes to the dlq with
 * the reason once its other sends are reported (the first reason kept). */
static void refuse(segrun_t *r, const char *topic, const char *why) {
  LOG_ERROR(FAC, "event=refused topic=%s segment=%s error=%s msg=\"the segment goes to the "
            "dlq with this reason\"", FLOG_V(topic), FLOG_V(r->seg.id), FLOG_Q(why));
  if (!r->refused) r->refused = fx_asprintf("%s: %s", topic, why);
}

static void on_delivery(const bus_delivery_t *d, void *ctx) {
  kworker_t *w = ctx;
  dlq_tok_t *tok = d->opaque;
  segrun_t *r;
  if (!tok) return;
  r = tok->run;
  if (!r) {
    if (d->err == FERRY_OK) offtrack_done(&w->ot, tok->topic, tok->partition, tok->offset);
    else {
      LOG_ERROR(FAC, "event=dlq-undelivered topic=%s partition=%d offset=%" PRId64 " error=%s",
                FLOG_V(tok->topic ? tok->topic : "-"), (int)tok->partition, tok->offset,
                FLOG_Q(d->error));
      w->fatal = 1;
    }
    fx_free(tok->topic);
    fx_free(tok);
    return;
  }
  fx_free(tok->topic);
  fx_free(tok);
  if (d->err != FERRY_OK && d->refused && !r->dead_lettered) {
    /* About this message only: the worker goes on with other segments. */
    refuse(r, d->topic, d->error);
  } else if (d->err != FERRY_OK) {
    LOG_ERROR(FAC, "event=undelivered topic=%s segment=%s error=%s", FLOG_V(d->topic),
              FLOG_V(r->seg.id), FLOG_Q(d->error));
    r->delivery_failed = 1;
    /* Not committed: a restart redoes the segment. Stop taking work, as the
     * broker refuses our messages. */
    w->fatal = 1;
  }
  if (--r->pending == 0) segment_sent(w, r);
}

/* The figures of worker.metrics_listen's /metrics (docs/worker.md). */
static void publish_metrics(const kworker_t *w, wmetrics_t *wm, const wwin_t *win) {
  static double started;
  xmetrics_t m;
  if (!started) started = (double)ferry_wall_ms() / 1000.0;
  memset(&m, 0, sizeof(m));
  m.worker_id = w->conf->worker.id;
  m.version = ferry_version();
  m.segments_in_flight = w->n_runs;
  m.assigned_partitions = w->assigned;
  m.total_partitions = w->total_parts;
  m.limit_qps = (double)w->conf->worker.qps_limit;
  m.limit_bytes_per_s = (double)w->conf->worker.bandwidth_limit;
  m.paused_by_window = win->state == 0;
  {
    size_t k;
    for (k = 0; k < w->tc.n; k++) {
      m.tasks_paused += w->tc.v[k].state == CTLS_PAUSED;
      m.tasks_cancelled += w->tc.v[k].state == CTLS_CANCELLED;
    }
  }
  m.started_unix_s = started;
  wmetrics_publish(wm, &m, w->e);
}

/* A parked partition not assigned back: its runs in flight finish but are
 * never committed (its new owner redoes them). */
static void runs_revoked(const char *topic, int32_t partition, void *ctx) {
  kworker_t *w = ctx;
  segrun_t *r;
  for (r = w->runs; r; r = r->next)
    if (r->partition == partition && strcmp(r->topic, topic) == 0) r->revoked = 1;
}

static void on_rebalance(bus_rebalance_t ev, const bus_part_t *parts, size_t n, void *ctx) {
  kworker_t *w = ctx;
  size_t i, readopted = 0;
  for (i = 0; i < n; i++) {
    const char *tp = parts[i].topic;
    int legacy = strcmp(tp, w->seg_topic) == 0;
    wfleet_assign(w->fleet, tp, parts[i].partition, ev == BUS_ASSIGNED);
    if (ev == BUS_ASSIGNED) {
      w->assigned++;
      w->assigned_legacy += legacy;
      /* Assigned back: its segments in flight here go on and are committed
       * here; the consumer's re-reads of them are passed over (take). */
      readopted += offtrack_unpark(&w->ot, tp, parts[i].partition);
    } else {
      segrun_t *r;
      w->assigned--;
      w->assigned_legacy -= legacy;
      /* Commit what is finished while we still own it, then forget. */
      {
        size_t k;
        for (k = 0; k < w->ot.n; k++) {
          const char *ct;
          int32_t p;
          int64_t o;
          if (w->ot.parts[k].partition == parts[i].partition &&
              strcmp(w->ot.parts[k].topic, tp) == 0 &&
              offtrack_next_commit(&w->ot, k, &ct, &p, &o) && ev == BUS_REVOKED) {
            char errbuf[FERRY_ERRLEN];
            if (bus_consumer_commit(w->cons, ct, p, o, errbuf) == FERRY_OK)
              offtrack_committed(&w->ot, ct, p, o);
          }
        }
      }
      if (ev == BUS_REVOKED) {
        /* Kept until the assignment that follows: the eager protocol
         * revokes everything, and most partitions come straight back. */
        offtrack_park(&w->ot, tp, parts[i].partition);
      } else {
        offtrack_drop(&w->ot, tp, parts[i].partition);
        for (r = w->runs; r; r = r->next)
          if (r->partition == parts[i].partition && strcmp(r->topic, tp) == 0) r->revoked = 1;
      }
      /* Fetched but not started: the partition's new owner reads them. */
      {
        size_t k, j = 0;
        for (k = 0; k < w->n_pending; k++) {
          if (w->pending[k]->partition == parts[i].partition &&
              strcmp(w->pending[k]->topic, tp) == 0)
            bus_msg_destroy(w->pending[k]);
          else
            w->pending[j++] = w->pending[k];
        }
        w->n_pending = j;
      }
    }
  }
  if (w->assigned < 0) w->assigned = 0;
  if (w->assigned_legacy < 0) w->assigned_legacy = 0;
  if (ev == BUS_ASSIGNED) {
    /* Revoked partitions not given back: their runs are not committed. */
    size_t dropped = offtrack_drop_parked(&w->ot, runs_revoked, w);
    if (readopted || dropped)
      LOG_INFO(FAC, "event=rebalance-kept partitions=%zu given_away=%zu", readopted, dropped);
  }
  LOG_INFO(FAC, "event=rebalance kind=%s partitions=%zu assigned=%d",
           ev == BUS_ASSIGNED ? "assigned" : ev == BUS_REVOKED ? "revoked" : "lost", n,
           w->assigned);
  /* The estimate of the fleet's size while heartbeats are not heard: the
   * roundrobin assignor deals every topic's partitions alike, so the legacy
   * topic's share stands for all. */
  wfleet_partitions(w->fleet, w->assigned_legacy, w->total_parts);
}

static int is_failure(msg_status_t s) { return s == ST_FAILED || s == ST_CHANGED || s == ST_VANISHED; }

/* One send of r's; a message refused before it left (too large) marks the
 * segment for the dlq, any other error stops the worker. */
static void send_keyed(kworker_t *w, segrun_t *r, bus_topic_t topic, const char *key,
                       const char *json, const char *what) {
  char errbuf[FERRY_ERRLEN];
  dlq_tok_t *tok = tok_new(r, NULL, 0, 0);
  ferry_err_t e = json ? bus_producer_send(w->prod, topic, key, json, strlen(json),
                                           tok, errbuf)
                       : ferry_seterr(errbuf, FERRY_ERR_INVALID, "%s not encodable", what);
  if (e == FERRY_OK) {
    r->pending++;
    return;
  }
  fx_free(tok);
  if (e == FERRY_ERR_INVALID) {
    refuse(r, bus_topic_suffix(topic), errbuf);
    return;
  }
  LOG_ERROR(FAC, "event=produce-failed topic=%s segment=%s error=%s",
            bus_topic_suffix(topic), FLOG_V(r->seg.id), FLOG_Q(errbuf));
  r->delivery_failed = 1;
  w->fatal = 1;
}

/* A send keyed by the task's name (results, failed records). */
static void send_for(kworker_t *w, segrun_t *r, bus_topic_t topic, const char *json,
                     const char *what) {
  send_keyed(w, r, topic, r->seg.task, json, what);
}

/* The result, split into parts that fit the results topic. */
static void send_result(kworker_t *w, segrun_t *r) {
  char errbuf[FERRY_ERRLEN], **parts = NULL;
  size_t n = 0, i;
  size_t max = bus_producer_max_value(w->prod, BUS_RESULTS, strlen(r->seg.task));
  if (msg_result_encode_parts(&r->result, max, &parts, &n, errbuf) != FERRY_OK) {
    refuse(r, "results", errbuf);
    return;
  }
  if (n > 1)
    LOG_INFO(FAC, "event=result-split segment=%s parts=%zu limit=%zu", FLOG_V(r->seg.id), n,
             max);
  for (i = 0; i < n && !r->refused && !r->delivery_failed; i++)
    send_for(w, r, BUS_RESULTS, parts[i], "result");
  msg_parts_free(parts, n);
}

/* One failed record per failed object. */
static void send_failed(kworker_t *w, segrun_t *r) {
  size_t i;
  for (i = 0; i < r->result.n_outcomes && !r->refused && !r->delivery_failed; i++) {
    msg_outcome_t *o = &r->result.outcomes[i];
    msg_failed_t f;
    size_t k;
    char *json;
    if (!is_failure(o->status)) continue;
    memset(&f, 0, sizeof(f));
    f.task = r->seg.task;
    f.segment = r->seg.id;
    f.run = r->seg.run;
    f.src = r->seg.src;
    f.dst = r->seg.dst;
    for (k = 0; k < r->seg.n_objs; k++)
      if (strcmp(r->seg.objs[k].key, o->key) == 0) {
        f.obj = r->seg.objs[k];
        break;
      }
    if (!f.obj.key) {
      f.obj.key = o->key;
      f.obj.size = o->size;
      f.obj.mtime = -1;
    }
    f.outcome = *o;
    f.at_ms = ferry_wall_ms();
    json = msg_failed_encode(&f);
    send_for(w, r, BUS_FAILED, json, "failed record");
    fx_free(json);
  }
}

/* The audit records of a task with audit on (docs/messages.md, "audit"): in
 * parts under the audit topic's limit, like the result; none when nothing
 * was written. Delivered before the offset is committed, as the result. */
static void send_audit(kworker_t *w, segrun_t *r) {
  char errbuf[FERRY_ERRLEN], **parts = NULL;
  size_t n = 0, i;
  msg_audit_t a;
  char *key;
  if (!r->seg.audit || !r->n_audit) return;   /* nothing written: no message */
  segrun_audit_msg(r, &a);
  /* Keyed "TASK/SEGMENT": a task's records spread over the partitions (a
   * task of 400 million objects is some 130 GB of them), and an export
   * still skips other tasks' messages by their key alone. */
  key = fx_asprintf("%s/%s", r->seg.task, r->seg.id);
  if (msg_audit_encode_parts(&a, bus_producer_max_value(w->prod, BUS_AUDIT, strlen(key)),
                             &parts, &n, errbuf) != FERRY_OK) {
    refuse(r, "audit", errbuf);
    fx_free(key);
    return;
  }
  for (i = 0; i < n && !r->refused && !r->delivery_failed; i++)
    send_keyed(w, r, BUS_AUDIT, key, parts[i], "audit record");
  msg_parts_free(parts, n);
  fx_free(key);
}

/* The segment message itself to the dlq, with the reason its result could
 * not be published: the operator sees it there and in the log, and the
 * partition moves on (a redelivery would fail the same way). */
static void dead_letter(kworker_t *w, segrun_t *r) {
  char errbuf[FERRY_ERRLEN];
  char *json = msg_segment_encode(&r->seg);
  char *why = fx_asprintf("segment %s (task %s, run %d): its result cannot be published: %s",
                          r->seg.id, r->seg.task, r->seg.run, r->refused);
  dlq_tok_t *tok = tok_new(r, NULL, 0, 0);
  r->dead_lettered = 1;
  w->dlq++;
  r->pending = 1;
  if (!json || bus_dlq_send(w->prod, r->topic, r->partition, r->offset, r->seg.id,
                            strlen(r->seg.id), json, strlen(json), why, tok, errbuf)) {
    LOG_ERROR(FAC, "event=dlq-failed segment=%s error=%s", FLOG_V(r->seg.id),
              FLOG_Q(json ? errbuf : "segment not encodable"));
    fx_free(tok);
    r->pending = 0;
    r->delivery_failed = 1;
    w->fatal = 1;
    run_finish(w, r);
  }
  fx_free(why);
  fx_free(json);
}

static void publish(kworker_t *w, segrun_t *r);

/* Every send of r reported: its audit records (then on to the result), or
 * everything (finished, or on to the dlq). */
static void segment_sent(kworker_t *w, segrun_t *r) {
  if (r->audit_phase == 1 && !r->refused) {
    if (!r->delivery_failed && !r->revoked && !w->abandoning) {
      r->audit_phase = 2;
      publish(w, r);
      return;
    }
    /* Its result was never sent (stopping, revoked): never commit it, so
     * the segment is redone and counted. */
    r->delivery_failed = 1;
    run_finish(w, r);
    return;
  }
  if (r->refused && !r->dead_lettered && !r->delivery_failed && !r->revoked &&
      !w->abandoning)
    dead_letter(w, r);
  else
    run_finish(w, r);
}

/* Publishes the result and failed records of a finished segment. With the
 * task's audit on, its audit records go first and the result only once they
 * are delivered: a reporter that counts the segment finds its records in the
 * audit topic (an export after the task completed is complete). */
static void publish(kworker_t *w, segrun_t *r) {
  r->pending = 1; /* held until every send is queued */
  if (r->audit_phase == 0 && r->seg.audit && r->n_audit) {
    r->audit_phase = 1;
    send_audit(w, r);
  } else {
    send_result(w, r);
    send_failed(w, r);
  }
  if (--r->pending == 0) segment_sent(w, r);
}

static void on_outcome(void *opaque, const msg_segment_t *seg, size_t index,
                       const msg_outcome_t *o) {
  segrun_t *r = opaque;
  kworker_t *w = r->opaque;
  (void)seg;
  (void)index;
  w->objs_done++;
  if (r->seg.audit) {
    const xfer_written_t *wr = xfer_done_written(w->e);
    if (wr && wr->wrote)
      segrun_audit(r, o, wr->dst_key, wr->has_crc64, wr->crc64, wr->dst_etag, wr->existed,
                   ferry_wall_ms());
  }
  if (segrun_add(r, o)) {
    if (w->abandoning) {
      /* Abandoned work is redone by whoever gets the partition next. */
      run_unlink(w, r);
      segrun_destroy(r);
      return;
    }
    LOG_DEBUG(FAC,
              "event=segment task=%s segment=%s copied=%" PRIu64 " skipped=%" PRIu64
              " failed=%" PRIu64,
              FLOG_V(r->seg.task), FLOG_V(r->seg.id), r->result.n_copied,
              r->result.n_skipped, r->result.n_failed);
    publish(w, r);
  }
}

/* ---- the master's task states (taskstate topic, docs/worker.md) ---- */

/* The task's live limits (taskstate, its schedule at this minute) to the
 * fleet share, or back to its segments' own when it has no record. */
static void task_limits(kworker_t *w, const char *task) {
  uint64_t q = 0, b = 0;
  int have = taskctl_limits_at(&w->tc, task, wfleet_minute(), &q, &b);
  wfleet_task_limits(w->fleet, w->e, task, have, q, b);
}

/* Acts on the task's entry: paused (its topic held, its objects not
 * started), cancelled (its objects in the engine end skipped), limits. */
static void task_apply(kworker_t *w, const char *task) {
  const taskctl_entry_t *en = taskctl_find(&w->tc, task);
  int paused = taskctl_paused(&w->tc, task);
  char *topic = bus_segments_topic(&w->bc, task);
  if (topic) {
    wtopic_t *t = topic_get(w, topic);
    if (t->paused != paused)
      LOG_INFO(FAC, "event=%s task=%s topic=%s", paused ? "task-paused" : "task-resumed",
               FLOG_V(task), FLOG_V(topic));
    t->paused = paused;
    fx_free(topic);
  }
  xfer_task_pause(w->e, task, paused);
  if (en && en->state == CTLS_CANCELLED) {
    size_t n = xfer_task_cancel(w->e, task);
    LOG_INFO(FAC, "event=task-cancelled task=%s run=%d objects=%zu", FLOG_V(task), en->run, n);
  }
  task_limits(w, task);
  topics_apply(w);
}

/* Reads what taskstate has now (a bounded batch per turn). A record that
 * does not decode is logged and skipped: the table is the master's, and a
 * worker goes on with what it knows. */
static void read_taskstate(kworker_t *w) {
  char errbuf[FERRY_ERRLEN];
  int i;
  if (!w->ts_reader) {
    bus_topic_t t = BUS_TASKSTATE;
    if (ferry_mono_ms() < w->ts_retry_ms) return;
    w->ts_retry_ms = ferry_mono_ms() + TASKSTATE_RETRY_MS;
    w->ts_reader = bus_reader_new(&w->bc, &t, 1, NULL, NULL, errbuf);
    if (!w->ts_reader) {
      LOG_WARN(FAC, "event=taskstate-unread error=%s msg=\"pause, cancel and live limits "
               "from the master are not seen until the taskstate topic can be read\"",
               FLOG_Q(errbuf));
      return;
    }
  }
  for (i = 0; i < TASKSTATE_BATCH; i++) {
    bus_msg_t *m = NULL;
    msg_taskstate_t rec;
    ferry_err_t e = bus_consumer_poll(w->ts_reader, 0, &m, errbuf);
    if (e == FERRY_ERR_KAFKA) {
      LOG_WARN(FAC, "event=taskstate-unread error=%s", FLOG_Q(errbuf));
      bus_consumer_destroy(w->ts_reader);
      w->ts_reader = NULL;
      return;
    }
    if (e != FERRY_OK) break;
    if (!m->value) {
      /* A tombstone: the task's record is gone, its segments rule again. */
      char *task = m->key ? fx_strndup(m->key, m->key_len) : NULL;
      if (task && taskctl_forget(&w->tc, task)) task_apply(w, task);
      fx_free(task);
    } else if (msg_taskstate_decode(m->value, m->len, &rec, errbuf) != FERRY_OK) {
      LOG_WARN(FAC, "event=taskstate-bad partition=%d offset=%" PRId64 " error=%s "
               "msg=\"record skipped\"", (int)m->partition, m->offset, FLOG_Q(errbuf));
    } else {
      if (taskctl_apply(&w->tc, &rec)) {
        LOG_INFO(FAC, "event=taskstate task=%s state=%s run=%d", FLOG_V(rec.task),
                 ctl_state_str(rec.state), rec.run);
        task_apply(w, rec.task);
      }
      msg_taskstate_release(&rec);
    }
    bus_msg_destroy(m);
  }
}

/* A schedule moves with the clock: the limits again each minute. */
static void minute_tick(kworker_t *w) {
  int minute = wfleet_minute();
  size_t k;
  if (minute == w->ts_minute) return;
  w->ts_minute = minute;
  wfleet_minute_tick(w->fleet, w->e);
  for (k = 0; k < w->tc.n; k++) task_limits(w, w->tc.v[k].task);
}

/* A segment of a cancelled task: every object ends skipped, reason
 * "cancelled", without a request; its result is published as usual so the
 * reporter accounts every listed object. */
static void cancel_segment(kworker_t *w, segrun_t *r) {
  size_t i;
  for (i = 0; i < r->seg.n_objs; i++) {
    msg_outcome_t o;
    memset(&o, 0, sizeof(o));
    o.key = r->seg.objs[i].key;
    o.size = r->seg.objs[i].size;
    o.status = ST_SKIPPED;
    o.reason = (char *)"cancelled";
    o.message = (char *)"the task was cancelled";
    w->objs_done++;
    if (segrun_add(r, &o)) {
      publish(w, r);
      return;
    }
  }
}

static void take(kworker_t *w, bus_msg_t *m) {
  char errbuf[FERRY_ERRLEN];
  msg_segment_t seg;
  segrun_t *r;
  size_t i;
  if (offtrack_taken(&w->ot, m->topic, m->partition, m->offset)) {
    /* Taken before a rebalance that gave its partition back: it runs here. */
    LOG_DEBUG(FAC, "event=retaken-skipped topic=%s partition=%d offset=%" PRId64,
              FLOG_V(m->topic), (int)m->partition, m->offset);
    return;
  }
  offtrack_add(&w->ot, m->topic, m->partition, m->offset);
  if (!m->value || msg_segment_decode(m->value, m->len, &seg, errbuf) != FERRY_OK) {
    dlq_tok_t *tok = tok_new(NULL, m->topic, m->partition, m->offset);
    const char *why = m->value ? errbuf : "empty message";
    LOG_ERROR(FAC, "event=poison topic=%s partition=%d offset=%" PRId64 " error=%s",
              FLOG_V(m->topic), (int)m->partition, m->offset, FLOG_Q(why));
    w->dlq++;
    if (bus_dlq_send(w->prod, m->topic, m->partition, m->offset, m->key, m->key_len,
                     m->value ? m->value : "", m->len, why, tok, errbuf) != FERRY_OK) {
      LOG_ERROR(FAC, "event=dlq-failed error=%s", FLOG_Q(errbuf));
      fx_free(tok->topic);
      fx_free(tok);
      w->fatal = 1;
    }
    return;
  }
  r = segrun_new(&seg, w->conf->worker.id);
  r->opaque = w;
  r->topic = fx_strdup(m->topic);
  topic_get(w, m->topic);
  r->partition = m->partition;
  r->offset = m->offset;
  r->next = w->runs;
  w->runs = r;
  w->n_runs++;
  if (r->seg.n_objs == 0) {
    publish(w, r);
    return;
  }
  if (taskctl_cancelled(&w->tc, r->seg.task, r->seg.run)) {
    cancel_segment(w, r);
    return;
  }
  wfleet_segment(w->fleet, w->e, &r->seg);
  for (i = 0; i < r->seg.n_objs; i++) xfer_submit(w->e, &r->seg, i, on_outcome, r);
}

/* Is there room for another segment? Segments and objects of tasks their
 * own limit holds back count apart, within HELD_SEGS_FACTOR times more:
 * at that bound the topics of those tasks (and the legacy topic, where any
 * task's segments may come) are held, and the other tasks' topics are still
 * read, so a limited task's backlog never keeps another task waiting. */
static int has_room(kworker_t *w, size_t max_segs, size_t max_objs) {
  xfer_task_stat_t st[MAX_TASK_STATS];
  size_t n = xfer_tasks(w->e, st, MAX_TASK_STATS), i, k, runs = w->n_runs,
         objs = xfer_pending(w->e);
  segrun_t *r;
  int full;
  for (i = 0; i < n && i < MAX_TASK_STATS; i++) {
    if (!st[i].held) continue;
    objs -= st[i].jobs < objs ? st[i].jobs : objs;
    for (r = w->runs; r; r = r->next)
      if (runs && strcmp(r->seg.task, st[i].task) == 0) runs--;
  }
  full = w->n_runs - runs >= max_segs * HELD_SEGS_FACTOR;
  for (k = 0; k < w->n_topics; k++) {
    wtopic_t *t = &w->topics[k];
    int flow = 0;
    if (full && !t->task) flow = 1;
    for (i = 0; full && t->task && i < n && i < MAX_TASK_STATS; i++)
      if (st[i].held && strcmp(st[i].task, t->task) == 0) flow = 1;
    t->flow = flow;
  }
  topics_apply(w);
  return runs < max_segs && objs < max_objs;
}

static void commit_ready(kworker_t *w) {
  size_t i;
  for (i = 0; i < w->ot.n; i++) {
    const char *t;
    int32_t p;
    int64_t o;
    char errbuf[FERRY_ERRLEN];
    if (!offtrack_next_commit(&w->ot, i, &t, &p, &o)) continue;
    if (bus_consumer_commit(w->cons, t, p, o, errbuf) == FERRY_OK) {
      offtrack_committed(&w->ot, t, p, o);
      LOG_DEBUG(FAC, "event=commit topic=%s partition=%d offset=%" PRId64, FLOG_V(t), (int)p,
                o);
    } else {
      LOG_WARN(FAC, "event=commit-failed topic=%s partition=%d offset=%" PRId64 " error=%s",
               FLOG_V(t), (int)p, o, FLOG_Q(errbuf));
    }
  }
}

/* The main loop's own state, beside the worker's. */
typedef struct kloop {
  xfer_conf_t xc;
  size_t max_segs;
  int64_t last_commit, stop_at, last_metrics;
  wd_t *wd;
  long stall_ms;
  wwin_t win;
  wmetrics_t *wm;
} kloop_t;

/* Connects, creates the engine, the fleet, the metrics endpoint, the
 * producer and the consumer. 0, or -1 with errbuf set. */
static int kw_start(kworker_t *w, kloop_t *L, char *errbuf) {
  const ferry_conf_t *conf = w->conf;
  bus_topic_t topics[1] = {BUS_SEGMENTS};
  int n = 0;
  if (bus_topics_check(&w->bc, errbuf)) return -1;
  w->seg_topic = bus_topic_name(&w->bc, BUS_SEGMENTS);
  w->total_parts = bus_topic_partitions(&w->bc, BUS_SEGMENTS);
  xfer_conf_from_config(&L->xc, conf);
  w->e = xfer_engine_new(&L->xc, conf->stores, conf->n_stores, errbuf);
  if (!w->e) return -1;
  w->fleet = wfleet_new(conf, &w->bc);
  if (conf->worker.metrics_listen &&
      !(L->wm = wmetrics_start(conf->worker.metrics_listen, errbuf)))
    return -1;
  w->prod = bus_producer_new(&w->bc, on_delivery, w, errbuf);
  if (!w->prod) return -1;
  /* Held: segments wait in librdkafka's partition queues until the loop
   * has room for one (no pause/resume, see bus.h). */
  w->cons = bus_consumer_new_ex(&w->bc, topics, 1, on_rebalance, w, BUS_CONSUMER_HELD, errbuf);
  if (!w->cons) return -1;
  if (bus_consumer_partition_count(w->cons, BUS_SEGMENTS, &n, errbuf) == FERRY_OK && n > 0)
    w->total_parts = n;
  wfleet_partitions(w->fleet, w->assigned, w->total_parts);
  return 0;
}

/* Every turn of the loop is bounded (polls of at most 100 ms, the engine's
 * 50 ms): a loop that has not turned for WD_STALL_MS is blocked (as it once
 * was in the consumer poll, by a wait of -1 = no limit: see ms_left in
 * lib/bus/bus.c). The worker keeps nothing a restart would lose, so the
 * watchdog ends it (exit 70) for its supervisor to restart; its unfinished
 * segments are redelivered. */
static long stall_limit_ms(void) {
  /* FERRY_STALL_MS: another limit, for diagnosis (with FERRY_STALL_GDB). */
  const char *e = getenv("FERRY_STALL_MS");
  return e && atol(e) >= 1000 ? atol(e) : WD_STALL_MS;
}

/* Starts fetched segments while there is room; returns whether room is left. */
static int take_pending(kworker_t *w, kloop_t *L, int room) {
  while (room && w->n_pending) {
    bus_msg_t *m = w->pending[0];
    memmove(w->pending, w->pending + 1, (w->n_pending - 1) * sizeof(*w->pending));
    w->n_pending--;
    take(w, m);
    bus_msg_destroy(m);
    room = has_room(w, L->max_segs, (size_t)FERRY_MAX(L->xc.concurrency, L->xc.concurrency_max) * 4);
  }
  return room;
}

static void queue_fetched(kworker_t *w, bus_msg_t *m) {
  if (w->n_pending == w->cap_pending) {
    w->cap_pending = w->cap_pending ? w->cap_pending * 2 : 8;
    w->pending = fx_realloc(w->pending, w->cap_pending * sizeof(*w->pending));
  }
  w->pending[w->n_pending++] = m;
}

/* While stopping: 1 when the loop ends (all done, or time is up and the
 * rest is abandoned). */
static int stop_done(kworker_t *w, kloop_t *L, char *errbuf) {
  if (w->n_runs == 0 && xfer_pending(w->e) == 0) return 1;
  if (!w->fatal && ferry_now_us() <= L->stop_at) return 0;
  LOG_WARN(FAC, "event=abandon segments=%zu objects=%zu", w->n_runs, xfer_pending(w->e));
  w->abandoning = 1;
  xfer_abandon_all(w->e, 10000, 1);
  /* Whatever is left waits on deliveries; give them a moment. */
  bus_producer_flush(w->prod, 5000, errbuf);
  return 1;
}

/* One turn of the main loop; 1 when the loop ends. */
static int kw_turn(kworker_t *w, kloop_t *L) {
  char errbuf[FERRY_ERRLEN];
  const ferry_conf_t *conf = w->conf;
  bus_msg_t *m = NULL;
  int busy, room;
  ferry_err_t err;
  wd_beat(L->wd, "loop");
  wmetrics_beat(L->wm);
  if (L->wm && ferry_now_us() - L->last_metrics > 1000000) {
    publish_metrics(w, L->wm, &L->win);
    L->last_metrics = ferry_now_us();
  }
  if (worker_stop && !L->stop_at) {
    L->stop_at = ferry_now_us() + (int64_t)conf->worker.shutdown_timeout_s * 1000000;
    LOG_INFO(FAC, "event=stopping in_flight=%zu", w->n_runs);
  }
  /* Outside every worker.windows window the worker counts as full. */
  room = !worker_stop && !w->fatal &&
         has_room(w, L->max_segs, (size_t)FERRY_MAX(L->xc.concurrency, L->xc.concurrency_max) * 4) &&
         wwin_open(&L->win, &conf->worker.windows);
  room = take_pending(w, L, room);
  busy = xfer_pending(w->e) > 0;
  /* The consumer is polled on every turn, full or not, so rebalances and
   * group membership are always served; a segment is taken only when
   * there is room for it (the rest wait inside librdkafka). */
  wd_beat(L->wd, "consumer-poll");
  err = bus_consumer_poll_ex(w->cons, busy || !room ? 0 : 100, room, &m, errbuf);
  wd_beat(L->wd, "loop");
  if (err == FERRY_OK) {
    if (!worker_stop && !w->fatal) {
      queue_fetched(w, m);
      return 0;
    }
    bus_msg_destroy(m); /* not taken, not committed: redelivered */
  } else if (err == FERRY_ERR_KAFKA) {
    LOG_ERROR(FAC, "event=consumer-fatal error=%s", FLOG_Q(errbuf));
    w->fatal = 1;
  }
  read_taskstate(w);
  minute_tick(w);
  wfleet_turn(w->fleet, w->e, w->fatal ? NULL : w->prod);
  if (busy) xfer_run(w->e, 50);
  else if (!room) bus_producer_poll(w->prod, 50);
  bus_producer_poll(w->prod, 0);
  if (ferry_now_us() - L->last_commit > 500000) {
    commit_ready(w);
    L->last_commit = ferry_now_us();
  }
  return (worker_stop || w->fatal) && stop_done(w, L, errbuf);
}

static void log_summary(kworker_t *w) {
  xfer_stats_t st;
  xfer_get_stats(w->e, &st);
  LOG_INFO(FAC,
           "event=summary segments=%" PRIu64 " objects=%" PRIu64 " copied=%" PRIu64
           " skipped=%" PRIu64 " failed=%" PRIu64 " dlq=%" PRIu64 " requests=%" PRIu64
           " retries=%" PRIu64 " bytes=%" PRIu64 " %s%s",
           w->segs_done, w->objs_done, st.copied, st.skipped, st.failed, w->dlq, st.requests,
           st.retries, st.bytes_out, worker_uploads_summary(&st), w->fatal ? " fatal=1" : "");
  worker_log_task_totals(w->e);
}

static void kw_release(kworker_t *w, kloop_t *L) {
  while (w->n_pending) bus_msg_destroy(w->pending[--w->n_pending]);
  fx_free(w->pending);
  wd_beat(L->wd, "leave-group");
  bus_consumer_destroy(w->cons);   /* leaves the group */
  bus_consumer_destroy(w->ts_reader);
  wd_stop(L->wd);
  /* The producer first: destroying it reports its unsent messages as failed,
   * and those reports (on_delivery) reach the runs they belong to. Freed the
   * other way round, a worker that stopped with results still queued (two of
   * three brokers down, min.insync.replicas=2: tests/kafka/min_isr.sh) used
   * the freed runs and freed them again ("double free or corruption",
   * SIGABRT, on both workers). */
  bus_producer_destroy(w->prod);
  while (w->runs) {
    segrun_t *r = w->runs;
    w->runs = r->next;
    segrun_destroy(r);
  }
  wfleet_destroy(w->fleet);
  wmetrics_stop(L->wm);   /* before the engine it reads */
  xfer_engine_destroy(w->e);
  offtrack_release(&w->ot);
  taskctl_release(&w->tc);
  while (w->n_topics) {
    wtopic_t *t = &w->topics[--w->n_topics];
    fx_free(t->topic);
    fx_free(t->task);
  }
  fx_free(w->topics);
  fx_free(w->seg_topic);
  bus_conf_release(&w->bc);
}

int worker_run_kafka(const ferry_conf_t *conf) {
  kworker_t w;
  kloop_t L;
  char errbuf[FERRY_ERRLEN];
  int rc;
  memset(&w, 0, sizeof(w));
  memset(&L, 0, sizeof(L));
  L.win = (wwin_t)WWIN_INIT;
  w.conf = conf;
  offtrack_init(&w.ot);
  taskctl_init(&w.tc);
  w.ts_minute = -1;
  if (bus_conf_from_kafka(&w.bc, &conf->kafka, errbuf) != FERRY_OK) {
    fprintf(stderr, "ferry-worker: %s\n", errbuf);
    return 1;
  }
  if (kw_start(&w, &L, errbuf)) {
    fprintf(stderr, "ferry-worker: %s\n", errbuf);
    kw_release(&w, &L);
    return 1;
  }
  worker_install_signals();
  L.stall_ms = stall_limit_ms();
  L.wd = wd_start(L.stall_ms, NULL, NULL);
  L.max_segs = (size_t)(conf->worker.segments_in_flight > 0 ? conf->worker.segments_in_flight : 4);
  LOG_INFO(FAC,
           "event=start id=%s group=%s topic=%s segments_in_flight=%zu concurrency=%d",
           FLOG_V(conf->worker.id), FLOG_V(w.bc.group_id), FLOG_V(w.seg_topic), L.max_segs,
           L.xc.concurrency);
  while (!kw_turn(&w, &L)) {
  }
  /* Leaving: flush (10 s), commit waits (5 s + 5 s) and the group leave. */
  wd_limit(L.wd, L.stall_ms, "leaving");
  wfleet_leave(w.fleet, w.fatal ? NULL : w.prod);
  bus_producer_flush(w.prod, 10000, errbuf);
  commit_ready(&w);
  log_summary(&w);
  rc = w.fatal ? 1 : 0;
  kw_release(&w, &L);
  return rc;
}
