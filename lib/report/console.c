/*
 * console.c: see console.h.
 */
#include "report/console.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/control.h"
#include "bus/msg.h"
#include "core/units.h"
#include "web/promtext.h"

typedef struct cs_action {
  char id[17];
  ctl_cmd_t cmd;
  char *by;
  int64_t at_ms;
  int has_limits;
  ctl_limits_t limits;
  int acked, ok;
  char *error, *ack_by;
  int64_t ack_ms;
} cs_action_t;

typedef struct cs_task {
  char *name;
  int has_state;
  msg_taskstate_t st;
  cs_action_t *acts;   /* oldest first, at most CONSOLE_MAX_ACTIONS */
  size_t n_acts;
} cs_task_t;

typedef struct cs_worker {
  msg_heartbeat_t hb;
} cs_worker_t;

struct console {
  cs_task_t *tasks;
  size_t n_tasks;
  cs_worker_t *workers;
  size_t n_workers;
  uint64_t rejected, dropped;
};

console_t *console_new(void) { return fx_calloc(1, sizeof(console_t)); }

static void act_release(cs_action_t *a) {
  fx_free(a->by);
  fx_free(a->error);
  fx_free(a->ack_by);
  ctl_limits_release(&a->limits);
}

void console_free(console_t *c) {
  size_t i, k;
  if (!c) return;
  for (i = 0; i < c->n_tasks; i++) {
    cs_task_t *t = &c->tasks[i];
    for (k = 0; k < t->n_acts; k++) act_release(&t->acts[k]);
    fx_free(t->acts);
    if (t->has_state) msg_taskstate_release(&t->st);
    fx_free(t->name);
  }
  fx_free(c->tasks);
  for (i = 0; i < c->n_workers; i++) msg_heartbeat_release(&c->workers[i].hb);
  fx_free(c->workers);
  fx_free(c);
}

/* ---------- tasks ---------- */

static cs_task_t *task_find(const console_t *c, const char *name, size_t len) {
  size_t i;
  for (i = 0; i < c->n_tasks; i++)
    if (strlen(c->tasks[i].name) == len && memcmp(c->tasks[i].name, name, len) == 0)
      return &c->tasks[i];
  return NULL;
}

static cs_task_t *task_get(console_t *c, const char *name, size_t len) {
  cs_task_t *t = task_find(c, name, len);
  if (t) return t;
  if (c->n_tasks >= CONSOLE_MAX_TASKS) {
    c->dropped++;
    return NULL;
  }
  c->tasks = fx_realloc(c->tasks, (c->n_tasks + 1) * sizeof(*c->tasks));
  t = &c->tasks[c->n_tasks++];
  memset(t, 0, sizeof(*t));
  t->name = fx_strndup(name, len);
  return t;
}

ferry_err_t console_feed_taskstate(console_t *c, const char *key, size_t key_len,
                                   const void *buf, size_t len, char *errbuf) {
  msg_taskstate_t st;
  cs_task_t *t;
  ferry_err_t e;
  if (!buf) {   /* a tombstone: the task's record is gone */
    t = key ? task_find(c, key, key_len) : NULL;
    if (t && t->has_state) {
      msg_taskstate_release(&t->st);
      t->has_state = 0;
    }
    return FERRY_OK;
  }
  if ((e = msg_taskstate_decode(buf, len, &st, errbuf))) {
    c->rejected++;
    return e;
  }
  t = task_get(c, st.task, strlen(st.task));
  if (!t) {
    msg_taskstate_release(&st);
    return FERRY_OK;
  }
  if (t->has_state) msg_taskstate_release(&t->st);
  t->st = st;
  t->has_state = 1;
  return FERRY_OK;
}

static cs_action_t *act_find(cs_task_t *t, const char *id) {
  size_t k;
  for (k = t->n_acts; k-- > 0;)
    if (strcmp(t->acts[k].id, id) == 0) return &t->acts[k];
  return NULL;
}

