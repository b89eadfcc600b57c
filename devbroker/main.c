/*
 * ferry-devbroker: librdkafka's mock cluster on loopback, with ferry's five
 * topics created, for tests and the one-machine demo. Clients reach it over
 * real TCP with the real Kafka protocol (kcat too): produce, idempotence,
 * consumer groups, offset commits.
 *
 * The mock cluster listens on ephemeral ports only (librdkafka 2.0.2 has
 * no way to choose one), so the bootstrap list is printed on stdout as one
 * line and, with --bootstrap-file, written to a file atomically (temp file,
 * then rename); the file is removed at exit.
 *
 * Limits of the mock (documented in docs/testing.md): no Admin API
 * (CreateTopics), no topic configs (tasks is not compacted), data in memory
 * only.
 */
#include <errno.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "bus/bus.h"
#include "bus/msg.h"
#include "core/log.h"

#define FAC "devbroker"

static volatile sig_atomic_t stop;
static volatile sig_atomic_t want_down, want_up;

static void on_signal(int sig) {
  if (sig == SIGUSR1) want_down = 1;
  else if (sig == SIGUSR2) want_up = 1;
  else stop = 1;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: ferry-devbroker [--brokers N] [--bootstrap-file F] "
          "[--partitions P] [--topic-prefix PREFIX] [--log-level L]\n"
          "  --brokers N          mock brokers (default 1)\n"
          "  --bootstrap-file F   also write the bootstrap list to F\n"
          "  --partitions P       partitions of the segments topic (default %d)\n"
          "  --topic-prefix X     topic name prefix (default \"ferry.\")\n"
          "  --log-level L        error|warn|info|debug|trace (default info)\n"
          "  --exit-with-parent   stop when the parent process dies (tests)\n"
          "  --version            print the version and exit\n"
          "Prints the bootstrap list on stdout and runs until SIGTERM/SIGINT.\n"
          "Fault injection: SIGUSR1 takes the highest-numbered broker down (its\n"
          "connections are closed and refused), SIGUSR2 brings it back.\n",
          BUS_DEFAULT_SEGMENTS_PARTITIONS);
}

static int parse_int(const char *opt, const char *s, int lo, int hi, int *out) {
  char *end;
  long v;
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) {
    fprintf(stderr, "ferry-devbroker: %s: \"%s\" is not an integer in [%d, %d]\n",
            opt, s, lo, hi);
    return -1;
  }
  *out = (int)v;
  return 0;
}

/* Writes line to path via path.tmp.PID and rename(2), so a reader never
 * sees a half-written file. */
