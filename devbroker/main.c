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
 * Limits of the mock (documented in docs/testing.md and docs/guide.md): no
 * Admin API (CreateTopics, DescribeConfigs), no topic configs (tasks is not
 * compacted), data in memory only, and at most the newest 5 MiB / 100000
 * message sets of each partition: beyond that the oldest are dropped, which
 * the dev broker watches for and reports (event=records-lost).
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
static volatile sig_atomic_t want_down, want_up, want_refuse;

static void on_signal(int sig) {
  if (sig == SIGUSR1) want_down = 1;
  else if (sig == SIGUSR2) want_up = 1;
  else if (sig == SIGHUP) want_refuse = 1;
  else stop = 1;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: ferry-devbroker [--brokers N] [--bootstrap-file F] "
          "[--partitions P] [--task NAME]... [--topic-prefix PREFIX] [--log-level L]\n"
          "  --brokers N          mock brokers (default 1)\n"
          "  --bootstrap-file F   also write the bootstrap list to F\n"
          "  --partitions P       partitions of the segments topic (default %d)\n"
          "  --task NAME          also create task NAME's segments topic with P partitions\n"
          "                       (others are created on first use with 4: the mock\n"
          "                       cluster has no CreateTopics)\n"
          "  --topic-prefix X     topic name prefix (default \"ferry.\")\n"
          "  --log-level L        error|warn|info|debug|trace (default info)\n"
          "  --exit-with-parent   stop when the parent process dies (tests)\n"
          "  --version            print the version and exit\n"
          "Prints the bootstrap list on stdout and runs until SIGTERM/SIGINT.\n"
          "Fault injection: SIGUSR1 takes the highest-numbered broker down (its\n"
          "connections are closed and refused), SIGUSR2 brings it back; SIGHUP\n"
          "makes the next Produce request fail with MSG_SIZE_TOO_LARGE (a message\n"
          "the broker refuses for itself).\n",
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

/* librdkafka 2.0.2's mock keeps at most this much of each partition and
 * drops the oldest message sets beyond it (rdkafka_mock.c; no API to
 * change it). */
#define MOCK_PART_BYTES (5 * 1024 * 1024)
#define MOCK_PART_BATCHES 100000

/* Partitions whose start has been seen to move (records dropped). */
typedef struct watch {
  rd_kafka_t *rk;          /* a client of the mock cluster, for watermarks */
  bus_conf_t *bc;
  unsigned char *lost;     /* per topic * 10000 + partition: already told */
  int64_t next_ms;
  int paused;              /* a broker is down (SIGUSR1): queries would wait */
} watch_t;

/* Says loudly, once per partition, that the mock cluster dropped the oldest
 * records of a partition: beyond the dev broker's capacity, a trial loses
 * segments, results or failed records. */
static void watch_check(watch_t *w) {
  int t, p;
  int64_t now = ferry_now_us() / 1000;
  if (!w->rk || w->paused || stop || now < w->next_ms) return;
  w->next_ms = now + 2000;
  for (t = 0; t < BUS_TOPIC__COUNT; t++) {
    char *name;
    int np;
    if (t == BUS_WORKERS) continue;   /* heartbeats: only fresh ones matter */
    name = bus_topic_name(w->bc, (bus_topic_t)t);
    np = bus_topic_partitions(w->bc, (bus_topic_t)t);
    for (p = 0; p < np && p < 10000 && !stop; p++) {
      int64_t lo = -1, hi = -1;
      unsigned char *told = &w->lost[t * 10000 + p];
      if (*told || rd_kafka_query_watermark_offsets(w->rk, name, p, &lo, &hi, 1000) || lo <= 0)
        continue;
      *told = 1;
      LOG_ERROR(FAC, "event=records-lost topic=%s partition=%d low=%" PRId64 " high=%" PRId64
                " msg=\"the dev broker keeps only the newest %d MiB (and %d batches) of each "
                "partition and has deleted older records of this one: the trial is beyond its "
                "capacity; use a real Kafka cluster or fewer objects per trial\"",
                FLOG_V(name), p, lo, hi, MOCK_PART_BYTES >> 20, MOCK_PART_BATCHES);
    }
    fx_free(name);
  }
}

static rd_kafka_t *watch_client(const char *bootstraps) {
  char errstr[256];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_t *rk;
  if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, errstr, sizeof(errstr)) ||
      rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr))) {
    rd_kafka_conf_destroy(conf);
    return NULL;
  }
  rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (!rk) rd_kafka_conf_destroy(conf);
  return rk;
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

