/*
 * ferry-lister: lists a task's source into segments and publishes them
 * (docs/lister.md). Thin: arguments, config, signals; the work is in
 * lister.c.
 *
 *   ferry-lister -c CONF -t TASK [--segments-to FILE|-]
 *   ferry-lister -c CONF -t TASK --retry-failed
 *   ferry-lister -c CONF -t TASK --from-list FILE|- [--segments-to FILE|-]
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
      {"log-level", required_argument, NULL, 'l'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  lister_opts_t lo;
  const char *conf_path = NULL, *level = NULL;
  ferry_conf_t *conf;
  struct sigaction sa;
  int opt, rc;

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

  rc = lister_run(conf, &lo);
  conf_destroy(conf);
  return rc;
}
