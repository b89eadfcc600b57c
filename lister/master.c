/*
 * master.c: ferry-lister --serve, the console's master (docs/lister.md,
 * "Master").
 *
 * One master acts at a time: it holds the lease "<prefix>master" (lease.h);
 * others wait in the group as standbys and take over when the holder leaves
 * or dies (a session timeout). The acting master reads the taskstate topic
 * whole (its table), adds a record for each config task it does not know,
 * then applies the control commands after the last one acked, in order,
 * and every command that comes later, answering each with an ack. It writes
 * taskstate only. Listings run as child ferry-lister processes, so the task
 * lease, the checkpoints and resume are the CLI's own; a console task's
 * child reads the master's config with the spec appended, written 0600 in a
 * private runtime directory removed at exit.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bus/control.h"
#include "bus/lease.h"
#include "bus/msg.h"
#include "bus/topicscan.h"
#include "conf/busconf.h"
#include "core/log.h"
#include "lister/console.h"
#include "lister/lister.h"
#include "lister/mstate.h"

#define FAC "master"
#define RESPAWN_MS 5000       /* a child refused (another holds the task): again after */
#define CLEANUP_DELAY_MS 10000 /* cancel: workers stop their transfers first */

typedef struct mtask {
  msg_taskstate_t st;
  int have;            /* st is set */
  char *tasks_state;   /* the tasks topic's latest record: "listing", ... or NULL */
  int tasks_retry;     /* that record is a retry run */
  pid_t list_pid;      /* the listing child, 0 = none */
  int list_retry;      /* it runs --retry-failed */
  int64_t respawn_at;  /* mono ms: spawn the listing again (0 = no) */
  pid_t cleanup_pid;
  int64_t cleanup_at;  /* mono ms: run --cleanup (0 = no) */
} mtask_t;

typedef struct master {
  const ferry_conf_t *conf;
  bus_conf_t bc;
  bus_producer_t *prod;
  bus_lease_t *lease;
  bus_consumer_t *ctl;
  mtask_t *t;
  size_t n;
  char by[128];       /* "master:host-pid" */
  char rundir[256];   /* private runtime directory, "" = none yet */
  char exe[4096];
} master_t;

static mtask_t *find(master_t *m, const char *task) {
  size_t i;
  for (i = 0; i < m->n; i++)
    if (strcmp(m->t[i].st.task, task) == 0) return &m->t[i];
  return NULL;
}

static mtask_t *add(master_t *m, const char *task) {
  mtask_t *t;
  m->t = fx_realloc(m->t, (m->n + 1) * sizeof(*m->t));
  t = &m->t[m->n++];
  memset(t, 0, sizeof(*t));
  t->st.task = fx_strdup(task);
  return t;
}

/* ---------- reading the table ---------- */

static int on_state(const bus_msg_t *b, void *ctx) {
  master_t *m = ctx;
  msg_taskstate_t s;
  mtask_t *t;
  char eb[FERRY_ERRLEN];
  if (!b->value) return 0; /* a tombstone: nothing to forget, records are never deleted */
  if (msg_taskstate_decode(b->value, b->len, &s, eb)) {
    LOG_WARN(FAC, "offset=%" PRId64 " msg=\"undecodable taskstate record skipped\" err=%s",
             b->offset, FLOG_Q(eb));
    return 0;
  }
  t = find(m, s.task);
  if (!t) t = add(m, s.task);
  msg_taskstate_release(&t->st);
  t->st = s;
  t->have = 1;
  return 0;
}

static int on_tasks(const bus_msg_t *b, void *ctx) {
  master_t *m = ctx;
  msg_task_t r;
  mtask_t *t;
  char eb[FERRY_ERRLEN];
  if (!b->value || msg_task_decode(b->value, b->len, &r, eb)) return 0;
  if ((t = find(m, r.task)) != NULL) {
    fx_free(t->tasks_state);
    t->tasks_state = fx_strdup(r.state);
    t->tasks_retry = r.retry_of != 0;
  }
  msg_task_release(&r);
  return 0;
}

