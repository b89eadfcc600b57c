/*
 * ferry-reporter: per-task status from the tasks, results and failed topics.
 *
 *   ferry-reporter -c CONF                       follow the topics, log changes,
 *                                                serve HTTP on reporter.listen
 *   ferry-reporter -c CONF [--task T] --once     print status, caught up
 *   ferry-reporter -c CONF [--task T] --watch    refresh every reporter.refresh_s
 *   ferry-reporter -c CONF --task T --wait       block until T completes
 *   ferry-reporter -c CONF --export-failed T --out FILE [--format csv|jsonl]
 *   ferry-reporter -c CONF --export-audit T --out FILE [--format csv|jsonl]
 *
 * The logic is lib/report/tally.c; reading Kafka is feed.c; the HTTP server
 * is http.c (with --watch too); this file parses arguments and runs one of
 * the modes. Exit status: 0 ok (--wait: completed),
 * 1 runtime error (or --wait: the listing failed), 2 bad arguments or config,
 * 3 --wait: completed with failures, 4 --timeout passed. docs/reporter.md.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "bus/bus.h"
#include "conf/busconf.h"
#include "bus/control.h"
#include "bus/msg.h"
#include "report/console.h"
#include "report/series.h"
#include "report/tally.h"
#include "conf/config.h"
#include "core/log.h"
#include "reporter/audit_export.h"
#include "reporter/feed.h"
#include "reporter/http.h"
#include "web/auth.h"
#include "web/httpd.h"

#define FAC "reporter"

enum { EX_OK = 0, EX_ERR = 1, EX_USAGE = 2, EX_FAILURES = 3, EX_TIMEOUT = 4 };

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

typedef struct opts {
  const char *config;
  const char *task;
  int once, watch, wait, json;
  const char *export_task;
  int audit;          /* export_task is --export-audit's */
  const char *out;
  tally_export_fmt_t format;
  int have_format;
  double timeout_s;   /* < 0: none */
  const char *listen; /* --listen; NULL: reporter.listen; "": no server */
} opts_t;

static void usage(FILE *f) {
  fprintf(f,
          "usage: ferry-reporter [-c CONF] [--task T] [--once | --watch | --wait]\n"
          "                      [--json] [--timeout S] [--listen ADDR:PORT]\n"
          "       ferry-reporter [-c CONF] --export-failed T --out FILE\n"
          "                      [--format csv|jsonl] [--timeout S]\n"
          "       ferry-reporter [-c CONF] --export-audit T --out FILE\n"
          "                      [--format csv|jsonl] [--timeout S]\n"
          "  -c, --config CONF     configuration file (default $FERRY_CONFIG)\n"
          "  --task T              only task T\n"
          "  --once                print the status once, caught up with the topics\n"
          "  --watch               refresh the status every reporter.refresh_s until Ctrl-C\n"
          "  --wait                block until --task completes: exit 0 completed,\n"
          "                        3 completed with failures, 1 the listing failed or\n"
          "                        interrupted (with --watch: show progress)\n"
          "  --json                print JSON instead of text\n"
          "  --timeout S           give up after S seconds (exit 4)\n"
          "  --export-failed T     write T's still-failed objects to --out\n"
          "  --export-audit T      write every object written for T (its audit trail)\n"
          "                        to --out\n"
          "  --out FILE            export file (\"-\" = standard output)\n"
          "  --format csv|jsonl    export format (default csv)\n"
          "  --listen ADDR:PORT    serve the status page, API and metrics there\n"
          "                        (overrides reporter.listen; :PORT = 127.0.0.1,\n"
          "                        port 0 = any free port, \"\" = no server)\n"
          "  --log-level L         error|warn|info|debug|trace (overrides the config)\n"
          "  --version             print the version and exit\n"
          "Without --once, --watch, --wait or an export: follow the topics,\n"
          "log every task's state changes and serve HTTP until SIGTERM.\n"
          "Exit: 0 ok, 1 error, 2 bad arguments or config, 3 completed with failures,\n"
          "4 timeout.\n");
}

static int bad(const char *fmt, const char *arg) {
  fprintf(stderr, "ferry-reporter: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n");
  usage(stderr);
  return EX_USAGE;
}

