/*
 * control.c: codecs of the console's control and taskstate messages
 * (control.h). Same rules as msg.c: scalar fields always written and
 * required, "may be NULL" pointers omitted when NULL, unknown members
 * ignored so that version 1 can grow.
 */
#include "bus/control.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "bus/jsonx.h"
#include "bus/msg.h"

/* At most this many schedule entries: a day cut into 15-minute windows. */
#define MAX_SCHEDULE 96
/* A task spec is a config entry: a few hundred bytes, far below this. */
#define MAX_SPEC 65536

static const char *const cmd_names[CTL_CMD__COUNT] = {
    "create", "start", "retry-failed", "pause", "resume", "cancel", "limits"};
static const char *const state_names[CTLS__COUNT] = {"created", "running", "paused",
                                                     "cancelled"};

static int find(const char *const *names, size_t n, const char *s) {
  size_t i;
  for (i = 0; s && i < n; i++)
    if (strcmp(s, names[i]) == 0) return (int)i;
  return -1;
}

const char *ctl_cmd_str(ctl_cmd_t c) {
  return (unsigned)c < CTL_CMD__COUNT ? cmd_names[c] : "?";
}
int ctl_cmd_parse(const char *s, ctl_cmd_t *out) {
  int i = find(cmd_names, CTL_CMD__COUNT, s);
  if (i < 0) return -1;
  *out = (ctl_cmd_t)i;
  return 0;
}
const char *ctl_state_str(ctl_state_t s) {
  return (unsigned)s < CTLS__COUNT ? state_names[s] : "?";
}
int ctl_state_parse(const char *s, ctl_state_t *out) {
  int i = find(state_names, CTLS__COUNT, s);
  if (i < 0) return -1;
  *out = (ctl_state_t)i;
  return 0;
}

void ctl_limits_release(ctl_limits_t *l) {
  size_t i;
  if (!l) return;
  for (i = 0; l->schedule && i < l->n_schedule; i++) fx_free(l->schedule[i]);
  fx_free(l->schedule);
  memset(l, 0, sizeof(*l));
}

void ctl_limits_copy(ctl_limits_t *dst, const ctl_limits_t *src) {
  size_t i;
  memset(dst, 0, sizeof(*dst));
  dst->qps = src->qps;
  dst->bandwidth = src->bandwidth;
  if (!src->n_schedule) return;
  dst->schedule = fx_calloc(src->n_schedule, sizeof(*dst->schedule));
  for (i = 0; i < src->n_schedule; i++) dst->schedule[i] = fx_strdup(src->schedule[i]);
  dst->n_schedule = src->n_schedule;
}

void msg_control_release(msg_control_t *c) {
  if (!c) return;
  fx_free(c->id);
  fx_free(c->task);
  fx_free(c->by);
  fx_free(c->spec);
  fx_free(c->error);
  ctl_limits_release(&c->limits);
  memset(c, 0, sizeof(*c));
}

void msg_taskstate_release(msg_taskstate_t *t) {
  if (!t) return;
  fx_free(t->task);
  fx_free(t->spec);
  fx_free(t->by);
  fx_free(t->cmd);
  ctl_limits_release(&t->limits);
  memset(t, 0, sizeof(*t));
}