/* ---------- writing ---------- */

static ferry_err_t flush(master_t *m, char *eb) {
  return bus_producer_flush(m->prod, 30000, eb);
}

static void put_state(master_t *m, mtask_t *t, const char *by, const char *cmd) {
  char *v, eb[FERRY_ERRLEN];
  t->st.updated_ms = ferry_wall_ms();
  fx_free(t->st.by);
  fx_free(t->st.cmd);
  t->st.by = by ? fx_strdup(by) : NULL;
  t->st.cmd = cmd ? fx_strdup(cmd) : NULL;
  t->have = 1;
  v = msg_taskstate_encode(&t->st);
  if (!v || bus_producer_send(m->prod, BUS_TASKSTATE, t->st.task, v, strlen(v), NULL, eb))
    LOG_ERROR(FAC, "task=%s msg=\"taskstate record not sent\" err=%s", FLOG_V(t->st.task),
              FLOG_Q(v ? eb : "not encodable"));
  fx_free(v);
  LOG_INFO(FAC, "task=%s state=%s by=%s", FLOG_V(t->st.task), ctl_state_str(t->st.state),
           FLOG_V(by ? by : m->by));
}

static void put_ack(master_t *m, const msg_control_t *c, const char *error) {
  msg_control_t a;
  char *v, eb[FERRY_ERRLEN];
  memset(&a, 0, sizeof(a));
  a.is_ack = 1;
  a.id = c->id;
  a.cmd = c->cmd;
  a.task = c->task;
  a.by = m->by;
  a.at_ms = ferry_wall_ms();
  a.ok = error == NULL;
  a.error = (char *)error;
  v = msg_control_encode(&a);
  if (!v || bus_producer_send(m->prod, BUS_CONTROL, c->task, v, strlen(v), NULL, eb))
    LOG_ERROR(FAC, "task=%s cmd=%s msg=\"ack not sent\" err=%s", FLOG_V(c->task),
              FLOG_V(c->id), FLOG_Q(v ? eb : "not encodable"));
  fx_free(v);
  if (flush(m, eb)) LOG_ERROR(FAC, "msg=\"records not delivered\" err=%s", FLOG_Q(eb));
  LOG_INFO(FAC, "task=%s cmd=%s id=%s by=%s ok=%d%s%s", FLOG_V(c->task),
           ctl_cmd_str(c->cmd), FLOG_V(c->id), FLOG_V(c->by), !error, error ? " error=" : "",
           error ? FLOG_Q(error) : "");
}

/* ---------- children ---------- */

/* The config file of task t's child: the master's own, or for a console
 * task the master's with the spec appended (0600, in the runtime dir). */
static const char *child_conf(master_t *m, mtask_t *t, char *path, size_t n, char *eb) {
  if (!t->st.console) return m->conf->path;
  if (!*m->rundir) {
    const char *base = getenv("RUNTIME_DIRECTORY");
    if (!base || !*base) base = getenv("XDG_RUNTIME_DIR");
    if (!base || !*base) base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    snprintf(m->rundir, sizeof(m->rundir), "%s/ferry-master.XXXXXX", base);
    if (!mkdtemp(m->rundir)) {
      ferry_seterr(eb, FERRY_ERR_IO, "runtime directory %s: %s", m->rundir, strerror(errno));
      *m->rundir = 0;
      return NULL;
    }
    LOG_INFO(FAC, "rundir=%s msg=\"runtime directory made\"", FLOG_V(m->rundir));
  }
  snprintf(path, n, "%s/%s.conf", m->rundir, t->st.task);
  unlink(path);
  if (conf_write_with_spec(m->conf, t->st.spec, path, eb)) return NULL;
  return path;
}