static int parse_args(int argc, char **argv, opts_t *o, const char **log_level) {
  enum { O_TASK = 256, O_ONCE, O_WATCH, O_WAIT, O_JSON, O_TIMEOUT, O_EXPORT, O_OUT,
         O_FORMAT, O_LOGLEVEL, O_LISTEN, O_AUDIT };
  static const struct option lopts[] = {
      {"config", required_argument, NULL, 'c'},
      {"task", required_argument, NULL, O_TASK},
      {"once", no_argument, NULL, O_ONCE},
      {"watch", no_argument, NULL, O_WATCH},
      {"wait", no_argument, NULL, O_WAIT},
      {"json", no_argument, NULL, O_JSON},
      {"timeout", required_argument, NULL, O_TIMEOUT},
      {"export-failed", required_argument, NULL, O_EXPORT},
      {"export-audit", required_argument, NULL, O_AUDIT},
      {"out", required_argument, NULL, O_OUT},
      {"format", required_argument, NULL, O_FORMAT},
      {"log-level", required_argument, NULL, O_LOGLEVEL},
      {"listen", required_argument, NULL, O_LISTEN},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0}};
  int c;
  memset(o, 0, sizeof(*o));
  o->timeout_s = -1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":c:h", lopts, NULL)) != -1) {
    switch (c) {
    case 'c': o->config = optarg; break;
    case O_TASK:
      if (!*optarg) return bad("--task: empty task name%s", "");
      o->task = optarg;
      break;
    case O_ONCE: o->once = 1; break;
    case O_WATCH: o->watch = 1; break;
    case O_WAIT: o->wait = 1; break;
    case O_JSON: o->json = 1; break;
    case O_TIMEOUT: {
      char *end;
      errno = 0;
      o->timeout_s = strtod(optarg, &end);
      if (errno || end == optarg || *end || !(o->timeout_s > 0) || o->timeout_s > 1e7)
        return bad("--timeout: \"%s\" is not a number of seconds > 0", optarg);
      break;
    }
    case O_EXPORT:
    case O_AUDIT:
      if (!*optarg)
        return bad(c == O_AUDIT ? "--export-audit: empty task name%s"
                                : "--export-failed: empty task name%s", "");
      if (o->export_task) return bad("give one of --export-failed, --export-audit%s", "");
      o->export_task = optarg;
      o->audit = c == O_AUDIT;
      break;
    case O_OUT: o->out = optarg; break;
    case O_FORMAT:
      if (tally_export_fmt_parse(optarg, &o->format))
        return bad("--format: \"%s\" is not csv or jsonl", optarg);
      o->have_format = 1;
      break;
    case O_LOGLEVEL:
      if (flog_set_level_str(optarg)) return bad("--log-level: unknown level \"%s\"", optarg);
      *log_level = optarg;
      break;
    case O_LISTEN: {
      char eb[FERRY_ERRLEN], *host = NULL;
      int port;
      if (*optarg && httpd_parse_listen(optarg, &host, &port, eb))
        return bad("--listen: %s", eb);
      fx_free(host);
      o->listen = optarg;
      break;
    }
    case 'h': usage(stdout); exit(EX_OK);
    case 'V': printf("ferry-reporter %s (messages v%d)\n", ferry_version(), MSG_VERSION); exit(EX_OK);
    case ':': return bad("%s: needs a value", argv[optind - 1]);
    default:
      return bad("unknown option \"%s\"", argv[optind - 1]);
    }
  }
  if (optind < argc) return bad("unexpected argument \"%s\"", argv[optind]);
  {
    const char *x = o->audit ? "--export-audit" : "--export-failed";
    if (o->once + o->watch + (o->export_task != NULL) > 1 ||
        (o->wait && (o->once || o->export_task)))
      return bad("choose one of --once, --watch, --wait, --export-failed, --export-audit%s", "");
    if (o->wait && !o->task) return bad("--wait needs --task%s", "");
    if (o->export_task && !o->out) return bad("%s needs --out FILE", x);
    if (o->out && !o->export_task) return bad("--out goes with --export-failed or --export-audit%s", "");
    if (o->have_format && !o->export_task)
      return bad("--format goes with --export-failed or --export-audit%s", "");
    if (o->export_task && o->task && strcmp(o->task, o->export_task) != 0)
      return bad("--task and %s name different tasks", x);
    if (o->export_task && o->json) return bad("--json does not apply to %s", x);
  }
  if (o->listen && (o->once || o->export_task || (o->wait && !o->watch)))
    return bad("--listen goes with the default mode or --watch%s", "");
  return -1;
}

/* Writes the whole buffer to stdout; -1 on error (a closed pipe). */
static int put_out(const fbuf_t *b) {
  if (b->len && fwrite(b->p, 1, b->len, stdout) != b->len) return -1;
  return fflush(stdout) == 0 ? 0 : -1;
}

static void json_out(fbuf_t *b, json_t *j) {
  char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  if (s) {
    fbuf_adds(b, s);
    fbuf_addc(b, '\n');
    free(s);
  }
  json_decref(j);
}

/* The status of --task, or of every task, as text or JSON, into b. */
/* Set once the HTTP server runs: a view may update the tally's caches (the
 * retries' adjustment, the key index's transaction), so the main thread's
 * views take the lock the server's take. */
static pthread_mutex_t *view_lock;

static void locked_view(const tally_t *t, const char *task, int64_t now, tally_view_t *v) {
  if (view_lock) pthread_mutex_lock(view_lock);
  tally_view(t, task, now, v);
  if (view_lock) pthread_mutex_unlock(view_lock);
}