void ctl_new_id(char out[17]) {
  unsigned char b[8];
  size_t i;
  if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
    /* No entropy source: time and pid still make clashes unlikely. */
    uint64_t x = (uint64_t)time(NULL) * 6364136223846793005u ^ (uint64_t)getpid() ^
                 (uint64_t)clock();
    memcpy(b, &x, sizeof(b));
  }
  for (i = 0; i < sizeof(b); i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* ---------- encoding ---------- */

static json_t *enc_limits(const ctl_limits_t *l) {
  json_t *o = json_object(), *a = json_array();
  size_t i;
  int bad = 0;
  bad |= jx_put_u64(o, "qps", l->qps);
  bad |= jx_put_u64(o, "bandwidth", l->bandwidth);
  for (i = 0; i < l->n_schedule; i++)
    bad |= !l->schedule[i] || json_array_append_new(a, json_string(l->schedule[i]));
  bad |= jx_put(o, "schedule", a);
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

/* spec text → object, or NULL when it is not one. */
static json_t *enc_spec(const char *spec) {
  json_t *o = spec ? json_loads(spec, JSON_REJECT_DUPLICATES, NULL) : NULL;
  if (o && !json_is_object(o)) {
    json_decref(o);
    return NULL;
  }
  return o;
}

char *msg_control_encode(const msg_control_t *c) {
  json_t *o = json_object();
  int bad = 0;
  bad |= jx_put_i64(o, "v", MSG_VERSION);
  bad |= jx_put_str(o, "type", c->is_ack ? "ack" : "command");
  bad |= jx_put_str(o, "id", c->id);
  bad |= jx_put_str(o, "cmd", (unsigned)c->cmd < CTL_CMD__COUNT ? cmd_names[c->cmd] : NULL);
  bad |= jx_put_str(o, "task", c->task);
  bad |= jx_put_str(o, "by", c->by);
  bad |= jx_put_i64(o, "at_ms", c->at_ms);
  if (c->is_ack) {
    bad |= jx_put(o, "ok", json_boolean(c->ok));
    bad |= c->ok ? jx_put_opt_str(o, "error", c->error) : jx_put_str(o, "error", c->error);
  } else {
    if (c->cmd == CTL_CREATE || c->spec) bad |= jx_put(o, "spec", enc_spec(c->spec));
    if (c->cmd == CTL_LIMITS && !c->has_limits) bad = 1;
    if (c->has_limits) bad |= jx_put(o, "limits", enc_limits(&c->limits));
  }
  return jx_finish(o, bad);
}

char *msg_taskstate_encode(const msg_taskstate_t *t) {
  json_t *o = json_object();
  int bad = 0;
  bad |= jx_put_i64(o, "v", MSG_VERSION);
  bad |= jx_put_str(o, "task", t->task);
  bad |= jx_put_str(o, "origin", t->console ? "console" : "config");
  bad |= jx_put_str(o, "state",
                    (unsigned)t->state < CTLS__COUNT ? state_names[t->state] : NULL);
  bad |= jx_put_i64(o, "run", t->run);
  bad |= jx_put(o, "spec", enc_spec(t->spec));
  bad |= jx_put(o, "limits", enc_limits(&t->limits));
  bad |= jx_put_i64(o, "updated_ms", t->updated_ms);
  bad |= jx_put_opt_str(o, "by", t->by);
  bad |= jx_put_opt_str(o, "cmd", t->cmd);
  return jx_finish(o, bad);
}

/* ---------- decoding ---------- */

#define TRY(expr)                                                              \
  do {                                                                         \
    if ((e = (expr)) != FERRY_OK) return e;                                    \
  } while (0)

static ferry_err_t dec_limits(json_t *r, const char *P, ctl_limits_t *l, char *eb) {
  char path[64], sp[80];
  json_t *o, *a;
  size_t i, n;
  ferry_err_t e;
  TRY(jx_get_obj(r, P, "limits", &o, eb));
  snprintf(path, sizeof(path), "%s.limits", P);
  TRY(jx_get_u64(o, path, "qps", &l->qps, eb));
  TRY(jx_get_u64(o, path, "bandwidth", &l->bandwidth, eb));
  if (!(a = jx_member(o, "schedule"))) return FERRY_OK;
  if (!json_is_array(a))
    return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.schedule: not an array", path);
  n = json_array_size(a);
  if (n > MAX_SCHEDULE)
    return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.schedule: %zu entries (at most %d)", path,
                        n, MAX_SCHEDULE);
  l->schedule = n ? fx_calloc(n, sizeof(*l->schedule)) : NULL;
  for (i = 0; i < n; i++) {
    json_t *v = json_array_get(a, i);
    snprintf(sp, sizeof(sp), "%s.schedule[%zu]", path, i);
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        memchr(json_string_value(v), '\0', json_string_length(v)))
      return ferry_seterr(eb, FERRY_ERR_PARSE, "%s: not a non-empty string", sp);
    l->schedule[i] = fx_strdup(json_string_value(v));
    l->n_schedule = i + 1;
  }
  return FERRY_OK;
}

/* The spec member: an object of at most MAX_SPEC bytes, kept as text. */
static ferry_err_t dec_spec(json_t *r, const char *P, int req, char **out, char *eb) {
  json_t *o = jx_member(r, "spec");
  char *s;
  if (!o) return req ? jx_missing(eb, P, "spec") : FERRY_OK;
  if (!json_is_object(o)) return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.spec: not an object", P);
  s = json_dumps(o, JSON_COMPACT);
  if (!s) return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.spec: cannot be encoded", P);
  if (strlen(s) > MAX_SPEC) {
    free(s);
    return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.spec: longer than %d bytes", P, MAX_SPEC);
  }
  *out = fx_strdup(s);
  free(s);
  return FERRY_OK;
}

