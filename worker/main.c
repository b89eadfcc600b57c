/*
 * ferry-worker: copies segments from source to destination stores.
 *
 *   ferry-worker -c CONF                       consumer-group member (Kafka)
 *   ferry-worker -c CONF --segments-from FILE  segments as JSON lines from FILE
 *                                              ("-" = stdin), outcomes as JSON
 *                                              lines on stdout
 *
 * Exit status: see usage().
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "bus/msg.h"
#include "core/log.h"
#include "worker/worker.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: ferry-worker -c CONF [--segments-from FILE] [--log-level LEVEL]\n"
          "  -c, --config FILE        configuration file (or $FERRY_CONFIG)\n"
          "      --segments-from FILE read segments (JSON lines) from FILE instead of\n"
          "                           Kafka and print outcomes as JSON lines\n"
          "      --log-level LEVEL    error, warn, info, debug, trace\n"
          "      --id ID              worker id (default: worker.id or host-pid)\n"
          "      --version            print the version and exit\n"
          "Exit status: 0 stopped cleanly (Kafka mode) or all copied or skipped;\n"
          "3 some objects failed (--segments-from); 2 bad arguments or config;\n"
          "70 the watchdog found the loop stuck (unfinished segments are redelivered;\n"
          "restart it); 1 other errors.\n");
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"config", required_argument, NULL, 'c'},
      {"segments-from", required_argument, NULL, 'f'},
      {"log-level", required_argument, NULL, 'l'},
      {"id", required_argument, NULL, 'i'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0}};
  const char *conf_path = NULL, *from = NULL, *level = NULL, *id = NULL;
  ferry_conf_t *conf;
  int c, rc;
  flog_set_service("worker");
  while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
    switch (c) {
    case 'c': conf_path = optarg; break;
    case 'f': from = optarg; break;
    case 'l': level = optarg; break;
    case 'i': id = optarg; break;
    case 'h': usage(stdout); return 0;
    case 'V': printf("ferry-worker %s (messages v%d)\n", ferry_version(), MSG_VERSION); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "ferry-worker: unexpected argument '%s'\n", argv[optind]);
    usage(stderr);
    return 2;
  }
  conf = conf_load_or_exit(conf_path, 0);
  if (level && flog_set_level_str(level) != 0) {
    fprintf(stderr, "ferry-worker: unknown log level '%s'\n", level);
    conf_destroy(conf);
    return 2;
  }
  if (id) {
    fx_free(conf->worker.id);
    conf->worker.id = fx_strdup(id);
  }
  signal(SIGPIPE, SIG_IGN);
  if (from)
    rc = worker_run_file(conf, from);
  else
    rc = worker_run_kafka(conf);
  conf_destroy(conf);
  return rc;
}