static void render(const tally_t *t, const opts_t *o, int64_t now, int compact_json,
                   fbuf_t *b) {
  if (o->task) {
    tally_view_t v;
    locked_view(t, o->task, now, &v);   /* unknown: a pending view */
    if (o->json) {
      json_t *j = tally_view_json(&v);
      if (compact_json) {
        char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(j);
        if (s) {
          fbuf_adds(b, s);
          fbuf_addc(b, '\n');
          free(s);
        }
      } else {
        json_out(b, j);
      }
    } else {
      tally_view_text(&v, b);
    }
    tally_view_release(&v);
  } else {
    const char **names;
    size_t n = tally_task_names(t, &names), i;
    tally_view_t *views = fx_calloc(n + 1, sizeof(*views));
    for (i = 0; i < n; i++) locked_view(t, names[i], now, &views[i]);
    if (o->json) {
      json_t *j = json_object(), *a = json_array();
      for (i = 0; i < n; i++) json_array_append_new(a, tally_view_json(&views[i]));
      json_object_set_new(j, "tasks", a);
      json_object_set_new(j, "rejected", json_integer((json_int_t)tally_rejected(t)));
      json_object_set_new(j, "duplicates", json_integer((json_int_t)tally_duplicates(t)));
      if (compact_json) {
        char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(j);
        if (s) {
          fbuf_adds(b, s);
          fbuf_addc(b, '\n');
          free(s);
        }
      } else {
        json_out(b, j);
      }
    } else if (n) {
      tally_table_text(views, n, b);
    } else {
      fbuf_adds(b, "no tasks yet\n");
    }
    for (i = 0; i < n; i++) tally_view_release(&views[i]);
    fx_free(views);
    fx_free(names);
  }
}

/* ms left before the --timeout deadline; INT_MAX-ish when none. */
static int64_t left_ms(int64_t deadline) {
  return deadline < 0 ? INT32_MAX : deadline - ferry_mono_ms();
}

static int catch_up(feed_t *f, int64_t deadline) {
  char eb[FERRY_ERRLEN];
  ferry_err_t e;
  int64_t left = left_ms(deadline);
  e = feed_catch_up(f, deadline < 0 ? -1 : (int)FERRY_MAX(left, 0), &stop, eb);
  if (e == FERRY_OK) return EX_OK;
  if (stop) return EX_OK + 130;
  fprintf(stderr, "ferry-reporter: %s\n", eb);
  return e == FERRY_ERR_TIMEOUT ? EX_TIMEOUT : EX_ERR;
}

static int mode_once(feed_t *f, const tally_t *t, const opts_t *o, int64_t deadline) {
  fbuf_t b;
  int rc = catch_up(f, deadline);
  if (rc) return rc;
  fbuf_init(&b, 0);
  render(t, o, ferry_wall_ms(), 0, &b);
  rc = put_out(&b) ? EX_ERR : EX_OK;
  fbuf_release(&b);
  return rc;
}

/* The export in chunks (as the HTTP server sends it), so that its memory
 * does not grow with the number of failed objects. 0, or -1 on a write error. */
static int export_to(const tally_t *t, const opts_t *o, FILE *fp, fbuf_t *b, size_t *rows) {
  tally_export_t *x = tally_export_new(o->export_task, o->format);
  int rc = 0;
  while (!rc && tally_export_next(x, t, 4096, (size_t)1 << 20, b)) {
    if (b->len && fwrite(b->p, 1, b->len, fp) != b->len) rc = -1;
    fbuf_reset(b);
  }
  *rows = tally_export_rows(x);
  tally_export_free(x);
  return rc;
}

static int mode_export(feed_t *f, const tally_t *t, const opts_t *o, int64_t deadline) {
  fbuf_t b;
  size_t rows = 0;
  int rc = catch_up(f, deadline);
  const char **names;
  size_t n, i;
  int known = 0;
  if (rc) return rc;
  n = tally_task_names(t, &names);
  for (i = 0; i < n; i++) known |= strcmp(names[i], o->export_task) == 0;
  fx_free(names);
  if (!known)
    LOG_WARN(FAC, "task=%s msg=\"no records of this task: the export is empty\"",
             FLOG_V(o->export_task));
  fbuf_init(&b, 0);
  if (strcmp(o->out, "-") == 0) {
    rc = export_to(t, o, stdout, &b, &rows) || fflush(stdout) ? EX_ERR : EX_OK;
  } else {
    /* Written beside the target and renamed: a reader never sees half. */
    char *tmp = fx_asprintf("%s.tmp.%d", o->out, (int)getpid());
    FILE *fp = fopen(tmp, "wb");
    int ok = fp != NULL;
    if (ok) ok = export_to(t, o, fp, &b, &rows) == 0;
    if (fp) ok = (fclose(fp) == 0) && ok;
    if (!ok || rename(tmp, o->out) != 0) {
      fprintf(stderr, "ferry-reporter: %s: %s\n", o->out, strerror(errno));
      unlink(tmp);
      rc = EX_ERR;
    } else {
      rc = EX_OK;
    }
    fx_free(tmp);
  }
  if (rc == EX_OK)
    LOG_INFO(FAC, "task=%s exported=%zu out=%s format=%s", FLOG_V(o->export_task), rows,
             FLOG_V(o->out), o->format == TALLY_EXPORT_CSV ? "csv" : "jsonl");
  fbuf_release(&b);
  return rc;
}

/* --export-audit: streamed from the audit topic to the file (written beside
 * it and renamed, as the failed export), without the tally. */