/* mode: NULL (a listing), "--resume-only", "--retry-failed", or "--cleanup". */
static pid_t spawn(master_t *m, mtask_t *t, const char *mode) {
  char path[512], eb[FERRY_ERRLEN];
  const char *cf = child_conf(m, t, path, sizeof(path), eb);
  const char *argv[10];
  int i = 0;
  pid_t pid;
  if (!cf) {
    LOG_ERROR(FAC, "task=%s msg=\"no config for the child\" err=%s", FLOG_V(t->st.task),
              FLOG_Q(eb));
    return -1;
  }
  argv[i++] = "ferry-lister";
  argv[i++] = "-c";
  argv[i++] = cf;
  argv[i++] = "-t";
  argv[i++] = t->st.task;
  if (mode) argv[i++] = mode;
  if (mode && strcmp(mode, "--cleanup") == 0) {
    argv[i++] = "--older-than";
    argv[i++] = "0";
  }
  argv[i] = NULL;
  pid = fork();
  if (pid == 0) {
    execv(m->exe, (char *const *)argv);
    _exit(127);
  }
  if (pid < 0) {
    LOG_ERROR(FAC, "task=%s msg=\"fork failed\" err=%s", FLOG_V(t->st.task),
              FLOG_Q(strerror(errno)));
    return -1;
  }
  LOG_INFO(FAC, "task=%s pid=%d msg=\"child started\" mode=%s", FLOG_V(t->st.task), (int)pid,
           mode ? mode + 2 : "listing");
  return pid;
}

/* resume: a listing started again (taking over, or after another lister
 * held the task) only goes on with an unfinished run: the lister that held
 * the task may finish it before this one gets the lease, and a plain
 * listing would then start the whole run over. */
static void start_listing(master_t *m, mtask_t *t, int retry, int resume) {
  pid_t p = spawn(m, t, retry ? "--retry-failed" : resume ? "--resume-only" : NULL);
  t->list_pid = p > 0 ? p : 0;
  t->list_retry = retry;
  t->respawn_at = 0;
}

/* Children that ended: logged; a listing refused because another lister
 * holds the task (a child of a master gone) is tried again later. */
static void reap(master_t *m) {
  int status;
  pid_t pid;
  size_t i;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    for (i = 0; i < m->n; i++) {
      mtask_t *t = &m->t[i];
      if (pid == t->cleanup_pid) {
        t->cleanup_pid = 0;
        LOG_INFO(FAC, "task=%s pid=%d msg=\"cleanup ended\" exit=%d", FLOG_V(t->st.task),
                 (int)pid, code);
      }
      if (pid != t->list_pid) continue;
      t->list_pid = 0;
      if (code == LISTER_EXIT_BUSY && t->st.state != CTLS_CANCELLED) {
        LOG_INFO(FAC, "task=%s pid=%d msg=\"another lister holds the task; trying again\"",
                 FLOG_V(t->st.task), (int)pid);
        t->respawn_at = ferry_mono_ms() + RESPAWN_MS;
      } else if (code == 0) {
        LOG_INFO(FAC, "task=%s pid=%d msg=\"listing ended\" exit=0", FLOG_V(t->st.task),
                 (int)pid);
      } else {
        LOG_ERROR(FAC, "task=%s pid=%d msg=\"listing failed\" exit=%d signal=%d",
                  FLOG_V(t->st.task), (int)pid, code,
                  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
      }
    }
  }
}

/* Whether t's run is still to be listed, as the tasks topic says now: the
 * lister that held the task may have finished it meanwhile (then a new
 * child would start another run). */
