/*
 * Integration test of lib/bus/bus.c over the real Kafka protocol on TCP:
 * it starts ferry-devbroker as a child process (from $FERRY_BIN, else the
 * directory of this executable), reads its bootstrap file, and checks
 * topic creation, idempotent produce with delivery reports, consumer-group
 * receive, explicit commits, a re-join that resumes at the committed
 * offsets, and the dead-letter helper. The child is stopped in teardown and
 * also gets SIGTERM if this process dies (PR_SET_PDEATHSIG).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bus/bus.h"
#include "bus/lease.h"
#include "core/log.h"

#define PARTS 4
#define N_MSGS 20

static pid_t broker_pid = -1;
static char run_dir[PATH_MAX];
static char brokers[512];

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int64_t now_ms(void) { return ferry_now_us() / 1000; }

static void bin_dir(char *out, size_t n) {
  const char *e = getenv("FERRY_BIN");
  ssize_t len;
  char *slash;
  if (e && *e) {
    snprintf(out, n, "%s", e);
    return;
  }
  len = readlink("/proc/self/exe", out, n - 1);
  assert_true(len > 0);
  out[len] = '\0';
  slash = strrchr(out, '/');
  if (slash) *slash = '\0';
}

static int start_broker(void **state) {
  char bin[PATH_MAX], exe[PATH_MAX + 32], file[PATH_MAX + 32], log[PATH_MAX + 32];
  char parts[16];
  int i;
  (void)state;
  snprintf(run_dir, sizeof(run_dir), "/tmp/ferry-itest-bus.XXXXXX");
  if (!mkdtemp(run_dir)) return -1;
  bin_dir(bin, sizeof(bin));
  snprintf(exe, sizeof(exe), "%s/ferry-devbroker", bin);
  snprintf(file, sizeof(file), "%s/bootstrap", run_dir);
  snprintf(log, sizeof(log), "%s/devbroker.log", run_dir);
  snprintf(parts, sizeof(parts), "%d", PARTS);
  broker_pid = fork();
  if (broker_pid < 0) return -1;
  if (broker_pid == 0) {
    FILE *f;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    f = freopen(log, "w", stderr);
    (void)f;
    f = freopen("/dev/null", "w", stdout);
    (void)f;
    execl(exe, exe, "--bootstrap-file", file, "--partitions", parts, (char *)NULL);
    _exit(127);
  }
  for (i = 0; i < 200; i++) {
    FILE *f = fopen(file, "r");
    if (f) {
      if (fgets(brokers, sizeof(brokers), f)) {
        brokers[strcspn(brokers, "\n")] = '\0';
        fclose(f);
        return 0;
      }
      fclose(f);
    }
    if (waitpid(broker_pid, NULL, WNOHANG) == broker_pid) {
      fprintf(stderr, "ferry-devbroker (%s) exited early; see %s\n", exe, log);
      broker_pid = -1;
      return -1;
    }
    sleep_ms(50);
  }
  fprintf(stderr, "ferry-devbroker wrote no bootstrap file in 10 s\n");
  return -1;
}

static int stop_broker(void **state) {
  int i, st;
  char cmd[PATH_MAX + 16];
  (void)state;
  if (broker_pid > 0) {
    kill(broker_pid, SIGTERM);
    for (i = 0; i < 100; i++) {
      if (waitpid(broker_pid, &st, WNOHANG) == broker_pid) break;
      sleep_ms(50);
    }
    if (i == 100) {
      kill(broker_pid, SIGKILL);
      waitpid(broker_pid, &st, 0);
    }
    broker_pid = -1;
  }
  /* run_dir holds only the (already removed) bootstrap file and the log. */
  snprintf(cmd, sizeof(cmd), "%s/devbroker.log", run_dir);
  unlink(cmd);
  rmdir(run_dir);
  return 0;
}