static int mode_export_audit(const bus_conf_t *bc, const opts_t *o, int64_t deadline) {
  char eb[FERRY_ERRLEN];
  audit_export_stats_t st;
  int to_stdout = strcmp(o->out, "-") == 0;
  char *tmp = to_stdout ? NULL : fx_asprintf("%s.tmp.%d", o->out, (int)getpid());
  FILE *fp = to_stdout ? stdout : fopen(tmp, "wb");
  ferry_err_t e;
  int rc;
  if (!fp) {
    fprintf(stderr, "ferry-reporter: %s: %s\n", o->out, strerror(errno));
    fx_free(tmp);
    return EX_ERR;
  }
  (void)deadline;   /* --timeout bounds each wait on the brokers, not the whole scan */
  e = audit_export(bc, o->export_task, o->format, fp,
                   o->timeout_s > 0 ? (int)FERRY_MIN(o->timeout_s * 1000, 2e9) : 30000, &st, eb);
  if (e == FERRY_ERR_NOTFOUND)
    snprintf(eb, sizeof(eb), "the audit topic does not exist (a lister creates it with the "
             "other topics); no task has an audit trail yet");
  if (to_stdout) {
    if (fflush(stdout) != 0 && !e) e = ferry_seterr(eb, FERRY_ERR_IO, "%s", strerror(errno));
  } else {
    int ok = fclose(fp) == 0;
    if (!e && !ok) e = ferry_seterr(eb, FERRY_ERR_IO, "%s: %s", o->out, strerror(errno));
    if (!e && rename(tmp, o->out) != 0)
      e = ferry_seterr(eb, FERRY_ERR_IO, "%s: %s", o->out, strerror(errno));
    if (e) unlink(tmp);
  }
  fx_free(tmp);
  if (e) {
    fprintf(stderr, "ferry-reporter: %s\n", eb);
    rc = e == FERRY_ERR_TIMEOUT ? EX_TIMEOUT : EX_ERR;
  } else {
    if (!st.messages)
      LOG_WARN(FAC, "task=%s msg=\"no audit records of this task: the export is empty\"",
               FLOG_V(o->export_task));
    if (st.bad)
      LOG_WARN(FAC, "task=%s undecodable=%zu msg=\"audit messages skipped (logged above)\"",
               FLOG_V(o->export_task), st.bad);
    LOG_INFO(FAC, "task=%s exported=%zu messages=%zu out=%s format=%s kind=audit",
             FLOG_V(o->export_task), st.rows, st.messages, FLOG_V(o->out),
             o->format == TALLY_EXPORT_CSV ? "csv" : "jsonl");
    rc = EX_OK;
  }
  return rc;
}

/* --watch screen: on a terminal the block is redrawn in place (like
 * rclone -P), with the status page's address under it; otherwise one line
 * per task per refresh, or compact JSON. */
/* The console's task states (taskstate), under the --watch screen. */
static const console_t *watch_console;

static void states_text(fbuf_t *b) {
  fbuf_t st;
  if (!watch_console) return;
  fbuf_init(&st, 0);
  if (view_lock) pthread_mutex_lock(view_lock);
  console_states_text(watch_console, &st);
  if (view_lock) pthread_mutex_unlock(view_lock);
  if (st.len) {
    fbuf_adds(b, "\ntask states:\n");
    fbuf_add(b, st.p, st.len);
  }
  fbuf_release(&st);
}

static void draw(const tally_t *t, const opts_t *o, int tty, const char *url) {
  fbuf_t b;
  int64_t now = ferry_wall_ms();
  fbuf_init(&b, 0);
  if (o->json) {
    render(t, o, now, 1, &b);
  } else if (tty) {
    /* Cursor home, every line cleared to its end as it is rewritten, and
     * what is below cleared last: the screen is replaced without first
     * going blank, so it does not flicker. */
    fbuf_t scr;
    size_t i;
    fbuf_init(&scr, 0);
    render(t, o, now, 0, &scr);
    states_text(&scr);
    if (url) fbuf_addf(&scr, "\nstatus page %s\n", url);
    fbuf_adds(&b, "\033[H");
    for (i = 0; i < scr.len; i++) {
      if (scr.p[i] == '\n') fbuf_adds(&b, "\033[K");
      fbuf_addc(&b, scr.p[i]);
    }
    fbuf_adds(&b, "\033[J");
    fbuf_release(&scr);
  } else {
    const char **names;
    size_t n = tally_task_names(t, &names), i;
    for (i = 0; i < n; i++) {
      tally_view_t v;
      if (o->task && strcmp(o->task, names[i]) != 0) continue;
      locked_view(t, names[i], now, &v);
      tally_view_line(&v, &b);
      fbuf_addc(&b, '\n');
      tally_view_release(&v);
    }
    if (o->task && !n) fbuf_addf(&b, "%s: pending\n", o->task);
    fx_free(names);
    states_text(&b);
  }
  if (put_out(&b)) stop = 1;   /* stdout closed: nobody is watching */
  fbuf_release(&b);
}