static int still_listing(master_t *m, mtask_t *t) {
  char eb[FERRY_ERRLEN];
  if (bus_scan(&m->bc, BUS_TASKS, 30000, on_tasks, m, NULL, eb)) {
    LOG_WARN(FAC, "msg=\"tasks topic unreadable\" err=%s", FLOG_Q(eb));
    t->respawn_at = ferry_mono_ms() + RESPAWN_MS;
    return 0;
  }
  if (t->tasks_state && strcmp(t->tasks_state, "listing") == 0) return 1;
  LOG_INFO(FAC, "task=%s state=%s msg=\"its listing was finished by the lister that held "
           "it\"", FLOG_V(t->st.task), FLOG_V(t->tasks_state ? t->tasks_state : "none"));
  return 0;
}

static void timers(master_t *m) {
  int64_t now = ferry_mono_ms();
  size_t i;
  for (i = 0; i < m->n; i++) {
    mtask_t *t = &m->t[i];
    if (t->respawn_at && now >= t->respawn_at && !t->list_pid) {
      t->respawn_at = 0;
      if ((t->st.state == CTLS_RUNNING || t->st.state == CTLS_PAUSED) && still_listing(m, t))
        start_listing(m, t, t->list_retry, 1);
    }
    if (t->cleanup_at && now >= t->cleanup_at && !t->cleanup_pid) {
      pid_t p = spawn(m, t, "--cleanup");
      t->cleanup_pid = p > 0 ? p : 0;
      t->cleanup_at = 0;
    }
  }
}

/* ---------- commands ---------- */

static void limits_from_spec(mtask_t *t, const task_conf_t *tc) {
  ctl_limits_release(&t->st.limits);
  memset(&t->st.limits, 0, sizeof(t->st.limits));
  t->st.limits.qps = tc->qps_limit;
  t->st.limits.bandwidth = tc->bandwidth_limit;
  t->st.limits.n_schedule = conf_spec_schedule(t->st.spec, &t->st.limits.schedule);
}

/* create: NULL (done) or the reason of the refusal, written into err. */
static const char *do_create(master_t *m, const msg_control_t *c, char *err, size_t n) {
  fbuf_t errs;
  ferry_conf_t *sc;
  mtask_t *t = find(m, c->task);
  if (conf_task(m->conf, c->task)) {
    snprintf(err, n, "task \"%s\" is defined in the config file; the config wins", c->task);
    return err;
  }
  if (t && t->have) {
    snprintf(err, n, "task \"%s\" exists (%s, state %s)", c->task,
             t->st.console ? "console" : "config", ctl_state_str(t->st.state));
    return err;
  }
  fbuf_init(&errs, 0);
  sc = conf_load_spec(m->conf, c->spec, &errs);
  if (!sc || strcmp(sc->tasks[0].name, c->task) != 0) {
    if (sc) fbuf_addf(&errs, "tasks[0].name: \"%s\" is not the command's task \"%s\"\n",
                      sc->tasks[0].name, c->task);
    if (errs.len && fbuf_str(&errs)[errs.len - 1] == '\n') errs.len--;
    snprintf(err, n, "%.*s", (int)errs.len, fbuf_str(&errs));
    fbuf_release(&errs);
    conf_destroy(sc);
    return err;
  }
  fbuf_release(&errs);
  if (!t) t = add(m, c->task);
  t->st.console = 1;
  t->st.state = CTLS_CREATED;
  t->st.run = 0;
  fx_free(t->st.spec);
  t->st.spec = fx_strdup(c->spec);
  limits_from_spec(t, &sc->tasks[0]);
  conf_destroy(sc);
  put_state(m, t, c->by, c->id);
  return NULL;
}