static void conf_for(bus_conf_t *c, const char *group) {
  bus_conf_init(c);
  c->brokers = fx_strdup(brokers);
  c->segments_partitions = PARTS;
  if (group) c->group_id = fx_strdup(group);
  /* A consumer that dies without leaving the group holds its partitions
   * for the session timeout; keep that short in tests. */
  kvlist_add(&c->consumer, "session.timeout.ms", "6000");
  kvlist_add(&c->consumer, "heartbeat.interval.ms", "500");
}

/* ---------- topics ---------- */

static void test_topics_exist(void **state) {
  bus_conf_t c;
  char eb[FERRY_ERRLEN] = "";
  (void)state;
  conf_for(&c, NULL);
  assert_int_equal(bus_topics_create(&c, eb), FERRY_OK);
  bus_conf_release(&c);
}

/* The mock cluster has no CreateTopics: missing topics give a clear error,
 * quickly, not a hang. */
static void test_topics_create_unsupported(void **state) {
  bus_conf_t c;
  char eb[FERRY_ERRLEN] = "";
  int64_t t0 = now_ms();
  ferry_err_t e;
  (void)state;
  conf_for(&c, NULL);
  fx_free(c.topic_prefix);
  c.topic_prefix = fx_strdup("other.");
  e = bus_topics_create(&c, eb);
  print_message("bus_topics_create on the mock with missing topics: %s (%s) in %lld ms\n",
                ferry_err_str(e), eb, (long long)(now_ms() - t0));
  assert_int_not_equal(e, FERRY_OK);
  assert_non_null(strstr(eb, "CreateTopics") ? eb : strstr(eb, "create topic"));
  bus_conf_release(&c);
}

/* ---------- produce ---------- */

typedef struct sent {
  int reported[N_MSGS + 8];
  int failed;
  int64_t offset[N_MSGS + 8];
  int32_t partition[N_MSGS + 8];
} sent_t;

static void on_delivery(const bus_delivery_t *d, void *ctx) {
  sent_t *s = ctx;
  int i = (int)(intptr_t)d->opaque;
  assert_true(i >= 0 && i < N_MSGS + 8);
  s->reported[i]++;
  if (d->err) {
    s->failed++;
    print_error("delivery %d failed: %s\n", i, d->error);
    return;
  }
  s->offset[i] = d->offset;
  s->partition[i] = d->partition;
}

static void produce_n(int first, int n, sent_t *s) {
  bus_conf_t c;
  bus_producer_t *p;
  char eb[FERRY_ERRLEN] = "", key[32], val[64];
  int i;
  conf_for(&c, NULL);
  c.delivery_timeout_ms = 20000;
  p = bus_producer_new(&c, on_delivery, s, eb);
  if (!p) print_error("%s\n", eb);
  assert_non_null(p);
  for (i = first; i < first + n; i++) {
    snprintf(key, sizeof(key), "1-%06d", i);
    snprintf(val, sizeof(val), "{\"v\":1,\"n\":%d}", i);
    assert_int_equal(bus_producer_send(p, BUS_SEGMENTS, key, val, strlen(val),
                                       (void *)(intptr_t)i, eb), FERRY_OK);
  }
  assert_true(bus_producer_outstanding(p) > 0);
  assert_int_equal(bus_producer_flush(p, 20000, eb), FERRY_OK);
  assert_int_equal(bus_producer_outstanding(p), 0);
  for (i = first; i < first + n; i++) {
    assert_int_equal(s->reported[i], 1);
    assert_true(s->offset[i] >= 0);
    assert_true(s->partition[i] >= 0 && s->partition[i] < PARTS);
  }
  assert_int_equal(s->failed, 0);
  bus_producer_destroy(p);
  bus_conf_release(&c);
}

/* ---------- consume ---------- */

typedef struct events {
  int assigned, revoked, lost;
  int owned[PARTS];
  int committed_in_revoke;
  bus_consumer_t *c;
} events_t;

