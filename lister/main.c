/*
 * ferry-lister: lists a task's source into segments and publishes them
 * (docs/lister.md). Thin: arguments, config, signals; the work is in
 * lister.c.
 *
 *   ferry-lister -c CONF -t TASK [--segments-to FILE|-]
 *   ferry-lister -c CONF -t TASK --retry-failed
 *   ferry-lister -c CONF -t TASK --from-list FILE|- [--segments-to FILE|-]
 *   ferry-lister -c CONF -t TASK --incremental [--segments-to FILE|-]
 *   ferry-lister -c CONF -t TASK --estimate [--incremental] [--workers N] ...
 *   ferry-lister -c CONF -t TASK --dry-run [--incremental] [--out FILE]
 *   ferry-lister -c CONF -t TASK --verify [--out FILE]
 *   ferry-lister -c CONF -t TASK --cleanup [--older-than DURATION]
 *   ferry-lister -c CONF --serve                    (the console's master)
 *   ferry-lister -c CONF --submit SPEC.json | --start T | --pause T | ...
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/msg.h"
#include "conf/config.h"
#include "core/log.h"
#include "lister/console.h"
#include "lister/lister.h"
#include "lister/ops.h"

static void on_signal(int sig) {
  (void)sig;
  lister_stop = 1;
}

/* The handler only sets a flag: the lister stops after the current page
 * and records where it is; the master stops serving. */
static void set_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: ferry-lister -c CONF -t TASK [options]\n"
          "  -c, --config CONF      configuration file (default $FERRY_CONFIG)\n"
          "  -t, --task TASK        the task to list (a name from the config)\n"
          "      --segments-to FILE write segments as JSON lines to FILE (\"-\" = stdout)\n"
          "                         instead of Kafka; totals on stderr\n"
          "      --retry-failed     replay the task's still-failed objects as a new run\n"
          "      --from-list FILE   replay the objects of a failed-object export (CSV with\n"
          "                         a \"key\" column, or JSON lines with \"key\")\n"
          "      --run N            run number for --segments-to (default 1)\n"
          "      --incremental      copy only what is missing or changed at the\n"
          "                         destination (merge-join of both listings)\n"
          "      --estimate         list without publishing: count, bytes, size\n"
          "                         histogram, estimated duration\n"
          "      --workers N        estimate for N workers (default 1)\n"
          "      --src-rate R       bytes/s a worker reads (default 100M)\n"
          "      --dst-rate R       bytes/s a worker writes (default 100M)\n"
          "      --request-ms MS    overhead of one request (default 20)\n"
          "      --rate-from-json F measured rate: ferry-reporter --task T --once --json\n"
          "      --rate-workers M   workers that measured rate came from (default 1;\n"
          "                         unused when the view has worker_busy_ms)\n"
          "      --dry-run          list what would be copied (CSV), publish nothing\n"
          "      --verify           compare source and destination listings; exit 3\n"
          "                         when they differ\n"
          "      --out FILE         --verify report / --dry-run list (\"-\" = stdout)\n"
          "      --cleanup          abort the multipart uploads left open under the\n"
          "                         task's destination prefix (by killed workers)\n"
          "      --older-than D     with --cleanup: only uploads initiated more than D\n"
          "                         ago (\"30m\", \"2h\", seconds; default 24h; 0 = all)\n"
          "      --resume-only      go on with the task's unfinished listing; exit 0 doing\n"
          "                         nothing when its latest run is finished (the master)\n"
          "      --log-level LEVEL  error|warn|info|debug|trace (default: the config's)\n"
          "The console (docs/lister.md, \"Master\"):\n"
          "      --serve            run the master: applies the control topic's commands,\n"
          "                         runs listings; one acts, others wait as standbys\n"
          "      --submit SPEC      create a task from SPEC (JSON, fields of a tasks entry)\n"
          "      --start T | --pause T | --resume T | --cancel T | --retry T\n"
          "      --limits T [--qps N] [--bandwidth SIZE] [--schedule HH:MM-HH:MM=SIZE ...]\n"
          "      --wait-ack S       wait S seconds for the master's ack (default 30)\n"
          "      (commands exit 0 applied, 2 refused (the reason printed), 1 no ack)\n"
          "  -h, --help\n"
          "      --version          print the version and exit\n"
          "Exit status: 0 all published and delivered (--retry-failed: also nothing\n"
          "still failed, \"nothing to retry\"; --verify: in step); 1 store, broker or\n"
          "file error, interrupted, or entries not published; 2 bad arguments, bad\n"
          "config, unknown task; 3 --verify found differences; 4 --retry-failed\n"
          "published, but every object in it had already failed permanently\n"
          "(vanished, access denied, ...) in a retry: retrying again will not help;\n"
          "5 refused, nothing published: another lister holds the task, or\n"
          "--retry-failed while a run of the task is still at work.\n");
}