static cs_action_t *act_add(cs_task_t *t, const msg_control_t *m) {
  cs_action_t *a;
  if (t->n_acts == CONSOLE_MAX_ACTIONS) {   /* the oldest goes */
    act_release(&t->acts[0]);
    memmove(&t->acts[0], &t->acts[1], (t->n_acts - 1) * sizeof(*t->acts));
    t->n_acts--;
  }
  t->acts = fx_realloc(t->acts, (t->n_acts + 1) * sizeof(*t->acts));
  a = &t->acts[t->n_acts++];
  memset(a, 0, sizeof(*a));
  snprintf(a->id, sizeof(a->id), "%s", m->id);
  a->cmd = m->cmd;
  return a;
}

ferry_err_t console_feed_control(console_t *c, const void *buf, size_t len, char *errbuf) {
  msg_control_t m;
  cs_task_t *t;
  cs_action_t *a;
  ferry_err_t e;
  if (!buf) return FERRY_OK;
  if ((e = msg_control_decode(buf, len, &m, errbuf))) {
    c->rejected++;
    return e;
  }
  t = task_get(c, m.task, strlen(m.task));
  if (t) {
    a = act_find(t, m.id);
    if (!m.is_ack) {
      if (!a) a = act_add(t, &m);
      fx_free(a->by);
      a->by = fx_strdup(m.by);
      a->at_ms = m.at_ms;
      if (m.has_limits && !a->has_limits) {
        ctl_limits_copy(&a->limits, &m.limits);
        a->has_limits = 1;
      }
    } else {
      /* An ack whose command fell out of the log (or came first) stands alone. */
      if (!a) {
        a = act_add(t, &m);
        a->by = fx_strdup(m.by);
        a->at_ms = m.at_ms;
      }
      a->acked = 1;
      a->ok = m.ok;
      fx_free(a->error);
      fx_free(a->ack_by);
      a->error = fx_strdup(m.error);
      a->ack_by = fx_strdup(m.by);
      a->ack_ms = m.at_ms;
    }
  }
  msg_control_release(&m);
  return FERRY_OK;
}

const char *console_state(const console_t *c, const char *task) {
  const cs_task_t *t = task_find(c, task, strlen(task));
  return t && t->has_state ? ctl_state_str(t->st.state) : NULL;
}

static json_t *limits_json(const ctl_limits_t *l) {
  json_t *o = json_object(), *a = json_array();
  size_t i;
  json_object_set_new(o, "qps", json_integer((json_int_t)l->qps));
  json_object_set_new(o, "bandwidth", json_integer((json_int_t)l->bandwidth));
  for (i = 0; i < l->n_schedule; i++) json_array_append_new(a, json_string(l->schedule[i]));
  json_object_set_new(o, "schedule", a);
  return o;
}

json_t *console_task_json(const console_t *c, const char *task) {
  const cs_task_t *t = task_find(c, task, strlen(task));
  json_t *o;
  if (!t || !t->has_state) return NULL;
  o = json_object();
  json_object_set_new(o, "state", json_string(ctl_state_str(t->st.state)));
  json_object_set_new(o, "origin", json_string(t->st.console ? "console" : "config"));
  json_object_set_new(o, "run", json_integer(t->st.run));
  json_object_set_new(o, "limits", limits_json(&t->st.limits));
  json_object_set_new(o, "updated_ms", json_integer(t->st.updated_ms));
  json_object_set_new(o, "by", t->st.by ? json_string(t->st.by) : json_null());
  return o;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

size_t console_task_names(const console_t *c, const char ***names) {
  size_t i, n = 0;
  *names = fx_calloc(c->n_tasks + 1, sizeof(**names));
  for (i = 0; i < c->n_tasks; i++)
    if (c->tasks[i].has_state) (*names)[n++] = c->tasks[i].name;
  qsort(*names, n, sizeof(**names), cmp_str);
  return n;
}

json_t *console_actions_json(const console_t *c, const char *task) {
  const cs_task_t *t = task_find(c, task, strlen(task));
  json_t *a = json_array();
  size_t k;
  for (k = 0; t && k < t->n_acts; k++) {
    const cs_action_t *x = &t->acts[k];
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(x->id));
    json_object_set_new(o, "cmd", json_string(ctl_cmd_str(x->cmd)));
    json_object_set_new(o, "by", x->by ? json_string(x->by) : json_null());
    json_object_set_new(o, "at_ms", json_integer(x->at_ms));
    if (x->has_limits) json_object_set_new(o, "limits", limits_json(&x->limits));
    if (x->acked) {
      json_t *k2 = json_object();
      json_object_set_new(k2, "ok", json_boolean(x->ok));
      if (x->error) json_object_set_new(k2, "error", json_string(x->error));
      json_object_set_new(k2, "by", x->ack_by ? json_string(x->ack_by) : json_null());
      json_object_set_new(k2, "at_ms", json_integer(x->ack_ms));
      json_object_set_new(o, "ack", k2);
    } else {
      json_object_set_new(o, "ack", json_null());
    }
    json_array_append_new(a, o);
  }
  return a;
}