static void on_rebalance(bus_rebalance_t ev, const bus_part_t *parts, size_t n,
                         void *ctx) {
  events_t *e = ctx;
  size_t i;
  for (i = 0; i < n; i++) {
    assert_true(strcmp(parts[i].topic, "ferry.segments") == 0);
    assert_true(parts[i].partition >= 0 && parts[i].partition < PARTS);
    if (ev == BUS_ASSIGNED) {
      e->assigned++;
      e->owned[parts[i].partition] = 1;
    } else {
      ev == BUS_LOST ? e->lost++ : e->revoked++;
      e->owned[parts[i].partition] = 0;
    }
  }
}

/* Polls until `want` messages arrived or timeout; records keys seen. */
static int consume(bus_consumer_t *c, int want, int timeout_ms, int seen[],
                   int64_t offsets[], int32_t partitions[], int commit_first_only) {
  int got = 0;
  int64_t deadline = now_ms() + timeout_ms;
  char eb[FERRY_ERRLEN];
  while (got < want && now_ms() < deadline) {
    bus_msg_t *m = NULL;
    ferry_err_t e = bus_consumer_poll(c, 200, &m, eb);
    int i;
    if (e == FERRY_ERR_TIMEOUT) continue;
    assert_int_equal(e, FERRY_OK);
    assert_int_equal(m->key_len, 8);
    assert_int_equal(strncmp(m->key, "1-", 2), 0);
    i = atoi((const char *)m->key + 2);
    assert_true(i >= 0 && i < N_MSGS + 8);
    seen[i]++;
    offsets[i] = m->offset;
    partitions[i] = m->partition;
    assert_true(strcmp(m->topic, "ferry.segments") == 0);
    assert_true(m->timestamp_ms > 0);
    if (!commit_first_only || m->offset == 0)
      assert_int_equal(bus_consumer_commit_msg(c, m, eb), FERRY_OK);
    bus_msg_destroy(m);
    got++;
  }
  return got;
}

static void test_group_commit_rejoin(void **state) {
  sent_t s;
  events_t ev;
  bus_conf_t c;
  bus_consumer_t *bc;
  bus_topic_t topics[] = {BUS_SEGMENTS};
  int seen[N_MSGS + 8], i, got, part, expect_again = 0, nonempty[PARTS] = {0};
  int64_t offs[N_MSGS + 8], committed, t0;
  int32_t parts[N_MSGS + 8];
  char eb[FERRY_ERRLEN] = "";
  (void)state;
  memset(&s, 0, sizeof(s));
  produce_n(0, N_MSGS, &s);

  /* First member: reads everything, commits only offset 0 of each
   * partition (next_offset 1), then leaves. */
  memset(&ev, 0, sizeof(ev));
  memset(seen, 0, sizeof(seen));
  conf_for(&c, "itest-group");
  t0 = now_ms();
  bc = bus_consumer_new(&c, topics, 1, on_rebalance, &ev, eb);
  if (!bc) print_error("%s\n", eb);
  assert_non_null(bc);
  got = consume(bc, N_MSGS, 60000, seen, offs, parts, 1);
  print_message("first member: %d messages in %lld ms\n", got,
                (long long)(now_ms() - t0));
  assert_int_equal(got, N_MSGS);
  for (i = 0; i < N_MSGS; i++) {
    assert_int_equal(seen[i], 1);
    assert_true(offs[i] == s.offset[i]);
    assert_int_equal(parts[i], s.partition[i]);
    nonempty[parts[i]] = 1;
    if (offs[i] > 0) expect_again++;
  }
  assert_int_equal(ev.assigned, PARTS);
  /* Commits are asynchronous: wait for their answers. */
  assert_int_equal(bus_consumer_commit_wait(bc, 10000, eb), FERRY_OK);
  for (part = 0; part < PARTS; part++) {
    assert_int_equal(bus_consumer_committed(bc, "ferry.segments", part, &committed, eb),
                     FERRY_OK);
    assert_true(committed == (nonempty[part] ? 1 : -1));
  }
  {
    int n = 0;
    assert_int_equal(bus_consumer_partition_count(bc, BUS_SEGMENTS, &n, eb), FERRY_OK);
    assert_int_equal(n, PARTS);
  }
  bus_consumer_destroy(bc);
  /* close revoked what was assigned */
  assert_int_equal(ev.revoked + ev.lost, PARTS);

  /* Second member of the same group resumes at the committed offsets:
   * everything but offset 0 of each partition comes again. */
  memset(&ev, 0, sizeof(ev));
  memset(seen, 0, sizeof(seen));
  t0 = now_ms();
  bc = bus_consumer_new(&c, topics, 1, on_rebalance, &ev, eb);
  assert_non_null(bc);
  got = consume(bc, expect_again, 60000, seen, offs, parts, 0);
  print_message("second member: %d messages in %lld ms (want %d)\n", got,
                (long long)(now_ms() - t0), expect_again);
  assert_int_equal(got, expect_again);
  for (i = 0; i < N_MSGS; i++) assert_int_equal(seen[i], s.offset[i] > 0 ? 1 : 0);
  /* Nothing more arrives. */
  got = consume(bc, 1, 1500, seen, offs, parts, 0);
  assert_int_equal(got, 0);
  bus_consumer_destroy(bc);

  /* A third member sees only new messages: everything was committed. */
  produce_n(N_MSGS, 3, &s);
  memset(&ev, 0, sizeof(ev));
  memset(seen, 0, sizeof(seen));
  bc = bus_consumer_new(&c, topics, 1, on_rebalance, &ev, eb);
  assert_non_null(bc);
  got = consume(bc, 3, 60000, seen, offs, parts, 0);
  assert_int_equal(got, 3);
  for (i = 0; i < N_MSGS + 3; i++) assert_int_equal(seen[i], i >= N_MSGS ? 1 : 0);
  bus_consumer_destroy(bc);
  bus_conf_release(&c);
}

