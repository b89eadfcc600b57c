/*
 * Integration tests for the copy engine's API (lib/xfer/engine.h), driven
 * directly, not through the worker binary, against real servers on loopback:
 *  - "s3rver": the s3rver at $FERRY_S3_ENDPOINT (scripts/test.sh starts it
 *    with buckets ferry-test ferry-src ferry-dst) as both source and
 *    destination: small and multipart copies read back byte for byte, the
 *    skip policies with their reasons, a source 404 and a changed size;
 *  - "oss": tests/servers/proxy.js, started here in the OSS dialect in front
 *    of that s3rver, which checks every signature and answers with CRC-64
 *    headers as OSS does: copies verified by CRC-64 (the combined one of a
 *    multipart upload included), a 503 retried, source bytes damaged on the
 *    way failed as "integrity".
 * Each object ends with one outcome; the tests assert its status, reason and
 * bytes, and what the destination holds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/ferry.h"
#include "core/kv.h"
#include "core/log.h"
#include "store/client.h"
#include "xfer/engine.h"

#define PROXY_AK "LTAIferryengine"
#define PROXY_SK "oss-engine-secret"
#define MIB (1024 * 1024)

static const char *S3_ENDPOINT;
static char PFX[64];             /* unique per run: "engine-<pid>-<time>/" */
static char PROXY_ADDR[32];      /* "127.0.0.1:PORT" of the OSS proxy */
static pid_t PROXY_PID;
static FILE *PROXY_OUT;          /* its stdout, open while it runs */
static store_t *S3, *OSS;        /* for seeding and reading back */

/* ------------------------------------------------------------------------ */
/* Stores                                                                    */

static void s3_conf(store_conf_t *c) {
  memset(c, 0, sizeof(*c));
  c->name = "s3";
  c->type = STORE_S3;
  c->endpoint = (char *)S3_ENDPOINT;
  c->region = "us-east-1";
  c->path_style = 1;
  c->access_key = "S3RVER";
  c->secret_key.v = "S3RVER";
  c->connect_timeout_ms = 5000;
}

static void oss_conf(store_conf_t *c) {
  memset(c, 0, sizeof(*c));
  c->name = "oss";
  c->type = STORE_OSS;
  c->endpoint = "http://oss-cn-hangzhou.aliyuncs.com";
  c->region = "cn-hangzhou";
  c->connect_to = PROXY_ADDR;
  c->access_key = PROXY_AK;
  c->secret_key.v = PROXY_SK;
  c->connect_timeout_ms = 5000;
}

static char *k(const char *suffix) { return fx_asprintf("%s%s", PFX, suffix); }

static void must(ferry_err_t rc, const store_error_t *err, const char *what) {
  if (rc != FERRY_OK) {
    char m[512];
    store_error_format(err, m, sizeof(m));
    fail_msg("%s: %s: %s", what, ferry_err_str(rc), m);
  }
}

/* Deterministic bytes, different per seed. */
static char *pattern(size_t n, unsigned seed) {
  char *p = malloc(n ? n : 1);
  uint64_t x = 0x9e3779b97f4a7c15ull * (seed + 1);
  size_t i;
  for (i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    p[i] = (char)(x >> 24);
  }
  return p;
}

/* Puts n pattern bytes at bucket/key of s; returns the ETag (caller frees). */
static char *seed_object(store_t *s, const char *bucket, const char *key, size_t n,
                         unsigned seed) {
  store_error_t err;
  store_head_t h;
  char *data = pattern(n, seed), *etag;
  kvlist_t extra;
  kvlist_init(&extra);
  kvlist_add(&extra, "Content-Type", "application/x-ferry-test");
  must(store_put_buf(s, bucket, key, data, n, &extra, 1, &h, &err), &err, key);
  kvlist_release(&extra);
  free(data);
  etag = h.etag ? fx_strdup(h.etag) : NULL;
  store_head_release(&h);
  return etag;
}

/* The destination holds exactly the n pattern bytes of seed. */
static void assert_holds(store_t *s, const char *bucket, const char *key, size_t n,
                         unsigned seed) {
  store_error_t err;
  fbuf_t body;
  char *want = pattern(n, seed);
  fbuf_init(&body, 0);
  must(store_get_buf(s, bucket, key, NULL, NULL, 0, &body, NULL, &err), &err, key);
  assert_int_equal(body.len, n);
  assert_memory_equal(body.p, want, n);
  fbuf_release(&body);
  free(want);
}