static int write_atomic(const char *path, const char *line) {
  char *tmp = fx_asprintf("%s.tmp.%d", path, (int)getpid());
  FILE *f = fopen(tmp, "w");
  int ok;
  if (!f) {
    fprintf(stderr, "ferry-devbroker: %s: %s\n", tmp, strerror(errno));
    fx_free(tmp);
    return -1;
  }
  ok = fprintf(f, "%s\n", line) >= 0;
  ok = (fflush(f) == 0) && ok;
  ok = (fsync(fileno(f)) == 0) && ok;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    fprintf(stderr, "ferry-devbroker: %s: %s\n", path, strerror(errno));
    unlink(tmp);
    fx_free(tmp);
    return -1;
  }
  fx_free(tmp);
  return 0;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf) {
  flog_level_t l = level <= 3 ? FLOG_ERROR
                   : level == 4 ? FLOG_WARN
                   : level <= 6 ? FLOG_INFO
                                : FLOG_DEBUG;
  (void)rk;
  FLOG(l, "kafka", "fac=%s msg=%s", FLOG_V(fac), FLOG_Q(buf));
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"brokers", required_argument, NULL, 'b'},
      {"bootstrap-file", required_argument, NULL, 'f'},
      {"partitions", required_argument, NULL, 'p'},
      {"topic-prefix", required_argument, NULL, 't'},
      {"log-level", required_argument, NULL, 'l'},
      {"exit-with-parent", no_argument, NULL, 'e'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0}};
  int n_brokers = 1, partitions = BUS_DEFAULT_SEGMENTS_PARTITIONS, opt, t, rc = 1;
  const char *bootstrap_file = NULL;
  char errstr[512], errbuf[FERRY_ERRLEN];
  bus_conf_t bc;
  rd_kafka_conf_t *conf;
  rd_kafka_t *rk = NULL;
  rd_kafka_mock_cluster_t *mc = NULL;
  const char *bootstraps;
  struct sigaction sa;
  int wrote_file = 0;

  flog_set_service("devbroker");
  bus_conf_init(&bc);
  while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (opt) {
    case 'b':
      if (parse_int("--brokers", optarg, 1, 16, &n_brokers)) goto out;
      break;
    case 'f': bootstrap_file = optarg; break;
    case 'p':
      if (parse_int("--partitions", optarg, 1, 10000, &partitions)) goto out;
      break;
    case 't':
      fx_free(bc.topic_prefix);
      bc.topic_prefix = fx_strdup(optarg);
      break;
    case 'l':
      if (flog_set_level_str(optarg)) {
        fprintf(stderr, "ferry-devbroker: --log-level: unknown level \"%s\"\n", optarg);
        goto out;
      }
      break;
    case 'e':
      /* A test that is killed outright must not leave a broker behind:
       * the kernel sends SIGTERM when the parent goes away. */
      if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() == 1) goto out;
      break;
    case 'h': usage(stdout); rc = 0; goto out;
    case 'V': printf("ferry-devbroker %s (messages v%d)\n", ferry_version(), MSG_VERSION); rc = 0; goto out;
    default: usage(stderr); rc = 2; goto out;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "ferry-devbroker: unexpected argument \"%s\"\n", argv[optind]);
    usage(stderr);
    rc = 2;
    goto out;
  }
  bc.segments_partitions = partitions;
  bc.brokers = fx_strdup("unused");   /* bus_conf_check wants one */
  if (bus_conf_check(&bc, errbuf)) {
    fprintf(stderr, "ferry-devbroker: %s\n", errbuf);
    goto out;
  }

  /* The handler only sets a flag; the main loop does the shutdown. */
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGUSR2, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  /* The mock cluster needs an rd_kafka_t for bookkeeping; this throwaway
   * producer never produces. */
  conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, log_cb);
  if (rd_kafka_conf_set(conf, "client.id", "ferry-devbroker", errstr,
                        sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "ferry-devbroker: %s\n", errstr);
    rd_kafka_conf_destroy(conf);
    goto out;
  }
  rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (!rk) {
    fprintf(stderr, "ferry-devbroker: %s\n", errstr);
    rd_kafka_conf_destroy(conf);
    goto out;
  }
  mc = rd_kafka_mock_cluster_new(rk, n_brokers);
  if (!mc) {
    fprintf(stderr, "ferry-devbroker: cannot start the mock cluster\n");
    goto out;
  }
  for (t = 0; t < BUS_TOPIC__COUNT; t++) {
    char *name = bus_topic_name(&bc, (bus_topic_t)t);
    int np = bus_topic_partitions(&bc, (bus_topic_t)t);
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, name, np, 1);
    if (err) {
      fprintf(stderr, "ferry-devbroker: topic %s: %s\n", name, rd_kafka_err2str(err));
      fx_free(name);
      goto out;
    }
    LOG_INFO(FAC, "topic=%s partitions=%d", FLOG_V(name), np);
    fx_free(name);
  }
  bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
  if (bootstrap_file) {
    if (write_atomic(bootstrap_file, bootstraps)) goto out;
    wrote_file = 1;
  }
  printf("%s\n", bootstraps);
  fflush(stdout);
  LOG_INFO(FAC, "brokers=%d bootstrap=%s msg=\"ready\"", n_brokers, FLOG_V(bootstraps));

  while (!stop) {
    rd_kafka_poll(rk, 200);
    if (want_down) {
      want_down = 0;
      rd_kafka_mock_broker_set_down(mc, n_brokers);
      LOG_WARN(FAC, "broker=%d msg=\"down (SIGUSR1)\"", n_brokers);
    }
    if (want_up) {
      want_up = 0;
      rd_kafka_mock_broker_set_up(mc, n_brokers);
      LOG_WARN(FAC, "broker=%d msg=\"up (SIGUSR2)\"", n_brokers);
    }
  }

  LOG_INFO(FAC, "msg=\"shutting down\"");
  rc = 0;
out:
  if (wrote_file) unlink(bootstrap_file);
  if (mc) rd_kafka_mock_cluster_destroy(mc);
  if (rk) rd_kafka_destroy(rk);
  bus_conf_release(&bc);
  return rc;
}