/* Every command but create (the rules: mstate.c). */
static const char *do_task_cmd(master_t *m, const msg_control_t *c, mtask_t *t, char *err,
                               size_t n) {
  ctl_state_t s = t->st.state, next;
  if (mstate_apply(c->cmd, c->task, s, t->list_pid != 0, &next, err, n)) return err;
  if (c->cmd == CTL_LIMITS) {
    if (mstate_check_limits(&c->limits, err, n)) return err;
    ctl_limits_release(&t->st.limits);
    ctl_limits_copy(&t->st.limits, &c->limits);
  }
  if (c->cmd == CTL_START || c->cmd == CTL_RETRY) t->st.run++;
  if (c->cmd == CTL_CANCEL) {
    if (t->list_pid) kill(t->list_pid, SIGTERM);
    t->respawn_at = 0;
    if (s != CTLS_CREATED) t->cleanup_at = ferry_mono_ms() + CLEANUP_DELAY_MS;
  }
  t->st.state = next;
  if (next != s || c->cmd == CTL_LIMITS || c->cmd == CTL_START || c->cmd == CTL_RETRY)
    put_state(m, t, c->by, c->id);
  if (c->cmd == CTL_START || c->cmd == CTL_RETRY) {
    start_listing(m, t, c->cmd == CTL_RETRY, 0);
    if (!t->list_pid) {
      snprintf(err, n, "task \"%s\": the listing could not be started (see the master's "
               "log)", c->task);
      return err;
    }
  }
  return NULL;
}

static void apply(master_t *m, const msg_control_t *c) {
  char err[2048];
  const char *why;
  mtask_t *t;
  if (c->cmd == CTL_CREATE) {
    why = do_create(m, c, err, sizeof(err));
  } else if (!(t = find(m, c->task)) || !t->have) {
    snprintf(err, sizeof(err), "unknown task \"%s\"", c->task);
    why = err;
  } else {
    why = do_task_cmd(m, c, t, err, sizeof(err));
  }
  put_ack(m, c, why);
}

/* ---------- taking over ---------- */

/* Records for config tasks not in the table; 2 when a config task has the
 * name of a console task, else 0. */
static int adopt_config(master_t *m) {
  size_t i;
  for (i = 0; i < m->conf->n_tasks; i++) {
    const task_conf_t *tc = &m->conf->tasks[i];
    mtask_t *t = find(m, tc->name);
    if (t && t->have && t->st.console) {
      fprintf(stderr, "ferry-lister: --serve: task \"%s\" of %s has the name of a task "
              "created from the console (by %s): rename the config file's task; master not "
              "started\n", tc->name, m->conf->path, t->st.by ? t->st.by : "?");
      return LISTER_EXIT_USAGE;
    }
    if (t && t->have) continue;
    if (!t) t = add(m, tc->name);
    t->st.console = 0;
    t->st.state = CTLS_CREATED;
    t->st.spec = conf_task_spec(tc);
    limits_from_spec(t, tc);
    put_state(m, t, m->by, NULL);
  }
  return 0;
}

typedef struct catchup {
  msg_control_t *cmds;
  size_t n;
  char **acked;
  size_t n_acked;
} catchup_t;

static int was_acked(const catchup_t *k, const char *id) {
  size_t i;
  for (i = 0; i < k->n_acked; i++)
    if (strcmp(k->acked[i], id) == 0) return 1;
  return 0;
}

/* One control record: acks noted, commands kept (catching up) or applied. */
static void on_control(master_t *m, const bus_msg_t *b, catchup_t *k) {
  msg_control_t c;
  char eb[FERRY_ERRLEN];
  if (!b->value) return;
  if (msg_control_decode(b->value, b->len, &c, eb)) {
    LOG_WARN(FAC, "offset=%" PRId64 " msg=\"undecodable control record skipped\" err=%s",
             b->offset, FLOG_Q(eb));
    return;
  }
  if (c.is_ack) {
    if (k) {
      k->acked = fx_realloc(k->acked, (k->n_acked + 1) * sizeof(char *));
      k->acked[k->n_acked++] = fx_strdup(c.id);
    }
    msg_control_release(&c);
  } else if (k) {
    k->cmds = fx_realloc(k->cmds, (k->n + 1) * sizeof(*k->cmds));
    k->cmds[k->n++] = c;
  } else {
    apply(m, &c);
    msg_control_release(&c);
  }
}

/* Reads control up to its end as of now, then applies the commands after
 * the last one acked, in order. */