/* ------------------------------------------------------------------------ */
/* Driving the engine                                                        */

typedef struct result {
  int calls;
  msg_status_t status;
  char reason[64];
  char message[512];
  int http_status;
  uint64_t bytes;
  int attempts;
} result_t;

static void on_done(void *opaque, const msg_segment_t *seg, size_t index,
                    const msg_outcome_t *o) {
  result_t *r = (result_t *)opaque + index;
  r->calls++;
  r->status = o->status;
  snprintf(r->reason, sizeof(r->reason), "%s", o->reason ? o->reason : "");
  snprintf(r->message, sizeof(r->message), "%s", o->message ? o->message : "");
  r->http_status = o->http_status;
  r->bytes = o->bytes;
  r->attempts = o->attempts;
}

static xfer_engine_t *engine_new(void) {
  xfer_conf_t c;
  store_conf_t stores[2];
  char eb[FERRY_ERRLEN];
  xfer_engine_t *e;
  size_t n = 1;
  xfer_conf_defaults(&c);
  c.concurrency = 8;
  c.multipart_threshold = 8 * MIB;  /* above: multipart, 5 MiB parts */
  c.part_size = 5 * MIB;
  c.max_attempts = 3;
  c.backoff_base_ms = 20;
  c.backoff_max_ms = 200;
  c.stall_timeout_s = 10;
  c.rng_seed = 7;
  s3_conf(&stores[0]);
  if (PROXY_ADDR[0]) oss_conf(&stores[n++]);
  e = xfer_engine_new(&c, stores, n, eb);
  if (!e) fail_msg("xfer_engine_new: %s", eb);
  return e;
}

/* One segment of objects, built by the tests. */
typedef struct seg {
  msg_segment_t s;
  msg_obj_t objs[4];
} seg_t;

static void seg_init(seg_t *g, const char *src_store, const char *src_bucket,
                     const char *dst_store, const char *dst_bucket, msg_policy_t policy) {
  memset(g, 0, sizeof(*g));
  g->s.task = "itest-engine";
  g->s.id = "1-1";
  g->s.run = 1;
  g->s.src.store = (char *)src_store;
  g->s.src.bucket = (char *)src_bucket;
  g->s.src.prefix = "";
  g->s.dst.store = (char *)dst_store;
  g->s.dst.bucket = (char *)dst_bucket;
  g->s.dst.prefix = "";
  g->s.policy = policy;
  g->s.objs = g->objs;
}

static void seg_add(seg_t *g, char *key, uint64_t size, char *etag) {
  msg_obj_t *o = &g->objs[g->s.n_objs++];
  o->key = key;
  o->size = size;
  o->etag = etag;
  o->mtime = -1;
}

/* Submits every object of g and runs the engine until each has its outcome
 * (at most 120 s). */
static void run_seg(xfer_engine_t *e, seg_t *g, result_t *res) {
  time_t end = time(NULL) + 120;
  size_t i;
  memset(res, 0, sizeof(*res) * g->s.n_objs);
  for (i = 0; i < g->s.n_objs; i++) xfer_submit(e, &g->s, i, on_done, res);
  while (xfer_pending(e) > 0 && time(NULL) < end) xfer_run(e, 200);
  assert_int_equal(xfer_pending(e), 0);
  for (i = 0; i < g->s.n_objs; i++) assert_int_equal(res[i].calls, 1);
}

static void assert_outcome(const result_t *r, msg_status_t st, const char *reason) {
  if (r->status != st || strcmp(r->reason, reason) != 0)
    fail_msg("outcome %s reason=%s message=%s, expected %s reason=%s",
             msg_status_str(r->status), r->reason, r->message, msg_status_str(st), reason);
}

/* ------------------------------------------------------------------------ */
/* s3rver                                                                    */