/* --watch and --wait (and both): follow the topics after catching up. */
static int mode_follow(feed_t *f, const tally_t *t, const opts_t *o, int64_t deadline,
                       long refresh_s, const char *url) {
  int tty = isatty(STDOUT_FILENO);
  int64_t next_draw = 0;
  char eb[FERRY_ERRLEN];
  size_t got = 1;   /* records read by the last poll; the state is new */
  int rc = catch_up(f, deadline);
  /* Interrupted: the end of a --watch, but no answer for a --wait (which
   * must not exit 0 as if the task had completed). */
  if (rc) return rc >= 130 && !o->wait ? EX_OK : rc;
  for (;;) {
    int64_t now = ferry_mono_ms();
    ferry_err_t e;
    if (o->watch && now >= next_draw) {
      draw(t, o, tty, url);
      next_draw = now + refresh_s * 1000;
    }
    /* A view may sum the key index again (docs/reporter.md "Memory"):
     * make one only when records came in. */
    if (o->wait && got) {
      tally_view_t v;
      tally_state_t st;
      locked_view(t, o->task, ferry_wall_ms(), &v);
      st = v.f.state;
      if (st == TALLY_COMPLETED || st == TALLY_COMPLETED_FAILURES ||
          st == TALLY_LISTING_FAILED) {
        fbuf_t b;
        fbuf_init(&b, 0);
        if (o->watch && !o->json && !tty) {
          tally_view_line(&v, &b);
          fbuf_addc(&b, '\n');
        } else if (o->json) {
          json_out(&b, tally_view_json(&v));
        } else {
          tally_view_text(&v, &b);
        }
        put_out(&b);
        fbuf_release(&b);
        tally_view_release(&v);
        if (st == TALLY_LISTING_FAILED)
          fprintf(stderr, "ferry-reporter: task %s: the listing failed\n", o->task);
        return st == TALLY_COMPLETED ? EX_OK
               : st == TALLY_COMPLETED_FAILURES ? EX_FAILURES
                                                : EX_ERR;
      }
      tally_view_release(&v);
    }
    if (stop) return o->wait ? 130 : EX_OK;
    if (deadline >= 0 && now >= deadline) {
      fprintf(stderr, "ferry-reporter: task %s: not completed within %.0f s\n",
              o->task ? o->task : "-", o->timeout_s);
      return EX_TIMEOUT;
    }
    {
      int64_t wait = 250;
      if (deadline >= 0) wait = FERRY_MIN(wait, FERRY_MAX(deadline - now, 0));
      if ((e = feed_poll(f, (int)wait, &got, eb))) {
        fprintf(stderr, "ferry-reporter: %s\n", eb);
        return EX_ERR;
      }
    }
  }
}

/* Default mode: follow the topics and log each task's state when it
 * changes, and its progress every refresh_s while it runs (the HTTP server,
 * started before, answers meanwhile). */
static int mode_serve(feed_t *f, const tally_t *t, long refresh_s) {
  char eb[FERRY_ERRLEN];
  int rc = catch_up(f, -1);
  int64_t next_log = 0;
  char **last_state = NULL;
  char **last_name = NULL;
  size_t n_last = 0, i, got = 1;
  if (rc) return rc >= 130 ? EX_OK : rc;
  while (!stop) {
    int64_t now = ferry_mono_ms();
    int periodic = now >= next_log;
    const char **names = NULL;
    size_t n = (got || periodic) ? tally_task_names(t, &names) : 0;
    for (i = 0; i < n; i++) {
      tally_view_t v;
      const char *st;
      size_t k;
      int changed;
      locked_view(t, names[i], ferry_wall_ms(), &v);
      st = tally_state_str(v.f.state);
      for (k = 0; k < n_last && strcmp(last_name[k], names[i]) != 0; k++)
        ;
      changed = k == n_last || strcmp(last_state[k], st) != 0;
      if (changed || (periodic && (v.f.state == TALLY_RUNNING ||
                                   v.f.state == TALLY_LISTING))) {
        LOG_INFO(FAC,
                 "task=%s state=%s run=%d done=%" PRIu64 " total=%" PRIu64
                 " copied=%" PRIu64 " skipped=%" PRIu64 " failed=%" PRIu64
                 " bytes=%" PRIu64 " rate_bps=%.0f eta_s=%" PRId64,
                 FLOG_V(v.task), st, v.latest_run, v.f.done_objects, v.f.total_objects,
                 v.f.copied, v.f.skipped, v.f.failed, v.f.bytes_copied, v.f.bytes_per_s,
                 v.f.eta_s);
      }
      if (k == n_last) {
        last_name = fx_realloc(last_name, (n_last + 1) * sizeof(*last_name));
        last_state = fx_realloc(last_state, (n_last + 1) * sizeof(*last_state));
        last_name[n_last] = fx_strdup(names[i]);
        last_state[n_last] = fx_strdup(st);
        n_last++;
      } else if (changed) {
        fx_free(last_state[k]);
        last_state[k] = fx_strdup(st);
      }
      tally_view_release(&v);
    }
    fx_free(names);
    if (periodic) next_log = now + refresh_s * 1000;
    if (feed_poll(f, 500, &got, eb)) {
      fprintf(stderr, "ferry-reporter: %s\n", eb);
      rc = EX_ERR;
      break;
    }
  }
  for (i = 0; i < n_last; i++) {
    fx_free(last_state[i]);
    fx_free(last_name[i]);
  }
  fx_free(last_state);
  fx_free(last_name);
  return rc;
}