static int owned_count(const events_t *e) {
  int i, n = 0;
  for (i = 0; i < PARTS; i++) n += e->owned[i];
  return n;
}

/* Serves callbacks for ms, dropping messages. */
static void pump(bus_consumer_t *c, int ms) {
  bus_msg_t *m = NULL;
  char eb[FERRY_ERRLEN];
  if (bus_consumer_poll(c, ms, &m, eb) == FERRY_OK) bus_msg_destroy(m);
}

/* Two members share the partitions and the first gets them back when the
 * second leaves. With the cooperative protocol the first gives up only
 * what moves; with the eager one (the default) it gives up everything and
 * gets its share back. */
static void two_members(int coop) {
  events_t ea, eb_;
  bus_conf_t c;
  bus_consumer_t *a, *b;
  bus_topic_t topics[] = {BUS_SEGMENTS};
  char eb[FERRY_ERRLEN] = "";
  int64_t deadline, t0;
  int i;
  memset(&ea, 0, sizeof(ea));
  memset(&eb_, 0, sizeof(eb_));
  conf_for(&c, coop ? "itest-coop" : "itest-eager");
  if (coop) kvlist_add(&c.consumer, "partition.assignment.strategy", "cooperative-sticky");
  a = bus_consumer_new(&c, topics, 1, on_rebalance, &ea, eb);
  assert_non_null(a);
  deadline = now_ms() + 30000;
  while (owned_count(&ea) < PARTS && now_ms() < deadline) pump(a, 100);
  assert_int_equal(owned_count(&ea), PARTS);

  t0 = now_ms();
  b = bus_consumer_new(&c, topics, 1, on_rebalance, &eb_, eb);
  assert_non_null(b);
  deadline = now_ms() + 60000;
  while (now_ms() < deadline &&
         !(owned_count(&eb_) > 0 && owned_count(&ea) + owned_count(&eb_) == PARTS)) {
    pump(a, 50);
    pump(b, 50);
  }
  print_message("two members: a owns %d, b owns %d after %lld ms; a revoked %d\n",
                owned_count(&ea), owned_count(&eb_), (long long)(now_ms() - t0),
                ea.revoked);
  assert_true(owned_count(&eb_) > 0);
  assert_int_equal(owned_count(&ea) + owned_count(&eb_), PARTS);
  for (i = 0; i < PARTS; i++) assert_int_not_equal(ea.owned[i], eb_.owned[i]);
  /* Incremental: a lost only what b took, never everything; eager: all. */
  if (coop) assert_int_equal(ea.revoked, owned_count(&eb_));
  else assert_true(ea.revoked >= PARTS);
  assert_int_equal(ea.lost, 0);

  /* b leaves (closing revokes its partitions); a takes them back. */
  bus_consumer_destroy(b);
  assert_int_equal(owned_count(&eb_), 0);
  deadline = now_ms() + 60000;
  while (owned_count(&ea) < PARTS && now_ms() < deadline) pump(a, 100);
  assert_int_equal(owned_count(&ea), PARTS);
  bus_consumer_destroy(a);
  bus_conf_release(&c);
}