static void test_small_copied(void **state) {
  xfer_engine_t *e = engine_new();
  char *key = k("small/a.bin"), *etag = seed_object(S3, "ferry-src", key, 300000, 1);
  store_head_t h;
  store_error_t err;
  xfer_stats_t st;
  seg_t g;
  result_t res[1];
  (void)state;
  seg_init(&g, "s3", "ferry-src", "s3", "ferry-dst", POLICY_OVERWRITE);
  seg_add(&g, key, 300000, etag);
  run_seg(e, &g, res);
  assert_outcome(&res[0], ST_COPIED, "");
  assert_int_equal(res[0].bytes, 300000);
  assert_int_equal(res[0].attempts, 1);
  assert_holds(S3, "ferry-dst", key, 300000, 1);
  /* The source's metadata goes with it; its MD5 was the Content-MD5. */
  must(store_head_object(S3, "ferry-dst", key, &h, &err), &err, "head dst");
  assert_string_equal(h.content_type, "application/x-ferry-test");
  assert_string_equal(h.etag, etag);
  store_head_release(&h);
  xfer_get_stats(e, &st);
  assert_int_equal(st.copied, 1);
  assert_int_equal(st.bytes_in, 300000);
  assert_int_equal(st.bytes_out, 300000);
  xfer_engine_destroy(e);
  free(key);
  free(etag);
}

static void test_multipart_copied(void **state) {
  xfer_engine_t *e = engine_new();
  size_t n = 12 * MIB + 12345;  /* three parts of 5 MiB */
  char *key = k("large/b.bin"), *etag = seed_object(S3, "ferry-src", key, n, 2);
  xfer_stats_t st;
  seg_t g;
  result_t res[1];
  (void)state;
  seg_init(&g, "s3", "ferry-src", "s3", "ferry-dst", POLICY_OVERWRITE);
  seg_add(&g, key, n, etag);
  run_seg(e, &g, res);
  assert_outcome(&res[0], ST_COPIED, "");
  assert_int_equal(res[0].bytes, n);
  assert_holds(S3, "ferry-dst", key, n, 2);
  xfer_get_stats(e, &st);
  assert_int_equal(st.copied, 1);
  assert_int_equal(st.bytes_out, n);
  /* HEAD src, list uploads (s3rver: 501, a new one), initiate, 3 x (GET +
   * PUT), complete. */
  assert_true(st.requests >= 10);
  xfer_engine_destroy(e);
  free(key);
  free(etag);
}

static void test_skip_policies(void **state) {
  xfer_engine_t *e = engine_new();
  char *same = k("skip/same.bin"), *other = k("skip/other.bin");
  char *e1 = seed_object(S3, "ferry-src", same, 5000, 3);
  char *e2 = seed_object(S3, "ferry-src", other, 6000, 4);
  char *d1 = seed_object(S3, "ferry-dst", same, 5000, 3);
  char *d2 = seed_object(S3, "ferry-dst", other, 6000, 5);  /* same size, other bytes */
  seg_t g;
  result_t res[2];
  (void)state;
  /* skip: any destination object is kept. */
  seg_init(&g, "s3", "ferry-src", "s3", "ferry-dst", POLICY_SKIP);
  seg_add(&g, same, 5000, e1);
  seg_add(&g, other, 6000, e2);
  run_seg(e, &g, res);
  assert_outcome(&res[0], ST_SKIPPED, "exists");
  assert_outcome(&res[1], ST_SKIPPED, "exists");
  assert_int_equal(res[0].bytes, 0);
  assert_holds(S3, "ferry-dst", other, 6000, 5);
  /* skip-if-same: the same MD5 ETag skips, another is copied over. */
  seg_init(&g, "s3", "ferry-src", "s3", "ferry-dst", POLICY_SKIP_IF_SAME);
  seg_add(&g, same, 5000, e1);
  seg_add(&g, other, 6000, e2);
  run_seg(e, &g, res);
  assert_outcome(&res[0], ST_SKIPPED, "same-etag");
  assert_outcome(&res[1], ST_COPIED, "");
  assert_holds(S3, "ferry-dst", other, 6000, 4);
  xfer_engine_destroy(e);
  free(same), free(other), free(e1), free(e2), free(d1), free(d2);
}