/* 1..100000; 0 on success. */
static int parse_count(const char *s, long *out) {
  char *end;
  long v;
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < 1 || v > 100000) return -1;
  *out = v;
  return 0;
}

/* The options with a number (--run, --workers, --rate-workers, --src-rate,
 * --dst-rate, --request-ms) into lo; 0, or 2 (exit status) on a bad one. */
static int parse_numeric(int opt, const char *arg, lister_opts_t *lo) {
  switch (opt) {
  case 'n': {
    char *end;
    long v;
    errno = 0;
    v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < 1 || v > 1000000000) {
      fprintf(stderr, "ferry-lister: --run: \"%s\" is not a run number >= 1\n", arg);
      return 2;
    }
    lo->run = (int)v;
    break;
  }
  case 'W':
  case 'M': {
    long v;
    if (parse_count(arg, &v)) {
      fprintf(stderr, "ferry-lister: --%s: \"%s\" is not a number from 1 to 100000\n",
              opt == 'W' ? "workers" : "rate-workers", arg);
      return 2;
    }
    if (opt == 'W') lo->workers = (int)v;
    else lo->rate_workers = (int)v;
    break;
  }
  case 'S':
  case 'T': {
    uint64_t v;
    char eb[FERRY_ERRLEN];
    if (conf_parse_size(arg, &v, eb) || v == 0) {
      fprintf(stderr, "ferry-lister: --%s: \"%s\" is not a rate in bytes per second "
              "(e.g. 100M)\n", opt == 'S' ? "src-rate" : "dst-rate", arg);
      return 2;
    }
    if (opt == 'S') lo->src_rate = (double)v;
    else lo->dst_rate = (double)v;
    break;
  }
  case 'Q': {
    char *end;
    double v;
    errno = 0;
    v = strtod(arg, &end);
    if (errno || end == arg || *end || !(v > 0) || v > 600000) {
      fprintf(stderr, "ferry-lister: --request-ms: \"%s\" is not a duration in ms\n",
              arg);
      return 2;
    }
    lo->request_ms = v;
    break;
  }
  }
  return 0;
}

/* The console's options into cc; n_cmds counts the commands given. 0, or
 * 2 (exit status) on a bad value. */