static void test_two_members_cooperative(void **state) {
  (void)state;
  two_members(1);
}

static void test_two_members_eager(void **state) {
  (void)state;
  two_members(0);
}

/* ---------- held messages (BUS_CONSUMER_HELD) ---------- */

/* Serves the group for ms without taking a held message; counts any
 * message returned all the same. */
static int pump_held(bus_consumer_t *c, int ms) {
  int64_t deadline = now_ms() + ms;
  int n = 0;
  char eb[FERRY_ERRLEN];
  while (now_ms() < deadline) {
    bus_msg_t *m = NULL;
    if (bus_consumer_poll_ex(c, 50, 0, &m, eb) == FERRY_OK) {
      n++;
      bus_msg_destroy(m);
    }
  }
  return n;
}

/* Messages wait in librdkafka until asked for (want = 1), across an eager
 * rebalance, and none is lost or returned twice: the worker's flow control
 * (docs/worker.md) without pausing partitions. */
static void test_held(void **state) {
  sent_t s;
  events_t ea, eb_;
  bus_conf_t c;
  bus_consumer_t *a, *b;
  bus_topic_t topics[] = {BUS_SEGMENTS};
  int seen[N_MSGS + 8], i, first = N_MSGS + 3, n = 5, leaked;
  int64_t offs[N_MSGS + 8], deadline;
  int32_t parts[N_MSGS + 8];
  char eb[FERRY_ERRLEN] = "";
  (void)state;
  memset(&s, 0, sizeof(s));
  memset(&ea, 0, sizeof(ea));
  memset(&eb_, 0, sizeof(eb_));
  memset(seen, 0, sizeof(seen));
  produce_n(first, n, &s);
  conf_for(&c, "itest-held");
  a = bus_consumer_new_ex(&c, topics, 1, on_rebalance, &ea, BUS_CONSUMER_HELD, eb);
  assert_non_null(a);
  deadline = now_ms() + 30000;
  leaked = 0;
  while (owned_count(&ea) < PARTS && now_ms() < deadline) leaked += pump_held(a, 100);
  assert_int_equal(owned_count(&ea), PARTS);
  /* Fetched (the topic has messages on every partition) but not taken. */
  leaked += pump_held(a, 3000);
  print_message("held: %d message(s) returned while not wanted\n", leaked);
  assert_int_equal(leaked, 0);

  /* A second member joins: a gives up everything (eager) and gets half
   * back, with its held messages still unread. */
  b = bus_consumer_new_ex(&c, topics, 1, on_rebalance, &eb_, BUS_CONSUMER_HELD, eb);
  assert_non_null(b);
  deadline = now_ms() + 60000;
  while (now_ms() < deadline &&
         !(owned_count(&eb_) > 0 && owned_count(&ea) + owned_count(&eb_) == PARTS)) {
    leaked += pump_held(a, 50);
    leaked += pump_held(b, 50);
  }
  assert_true(owned_count(&eb_) > 0);
  assert_int_equal(owned_count(&ea) + owned_count(&eb_), PARTS);
  assert_int_equal(leaked, 0);

  /* Now both take: every message of the topic comes exactly once, this
   * test's batch included. */
  {
    int got = 0, total = 0, k, idle_a = 0, idle_b = 0;
    int64_t until = now_ms() + 60000;
    int dup = 0;
    while (now_ms() < until && !(idle_a > 10 && idle_b > 10)) {
      int ga = consume(a, 1, 100, seen, offs, parts, 0);
      int gb = consume(b, 1, 100, seen, offs, parts, 0);
      idle_a = ga ? 0 : idle_a + 1;
      idle_b = gb ? 0 : idle_b + 1;
      got += ga + gb;
    }
    for (k = first; k < first + n; k++) assert_int_equal(seen[k], 1);
    for (k = 0; k < N_MSGS + 8; k++) {
      total += seen[k] ? 1 : 0;
      if (seen[k] > 1) dup++;
    }
    print_message("held: %d messages taken by two members after a rebalance, %d keys, "
                  "%d duplicated\n", got, total, dup);
    assert_int_equal(dup, 0);
  }
  bus_consumer_destroy(b);
  bus_consumer_destroy(a);
  for (i = 0; i < PARTS; i++) assert_int_equal(ea.owned[i] + eb_.owned[i], 0);
  bus_conf_release(&c);
}