/* The command line. */
typedef struct args {
  int n_brokers, partitions;
  const char *bootstrap_file;
  const char *tasks[64];   /* --task: segments topics made beforehand */
  int n_tasks;
} args_t;

/* Reads the options into a and bc; -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, args_t *a, bus_conf_t *bc) {
  static const struct option opts[] = {
      {"brokers", required_argument, NULL, 'b'},
      {"bootstrap-file", required_argument, NULL, 'f'},
      {"partitions", required_argument, NULL, 'p'},
      {"topic-prefix", required_argument, NULL, 't'},
      {"task", required_argument, NULL, 'T'},
      {"log-level", required_argument, NULL, 'l'},
      {"exit-with-parent", no_argument, NULL, 'e'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0}};
  int opt;
  while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (opt) {
    case 'b':
      if (parse_int("--brokers", optarg, 1, 16, &a->n_brokers)) return 1;
      break;
    case 'f': a->bootstrap_file = optarg; break;
    case 'p':
      if (parse_int("--partitions", optarg, 1, 10000, &a->partitions)) return 1;
      break;
    case 'T':
      if (!bus_task_name_ok(optarg) || a->n_tasks == 64) {
        fprintf(stderr, "ferry-devbroker: --task \"%s\": not a task name, or more than 64\n",
                optarg);
        return 2;
      }
      a->tasks[a->n_tasks++] = optarg;
      break;
    case 't':
      fx_free(bc->topic_prefix);
      bc->topic_prefix = fx_strdup(optarg);
      break;
    case 'l':
      if (flog_set_level_str(optarg)) {
        fprintf(stderr, "ferry-devbroker: --log-level: unknown level \"%s\"\n", optarg);
        return 1;
      }
      break;
    case 'e':
      /* A test that is killed outright must not leave a broker behind:
       * the kernel sends SIGTERM when the parent goes away. */
      if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() == 1) return 1;
      break;
    case 'h': usage(stdout); return 0;
    case 'V': printf("ferry-devbroker %s (messages v%d)\n", ferry_version(), MSG_VERSION); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "ferry-devbroker: unexpected argument \"%s\"\n", argv[optind]);
    usage(stderr);
    return 2;
  }
  return -1;
}

/* The handler only sets a flag; the main loop does the shutdown. */
static void install_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGUSR2, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
}

/* Starts the mock cluster with ferry's topics; 0, or -1 (said on stderr).
 * *rk and *mc are set as far as they were made, for the caller to free. */
static int start_cluster(const bus_conf_t *bc, int n_brokers, const args_t *a, rd_kafka_t **rk,
                         rd_kafka_mock_cluster_t **mc) {
  char errstr[512];
  int t;
  /* The mock cluster needs an rd_kafka_t for bookkeeping; this throwaway
   * producer never produces. */
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, log_cb);
  if (rd_kafka_conf_set(conf, "client.id", "ferry-devbroker", errstr,
                        sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "ferry-devbroker: %s\n", errstr);
    rd_kafka_conf_destroy(conf);
    return -1;
  }
  *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (!*rk) {
    fprintf(stderr, "ferry-devbroker: %s\n", errstr);
    rd_kafka_conf_destroy(conf);
    return -1;
  }
  *mc = rd_kafka_mock_cluster_new(*rk, n_brokers);
  if (!*mc) {
    fprintf(stderr, "ferry-devbroker: cannot start the mock cluster\n");
    return -1;
  }
  for (t = 0; t < BUS_TOPIC__COUNT; t++) {
    char *name = bus_topic_name(bc, (bus_topic_t)t);
    int np = bus_topic_partitions(bc, (bus_topic_t)t);
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(*mc, name, np, 1);
    if (err) {
      fprintf(stderr, "ferry-devbroker: topic %s: %s\n", name, rd_kafka_err2str(err));
      fx_free(name);
      return -1;
    }
    LOG_INFO(FAC, "topic=%s partitions=%d", FLOG_V(name), np);
    fx_free(name);
  }
  for (t = 0; t < a->n_tasks; t++) {
    char *name = bus_segments_topic(bc, a->tasks[t]);
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(*mc, name, bc->segments_partitions, 1);
    if (err) {
      fprintf(stderr, "ferry-devbroker: topic %s: %s\n", name, rd_kafka_err2str(err));
      fx_free(name);
      return -1;
    }
    LOG_INFO(FAC, "topic=%s partitions=%d", FLOG_V(name), bc->segments_partitions);
    fx_free(name);
  }
  return 0;
}