/* ---------- workers ---------- */

ferry_err_t console_feed_heartbeat(console_t *c, const void *buf, size_t len, char *errbuf) {
  msg_heartbeat_t hb;
  ferry_err_t e;
  size_t i;
  if (!buf) return FERRY_OK;
  if ((e = msg_heartbeat_decode(buf, len, &hb, errbuf))) {
    c->rejected++;
    return e;
  }
  for (i = 0; i < c->n_workers && strcmp(c->workers[i].hb.worker, hb.worker) != 0; i++)
    ;
  if (i < c->n_workers) {
    /* Records of one partition come in order; an older one (a restarted
     * worker's predecessor) does not replace a newer. */
    if (hb.at_ms < c->workers[i].hb.at_ms) {
      msg_heartbeat_release(&hb);
      return FERRY_OK;
    }
    msg_heartbeat_release(&c->workers[i].hb);
    if (hb.leaving) {
      msg_heartbeat_release(&hb);
      memmove(&c->workers[i], &c->workers[i + 1], (c->n_workers - i - 1) * sizeof(*c->workers));
      c->n_workers--;
      return FERRY_OK;
    }
    c->workers[i].hb = hb;
    return FERRY_OK;
  }
  if (hb.leaving || c->n_workers >= CONSOLE_MAX_WORKERS) {
    if (!hb.leaving) c->dropped++;
    msg_heartbeat_release(&hb);
    return FERRY_OK;
  }
  c->workers = fx_realloc(c->workers, (c->n_workers + 1) * sizeof(*c->workers));
  c->workers[c->n_workers++].hb = hb;
  return FERRY_OK;
}

static void forget_old(console_t *c, int64_t now_ms) {
  size_t i = 0;
  while (i < c->n_workers) {
    if (now_ms - c->workers[i].hb.at_ms > CONSOLE_WORKER_FORGET_MS) {
      msg_heartbeat_release(&c->workers[i].hb);
      memmove(&c->workers[i], &c->workers[i + 1], (c->n_workers - i - 1) * sizeof(*c->workers));
      c->n_workers--;
    } else {
      i++;
    }
  }
}

static int stale(const msg_heartbeat_t *h, int64_t now_ms) {
  return now_ms - h->at_ms > 3 * (h->every_ms > 0 ? h->every_ms : 1000);
}

static int cmp_worker(const void *a, const void *b) {
  return strcmp(((const cs_worker_t *)a)->hb.worker, ((const cs_worker_t *)b)->hb.worker);
}