/* ---------- the console's access: tokens, TLS, where it listens ---------- */

/* What the HTTP server is started with, read before anything else starts. */
typedef struct web_setup {
  const char *listen;         /* NULL or "": no server */
  auth_tokens_t tokens;
  char *tls_cert, *tls_key;   /* PEM text */
  int behind_proxy;
  const char **stores;
  size_t n_stores;
} web_setup_t;

/* The whole of a small file (at most 1 MiB) as a string, or NULL with errbuf
 * naming key and path. Warns when a secret file is readable by others. */
static char *read_small(const char *key, const char *path, int secret, char *errbuf) {
  FILE *fp = fopen(path, "rb");
  struct stat st;
  char *buf;
  size_t n;
  if (!fp || fstat(fileno(fp), &st) != 0) {
    ferry_seterr(errbuf, FERRY_ERR_IO, "%s: %s: %s", key, path, strerror(errno));
    if (fp) fclose(fp);
    return NULL;
  }
  if (st.st_size > (1 << 20)) {
    fclose(fp);
    ferry_seterr(errbuf, FERRY_ERR_INVALID, "%s: %s: larger than 1 MiB", key, path);
    return NULL;
  }
  if (secret && (st.st_mode & 077))
    LOG_WARN(FAC, "key=%s path=%s msg=\"readable by group or others: chmod 600\"", key,
             FLOG_V(path));
  buf = fx_malloc((size_t)st.st_size + 1);
  n = fread(buf, 1, (size_t)st.st_size, fp);
  fclose(fp);
  buf[n] = '\0';
  return buf;
}

/* 1 when every address host resolves to is a loopback one. */
static int listen_is_loopback(const char *listen) {
  char *host = NULL, eb[FERRY_ERRLEN];
  int port, loop = 1;
  struct addrinfo hints, *ai = NULL, *p;
  if (httpd_parse_listen(listen, &host, &port, eb)) return 0;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, NULL, &hints, &ai) != 0 || !ai) loop = 0;
  for (p = ai; p && loop; p = p->ai_next) loop = auth_is_loopback(p->ai_addr);
  if (ai) freeaddrinfo(ai);
  fx_free(host);
  return loop;
}

static void web_release(web_setup_t *w) {
  auth_tokens_release(&w->tokens);
  if (w->tls_key) memset(w->tls_key, 0, strlen(w->tls_key));
  fx_free(w->tls_key);
  fx_free(w->tls_cert);
  fx_free(w->stores);
}

/* Reads the console's settings: EX_OK, EX_USAGE (a setting refused) or
 * EX_ERR (a file that cannot be read), with errbuf saying why. */
static int web_prepare(const opts_t *o, const ferry_conf_t *conf, web_setup_t *w, char *eb) {
  const conf_reporter_t *rc = &conf->reporter;
  size_t i;
  memset(w, 0, sizeof(*w));
  w->listen = o->listen ? o->listen : rc->listen;
  w->behind_proxy = rc->behind_proxy;
  if (!w->listen || !*w->listen) return EX_OK;
  if (!rc->tls_cert != !rc->tls_key) {
    snprintf(eb, FERRY_ERRLEN, "reporter.tls_cert and reporter.tls_key go together: "
                    "give both or neither");
    return EX_USAGE;
  }
  if (!listen_is_loopback(w->listen) && !rc->tls_cert && !rc->behind_proxy) {
    snprintf(eb, FERRY_ERRLEN, "%s \"%s\" is not a loopback address: the status page and its "
            "actions would go over the network in clear. Set reporter.tls_cert and "
            "reporter.tls_key (HTTPS), or reporter.behind_proxy = true when a TLS-terminating "
            "reverse proxy forwards to it (docs/security.md)",
            o->listen ? "--listen" : "reporter.listen", w->listen);
    return EX_USAGE;
  }
  if (rc->tokens_env) {
    const char *v = getenv(rc->tokens_env);
    if (!v || !*v) {
      snprintf(eb, FERRY_ERRLEN, "reporter.tokens_env: the environment variable %s is "
                      "not set", rc->tokens_env);
      return EX_USAGE;
    }
    char *what = fx_asprintf("reporter.tokens_env (%s)", rc->tokens_env);
    ferry_err_t e = auth_tokens_parse(&w->tokens, v, what, eb);
    fx_free(what);
    if (e) {
            return EX_USAGE;
    }
  }
  if (rc->tokens_file) {
    char *text = read_small("reporter.tokens_file", rc->tokens_file, 1, eb);
    ferry_err_t e;
    if (!text) {
            return EX_ERR;
    }
    e = auth_tokens_parse(&w->tokens, text, "reporter.tokens_file", eb);
    memset(text, 0, strlen(text));
    fx_free(text);
    if (e) {
            return EX_USAGE;
    }
  }
  if (rc->tls_cert) {
    if (!(w->tls_cert = read_small("reporter.tls_cert", rc->tls_cert, 0, eb)) ||
        !(w->tls_key = read_small("reporter.tls_key", rc->tls_key, 1, eb))) {
            return EX_ERR;
    }
  }
  for (i = 0; i < w->tokens.n; i++)
    LOG_INFO(FAC, "msg=\"console token\" token=%s role=%s", FLOG_V(w->tokens.v[i].name),
             auth_role_str(w->tokens.v[i].role));
  if (!w->tokens.n && !listen_is_loopback(w->listen))
    LOG_WARN(FAC, "listen=%s msg=\"no tokens (reporter.tokens_env, reporter.tokens_file): "
                  "whoever reaches this address sees the status, and nobody can act\"",
             FLOG_V(w->listen));
  w->stores = fx_calloc(conf->n_stores + 1, sizeof(*w->stores));
  for (i = 0; i < conf->n_stores; i++) w->stores[i] = conf->stores[i].name;
  w->n_stores = conf->n_stores;
  return EX_OK;
}