/* A poll with timeout 0 returns at once, every time. It once computed its
 * wait as FERRY_MAX(0, deadline - now()) with the clock read twice; when the
 * millisecond turned between the reads the wait was -1, i.e. "wait for the
 * next event", which an idle consumer never gets: the worker hung in
 * consumer poll. Hundreds of thousands of zero polls on an idle consumer
 * hit that window many times; SIGALRM ends the test if one blocks. */
static void test_poll_zero_never_blocks(void **state) {
  events_t ev;
  bus_conf_t c;
  bus_consumer_t *bc;
  bus_topic_t topics[] = {BUS_SEGMENTS};
  char eb[FERRY_ERRLEN] = "";
  int64_t deadline, t0, worst = 0;
  long calls = 0;
  (void)state;
  memset(&ev, 0, sizeof(ev));
  conf_for(&c, "itest-zero");
  bc = bus_consumer_new_ex(&c, topics, 1, on_rebalance, &ev, BUS_CONSUMER_HELD, eb);
  assert_non_null(bc);
  deadline = now_ms() + 30000;
  while (owned_count(&ev) < PARTS && now_ms() < deadline) pump_held(bc, 100);
  assert_int_equal(owned_count(&ev), PARTS);
  alarm(60);
  t0 = now_ms();
  while (now_ms() - t0 < 4000) {
    bus_msg_t *m = NULL;
    int64_t s = now_ms();
    if (bus_consumer_poll_ex(bc, 0, 0, &m, eb) == FERRY_OK) bus_msg_destroy(m);
    if (now_ms() - s > worst) worst = now_ms() - s;
    calls++;
  }
  alarm(0);
  print_message("zero polls: %ld calls in 4 s, slowest %lld ms\n", calls, (long long)worst);
  assert_true(worst < 1000);
  bus_consumer_destroy(bc);
  bus_conf_release(&c);
}

/* ---------- the single-actor lease ---------- */

/* One holder per name: a second acquirer in the group is told another holds
 * it (and gets no lease), another name is independent, and a release hands
 * the lease on to the next acquirer. */