json_t *console_workers_json(console_t *c, int64_t now_ms) {
  json_t *a = json_array();
  size_t i, k, j;
  forget_old(c, now_ms);
  /* No heartbeat yet: the array is NULL, which qsort may not be given. */
  if (c->n_workers > 1) qsort(c->workers, c->n_workers, sizeof(*c->workers), cmp_worker);
  for (i = 0; i < c->n_workers; i++) {
    const msg_heartbeat_t *h = &c->workers[i].hb;
    json_t *o = json_object(), *ts = json_array(), *ps = json_array();
    json_object_set_new(o, "worker", json_string(h->worker));
    json_object_set_new(o, "host", h->host ? json_string(h->host) : json_null());
    json_object_set_new(o, "at_ms", json_integer(h->at_ms));
    json_object_set_new(o, "every_ms", json_integer(h->every_ms));
    json_object_set_new(o, "age_ms", json_integer(now_ms - h->at_ms));
    json_object_set_new(o, "stale", json_boolean(stale(h, now_ms)));
    for (k = 0; k < h->n_tasks; k++)
      json_array_append_new(ts, json_pack("{s:s, s:I, s:b}", "task", h->tasks[k].task,
                                          "objects", (json_int_t)h->tasks[k].objects, "held",
                                          h->tasks[k].held));
    json_object_set_new(o, "tasks", ts);
    for (k = 0; k < h->n_parts; k++) {
      json_t *pa = json_array();
      for (j = 0; j < h->parts[k].n; j++)
        json_array_append_new(pa, json_integer(h->parts[k].partitions[j]));
      json_array_append_new(ps, json_pack("{s:s, s:o}", "topic", h->parts[k].topic,
                                          "partitions", pa));
    }
    json_object_set_new(o, "parts", ps);
    json_object_set_new(o, "rate", h->has_rate ? json_pack("{s:f, s:f}", "objects_s",
                                                           h->objects_s, "bytes_s", h->bytes_s)
                                               : json_null());
    json_array_append_new(a, o);
  }
  return a;
}

void console_states_text(const console_t *c, fbuf_t *out) {
  const char **names;
  size_t n = console_task_names(c, &names), i;
  for (i = 0; i < n; i++) {
    const cs_task_t *t = task_find(c, names[i], strlen(names[i]));
    fbuf_addf(out, "%s: %s", t->name, ctl_state_str(t->st.state));
    if (t->st.by) fbuf_addf(out, " (by %s)", t->st.by);
    fbuf_addc(out, '\n');
  }
  fx_free(names);
}

uint64_t console_rejected(const console_t *c) { return c->rejected; }
uint64_t console_dropped(const console_t *c) { return c->dropped; }

void console_metrics(const console_t *c, int64_t now_ms, fbuf_t *out) {
  const char **names;
  size_t n = console_task_names(c, &names), i;
  uint64_t live = 0;
  int s;
  if (n) {
    prom_head(out, "ferry_taskstate", "gauge",
              "1 for the task's state in the master's taskstate topic (created, running, "
              "paused, cancelled), 0 for the others");
    for (i = 0; i < n; i++) {
      const char *cur = console_state(c, names[i]);
      for (s = 0; s < CTLS__COUNT; s++) {
        const char *w = ctl_state_str((ctl_state_t)s);
        const char *l[] = {"task", names[i], "state", w, NULL};
        prom_u64(out, "ferry_taskstate", l, strcmp(w, cur) == 0);
      }
    }
  }
  fx_free(names);
  for (i = 0; i < c->n_workers; i++) live += !stale(&c->workers[i].hb, now_ms);
  prom_head(out, "ferry_workers", "gauge",
            "workers whose heartbeat came within three of their intervals");
  prom_u64(out, "ferry_workers", NULL, live);
}

/* ---------- commands ---------- */