static int console_opt(int opt, const char *arg, console_cmd_t *cc, int *n_cmds) {
  static const ctl_cmd_t cmds[] = {CTL_CREATE, CTL_START, CTL_PAUSE, CTL_RESUME,
                                   CTL_CANCEL, CTL_RETRY, CTL_LIMITS};
  char eb[FERRY_ERRLEN];
  char *end;
  if (opt >= 301 && opt <= 307) {
    (*n_cmds)++;
    cc->cmd = cmds[opt - 301];
    if (opt == 301) cc->spec_file = arg;
    else cc->task = arg;
    return 0;
  }
  if (opt == 308) {
    unsigned long long v;
    errno = 0;
    v = strtoull(arg, &end, 10);
    if (errno || end == arg || *end || *arg == '-') {
      fprintf(stderr, "ferry-lister: --qps: \"%s\" is not a number of requests/s\n", arg);
      return 2;
    }
    cc->limits.qps = v;
  } else if (opt == 309) {
    if (conf_parse_size(arg, &cc->limits.bandwidth, eb)) {
      fprintf(stderr, "ferry-lister: --bandwidth: %s\n", eb);
      return 2;
    }
  } else if (opt == 310) {
    conf_window_t w;
    uint64_t bw;
    if (conf_parse_bwsched(arg, &w, &bw, eb)) {
      fprintf(stderr, "ferry-lister: --schedule: %s\n", eb);
      return 2;
    }
    cc->limits.schedule = fx_realloc(cc->limits.schedule,
                                     (cc->limits.n_schedule + 1) * sizeof(char *));
    cc->limits.schedule[cc->limits.n_schedule++] = (char *)arg;
  } else if (opt == 311) {
    long v;
    errno = 0;
    v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < 1 || v > 86400) {
      fprintf(stderr, "ferry-lister: --wait-ack: \"%s\" is not a number of seconds\n", arg);
      return 2;
    }
    cc->wait_s = (int)v;
  }
  return 0;
}

/* --serve and the console commands. */
static int console_main(const char *conf_path, const char *level, int serve,
                        console_cmd_t *cc, int n_cmds, const lister_opts_t *lo, int cleanup) {
  ferry_conf_t *conf;
  int rc;
  int limits_opts = cc->limits.qps || cc->limits.bandwidth || cc->limits.n_schedule;
  if (serve + n_cmds != 1 || lo->task || cleanup || lo->segments_to || lo->retry_failed ||
      lo->from_list || lo->estimate || lo->dry_run || lo->verify || lo->incremental) {
    fprintf(stderr, "ferry-lister: --serve and the console commands (--submit, --start, "
            "--pause, --resume, --cancel, --retry, --limits) go alone, one at a time, "
            "without -t\n");
    fx_free(cc->limits.schedule);
    return 2;
  }
  if (limits_opts && cc->cmd != CTL_LIMITS) {
    fprintf(stderr, "ferry-lister: --qps, --bandwidth and --schedule go with --limits T\n");
    fx_free(cc->limits.schedule);
    return 2;
  }
  conf = conf_load_or_exit(conf_path, 0);
  if (level && flog_set_level_str(level)) {
    fprintf(stderr, "ferry-lister: --log-level: unknown level \"%s\"\n", level);
    conf_destroy(conf);
    fx_free(cc->limits.schedule);
    return 2;
  }
  if (serve) {
    set_signals();
    flog_set_service("master");
    rc = lister_master(conf);
  } else {
    signal(SIGPIPE, SIG_IGN);
    rc = lister_command(conf, cc);
  }
  conf_destroy(conf);
  fx_free(cc->limits.schedule);
  return rc;
}

static const struct option opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"task", required_argument, NULL, 't'},
    {"segments-to", required_argument, NULL, 's'},
    {"retry-failed", no_argument, NULL, 'r'},
    {"from-list", required_argument, NULL, 'f'},
    {"run", required_argument, NULL, 'n'},
    {"cleanup", no_argument, NULL, 'C'},
    {"older-than", required_argument, NULL, 'G'},
    {"log-level", required_argument, NULL, 'l'},
    {"incremental", no_argument, NULL, 'I'},
    {"estimate", no_argument, NULL, 'E'},
    {"dry-run", no_argument, NULL, 'D'},
    {"verify", no_argument, NULL, 'V'},
    {"out", required_argument, NULL, 'o'},
    {"workers", required_argument, NULL, 'W'},
    {"src-rate", required_argument, NULL, 'S'},
    {"dst-rate", required_argument, NULL, 'T'},
    {"request-ms", required_argument, NULL, 'Q'},
    {"rate-from-json", required_argument, NULL, 'J'},
    {"rate-workers", required_argument, NULL, 'M'},
    {"serve", no_argument, NULL, 300},
    {"submit", required_argument, NULL, 301},
    {"start", required_argument, NULL, 302},
    {"pause", required_argument, NULL, 303},
    {"resume", required_argument, NULL, 304},
    {"cancel", required_argument, NULL, 305},
    {"retry", required_argument, NULL, 306},
    {"limits", required_argument, NULL, 307},
    {"qps", required_argument, NULL, 308},
    {"bandwidth", required_argument, NULL, 309},
    {"schedule", required_argument, NULL, 310},
    {"wait-ack", required_argument, NULL, 311},
    {"resume-only", no_argument, NULL, 312},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 256},
    {NULL, 0, NULL, 0}};