/* Serves until a stop signal, acting on the fault signals. */
static void serve(rd_kafka_t *rk, rd_kafka_mock_cluster_t *mc, int n_brokers, watch_t *watch) {
  while (!stop) {
    rd_kafka_poll(rk, 200);
    watch_check(watch);
    if (want_down) {
      want_down = 0;
      rd_kafka_mock_broker_set_down(mc, n_brokers);
      watch->paused = 1;
      LOG_WARN(FAC, "broker=%d msg=\"down (SIGUSR1)\"", n_brokers);
    }
    if (want_refuse) {
      want_refuse = 0;
      /* ApiKey 0 is Produce. */
      rd_kafka_mock_push_request_errors(mc, 0, 1, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
      LOG_WARN(FAC, "msg=\"the next Produce request is refused: MSG_SIZE_TOO_LARGE (SIGHUP)\"");
    }
    if (want_up) {
      want_up = 0;
      rd_kafka_mock_broker_set_up(mc, n_brokers);
      watch->paused = 0;
      LOG_WARN(FAC, "broker=%d msg=\"up (SIGUSR2)\"", n_brokers);
    }
  }
}

int main(int argc, char **argv) {
  args_t a = {1, BUS_DEFAULT_SEGMENTS_PARTITIONS, NULL, {NULL}, 0};
  int rc = 1;
  char errbuf[FERRY_ERRLEN];
  bus_conf_t bc;
  rd_kafka_t *rk = NULL;
  rd_kafka_mock_cluster_t *mc = NULL;
  const char *bootstraps;
  int wrote_file = 0;
  watch_t watch;

  flog_set_service("devbroker");
  memset(&watch, 0, sizeof(watch));
  bus_conf_init(&bc);
  if ((rc = parse_args(argc, argv, &a, &bc)) >= 0) goto out;
  rc = 1;
  bc.segments_partitions = a.partitions;
  bc.brokers = fx_strdup("unused");   /* bus_conf_check wants one */
  if (bus_conf_check(&bc, errbuf)) {
    fprintf(stderr, "ferry-devbroker: %s\n", errbuf);
    goto out;
  }
  install_signals();
  if (start_cluster(&bc, a.n_brokers, &a, &rk, &mc)) goto out;
  bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
  if (a.bootstrap_file) {
    if (write_atomic(a.bootstrap_file, bootstraps)) goto out;
    wrote_file = 1;
  }
  printf("%s\n", bootstraps);
  fflush(stdout);
  LOG_INFO(FAC, "brokers=%d bootstrap=%s msg=\"ready\"", a.n_brokers, FLOG_V(bootstraps));
  watch.rk = watch_client(bootstraps);
  watch.bc = &bc;
  watch.lost = fx_calloc(BUS_TOPIC__COUNT * 10000, 1);
  serve(rk, mc, a.n_brokers, &watch);
  LOG_INFO(FAC, "msg=\"shutting down\"");
  rc = 0;
out:
  if (wrote_file) unlink(a.bootstrap_file);
  if (watch.rk) rd_kafka_destroy(watch.rk);
  fx_free(watch.lost);
  if (mc) rd_kafka_mock_cluster_destroy(mc);
  if (rk) rd_kafka_destroy(rk);
  bus_conf_release(&bc);
  return rc;
}