static void test_source_missing(void **state) {
  xfer_engine_t *e = engine_new();
  char *small = k("gone/small.bin"), *large = k("gone/large.bin");
  store_head_t h;
  store_error_t err;
  seg_t g;
  result_t res[2];
  (void)state;
  /* Listed, then deleted before the copy: a whole-object GET and a
   * multipart HEAD of the source both answer 404. */
  seg_init(&g, "s3", "ferry-src", "s3", "ferry-dst", POLICY_OVERWRITE);
  seg_add(&g, small, 1000, NULL);
  seg_add(&g, large, 9 * MIB, NULL);
  run_seg(e, &g, res);
  assert_outcome(&res[0], ST_VANISHED, "vanished");
  assert_int_equal(res[0].http_status, 404);
  assert_int_equal(res[0].attempts, 1);  /* a 404 is not retried */
  assert_outcome(&res[1], ST_VANISHED, "vanished");
  assert_int_equal(res[1].http_status, 404);
  /* Nothing was written. */
  assert_int_equal(store_head_object(S3, "ferry-dst", small, &h, &err), FERRY_ERR_STORE);
  assert_int_equal(err.http_status, 404);
  store_head_release(&h);
  xfer_engine_destroy(e);
  free(small), free(large);
}

static void test_changed_and_config(void **state) {
  xfer_engine_t *e = engine_new();
  char *key = k("changed/c.bin"), *etag = seed_object(S3, "ferry-src", key, 1000, 6);
  char *moved = k("changed/d.bin"), *metag = seed_object(S3, "ferry-src", moved, 1000, 7);
  char wrong[] = "0123456789abcdef0123456789abcdef";
  seg_t g, u;
  result_t res[2], ures[1];
  (void)state;
  /* Listed with another size, or another ETag (If-Match refuses it). */
  seg_init(&g, "s3", "ferry-src", "s3", "ferry-dst", POLICY_OVERWRITE);
  seg_add(&g, key, 1200, etag);
  seg_add(&g, moved, 1000, wrong);
  run_seg(e, &g, res);
  assert_outcome(&res[0], ST_CHANGED, "changed");
  assert_outcome(&res[1], ST_CHANGED, "changed");
  /* A store the engine does not know: failed at once, named. */
  seg_init(&u, "s3", "ferry-src", "nowhere", "ferry-dst", POLICY_OVERWRITE);
  seg_add(&u, key, 1000, etag);
  run_seg(e, &u, ures);
  assert_outcome(&ures[0], ST_FAILED, "config");
  assert_non_null(strstr(ures[0].message, "destination store"));
  xfer_engine_destroy(e);
  free(key), free(etag), free(moved), free(metag);
}

static int s3_setup(void **state) {
  store_conf_t c;
  char eb[FERRY_ERRLEN];
  (void)state;
  S3_ENDPOINT = getenv("FERRY_S3_ENDPOINT");
  if (!S3_ENDPOINT || !*S3_ENDPOINT) {
    fprintf(stderr,
            "itest_engine: FERRY_S3_ENDPOINT is not set. Start s3rver with buckets "
            "ferry-test ferry-src ferry-dst and export its URL (scripts/test.sh does "
            "both), e.g. FERRY_S3_ENDPOINT=http://127.0.0.1:PORT\n");
    return -1;
  }
  snprintf(PFX, sizeof(PFX), "engine-%d-%ld/", (int)getpid(), (long)time(NULL));
  s3_conf(&c);
  S3 = store_new(&c, eb);
  if (!S3) {
    fprintf(stderr, "itest_engine: store_new: %s\n", eb);
    return -1;
  }
  return 0;
}

static int s3_teardown(void **state) {
  (void)state;
  store_destroy(S3);
  S3 = NULL;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* The OSS dialect proxy                                                     */

/* A port free now (the proxy binds it a moment later; proxy_start retries). */
static int free_port(void) {
  struct sockaddr_in a;
  socklen_t alen = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0) close(fd);
  return port;
}