/* ---------- the tasks' charts ---------- */

/* The series the page's task pages chart, fed by the feed (under its lock). */
static series_t *web_series;

static void on_result(void *ctx, const void *value, size_t len, int64_t ts_ms) {
  char eb[FERRY_ERRLEN];
  (void)ctx;
  /* The tally took the record: it decodes. */
  if (series_add_result(web_series, value, len, ts_ms, eb))
    LOG_DEBUG(FAC, "msg=\"result not charted\" reason=%s", FLOG_Q(eb));
}

/* ---------- actions: commands to the control topic ---------- */

/* The producer of the console's commands; used by the HTTP server's thread
 * only (sends, and serves the delivery reports while it waits for them). */
typedef struct ctl_sender {
  bus_producer_t *p;
  console_t *cs;
  pthread_mutex_t *lock;
  int done;
  ferry_err_t err;
  char why[256];
} ctl_sender_t;

static void ctl_delivered(const bus_delivery_t *d, void *ctx) {
  ctl_sender_t *s = ctx;
  s->done = 1;
  s->err = d->err;
  snprintf(s->why, sizeof(s->why), "%s", d->error ? d->error : "");
}

/* http_action_fn: the command, sent and stored (acks=all) before the 202. */
static unsigned ctl_action(void *cls, const char *task, const char *verb, const json_t *body,
                           const char *by, char id[17], char *errbuf) {
  ctl_sender_t *s = cls;
  msg_control_t m;
  char *text;
  ferry_err_t e;
  pthread_mutex_lock(s->lock);
  e = console_command(s->cs, task, verb, body, by, ferry_wall_ms(), &m, errbuf);
  pthread_mutex_unlock(s->lock);
  if (e) return 400;
  text = msg_control_encode(&m);
  if (!text) {
    msg_control_release(&m);
    ferry_seterr(errbuf, FERRY_ERR_INVALID, "the command cannot be encoded (a string that is "
                 "not UTF-8?)");
    return 400;
  }
  s->done = 0;
  s->err = FERRY_OK;
  e = bus_producer_send(s->p, BUS_CONTROL, task, text, strlen(text), NULL, errbuf);
  fx_free(text);
  if (e == FERRY_ERR_INVALID) {
    msg_control_release(&m);
    return 400;   /* larger than the topic takes */
  }
  if (!e) e = bus_producer_flush(s->p, 15000, errbuf);
  if (!e && (!s->done || s->err))
    e = ferry_seterr(errbuf, FERRY_ERR_KAFKA, "the command was not stored in Kafka: %s",
                     s->why[0] ? s->why : "no delivery report");
  if (e) {
    LOG_WARN(FAC, "task=%s cmd=%s msg=\"command not sent\" reason=%s", FLOG_V(task), verb,
             FLOG_Q(errbuf));
    msg_control_release(&m);
    return 503;
  }
  snprintf(id, 17, "%s", m.id);
  msg_control_release(&m);
  return 202;
}

/* Starts the HTTP server of the default mode and --watch on --listen, or
 * else reporter.listen; *out stays NULL when there is none to start. From
 * then on the feed changes the tally only under lock. */
static int start_http(const opts_t *o, const web_setup_t *w, const tally_t *t, feed_t *f,
                      console_t *cs, ctl_sender_t *sender, pthread_mutex_t *lock,
                      http_t **out) {
  char eb[FERRY_ERRLEN];
  http_conf_t hc;
  *out = NULL;
  if (!w->listen || !*w->listen) return EX_OK;
  feed_set_lock(f, lock);
  view_lock = lock;
  memset(&hc, 0, sizeof(hc));
  hc.listen = w->listen;
  hc.tokens = &w->tokens;
  hc.tls_cert = w->tls_cert;
  hc.tls_key = w->tls_key;
  hc.stores = w->stores;
  hc.n_stores = w->n_stores;
  hc.behind_proxy = w->behind_proxy;
  if (cs && feed_has_console(f)) hc.console = cs;
  hc.series = web_series;
  if (hc.console && sender->p) {
    sender->cs = cs;
    sender->lock = lock;
    hc.action = ctl_action;
    hc.cls = sender;
  }
  *out = http_new(&hc, t, f, lock, eb);
  if (*out) return EX_OK;
  /* --watch is often run beside the reporter that already serves
   * reporter.listen: there the terminal view matters, not a second page. */
  if (o->watch && !o->listen) {
    LOG_WARN(FAC, "msg=\"no status page from this --watch\" reason=%s", FLOG_Q(eb));
    return EX_OK;
  }
  fprintf(stderr, "ferry-reporter: %s\n", eb);
  return EX_ERR;
}