static ferry_err_t dec_id(json_t *r, const char *P, char **out, char *eb) {
  ferry_err_t e;
  size_t i;
  TRY(jx_get_str(r, P, "id", 1, 1, out, eb));
  for (i = 0; (*out)[i]; i++)
    if (!strchr("0123456789abcdef", (*out)[i])) break;
  if (i != 16 || (*out)[i])
    return ferry_seterr(eb, FERRY_ERR_PARSE, "%s.id: not 16 lowercase hex digits", P);
  return FERRY_OK;
}

static ferry_err_t dec_control(json_t *r, msg_control_t *c, char *eb) {
  const char *P = "control";
  static const char *const types[] = {"command", "ack"};
  json_t *v;
  int x;
  ferry_err_t e;
  TRY(jx_get_enum(r, P, "type", types, 2, &c->is_ack, eb));
  TRY(dec_id(r, P, &c->id, eb));
  TRY(jx_get_enum(r, P, "cmd", cmd_names, CTL_CMD__COUNT, &x, eb));
  c->cmd = (ctl_cmd_t)x;
  TRY(jx_get_str(r, P, "task", 1, 1, &c->task, eb));
  TRY(jx_get_str(r, P, "by", 1, 1, &c->by, eb));
  TRY(jx_get_time(r, P, "at_ms", &c->at_ms, eb));
  if (c->is_ack) {
    v = jx_member(r, "ok");
    if (!v || !json_is_boolean(v))
      return ferry_seterr(eb, FERRY_ERR_PARSE, "control.ok: %s",
                          v ? "not a boolean" : "missing");
    c->ok = json_is_true(v);
    return jx_get_str(r, P, "error", !c->ok, 0, &c->error, eb);
  }
  TRY(dec_spec(r, P, c->cmd == CTL_CREATE, &c->spec, eb));
  if (c->cmd == CTL_LIMITS || jx_member(r, "limits")) {
    c->has_limits = 1;
    TRY(dec_limits(r, P, &c->limits, eb));
  }
  return FERRY_OK;
}

static ferry_err_t dec_taskstate(json_t *r, msg_taskstate_t *t, char *eb) {
  const char *P = "taskstate";
  static const char *const origins[] = {"config", "console"};
  int x;
  ferry_err_t e;
  TRY(jx_get_str(r, P, "task", 1, 1, &t->task, eb));
  TRY(jx_get_enum(r, P, "origin", origins, 2, &t->console, eb));
  TRY(jx_get_enum(r, P, "state", state_names, CTLS__COUNT, &x, eb));
  t->state = (ctl_state_t)x;
  TRY(jx_get_int(r, P, "run", 0, INT_MAX, &t->run, eb));
  TRY(dec_spec(r, P, 1, &t->spec, eb));
  TRY(dec_limits(r, P, &t->limits, eb));
  TRY(jx_get_time(r, P, "updated_ms", &t->updated_ms, eb));
  TRY(jx_get_str(r, P, "by", 0, 1, &t->by, eb));
  TRY(jx_get_str(r, P, "cmd", 0, 1, &t->cmd, eb));
  return FERRY_OK;
}

#undef TRY

ferry_err_t msg_control_decode(const char *buf, size_t len, msg_control_t *out,
                               char *errbuf) {
  json_t *root;
  ferry_err_t e;
  memset(out, 0, sizeof(*out));
  if ((e = jx_load(buf, len, "control", &root, errbuf))) return e;
  e = dec_control(root, out, errbuf);
  json_decref(root);
  if (e) msg_control_release(out);
  return e;
}

ferry_err_t msg_taskstate_decode(const char *buf, size_t len, msg_taskstate_t *out,
                                 char *errbuf) {
  json_t *root;
  ferry_err_t e;
  memset(out, 0, sizeof(*out));
  if ((e = jx_load(buf, len, "taskstate", &root, errbuf))) return e;
  e = dec_taskstate(root, out, errbuf);
  json_decref(root);
  if (e) msg_taskstate_release(out);
  return e;
}