/* Starts node tests/servers/proxy.js on port; 0 once it printed "ready". */
static int proxy_try(int port) {
  char portbuf[16], line[256];
  const char *js = FIXTURES_DIR "/../servers/proxy.js";
  char *argv[] = {"node", (char *)js, "--port", portbuf, "--upstream", (char *)S3_ENDPOINT,
                  "--dialect", "oss", "--ak", PROXY_AK, "--sk", PROXY_SK,
                  "--region", "cn-hangzhou", NULL};
  int pfd[2];
  FILE *out;
  snprintf(portbuf, sizeof(portbuf), "%d", port);
  if (pipe(pfd) != 0) return -1;
  PROXY_PID = fork();
  if (PROXY_PID == 0) {
    /* A test killed outright leaves no proxy behind. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    dup2(pfd[1], 1);
    close(pfd[0]);
    close(pfd[1]);
    execvp("node", argv);
    fprintf(stderr, "itest_engine: cannot run node: %s\n", strerror(errno));
    _exit(127);
  }
  close(pfd[1]);
  if (PROXY_PID < 0) {
    close(pfd[0]);
    PROXY_PID = 0;
    return -1;
  }
  out = fdopen(pfd[0], "r");
  line[0] = '\0';
  while (fgets(line, sizeof(line), out))
    if (strncmp(line, "ready", 5) == 0) break;
  if (strncmp(line, "ready", 5) != 0) {  /* it exited (port taken, no node modules) */
    fclose(out);
    waitpid(PROXY_PID, NULL, 0);
    PROXY_PID = 0;
    return -1;
  }
  PROXY_OUT = out;  /* kept open: a closed pipe would fail the proxy's writes */
  return 0;
}

static int oss_setup(void **state) {
  store_conf_t c;
  char eb[FERRY_ERRLEN];
  int try;
  if (s3_setup(state)) return -1;
  for (try = 0; try < 5; try++) {
    int port = free_port();
    snprintf(PROXY_ADDR, sizeof(PROXY_ADDR), "127.0.0.1:%d", port);
    if (port > 0 && proxy_try(port) == 0) break;
  }
  if (!PROXY_PID) {
    fprintf(stderr, "itest_engine: the OSS proxy (tests/servers/proxy.js) did not start\n");
    PROXY_ADDR[0] = '\0';
    return -1;
  }
  oss_conf(&c);
  OSS = store_new(&c, eb);
  return OSS ? 0 : -1;
}

static int oss_teardown(void **state) {
  store_destroy(OSS);
  OSS = NULL;
  if (PROXY_PID) {
    kill(PROXY_PID, SIGTERM);
    waitpid(PROXY_PID, NULL, 0);
    PROXY_PID = 0;
  }
  if (PROXY_OUT) fclose(PROXY_OUT);
  PROXY_OUT = NULL;
  PROXY_ADDR[0] = '\0';
  return s3_teardown(state);
}

static size_t discard(char *p, size_t sz, size_t n, void *ud) { return sz * n; }

/* POSTs (or DELETEs, body NULL) the proxy's fault rules. */
static void proxy_faults(const char *body) {
  char url[96];
  CURL *c = curl_easy_init();
  long status = 0;
  snprintf(url, sizeof(url), "http://%s/__proxy/faults", PROXY_ADDR);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  if (body) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  else curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
  assert_int_equal(curl_easy_perform(c), CURLE_OK);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(c);
  assert_int_equal(status, 200);
}

static void test_oss_crc_copies(void **state) {
  xfer_engine_t *e = engine_new();
  size_t big = 11 * MIB + 7;
  char *small = k("oss/small.bin"), *large = k("oss/large.bin");
  char *e1 = seed_object(S3, "ferry-src", small, 70000, 8);
  char *e2 = seed_object(S3, "ferry-src", large, big, 9);
  store_head_t h;
  store_error_t err;
  seg_t g;
  result_t res[2];
  (void)state;
  /* s3 -> oss: each PUT's (and the completed upload's) CRC-64 answer is
   * checked against the bytes sent. */
  seg_init(&g, "s3", "ferry-src", "oss", "ferry-dst", POLICY_OVERWRITE);
  seg_add(&g, small, 70000, e1);
  seg_add(&g, large, big, e2);
  run_seg(e, &g, res);
  assert_outcome(&res[0], ST_COPIED, "");
  assert_outcome(&res[1], ST_COPIED, "");
  assert_int_equal(res[1].bytes, big);
  assert_holds(S3, "ferry-dst", small, 70000, 8);
  assert_holds(S3, "ferry-dst", large, big, 9);
  must(store_head_object(OSS, "ferry-dst", large, &h, &err), &err, "head oss");
  assert_true(h.has_crc64);
  store_head_release(&h);
  /* oss -> oss skip-if-same: both sides' CRC-64 decide. */
  seg_init(&g, "oss", "ferry-dst", "oss", "ferry-dst", POLICY_SKIP_IF_SAME);
  must(store_head_object(OSS, "ferry-dst", small, &h, &err), &err, "head oss small");
  seg_add(&g, small, 70000, NULL);
  g.objs[0].has_crc64 = h.has_crc64;
  g.objs[0].crc64 = h.crc64;
  store_head_release(&h);
  run_seg(e, &g, res);
  assert_outcome(&res[0], ST_SKIPPED, "same-crc64");
  xfer_engine_destroy(e);
  free(small), free(large), free(e1), free(e2);
}