static int name_ok(const char *s) {
  size_t n = strlen(s), i;
  if (!n || n > 255) return 0;
  for (i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return 0;
  return 1;
}

static ferry_err_t get_limits(const console_t *c, const char *task, const json_t *body,
                              ctl_limits_t *l, char *eb) {
  const cs_task_t *t = task_find(c, task, strlen(task));
  const json_t *o = json_object_get(body, "limits"), *v;
  size_t i;
  if (!o) o = body;
  memset(l, 0, sizeof(*l));
  if (t && t->has_state) ctl_limits_copy(l, &t->st.limits);
  if (!json_is_object(o))
    return ferry_seterr(eb, FERRY_ERR_INVALID, "limits: expected a JSON object with qps, "
                        "bandwidth and/or schedule");
  if ((v = json_object_get(o, "qps"))) {
    if (!json_is_integer(v) || json_integer_value(v) < 0)
      return ferry_seterr(eb, FERRY_ERR_INVALID, "limits.qps: not an integer >= 0");
    l->qps = (uint64_t)json_integer_value(v);
  }
  if ((v = json_object_get(o, "bandwidth"))) {
    char e2[FERRY_ERRLEN];
    if (json_is_integer(v) && json_integer_value(v) >= 0)
      l->bandwidth = (uint64_t)json_integer_value(v);
    else if (!json_is_string(v) || conf_parse_size(json_string_value(v), &l->bandwidth, e2))
      return ferry_seterr(eb, FERRY_ERR_INVALID,
                          "limits.bandwidth: not a byte count (an integer >= 0 or \"10M\")");
  }
  if ((v = json_object_get(o, "schedule"))) {
    if (!json_is_array(v))
      return ferry_seterr(eb, FERRY_ERR_INVALID, "limits.schedule: not an array");
    for (i = 0; i < l->n_schedule; i++) fx_free(l->schedule[i]);
    fx_free(l->schedule);
    l->schedule = fx_calloc(json_array_size(v) + 1, sizeof(*l->schedule));
    l->n_schedule = 0;
    for (i = 0; i < json_array_size(v); i++) {
      const char *w = json_string_value(json_array_get(v, i));
      conf_window_t win;
      uint64_t bw;
      char e2[FERRY_ERRLEN];
      if (!w) return ferry_seterr(eb, FERRY_ERR_INVALID, "limits.schedule[%zu]: not a string", i);
      if (conf_parse_bwsched(w, &win, &bw, e2))
        return ferry_seterr(eb, FERRY_ERR_INVALID, "limits.schedule[%zu]: %s", i, e2);
      l->schedule[l->n_schedule++] = fx_strdup(w);
    }
  }
  return FERRY_OK;
}

ferry_err_t console_command(const console_t *c, const char *task, const char *verb,
                            const json_t *body, const char *by, int64_t now_ms,
                            msg_control_t *out, char *errbuf) {
  ctl_cmd_t cmd;
  ferry_err_t e;
  memset(out, 0, sizeof(*out));
  if (!task || !name_ok(task))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "the task name must be 1-255 bytes without control characters");
  if (ctl_cmd_parse(verb, &cmd))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "unknown action \"%s\"", verb);
  if (body && !json_is_object(body))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "the body is not a JSON object");
  if (cmd == CTL_CREATE) {
    const char *name = json_string_value(json_object_get(body, "name"));
    if (!body) return ferry_seterr(errbuf, FERRY_ERR_INVALID, "create: the task spec is missing");
    if (!name || strcmp(name, task) != 0)
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "create: the spec's \"name\" must be the task's name");
    out->spec = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!out->spec) return ferry_seterr(errbuf, FERRY_ERR_INVALID, "create: bad spec");
    /* json_dumps allocates with malloc; the codec frees with fx_free. */
    {
      char *s = fx_strdup(out->spec);
      free(out->spec);
      out->spec = s;
    }
  } else if (cmd == CTL_LIMITS) {
    out->has_limits = 1;
    if ((e = get_limits(c, task, body, &out->limits, errbuf))) {
      msg_control_release(out);
      memset(out, 0, sizeof(*out));
      return e;
    }
  }
  out->id = fx_malloc(17);
  ctl_new_id(out->id);
  out->cmd = cmd;
  out->task = fx_strdup(task);
  out->by = fx_strdup(by);
  out->at_ms = now_ms;
  return FERRY_OK;
}