static void test_lease(void **state) {
  bus_conf_t c;
  bus_lease_t *a = NULL, *b = NULL, *x = NULL;
  char eb[FERRY_ERRLEN] = "";
  (void)state;
  conf_for(&c, NULL);
  assert_int_equal(bus_lease_acquire(&c, "itest.lease.t", 10000, 30000, &a, eb), FERRY_OK);
  assert_non_null(a);
  assert_true(bus_lease_held(a));
  assert_int_equal(bus_lease_acquire(&c, "itest.lease.t", 10000, 30000, &b, eb), FERRY_OK);
  assert_null(b);                  /* another member holds it */
  assert_true(bus_lease_held(a));  /* and keeps it through the rebalance */
  assert_int_equal(bus_lease_acquire(&c, "itest.lease.other", 10000, 30000, &x, eb), FERRY_OK);
  assert_non_null(x);
  bus_lease_release(a);
  assert_int_equal(bus_lease_acquire(&c, "itest.lease.t", 10000, 30000, &b, eb), FERRY_OK);
  assert_non_null(b);
  assert_true(bus_lease_held(b));
  bus_lease_release(b);
  bus_lease_release(x);
  bus_lease_release(NULL);
  assert_false(bus_lease_held(NULL));
  bus_conf_release(&c);
}

/* bus_lease_join: a member that does not get the lease stays a standby
 * and is handed it when the holder leaves (the console's masters). */
static void test_lease_join(void **state) {
  bus_conf_t c;
  bus_lease_t *a = NULL, *b = NULL;
  char eb[FERRY_ERRLEN] = "";
  int64_t deadline;
  (void)state;
  conf_for(&c, NULL);
  assert_int_equal(bus_lease_join(&c, "itest.lease.join", 10000, 30000, &a, eb), FERRY_OK);
  assert_non_null(a);
  assert_true(bus_lease_held(a));
  assert_int_equal(bus_lease_join(&c, "itest.lease.join", 10000, 30000, &b, eb), FERRY_OK);
  assert_non_null(b);               /* kept as a standby */
  assert_false(bus_lease_held(b));
  assert_true(bus_lease_held(a));
  bus_lease_release(a);
  deadline = now_ms() + 30000;
  while (!bus_lease_held(b) && now_ms() < deadline) usleep(100 * 1000);
  assert_true(bus_lease_held(b));
  bus_lease_release(b);
  bus_conf_release(&c);
}

/* Unreachable brokers: a clear error within the connect time, no lease. */
static void test_lease_unreachable(void **state) {
  bus_conf_t c;
  bus_lease_t *l = NULL;
  char eb[FERRY_ERRLEN] = "";
  int64_t t0 = ferry_now_us();
  (void)state;
  bus_conf_init(&c);
  c.brokers = fx_strdup("127.0.0.1:1");
  assert_int_equal(bus_lease_acquire(&c, "itest.lease.down", 1500, 30000, &l, eb), FERRY_ERR_KAFKA);
  assert_null(l);
  assert_non_null(strstr(eb, "unreachable within 1500 ms"));
  assert_true(ferry_now_us() - t0 < 10 * 1000000LL);
  bus_conf_release(&c);
}

/* ---------- dead letters ---------- */