static ferry_err_t catch_up(master_t *m, char *eb) {
  static const bus_topic_t topics[] = {BUS_CONTROL};
  bus_part_mark_t *marks = NULL;
  size_t n_marks = 0, i, first = 0;
  int64_t high = 0, deadline = ferry_mono_ms() + 60000;
  catchup_t k;
  memset(&k, 0, sizeof(k));
  m->ctl = bus_reader_new(&m->bc, topics, 1, &marks, &n_marks, eb);
  if (!m->ctl) return FERRY_ERR_KAFKA;
  for (i = 0; i < n_marks; i++) high = marks[i].high > marks[i].low ? marks[i].high : 0;
  fx_free(marks);
  while (high > 0) {
    bus_msg_t *b = NULL;
    ferry_err_t e = bus_consumer_poll(m->ctl, 200, &b, eb);
    if (e == FERRY_ERR_TIMEOUT) {
      if (ferry_mono_ms() > deadline)
        return ferry_seterr(eb, FERRY_ERR_TIMEOUT, "control topic not read to its end "
                            "within 60 s");
      continue;
    }
    if (e) return e;
    on_control(m, b, &k);
    if (b->offset + 1 >= high) high = 0;
    bus_msg_destroy(b);
  }
  for (i = 0; i < k.n; i++)
    if (was_acked(&k, k.cmds[i].id)) first = i + 1;
  if (k.n > first)
    LOG_INFO(FAC, "msg=\"applying commands not acked\" count=%zu", k.n - first);
  for (i = 0; i < k.n; i++) {
    if (i >= first) apply(m, &k.cmds[i]);
    msg_control_release(&k.cmds[i]);
  }
  for (i = 0; i < k.n_acked; i++) fx_free(k.acked[i]);
  fx_free(k.acked);
  fx_free(k.cmds);
  return FERRY_OK;
}

/* Listings of running tasks cut short by the master before: again (each
 * child resumes from its checkpoint; one of a master gone still holding the
 * task's lease makes it wait). */
static void respawn(master_t *m) {
  size_t i;
  for (i = 0; i < m->n; i++) {
    mtask_t *t = &m->t[i];
    if ((t->st.state == CTLS_RUNNING || t->st.state == CTLS_PAUSED) && !t->list_pid &&
        t->tasks_state && strcmp(t->tasks_state, "listing") == 0) {
      LOG_INFO(FAC, "task=%s msg=\"resuming its listing\"", FLOG_V(t->st.task));
      start_listing(m, t, t->tasks_retry, 1);
    }
  }
}

static int take_over(master_t *m) {
  char eb[FERRY_ERRLEN];
  int rc;
  ferry_err_t e = bus_scan(&m->bc, BUS_TASKSTATE, 60000, on_state, m, NULL, eb);
  if (!e) e = bus_scan(&m->bc, BUS_TASKS, 60000, on_tasks, m, NULL, eb);
  if (e) {
    fprintf(stderr, "ferry-lister: --serve: %s\n", eb);
    return LISTER_EXIT_FAIL;
  }
  if ((rc = adopt_config(m))) return rc;
  if (flush(m, eb) || catch_up(m, eb)) {
    fprintf(stderr, "ferry-lister: --serve: %s\n", eb);
    return LISTER_EXIT_FAIL;
  }
  respawn(m);
  return 0;
}

/* ---------- the loop ---------- */

static int serve(master_t *m) {
  int rc = 0;
  while (!lister_stop) {
    bus_msg_t *b = NULL;
    char eb[FERRY_ERRLEN];
    ferry_err_t e;
    if (!bus_lease_held(m->lease)) {
      LOG_ERROR(FAC, "msg=\"lost the master lease (another master acts now): stopping\"");
      return LISTER_EXIT_FAIL;
    }
    e = bus_consumer_poll(m->ctl, 200, &b, eb);
    if (e == FERRY_OK) {
      on_control(m, b, NULL);
      bus_msg_destroy(b);
    } else if (e != FERRY_ERR_TIMEOUT) {
      LOG_ERROR(FAC, "msg=\"control topic unreadable\" err=%s", FLOG_Q(eb));
      rc = LISTER_EXIT_FAIL;
      break;
    }
    reap(m);
    timers(m);
  }
  return rc;
}