int main(int argc, char **argv) {
  opts_t o;
  const char *log_level = NULL;
  ferry_conf_t *conf;
  bus_conf_t bc;
  tally_t *t;
  feed_t *f;
  http_t *h = NULL;
  web_setup_t web;
  console_t *cs = NULL;
  ctl_sender_t sender;
  pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  char eb[FERRY_ERRLEN];
  struct sigaction sa;
  int64_t deadline = -1;
  int rc;

  flog_set_service("reporter");
  rc = parse_args(argc, argv, &o, &log_level);
  if (rc >= 0) return rc;
  if (o.export_task && !o.have_format) o.format = TALLY_EXPORT_CSV;
  if (o.timeout_s > 0) deadline = ferry_mono_ms() + (int64_t)(o.timeout_s * 1000);

  conf = conf_load_or_exit(o.config, CONF_SKIP_CREDENTIALS);   /* exit 2 on errors */
  if (log_level) flog_set_level_str(log_level);
  memset(&web, 0, sizeof(web));
  memset(&sender, 0, sizeof(sender));
  /* The server's settings are checked before anything starts: a refused
   * one is a configuration error (exit 2). */
  if (!o.once && !o.export_task && (o.watch || !o.wait) &&
      (rc = web_prepare(&o, conf, &web, eb)) != EX_OK) {
    web_release(&web);
    memset(&web, 0, sizeof(web));
    /* As when the address cannot be bound: a --watch beside the serving
     * reporter wants its terminal view, not a page. */
    if (o.watch && !o.listen) {
      LOG_WARN(FAC, "msg=\"no status page from this --watch\" reason=%s", FLOG_Q(eb));
    } else {
      fprintf(stderr, "ferry-reporter: %s\n", eb);
      conf_destroy(conf);
      return rc;
    }
  }
  if (bus_conf_from_kafka(&bc, &conf->kafka, eb) || bus_topics_check(&bc, eb)) {
    fprintf(stderr, "ferry-reporter: %s\n", eb);
    web_release(&web);
    bus_conf_release(&bc);
    conf_destroy(conf);
    return EX_ERR;
  }

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  if (conf->reporter.refresh_s < 1) conf->reporter.refresh_s = 1;
  if (o.export_task && o.audit) {
    /* No tally: the audit topic alone, streamed. */
    rc = mode_export_audit(&bc, &o, deadline);
    bus_conf_release(&bc);
    conf_destroy(conf);
    return rc;
  }
  {
    tally_opts_t to = {0, conf->reporter.state_dir};
    t = tally_open(&to, eb);
  }
  /* The console's state, and a producer for its commands, where a page is
   * served (a --watch shows the states too). */
  if (web.listen && *web.listen) {
    cs = console_new();
    sender.p = bus_producer_new(&bc, ctl_delivered, &sender, eb);
    if (!sender.p)
      LOG_WARN(FAC, "msg=\"no producer for the control topic: actions answer 503\" reason=%s",
               FLOG_Q(eb));
  } else if (o.watch) {
    cs = console_new();
  }
  f = t ? feed_new(&bc, t, cs, eb) : NULL;
  if (f && feed_has_console(f)) watch_console = cs;
  if (f && web.listen && *web.listen) {
    web_series = series_new();
    feed_on_result(f, on_result, NULL);
  }
  if (!f) {
    fprintf(stderr, "ferry-reporter: %s\n", eb);
    rc = EX_ERR;
  } else if (o.once) {
    rc = mode_once(f, t, &o, deadline);
  } else if (o.export_task) {
    rc = mode_export(f, t, &o, deadline);
  } else if (o.watch || o.wait) {
    rc = o.watch ? start_http(&o, &web, t, f, cs, &sender, &lock, &h) : EX_OK;
    if (rc == EX_OK)
      rc = mode_follow(f, t, &o, deadline, conf->reporter.refresh_s,
                       h ? http_url(h) : NULL);
  } else {
    rc = start_http(&o, &web, t, f, cs, &sender, &lock, &h);
    if (rc == EX_OK) rc = mode_serve(f, t, conf->reporter.refresh_s);
  }
  if (rc >= 130) rc = EX_ERR;   /* interrupted before the answer */
  http_destroy(h);   /* first: its thread reads the tally and the feed */
  web_release(&web);
  if (sender.p) bus_producer_destroy(sender.p);
  feed_destroy(f);
  console_free(cs);
  series_free(web_series);
  tally_destroy(t);
  bus_conf_release(&bc);
  conf_destroy(conf);
  return rc;
}
