/*
 * ferry-lister: lists a task's source into segments and publishes them
 * (docs/lister.md). Thin: arguments, config, signals; the work is in
 * lister.c.
 *
 *   ferry-lister -c CONF -t TASK [--segments-to FILE|-]
 *   ferry-lister -c CONF -t TASK --retry-failed
 *   ferry-lister -c CONF -t TASK --from-list FILE|- [--segments-to FILE|-]
 *   ferry-lister -c CONF -t TASK --cleanup [--older-than DURATION]
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "lister.h"

static void on_signal(int sig) {
  (void)sig;
  lister_stop = 1;
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
          "      --cleanup          abort the multipart uploads left open under the\n"
          "                         task's destination prefix (by killed workers)\n"
          "      --older-than D     with --cleanup: only uploads initiated more than D\n"
          "                         ago (\"30m\", \"2h\", seconds; default 24h; 0 = all)\n"
          "      --log-level LEVEL  error|warn|info|debug|trace (default: the config's)\n"
          "  -h, --help\n"
          "Exit status: 0 all published and delivered (or nothing to retry);\n"
          "1 store, broker or file error, interrupted, or entries not published;\n"
          "2 bad arguments, bad config, unknown task.\n");
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"config", required_argument, NULL, 'c'},
      {"task", required_argument, NULL, 't'},
      {"segments-to", required_argument, NULL, 's'},
      {"retry-failed", no_argument, NULL, 'r'},
      {"from-list", required_argument, NULL, 'f'},
      {"run", required_argument, NULL, 'n'},
      {"cleanup", no_argument, NULL, 'C'},
      {"older-than", required_argument, NULL, 'o'},
      {"log-level", required_argument, NULL, 'l'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  lister_opts_t lo;
  const char *conf_path = NULL, *level = NULL;
  ferry_conf_t *conf;
  struct sigaction sa;
  int opt, rc, cleanup = 0, older_set = 0;
  int64_t older_than_ms = 24LL * 3600 * 1000;

  memset(&lo, 0, sizeof(lo));
  flog_set_service("lister");
  while ((opt = getopt_long(argc, argv, "c:t:h", opts, NULL)) != -1) {
    switch (opt) {
    case 'c': conf_path = optarg; break;
    case 't': lo.task = optarg; break;
    case 's': lo.segments_to = optarg; break;
    case 'r': lo.retry_failed = 1; break;
    case 'f': lo.from_list = optarg; break;
    case 'n': {
      char *end;
      long v;
      errno = 0;
      v = strtol(optarg, &end, 10);
      if (errno || end == optarg || *end || v < 1 || v > 1000000000) {
        fprintf(stderr, "ferry-lister: --run: \"%s\" is not a run number >= 1\n", optarg);
        return 2;
      }
      lo.run = (int)v;
      break;
    }
    case 'l': level = optarg; break;
    case 'C': cleanup = 1; break;
    case 'o': {
      char eb[FERRY_ERRLEN];
      if (conf_parse_duration(optarg, 1000, &older_than_ms, eb) || older_than_ms < 0) {
        fprintf(stderr, "ferry-lister: --older-than: \"%s\" is not a duration\n", optarg);
        return 2;
      }
      older_set = 1;
      break;
    }
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "ferry-lister: unexpected argument \"%s\"\n", argv[optind]);
    usage(stderr);
    return 2;
  }
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

  /* The handler only sets a flag: the lister stops after the current page
   * and records where it is. */
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  rc = cleanup ? lister_cleanup(conf, lo.task, older_than_ms) : lister_run(conf, &lo);
  conf_destroy(conf);
  return rc;
}