static int wait_lease(master_t *m) {
  char eb[FERRY_ERRLEN];
  char *group = fx_asprintf("%smaster", m->bc.topic_prefix ? m->bc.topic_prefix : "");
  ferry_err_t e = bus_topics_create(&m->bc, eb);
  int logged = 0;
  if (!e) e = bus_lease_join(&m->bc, group, 30000, 0, &m->lease, eb);
  if (e) {
    fprintf(stderr, "ferry-lister: --serve: %s\n", eb);
    fx_free(group);
    return LISTER_EXIT_FAIL;
  }
  while (!lister_stop && !bus_lease_held(m->lease)) {
    struct timespec ts = {0, 200 * 1000000L};
    if (!logged++)
      LOG_INFO(FAC, "msg=\"standby: another master acts (kafka group %s)\"", FLOG_V(group));
    nanosleep(&ts, NULL);
  }
  if (!lister_stop) LOG_INFO(FAC, "msg=\"acting master\" group=%s", FLOG_V(group));
  fx_free(group);
  return lister_stop ? LISTER_EXIT_OK : 0;
}

static void master_free(master_t *m) {
  size_t i;
  char eb[FERRY_ERRLEN];
  if (m->prod) {
    flush(m, eb);
    bus_producer_destroy(m->prod);
  }
  bus_consumer_destroy(m->ctl);
  bus_lease_release(m->lease);
  if (*m->rundir) {
    char p[512];
    for (i = 0; i < m->n; i++) {
      snprintf(p, sizeof(p), "%s/%s.conf", m->rundir, m->t[i].st.task);
      unlink(p);
    }
    if (rmdir(m->rundir))
      LOG_WARN(FAC, "rundir=%s msg=\"runtime directory not removed\" err=%s",
               FLOG_V(m->rundir), FLOG_Q(strerror(errno)));
  }
  for (i = 0; i < m->n; i++) {
    msg_taskstate_release(&m->t[i].st);
    fx_free(m->t[i].tasks_state);
  }
  fx_free(m->t);
  bus_conf_release(&m->bc);
}

int lister_master(const ferry_conf_t *conf) {
  master_t m;
  char eb[FERRY_ERRLEN], host[64];
  ssize_t n;
  int rc;
  memset(&m, 0, sizeof(m));
  m.conf = conf;
  if (gethostname(host, sizeof(host))) snprintf(host, sizeof(host), "localhost");
  host[sizeof(host) - 1] = 0;
  snprintf(m.by, sizeof(m.by), "master:%s-%d", host, (int)getpid());
  n = readlink("/proc/self/exe", m.exe, sizeof(m.exe) - 1);
  if (n <= 0) {
    fprintf(stderr, "ferry-lister: --serve: cannot find its own binary: %s\n", strerror(errno));
    return LISTER_EXIT_FAIL;
  }
  m.exe[n] = 0;
  if (bus_conf_from_kafka(&m.bc, &conf->kafka, eb) ||
      !(m.prod = bus_producer_new(&m.bc, NULL, NULL, eb))) {
    fprintf(stderr, "ferry-lister: --serve: %s\n", eb);
    bus_conf_release(&m.bc);
    return LISTER_EXIT_FAIL;
  }
  rc = wait_lease(&m);
  if (!rc && !lister_stop) rc = take_over(&m);
  if (!rc && !lister_stop) rc = serve(&m);
  reap(&m);
  LOG_INFO(FAC, "msg=\"master stopping\" rc=%d", rc);
  master_free(&m);
  return rc;
}