static void test_dlq(void **state) {
  sent_t s;
  bus_conf_t c;
  bus_producer_t *p;
  bus_consumer_t *bc;
  bus_topic_t topics[] = {BUS_DLQ};
  bus_msg_t *m = NULL;
  char eb[FERRY_ERRLEN] = "";
  const void *v;
  size_t vl;
  int64_t deadline;
  static const char bad[] = "{\"v\":1,\"objs\":[{\"size\":-1}]}";
  (void)state;
  memset(&s, 0, sizeof(s));
  conf_for(&c, "itest-dlq");
  p = bus_producer_new(&c, on_delivery, &s, eb);
  assert_non_null(p);
  assert_int_equal(bus_dlq_send(p, "ferry.segments", 3, 42, "1-000042", 8, bad,
                                strlen(bad), "segment.task: missing",
                                (void *)(intptr_t)0, eb), FERRY_OK);
  assert_int_equal(bus_producer_flush(p, 20000, eb), FERRY_OK);
  assert_int_equal(s.reported[0], 1);
  assert_int_equal(s.failed, 0);
  bus_producer_destroy(p);

  bc = bus_consumer_new(&c, topics, 1, NULL, NULL, eb);
  assert_non_null(bc);
  deadline = now_ms() + 60000;
  while (!m && now_ms() < deadline) {
    ferry_err_t e = bus_consumer_poll(bc, 200, &m, eb);
    assert_true(e == FERRY_OK || e == FERRY_ERR_TIMEOUT);
  }
  assert_non_null(m);
  assert_string_equal(m->topic, "ferry.dlq");
  assert_int_equal(m->len, strlen(bad));
  assert_memory_equal(m->value, bad, m->len);
  assert_int_equal(m->key_len, 8);
  assert_memory_equal(m->key, "1-000042", 8);
  assert_int_equal(bus_msg_header(m, "ferry-dlq-reason", &v, &vl), 0);
  assert_int_equal(vl, strlen("segment.task: missing"));
  assert_memory_equal(v, "segment.task: missing", vl);
  assert_int_equal(bus_msg_header(m, "ferry-dlq-offset", &v, &vl), 0);
  assert_memory_equal(v, "42", 2);
  assert_int_equal(bus_msg_header(m, "ferry-dlq-partition", &v, &vl), 0);
  assert_memory_equal(v, "3", 1);
  assert_int_equal(bus_msg_header(m, "ferry-dlq-topic", &v, &vl), 0);
  assert_memory_equal(v, "ferry.segments", vl);
  assert_int_equal(bus_msg_header(m, "ferry-dlq-at-ms", &v, &vl), 0);
  assert_int_equal(bus_msg_header(m, "no-such-header", &v, &vl), -1);
  bus_msg_destroy(m);
  bus_consumer_destroy(bc);
  bus_conf_release(&c);
}

/* Sends to an unreachable broker are reported as failed once the delivery
 * timeout passes: no silent loss. */
static void test_delivery_failure_reported(void **state) {
  sent_t s;
  bus_conf_t c;
  bus_producer_t *p;
  char eb[FERRY_ERRLEN] = "";
  (void)state;
  memset(&s, 0, sizeof(s));
  bus_conf_init(&c);
  c.brokers = fx_strdup("127.0.0.1:1");   /* nothing listens on port 1 */
  c.delivery_timeout_ms = 1500;
  kvlist_add(&c.properties, "log_level", "0");
  p = bus_producer_new(&c, on_delivery, &s, eb);
  assert_non_null(p);
  assert_int_equal(bus_producer_send(p, BUS_RESULTS, "t", "x", 1, (void *)(intptr_t)5, eb),
                   FERRY_OK);
  assert_int_equal(bus_producer_flush(p, 10000, eb), FERRY_OK);
  assert_int_equal(s.reported[5], 1);
  assert_int_equal(s.failed, 1);
  /* Destroy with a send still queued: reported as failed, not dropped. */
  assert_int_equal(bus_producer_send(p, BUS_RESULTS, "t", "y", 1, (void *)(intptr_t)6, eb),
                   FERRY_OK);
  bus_producer_destroy(p);
  assert_int_equal(s.reported[6], 1);
  assert_int_equal(s.failed, 2);
  bus_conf_release(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_topics_exist),
      cmocka_unit_test(test_topics_create_unsupported),
      cmocka_unit_test(test_group_commit_rejoin),
      cmocka_unit_test(test_two_members_cooperative),
      cmocka_unit_test(test_two_members_eager),
      cmocka_unit_test(test_held),
      cmocka_unit_test(test_poll_zero_never_blocks),
      cmocka_unit_test(test_dlq),
      cmocka_unit_test(test_delivery_failure_reported),
      cmocka_unit_test(test_lease),
      cmocka_unit_test(test_lease_join),
      cmocka_unit_test(test_lease_unreachable),
  };
  flog_set_level(FLOG_WARN);
  return cmocka_run_group_tests(tests, start_broker, stop_broker);
}