int main(int argc, char **argv) {
  lister_opts_t lo;
  console_cmd_t cc;
  int serve = 0, n_cmds = 0;
  const char *conf_path = NULL, *level = NULL;
  ferry_conf_t *conf;
  int opt, rc, cleanup = 0, older_set = 0;
  int64_t older_than_ms = 24LL * 3600 * 1000;

  memset(&lo, 0, sizeof(lo));
  memset(&cc, 0, sizeof(cc));
  cc.cmd = CTL_CMD__COUNT;
  flog_set_service("lister");
  while ((opt = getopt_long(argc, argv, "c:t:h", opts, NULL)) != -1) {
    switch (opt) {
    case 'c': conf_path = optarg; break;
    case 't': lo.task = optarg; break;
    case 's': lo.segments_to = optarg; break;
    case 'r': lo.retry_failed = 1; break;
    case 'f': lo.from_list = optarg; break;
    case 'n':
    case 'W':
    case 'M':
    case 'S':
    case 'T':
    case 'Q':
      if (parse_numeric(opt, optarg, &lo)) return 2;
      break;
    case 'l': level = optarg; break;
    case 'I': lo.incremental = 1; break;
    case 312: lo.resume_only = 1; break;
    case 'E': lo.estimate = 1; break;
    case 'D': lo.dry_run = 1; break;
    case 'V': lo.verify = 1; break;
    case 'o': lo.out = optarg; break;
    case 'J': lo.rate_from_json = optarg; break;
    case 'C': cleanup = 1; break;
    case 'G': {
      char eb[FERRY_ERRLEN];
      if (conf_parse_duration(optarg, 1000, &older_than_ms, eb) || older_than_ms < 0) {
        fprintf(stderr, "ferry-lister: --older-than: \"%s\" is not a duration\n", optarg);
        return 2;
      }
      older_set = 1;
      break;
    }
    case 300: serve = 1; break;
    case 'h': usage(stdout); return 0;
    case 256: printf("ferry-lister %s (messages v%d)\n", ferry_version(), MSG_VERSION); return 0;
    default:
      if (opt >= 301 && opt <= 311) {
        if (console_opt(opt, optarg, &cc, &n_cmds)) return 2;
        break;
      }
      usage(stderr);
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "ferry-lister: unexpected argument \"%s\"\n", argv[optind]);
    usage(stderr);
    return 2;
  }
  if (serve || n_cmds) return console_main(conf_path, level, serve, &cc, n_cmds, &lo, cleanup);
  if (!lo.task) {
    fprintf(stderr, "ferry-lister: no task: pass -t TASK\n");
    usage(stderr);
    return 2;
  }
  if (cleanup && (lo.segments_to || lo.retry_failed || lo.from_list || lo.run)) {
    fprintf(stderr, "ferry-lister: --cleanup lists uploads only: no --segments-to, "
            "--retry-failed, --from-list or --run with it\n");
    return 2;
  }
  if (older_set && !cleanup) {
    fprintf(stderr, "ferry-lister: --older-than goes with --cleanup\n");
    return 2;
  }
  conf = conf_load_or_exit(conf_path, 0);
  if (level && flog_set_level_str(level)) {
    fprintf(stderr, "ferry-lister: --log-level: unknown level \"%s\"\n", level);
    conf_destroy(conf);
    return 2;
  }

  set_signals();

  rc = cleanup ? lister_cleanup(conf, lo.task, older_than_ms) : lister_run(conf, &lo);
  conf_destroy(conf);
  return rc;
}