static void test_oss_retry_and_integrity(void **state) {
  xfer_engine_t *e = engine_new();
  char *flaky = k("oss/flaky.bin"), *bad = k("oss/bad.bin");
  char *e1, *e2, rule[512];
  xfer_stats_t st;
  seg_t g;
  result_t res[1];
  (void)state;
  e1 = seed_object(OSS, "ferry-src", flaky, 40000, 10);
  e2 = seed_object(OSS, "ferry-src", bad, 40000, 11);
  /* Two 503s on the destination PUT: retried, copied on the third. */
  snprintf(rule, sizeof(rule),
           "{\"match\":{\"op\":\"put\",\"bucket\":\"ferry-dst\",\"key_prefix\":\"%s\"},"
           "\"action\":\"status\",\"status\":503,\"count\":2}", flaky);
  proxy_faults(rule);
  seg_init(&g, "oss", "ferry-src", "oss", "ferry-dst", POLICY_OVERWRITE);
  seg_add(&g, flaky, 40000, e1);
  run_seg(e, &g, res);
  assert_outcome(&res[0], ST_COPIED, "");
  assert_int_equal(res[0].attempts, 3);
  assert_holds(S3, "ferry-dst", flaky, 40000, 10);
  xfer_get_stats(e, &st);
  assert_int_equal(st.retries, 2);
  proxy_faults(NULL);
  /* Source bytes damaged on every read (the CRC-64 header stays true):
   * never copied, failed as "integrity" after the last attempt. */
  snprintf(rule, sizeof(rule),
           "{\"match\":{\"op\":\"get\",\"bucket\":\"ferry-src\",\"key_prefix\":\"%s\"},"
           "\"action\":\"corrupt\",\"offset\":1234}", bad);
  proxy_faults(rule);
  seg_init(&g, "oss", "ferry-src", "s3", "ferry-dst", POLICY_OVERWRITE);
  seg_add(&g, bad, 40000, e2);
  run_seg(e, &g, res);
  proxy_faults(NULL);
  assert_outcome(&res[0], ST_FAILED, "integrity");
  assert_non_null(strstr(res[0].message, "CRC64"));
  assert_int_equal(res[0].attempts, 3);
  assert_int_equal(res[0].bytes, 0);
  xfer_engine_destroy(e);
  free(flaky), free(bad), free(e1), free(e2);
}

int main(void) {
  const struct CMUnitTest s3[] = {
      cmocka_unit_test(test_small_copied),
      cmocka_unit_test(test_multipart_copied),
      cmocka_unit_test(test_skip_policies),
      cmocka_unit_test(test_source_missing),
      cmocka_unit_test(test_changed_and_config),
  };
  const struct CMUnitTest oss[] = {
      cmocka_unit_test(test_oss_crc_copies),
      cmocka_unit_test(test_oss_retry_and_integrity),
  };
  int rc = 0;
  flog_set_level_str(getenv("FERRY_LOG_LEVEL") ? getenv("FERRY_LOG_LEVEL") : "warn");
  curl_global_init(CURL_GLOBAL_DEFAULT);
  rc |= cmocka_run_group_tests_name("s3rver", s3, s3_setup, s3_teardown);
  rc |= cmocka_run_group_tests_name("oss", oss, oss_setup, oss_teardown);
  curl_global_cleanup();
  return rc ? 1 : 0;
}
