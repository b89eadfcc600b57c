/*
 * Integration tests for the store client (lib/store/client.c).
 *
 * Two groups:
 *  - "wire": a raw HTTP/1.1 peer on a loopback socket (a thread of this
 *    process, real TCP) that records every request byte for byte and answers
 *    with canned responses. It checks what s3rver cannot show or produce:
 *    the exact header set on the wire, HEAD errors, x-oss-err, Retry-After,
 *    OSS range behaviour, a COS 200 carrying <Error>, ListParts,
 *    ListMultipartUploads and AbortMultipartUpload.
 *  - "s3rver": the real s3rver at $FERRY_S3_ENDPOINT (scripts/test.sh starts
 *    it with buckets ferry-test ferry-src ferry-dst). Without the variable
 *    that group fails with a message saying so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/enc.h"
#include "core/kv.h"
#include "store/client.h"

/* ------------------------------------------------------------------------ */
/* The wire peer                                                             */

typedef struct wire {
  int lfd;
  int port;
  pthread_t th;
  pthread_mutex_t mu;
  int stop;
  char *resp;          /* canned raw response, sent for every request */
  size_t resp_len;
  fbuf_t head;         /* last request: request line + header lines */
  fbuf_t body;         /* last request body */
  int nreq;
  int nconn;           /* connections accepted */
  int active;          /* connection threads still running */
} wire_t;

static wire_t W;

static void wire_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void wire_set(const char *fmt, ...) {
  va_list ap;
  int n;
  char *p;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  p = malloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  pthread_mutex_lock(&W.mu);
  free(W.resp);
  W.resp = p;
  W.resp_len = (size_t)n;
  pthread_mutex_unlock(&W.mu);
}

/* recv that gives up when the test ends (polls the stop flag). */
static ssize_t wire_recv(int fd, char *p, size_t n) {
  for (;;) {
    struct pollfd pfd = {fd, POLLIN, 0};
    int stop, r = poll(&pfd, 1, 100);
    if (r > 0) return recv(fd, p, n, 0);
    pthread_mutex_lock(&W.mu);
    stop = W.stop;
    pthread_mutex_unlock(&W.mu);
    if (stop || r < 0) return -1;
  }
}

/* A canned response with a computed Content-Length. */
static void wire_reply(const char *status, const char *headers, const char *body) {
  wire_set("HTTP/1.1 %s\r\n%sContent-Length: %zu\r\n\r\n%s", status, headers,
           strlen(body), body);
}

/* Reads one request from fd into head/body; 0 on success, -1 on EOF/error. */
static int wire_read_req(int fd, fbuf_t *buf) {
  char tmp[8192];
  for (;;) {
    const char *end = buf->p ? strstr(buf->p, "\r\n\r\n") : NULL;
    if (end) {
      size_t hlen = (size_t)(end - buf->p) + 4, clen = 0;
      const char *cl = strcasestr(buf->p, "\r\nContent-Length:");
      if (cl && cl < end) clen = strtoul(cl + 17, NULL, 10);
      while (buf->len < hlen + clen) {
        ssize_t n = wire_recv(fd, tmp, sizeof(tmp));
        if (n <= 0) return -1;
        fbuf_add(buf, tmp, (size_t)n);
      }
      pthread_mutex_lock(&W.mu);
      fbuf_reset(&W.head);
      fbuf_add(&W.head, buf->p, hlen - 4);
      fbuf_reset(&W.body);
      fbuf_add(&W.body, buf->p + hlen, clen);
      W.nreq++;
      pthread_mutex_unlock(&W.mu);
      /* Keep what followed (a pipelined request, never expected). */
      {
        size_t rest = buf->len - hlen - clen;
        memmove(buf->p, buf->p + hlen + clen, rest);
        buf->len = rest;
        buf->p[rest] = '\0';
      }
      return 0;
    } else {
      ssize_t n = wire_recv(fd, tmp, sizeof(tmp));
      if (n <= 0) return -1;
      fbuf_add(buf, tmp, (size_t)n);
    }
  }
}

/* One connection: requests in a loop until the peer closes, the canned
 * response says "Connection: close", or the test ends. */
static void *wire_conn(void *arg) {
  int fd = (int)(intptr_t)arg;
  fbuf_t buf;
  fbuf_init(&buf, 0);
  while (wire_read_req(fd, &buf) == 0) {
    char *resp;
    size_t len;
    int close_after;
    pthread_mutex_lock(&W.mu);
    len = W.resp_len;
    resp = malloc(len + 1);
    memcpy(resp, W.resp, len + 1);
    pthread_mutex_unlock(&W.mu);
    close_after = strcasestr(resp, "\r\nConnection: close") != NULL;
    if (send(fd, resp, len, MSG_NOSIGNAL) != (ssize_t)len) close_after = 1;
    free(resp);
    if (close_after) break;
  }
  fbuf_release(&buf);
  close(fd);
  pthread_mutex_lock(&W.mu);
  W.active--;
  pthread_mutex_unlock(&W.mu);
  return NULL;
}

static void *wire_main(void *arg) {
  (void)arg;
  for (;;) {
    struct pollfd pfd = {W.lfd, POLLIN, 0};
    int fd, stop;
    pthread_t th;
    pthread_mutex_lock(&W.mu);
    stop = W.stop;
    pthread_mutex_unlock(&W.mu);
    if (stop) break;
    if (poll(&pfd, 1, 100) <= 0) continue;
    fd = accept(W.lfd, NULL, NULL);
    if (fd < 0) continue;
    pthread_mutex_lock(&W.mu);
    W.nconn++;
    W.active++;
    pthread_mutex_unlock(&W.mu);
    if (pthread_create(&th, NULL, wire_conn, (void *)(intptr_t)fd) != 0) {
      close(fd);
      pthread_mutex_lock(&W.mu);
      W.active--;
      pthread_mutex_unlock(&W.mu);
      continue;
    }
    pthread_detach(th);
  }
  return NULL;
}

static int wire_setup(void **state) {
  struct sockaddr_in a;
  socklen_t alen = sizeof(a);
  int one = 1;
  (void)state;
  memset(&W, 0, sizeof(W));
  pthread_mutex_init(&W.mu, NULL);
  fbuf_init(&W.head, 0);
  fbuf_init(&W.body, 0);
  W.lfd = socket(AF_INET, SOCK_STREAM, 0);
  if (W.lfd < 0) return -1;
  setsockopt(W.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(W.lfd, (struct sockaddr *)&a, sizeof(a)) || listen(W.lfd, 8) ||
      getsockname(W.lfd, (struct sockaddr *)&a, &alen))
    return -1;
  W.port = ntohs(a.sin_port);
  wire_set("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  return pthread_create(&W.th, NULL, wire_main, NULL) ? -1 : 0;
}

static int wire_teardown(void **state) {
  (void)state;
  pthread_mutex_lock(&W.mu);
  W.stop = 1;
  pthread_mutex_unlock(&W.mu);
  pthread_join(W.th, NULL);
  for (;;) { /* connection threads see the flag within 100 ms */
    int active;
    pthread_mutex_lock(&W.mu);
    active = W.active;
    pthread_mutex_unlock(&W.mu);
    if (!active) break;
    usleep(20000);
  }
  close(W.lfd);
  free(W.resp);
  fbuf_release(&W.head);
  fbuf_release(&W.body);
  pthread_mutex_destroy(&W.mu);
  return 0;
}

/* The last request's header lines, parsed (names as sent). */
static void wire_headers(kvlist_t *out, char *reqline, size_t rlsize) {
  char *copy, *line, *save = NULL;
  int first = 1;
  kvlist_init(out);
  pthread_mutex_lock(&W.mu);
  copy = strdup(fbuf_str(&W.head));
  pthread_mutex_unlock(&W.mu);
  for (line = strtok_r(copy, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
    char *colon, *v;
    if (first) {
      if (reqline) snprintf(reqline, rlsize, "%s", line);
      first = 0;
      continue;
    }
    colon = strchr(line, ':');
    assert_non_null(colon);
    *colon = '\0';
    v = colon + 1;
    while (*v == ' ') v++;
    kvlist_add(out, line, v);
  }
  free(copy);
}

static void wire_conf(store_conf_t *c, store_type_t type) {
  memset(c, 0, sizeof(*c));
  c->name = "wire";
  c->type = type;
  c->endpoint = fx_asprintf("http://127.0.0.1:%d", W.port);
  c->region = type == STORE_OSS ? "cn-hangzhou" : type == STORE_COS ? "ap-guangzhou"
                                                                   : "us-east-1";
  c->path_style = 1;
  c->access_key = "AKIDWIRE";
  c->secret_key.v = "wire-secret";
  c->connect_timeout_ms = 2000;
}

static store_t *wire_store(store_type_t type) {
  store_conf_t c;
  char eb[FERRY_ERRLEN];
  store_t *s;
  wire_conf(&c, type);
  s = store_new(&c, eb);
  if (!s) fail_msg("store_new: %s", eb);
  fx_free(c.endpoint);
  return s;
}

static size_t read_mem(char *p, size_t size, size_t n, void *ud) {
  const char **src = ud;
  size_t len = strlen(*src);
  if (len > size * n) len = size * n;
  memcpy(p, *src, len);
  *src += len;
  return len;
}

static size_t discard(char *p, size_t size, size_t n, void *ud) {
  (void)p;
  (void)ud;
  return size * n;
}

/* Runs r through store_http_setup on a fresh handle and asserts that the
 * wire carried exactly r's headers: nothing added, nothing dropped. */
static void check_exact_headers(store_t *s, store_req_t *r, const char *body,
                                const char *want_method) {
  CURL *e = curl_easy_init();
  struct curl_slist *hdrs = NULL;
  char eb[FERRY_ERRLEN], reqline[256], want[64];
  kvlist_t got;
  size_t i;
  long status = 0;
  assert_int_equal(store_http_setup(s, e, r, body ? (curl_off_t)strlen(body) : -1, &hdrs,
                                    eb),
                   FERRY_OK);
  curl_easy_setopt(e, CURLOPT_READFUNCTION, read_mem);
  curl_easy_setopt(e, CURLOPT_READDATA, &body);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
  assert_int_equal(curl_easy_perform(e), CURLE_OK);
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  assert_int_equal(status, 200);
  curl_slist_free_all(hdrs);
  curl_easy_cleanup(e);

  wire_headers(&got, reqline, sizeof(reqline));
  snprintf(want, sizeof(want), "%s /", want_method);
  assert_true(strncmp(reqline, want, strlen(want)) == 0);
  for (i = 0; i < got.n; i++) {
    const char *sent = kvlist_get(&r->headers, got.v[i].name);
    if (!sent) fail_msg("header '%s: %s' on the wire was not signed", got.v[i].name,
                        got.v[i].value);
    assert_string_equal(sent, got.v[i].value);
  }
  for (i = 0; i < r->headers.n; i++) {
    /* An empty value means "absent" to the signers and to the wire. */
    const char *v = kvlist_get(&got, r->headers.v[i].name);
    if (r->headers.v[i].value[0] && !v)
      fail_msg("signed header '%s' missing on the wire", r->headers.v[i].name);
    if (!r->headers.v[i].value[0] && v)
      fail_msg("empty header '%s' went on the wire", r->headers.v[i].name);
  }
  kvlist_release(&got);
}

static void sign_now(store_t *s, store_req_t *r) {
  char eb[FERRY_ERRLEN];
  if (store_req_sign(r, store_conf(s), time(NULL), eb) != FERRY_OK)
    fail_msg("sign: %s", eb);
}

static void test_wire_exact_headers(void **state) {
  store_type_t types[] = {STORE_S3, STORE_OSS, STORE_COS};
  size_t t;
  (void)state;
  wire_set("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  for (t = 0; t < FERRY_ARRAY_LEN(types); t++) {
    store_t *s = wire_store(types[t]);
    store_req_t r;
    const char *body = "hello";

    /* PUT with a body and no Content-Type: curl must add none. */
    store_req_init(&r, store_conf(s), "PUT", "bkt", "dir/a key+%#?&=~\xc3\xa9");
    kvlist_add(&r.headers, "Content-Length", "5");
    kvlist_add(&r.headers, "x-amz-meta-empty", "");
    sign_now(s, &r);
    check_exact_headers(s, &r, body, "PUT");
    pthread_mutex_lock(&W.mu);
    assert_string_equal(fbuf_str(&W.body), "hello");
    pthread_mutex_unlock(&W.mu);
    store_req_release(&r);

    /* POST with an XML body (CompleteMultipartUpload shape). */
    store_req_init(&r, store_conf(s), "POST", "bkt", "k");
    kvlist_add(&r.query, "uploadId", "u1");
    kvlist_add(&r.headers, "Content-Type", "application/xml");
    kvlist_add(&r.headers, "Content-Length", "5");
    sign_now(s, &r);
    check_exact_headers(s, &r, body, "POST");
    store_req_release(&r);

    /* POST without a body (InitiateMultipartUpload shape). */
    store_req_init(&r, store_conf(s), "POST", "bkt", "k");
    kvlist_add(&r.query, "uploads", "");
    kvlist_add(&r.headers, "Content-Length", "0");
    sign_now(s, &r);
    check_exact_headers(s, &r, "", "POST");
    store_req_release(&r);

    /* GET, HEAD and DELETE: no Accept, no body headers. */
    store_req_init(&r, store_conf(s), "GET", "bkt", "k");
    kvlist_add(&r.headers, "Range", "bytes=0-9");
    sign_now(s, &r);
    check_exact_headers(s, &r, NULL, "GET");
    store_req_release(&r);
    store_req_init(&r, store_conf(s), "HEAD", "bkt", "k");
    sign_now(s, &r);
    check_exact_headers(s, &r, NULL, "HEAD");
    store_req_release(&r);
    store_req_init(&r, store_conf(s), "DELETE", "bkt", "k");
    sign_now(s, &r);
    check_exact_headers(s, &r, NULL, "DELETE");
    store_req_release(&r);
    store_destroy(s);
  }
}

/* One reused handle: consecutive blocking calls share the connection. */
static void test_wire_keepalive(void **state) {
  store_t *s = wire_store(STORE_S3);
  store_head_t h;
  store_error_t err;
  int before, i;
  (void)state;
  wire_set("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nETag: \"e\"\r\n\r\n");
  pthread_mutex_lock(&W.mu);
  before = W.nconn;
  pthread_mutex_unlock(&W.mu);
  for (i = 0; i < 3; i++) {
    assert_int_equal(store_head_object(s, "bkt", "k", &h, &err), FERRY_OK);
    store_head_release(&h);
  }
  pthread_mutex_lock(&W.mu);
  assert_int_equal(W.nconn - before, 1);
  pthread_mutex_unlock(&W.mu);
  store_destroy(s);
}

/* Dot segments inside a key go out as signed (PATH_AS_IS). */
static void test_wire_dot_segments(void **state) {
  store_t *s = wire_store(STORE_S3);
  store_head_t h;
  store_error_t err;
  char reqline[256];
  kvlist_t got;
  (void)state;
  wire_set("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  assert_int_equal(store_head_object(s, "bkt", "a/../b/./c", &h, &err), FERRY_OK);
  store_head_release(&h);
  wire_headers(&got, reqline, sizeof(reqline));
  assert_string_equal(reqline, "HEAD /bkt/a/../b/./c HTTP/1.1");
  kvlist_release(&got);
  store_destroy(s);
}

static void test_wire_head_parse(void **state) {
  store_t *s = wire_store(STORE_COS);
  store_head_t h;
  store_error_t err;
  (void)state;
  wire_set("HTTP/1.1 200 OK\r\nContent-Length: 11\r\nETag: \"5eb63bbbe01eeed093cb22bb8f5acdc3\"\r\n"
           "Last-Modified: Tue, 15 Nov 1994 08:12:31 GMT\r\n"
           "Content-Type: text/plain\r\nCache-Control: no-cache\r\n"
           "Content-Disposition: attachment; filename=\"x.txt\"\r\n"
           "x-cos-hash-crc64ecma: 5981764153023615706\r\n"
           "x-cos-meta-Color: Blue\r\nX-Cos-Meta-Empty: \r\n"
           "x-cos-storage-class: STANDARD_IA\r\nx-cos-request-id: rid-1\r\n\r\n");
  assert_int_equal(store_head_object(s, "bkt", "k", &h, &err), FERRY_OK);
  assert_int_equal(h.size, 11);
  assert_string_equal(h.etag, "5eb63bbbe01eeed093cb22bb8f5acdc3");
  assert_int_equal(h.mtime, 784887151);
  assert_true(h.has_crc64);
  assert_true(h.crc64 == 5981764153023615706ULL);
  assert_string_equal(h.content_type, "text/plain");
  assert_string_equal(h.storage_class, "STANDARD_IA");
  assert_string_equal(kvlist_get(&h.meta, "color"), "Blue");
  assert_string_equal(h.meta.v[0].name, "color");
  assert_string_equal(kvlist_get(&h.meta, "empty"), "");
  assert_int_equal(h.meta.n, 2);
  assert_string_equal(kvlist_get(&h.std, "Cache-Control"), "no-cache");
  assert_string_equal(kvlist_get(&h.std, "Content-Disposition"),
                      "attachment; filename=\"x.txt\"");
  assert_null(kvlist_get(&h.std, "Expires"));
  store_head_release(&h);

  /* No ETag, no date: absent, not an error. */
  wire_set("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n");
  assert_int_equal(store_head_object(s, "bkt", "k", &h, &err), FERRY_OK);
  assert_false(h.has_crc64);
  assert_null(h.etag);
  assert_int_equal(h.mtime, -1);
  store_head_release(&h);
  store_destroy(s);
}

/* A size or CRC-64 header that is present but not a number is an error
 * naming the header and the object (MalformedResponse, not retried), never
 * size 0 or "no CRC" (regression: they used to read so). */
static void test_wire_head_bad_numbers(void **state) {
  static const struct {
    const char *hdr, *val;
  } bad[] = {{"x-cos-hash-crc64ecma", "12x"},
             {"x-cos-hash-crc64ecma", "-1"},
             {"x-oss-hash-crc64ecma", "18446744073709551616"},
             {"Content-Length", "-5"},
             {"Content-Length", "abc"},
             {"Content-Length", "18446744073709551616"},
             {"Content-Range", "bytes 0-9/x"}};
  store_t *s = wire_store(STORE_COS);
  store_head_t h;
  store_error_t err;
  ferry_err_t rc;
  size_t i;
  char want[128];
  (void)state;
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int is_len = strcmp(bad[i].hdr, "Content-Length") == 0;
    wire_set("HTTP/1.1 200 OK\r\n%s%s: %s\r\n\r\n", is_len ? "" : "Content-Length: 3\r\n",
             bad[i].hdr, bad[i].val);
    rc = store_head_object(s, "bkt", "dir/k 1", &h, &err);
    if (rc == FERRY_ERR_HTTP && err.curl_code == CURLE_WEIRD_SERVER_REPLY) {
      /* curl refused it first (a Content-Length it cannot read). */
      snprintf(want, sizeof(want), "%s", bad[i].hdr);
    } else {
      if (rc != FERRY_ERR_STORE)
        fail_msg("%s: %s: %d %s", bad[i].hdr, bad[i].val, err.curl_code, err.message);
      assert_int_equal(err.http_status, 200);
      assert_string_equal(err.code, "MalformedResponse");
      snprintf(want, sizeof(want), "bad %s header \"%s\"", bad[i].hdr, bad[i].val);
    }
    assert_false(err.retryable);
    if (!strstr(err.message, want) || !strstr(err.message, "wire:bkt/dir/k 1"))
      fail_msg("%s: %s", bad[i].hdr, err.message);
    print_message("%s: %s: %s\n", bad[i].hdr, bad[i].val, err.message);
    store_head_release(&h);
  }
  /* The same for a GET's answer. */
  wire_set(
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nx-cos-hash-crc64ecma: nope\r\n\r\nabc");
  {
    fbuf_t body;
    fbuf_init(&body, 0);
    assert_int_equal(store_get_buf(s, "bkt", "k", NULL, NULL, 100, &body, &h, &err),
                     FERRY_ERR_STORE);
    assert_string_equal(err.code, "MalformedResponse");
    assert_non_null(strstr(err.message, "x-cos-hash-crc64ecma"));
    store_head_release(&h);
    fbuf_release(&body);
  }
  store_destroy(s);
}

static void test_wire_head_errors(void **state) {
  store_t *s = wire_store(STORE_S3), *oss = wire_store(STORE_OSS);
  store_head_t h;
  store_error_t err;
  const char *xml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InvalidAccessKeyId</Code>"
      "<Message>The OSS Access Key Id you provided does not exist in our records.</Message>"
      "<RequestId>5C3D9175B6FC201293AD4890</RequestId></Error>";
  fbuf_t b64;
  (void)state;
  wire_set("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nx-amz-request-id: R404\r\n\r\n");
  assert_int_equal(store_head_object(s, "bkt", "k", &h, &err), FERRY_ERR_STORE);
  assert_int_equal(err.http_status, 404);
  assert_string_equal(err.code, "NoSuchKey");
  assert_string_equal(err.request_id, "R404");
  assert_false(err.retryable);
  store_head_release(&h);

  wire_set("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
  assert_int_equal(store_head_object(s, "bkt", "k", &h, &err), FERRY_ERR_STORE);
  assert_string_equal(err.code, "ServiceUnavailable");
  assert_true(err.retryable);

  /* OSS: the error document base64-encoded in x-oss-err. */
  fbuf_init(&b64, 0);
  enc_b64(&b64, (const unsigned char *)xml, strlen(xml));
  wire_set("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nx-oss-request-id: OSSRID\r\n"
           "x-oss-err: %s\r\n\r\n", fbuf_str(&b64));
  fbuf_release(&b64);
  assert_int_equal(store_head_object(oss, "bkt", "k", &h, &err), FERRY_ERR_STORE);
  assert_int_equal(err.http_status, 403);
  assert_string_equal(err.code, "InvalidAccessKeyId");
  assert_string_equal(err.request_id, "OSSRID");
  assert_false(err.retryable);
  store_destroy(s);
  store_destroy(oss);
}

static void test_wire_body_errors(void **state) {
  store_t *s = wire_store(STORE_COS);
  store_error_t err;
  fbuf_t body;
  char msg[512];
  const char *slow =
      "<?xml version='1.0' encoding='utf-8' ?><Error><Code>SlowDown</Code>"
      "<Message>Please reduce your request rate.</Message><Resource>/k</Resource>"
      "<RequestId>BODYRID</RequestId><TraceId>t</TraceId></Error>";
  (void)state;
  fbuf_init(&body, 0);
  wire_set("HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n"
           "Content-Length: %zu\r\nRetry-After: 7\r\nx-cos-request-id: HDRRID\r\n\r\n%s",
           strlen(slow), slow);
  assert_int_equal(store_get_buf(s, "bkt", "k", NULL, NULL, 0, &body, NULL, &err),
                   FERRY_ERR_STORE);
  assert_int_equal(err.http_status, 503);
  assert_string_equal(err.code, "SlowDown");
  assert_string_equal(err.message, "Please reduce your request rate.");
  assert_string_equal(err.request_id, "HDRRID");
  assert_int_equal(err.retry_after_s, 7);
  assert_true(err.retryable);
  assert_int_equal(body.len, 0); /* the error body never reaches the caller's buffer */
  store_error_format(&err, msg, sizeof(msg));
  assert_non_null(strstr(msg, "SlowDown"));

  /* A proxy's HTML page: code from the status, an excerpt in the message. */
  wire_reply("502 Bad Gateway", "Content-Type: text/html\r\n",
             "<html><b>bad gateway</b>\n</html>");
  assert_int_equal(store_get_buf(s, "bkt", "k", NULL, NULL, 0, &body, NULL, &err),
                   FERRY_ERR_STORE);
  assert_string_equal(err.code, "BadGateway");
  assert_non_null(strstr(err.message, "bad gateway"));
  assert_true(err.retryable);

  /* A body past the caller's cap is refused, not truncated silently. */
  wire_set("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789");
  assert_int_equal(store_get_buf(s, "bkt", "k", NULL, NULL, 4, &body, NULL, &err),
                   FERRY_ERR_HTTP);
  assert_non_null(strstr(err.message, "larger than 4"));
  assert_false(err.retryable);

  /* The server closing mid-body is a retryable transport failure. */
  wire_set("HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n01234");
  assert_int_equal(store_get_buf(s, "bkt", "k", NULL, NULL, 0, &body, NULL, &err),
                   FERRY_ERR_HTTP);
  assert_int_equal(err.http_status, 0);
  assert_int_equal(err.curl_code, CURLE_PARTIAL_FILE);
  assert_true(err.retryable);
  fbuf_release(&body);
  store_destroy(s);
}

static void test_wire_oss_range(void **state) {
  store_t *s = wire_store(STORE_OSS);
  store_error_t err;
  store_head_t h;
  fbuf_t body;
  kvlist_t got;
  (void)state;
  fbuf_init(&body, 0);
  /* OSS ignoring the range: 200 with the whole object must not pass. */
  wire_set("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789");
  assert_int_equal(store_get_buf(s, "bkt", "k", "bytes=2-4", "abc", 0, &body, &h, &err),
                   FERRY_ERR_STORE);
  assert_string_equal(err.code, "RangeNotHonored");
  assert_false(err.retryable);
  wire_headers(&got, NULL, 0);
  assert_string_equal(kvlist_get(&got, "Range"), "bytes=2-4");
  assert_string_equal(kvlist_get(&got, "x-oss-range-behavior"), "standard");
  assert_string_equal(kvlist_get(&got, "If-Match"), "\"abc\"");
  kvlist_release(&got);

  /* A proper 206. */
  wire_set("HTTP/1.1 206 Partial Content\r\nContent-Length: 3\r\n"
           "Content-Range: bytes 2-4/10\r\nETag: \"abc\"\r\n"
           "x-oss-hash-crc64ecma: 11051210869376104954\r\n\r\n234");
  assert_int_equal(store_get_buf(s, "bkt", "k", "bytes=2-4", "abc", 0, &body, &h, &err),
                   FERRY_OK);
  assert_int_equal(body.len, 3);
  assert_memory_equal(body.p, "234", 3);
  assert_int_equal(h.size, 10); /* the object's size, from Content-Range */
  assert_true(h.has_crc64 && h.crc64 == 11051210869376104954ULL);
  store_head_release(&h);

  /* 416 with an OSS error body. */
  wire_reply("416 Requested Range Not Satisfiable", "",
             "<Error><Code>InvalidRange</Code><Message>out of range</Message></Error>");
  assert_int_equal(store_get_buf(s, "bkt", "k", "bytes=20-30", NULL, 0, &body, &h, &err),
                   FERRY_ERR_STORE);
  assert_string_equal(err.code, "InvalidRange");
  assert_false(err.retryable);
  fbuf_release(&body);
  store_destroy(s);
}

static void test_wire_multipart(void **state) {
  store_t *s = wire_store(STORE_COS);
  store_error_t err;
  store_head_t h;
  store_parts_t parts;
  store_uploads_t ups;
  store_part_t in[2] = {{1, "e1", 0}, {2, "e&2", 0}};
  char reqline[256];
  char *etag = NULL;
  kvlist_t got;
  const char *cos_err =
      "<?xml version='1.0' encoding='utf-8' ?>\n<Error><Code>InternalError</Code>"
      "<Message>We encountered an internal error. Please try again.</Message>"
      "<RequestId>NjA0</RequestId></Error>";
  const char *lp =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListPartsResult><Bucket>bkt</Bucket>"
      "<Key>k</Key><UploadId>u1</UploadId><IsTruncated>false</IsTruncated>"
      "<Part><PartNumber>1</PartNumber><LastModified>2024-01-15T08:30:00.000Z</LastModified>"
      "<ETag>\"aa\"</ETag><Size>5242880</Size></Part>"
      "<Part><PartNumber>2</PartNumber><LastModified>2024-01-15T08:30:00.000Z</LastModified>"
      "<ETag>\"bb\"</ETag><Size>7</Size></Part></ListPartsResult>";
  const char *lu =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListMultipartUploadsResult>"
      "<Bucket>bkt</Bucket><IsTruncated>false</IsTruncated>"
      "<Upload><Key>a b</Key><UploadId>u1</UploadId>"
      "<Initiated>2024-01-15T08:30:00.000Z</Initiated></Upload>"
      "</ListMultipartUploadsResult>";
  (void)state;

  /* COS answers Complete with 200 and an error inside. */
  wire_set("HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: %zu\r\n"
           "x-cos-request-id: CRID\r\n\r\n%s", strlen(cos_err), cos_err);
  assert_int_equal(store_mpu_complete(s, "bkt", "k", "u1", in, 2, &h, &err), FERRY_ERR_STORE);
  assert_int_equal(err.http_status, 200);
  assert_string_equal(err.code, "InternalError");
  assert_string_equal(err.request_id, "CRID");
  assert_true(err.retryable);
  wire_headers(&got, reqline, sizeof(reqline));
  assert_string_equal(reqline, "POST /bkt/k?uploadId=u1 HTTP/1.1");
  assert_string_equal(kvlist_get(&got, "Content-Type"), "application/xml");
  kvlist_release(&got);
  pthread_mutex_lock(&W.mu);
  assert_string_equal(fbuf_str(&W.body),
                      "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
                      "<ETag>&quot;e1&quot;</ETag></Part><Part><PartNumber>2</PartNumber>"
                      "<ETag>&quot;e&amp;2&quot;</ETag></Part></CompleteMultipartUpload>");
  pthread_mutex_unlock(&W.mu);

  /* ... and a real success, with whitespace sent while merging. */
  wire_reply("200 OK", "x-cos-hash-crc64ecma: 42\r\n",
             "<?xml version='1.0' encoding='utf-8' ?>\n          \n"
             "<CompleteMultipartUploadResult><Location>l</Location>"
             "<Bucket>bkt</Bucket><Key>k</Key><ETag>\"abc-2\"</ETag>"
             "</CompleteMultipartUploadResult>");
  assert_int_equal(store_mpu_complete(s, "bkt", "k", "u1", in, 2, &h, &err), FERRY_OK);
  assert_string_equal(h.etag, "abc-2");
  assert_true(h.has_crc64 && h.crc64 == 42);
  store_head_release(&h);

  /* Parts not ascending are refused before any request. */
  {
    store_part_t bad[2] = {{2, "a", 0}, {1, "b", 0}};
    assert_int_equal(store_mpu_complete(s, "bkt", "k", "u1", bad, 2, &h, &err),
                     FERRY_ERR_INVALID);
  }

  /* UploadPart returns the part's ETag from the header. */
  wire_set("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nETag: \"p1\"\r\n"
           "x-cos-hash-crc64ecma: 3675645893302102789\r\n\r\n");
  assert_int_equal(store_mpu_put_part(s, "bkt", "k", "u1", 3, "a", 1, &etag, &h, &err),
                   FERRY_OK);
  assert_string_equal(etag, "p1");
  assert_true(h.has_crc64 && h.crc64 == 3675645893302102789ULL);
  wire_headers(&got, reqline, sizeof(reqline));
  assert_string_equal(reqline, "PUT /bkt/k?partNumber=3&uploadId=u1 HTTP/1.1");
  assert_string_equal(kvlist_get(&got, "Content-Length"), "1");
  kvlist_release(&got);
  fx_free(etag);
  store_head_release(&h);

  /* ListParts, ListMultipartUploads, Abort (s3rver implements none). */
  wire_set("HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(lp), lp);
  assert_int_equal(store_mpu_list_parts(s, "bkt", "k", "u1", &parts, &err), FERRY_OK);
  assert_int_equal(parts.n, 2);
  assert_int_equal(parts.parts[0].number, 1);
  assert_string_equal(parts.parts[0].etag, "aa");
  assert_int_equal(parts.parts[0].size, 5242880);
  assert_int_equal(parts.parts[1].size, 7);
  store_parts_release(&parts);
  wire_headers(&got, reqline, sizeof(reqline));
  assert_string_equal(reqline, "GET /bkt/k?uploadId=u1&max-parts=1000 HTTP/1.1");
  kvlist_release(&got);

  wire_set("HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(lu), lu);
  assert_int_equal(store_mpu_list_uploads(s, "bkt", "a", &ups, &err), FERRY_OK);
  assert_int_equal(ups.n, 1);
  assert_string_equal(ups.uploads[0].key, "a b");
  assert_string_equal(ups.uploads[0].upload_id, "u1");
  store_uploads_release(&ups);
  wire_headers(&got, reqline, sizeof(reqline));
  assert_non_null(strstr(reqline, "?uploads"));
  assert_non_null(strstr(reqline, "prefix=a"));
  kvlist_release(&got);

  wire_set("HTTP/1.1 204 No Content\r\n\r\n");
  assert_int_equal(store_mpu_abort(s, "bkt", "k", "u1", &err), FERRY_OK);
  wire_headers(&got, reqline, sizeof(reqline));
  assert_string_equal(reqline, "DELETE /bkt/k?uploadId=u1 HTTP/1.1");
  kvlist_release(&got);
  wire_reply("404 Not Found", "", "<Error><Code>NoSuchUpload</Code><Message/></Error>");
  assert_int_equal(store_mpu_abort(s, "bkt", "k", "u1", &err), FERRY_ERR_STORE);
  assert_string_equal(err.code, "NoSuchUpload");
  assert_false(err.retryable);
  store_destroy(s);
}

/* Virtual-hosted addressing: the URL names bucket.endpoint, connect_to sends
 * the connection to the loopback peer, and Host carries the name. */
static void test_wire_connect_to(void **state) {
  store_conf_t c;
  store_t *s;
  store_head_t h;
  store_error_t err;
  char eb[FERRY_ERRLEN], reqline[256], ct[64];
  kvlist_t got;
  (void)state;
  wire_conf(&c, STORE_OSS);
  fx_free(c.endpoint);
  c.endpoint = "http://oss-cn-hangzhou.aliyuncs.com";
  c.path_style = 0;
  snprintf(ct, sizeof(ct), "127.0.0.1:%d", W.port);
  c.connect_to = ct;
  s = store_new(&c, eb);
  assert_non_null(s);
  wire_set("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  assert_int_equal(store_head_object(s, "ferry-test", "a/b c", &h, &err), FERRY_OK);
  store_head_release(&h);
  wire_headers(&got, reqline, sizeof(reqline));
  assert_string_equal(reqline, "HEAD /a/b%20c HTTP/1.1");
  assert_string_equal(kvlist_get(&got, "Host"), "ferry-test.oss-cn-hangzhou.aliyuncs.com");
  kvlist_release(&got);
  store_destroy(s);

  /* Bad configurations are refused with the store's name. */
  c.connect_to = "127.0.0.1";
  assert_null(store_new(&c, eb));
  assert_non_null(strstr(eb, "connect_to"));
  c.connect_to = NULL;
  c.endpoint = NULL;
  assert_null(store_new(&c, eb));
  assert_non_null(strstr(eb, "wire"));
}

static void test_wire_hdr_cb(void **state) {
  kvlist_t l;
  char a[] = "HTTP/1.1 100 Continue\r\n", b[] = "X-Old: 1\r\n", c[] = "\r\n",
       d[] = "HTTP/1.1 200 OK\r\n", e[] = "ETag:   \"x\" \r\n", f[] = "X-Fold: one\r\n",
       g[] = "\t two\r\n", h[] = "Empty:\r\n";
  (void)state;
  kvlist_init(&l);
  store_hdr_cb(a, 1, strlen(a), &l);
  store_hdr_cb(b, 1, strlen(b), &l);
  store_hdr_cb(c, 1, strlen(c), &l);
  assert_int_equal(l.n, 1);
  store_hdr_cb(d, 1, strlen(d), &l);
  assert_int_equal(l.n, 0);
  store_hdr_cb(e, 1, strlen(e), &l);
  store_hdr_cb(f, 1, strlen(f), &l);
  store_hdr_cb(g, 1, strlen(g), &l);
  assert_int_equal(store_hdr_cb(h, 1, strlen(h), &l), strlen(h));
  assert_string_equal(kvlist_get(&l, "etag"), "\"x\"");
  assert_string_equal(kvlist_get(&l, "X-Fold"), "one two");
  assert_string_equal(kvlist_get(&l, "Empty"), "");
  kvlist_release(&l);
}

/* ------------------------------------------------------------------------ */
/* s3rver                                                                    */

static const char *S3_ENDPOINT;
static char PFX[64];  /* unique per run: "itest-<pid>-<time>/" */
static store_t *S3;

static void s3_conf(store_conf_t *c) {
  memset(c, 0, sizeof(*c));
  c->name = "s3rver";
  c->type = STORE_S3;
  c->endpoint = (char *)S3_ENDPOINT;
  c->region = "us-east-1";
  c->path_style = 1;
  c->access_key = "S3RVER";
  c->secret_key.v = "S3RVER";
  c->connect_timeout_ms = 5000;
}

static int s3_setup(void **state) {
  store_conf_t c;
  char eb[FERRY_ERRLEN];
  (void)state;
  S3_ENDPOINT = getenv("FERRY_S3_ENDPOINT");
  if (!S3_ENDPOINT || !*S3_ENDPOINT) {
    fprintf(stderr,
            "itest_store: FERRY_S3_ENDPOINT is not set. Start s3rver with buckets "
            "ferry-test ferry-src ferry-dst and export its URL (scripts/test.sh does "
            "both), e.g. FERRY_S3_ENDPOINT=http://127.0.0.1:PORT\n");
    return -1;
  }
  snprintf(PFX, sizeof(PFX), "itest-%d-%ld/", (int)getpid(), (long)time(NULL));
  s3_conf(&c);
  S3 = store_new(&c, eb);
  if (!S3) {
    fprintf(stderr, "itest_store: store_new: %s\n", eb);
    return -1;
  }
  return 0;
}

static int s3_teardown(void **state) {
  (void)state;
  store_destroy(S3);
  return 0;
}

static char *k(const char *suffix) { return fx_asprintf("%s%s", PFX, suffix); }

static void must(ferry_err_t rc, const store_error_t *err, const char *what) {
  if (rc != FERRY_OK) {
    char m[512];
    store_error_format(err, m, sizeof(m));
    fail_msg("%s: %s: %s", what, ferry_err_str(rc), m);
  }
}

static void put_str(const char *key, const char *data) {
  store_error_t err;
  must(store_put_buf(S3, "ferry-test", key, data, strlen(data), NULL, 0, NULL, &err), &err,
       key);
}

static void test_s3_roundtrip(void **state) {
  char *key = k("round/hello.txt");
  store_error_t err;
  store_head_t h, put;
  kvlist_t extra;
  fbuf_t body;
  unsigned char md[16];
  fbuf_t hex;
  (void)state;
  kvlist_init(&extra);
  kvlist_add(&extra, "Content-Type", "text/plain");
  kvlist_add(&extra, "x-amz-meta-Color", "Blue");
  must(store_put_buf(S3, "ferry-test", key, "hello world", 11, &extra, 1, &put, &err), &err,
       "put");
  kvlist_release(&extra);
  enc_md5(md, "hello world", 11);
  fbuf_init(&hex, 0);
  enc_hex(&hex, md, 16);
  assert_string_equal(put.etag, fbuf_str(&hex));

  must(store_head_object(S3, "ferry-test", key, &h, &err), &err, "head");
  assert_int_equal(h.size, 11);
  assert_string_equal(h.etag, fbuf_str(&hex));
  assert_string_equal(h.content_type, "text/plain");
  assert_string_equal(kvlist_get(&h.meta, "color"), "Blue");
  assert_true(h.mtime > 1600000000);
  store_head_release(&h);

  fbuf_init(&body, 0);
  must(store_get_buf(S3, "ferry-test", key, NULL, NULL, 1024, &body, &h, &err), &err, "get");
  assert_int_equal(body.len, 11);
  assert_memory_equal(body.p, "hello world", 11);
  assert_int_equal(h.size, 11);
  store_head_release(&h);

  must(store_get_buf(S3, "ferry-test", key, "bytes=2-6", put.etag, 1024, &body, &h, &err),
       &err, "ranged get");
  assert_int_equal(body.len, 5);
  assert_memory_equal(body.p, "llo w", 5);
  assert_int_equal(h.size, 11);
  store_head_release(&h);

  /* Past the end: s3rver answers 416 InvalidRange. */
  assert_int_equal(store_get_buf(S3, "ferry-test", key, "bytes=100-200", NULL, 1024, &body,
                                 NULL, &err),
                   FERRY_ERR_STORE);
  assert_int_equal(err.http_status, 416);
  assert_string_equal(err.code, "InvalidRange");

  must(store_delete(S3, "ferry-test", key, &err), &err, "delete");
  assert_int_equal(store_head_object(S3, "ferry-test", key, &h, &err), FERRY_ERR_STORE);
  assert_int_equal(err.http_status, 404);
  assert_string_equal(err.code, "NoSuchKey");
  assert_false(err.retryable);
  store_head_release(&h);

  store_head_release(&put);
  fbuf_release(&hex);
  fbuf_release(&body);
  fx_free(key);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists everything under prefix (all pages) into a sorted array. */
static size_t list_all(const char *prefix, int max_keys, char ***out, int *pages) {
  store_list_page_t pg;
  store_error_t err;
  char *token = NULL;
  char **keys = NULL;
  size_t n = 0, i;
  int guard = 0;
  *pages = 0;
  do {
    must(store_list(S3, "ferry-test", prefix, NULL, NULL, token, max_keys, &pg, &err), &err,
         "list");
    (*pages)++;
    for (i = 0; i < pg.n_objects; i++) {
      keys = fx_realloc(keys, (n + 1) * sizeof(*keys));
      keys[n++] = fx_strdup(pg.objects[i].key);
    }
    fx_free(token);
    token = pg.truncated ? fx_strdup(pg.next_token) : NULL;
    if (pg.truncated) assert_non_null(pg.next_token);
    store_list_page_release(&pg);
    assert_true(++guard < 100);
  } while (token);
  qsort(keys, n, sizeof(*keys), cmp_str);
  *out = keys;
  return n;
}

static void free_keys(char **keys, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) fx_free(keys[i]);
  fx_free(keys);
}

static void test_s3_odd_keys(void **state) {
  const char *odd[] = {
      "odd/with space",        "odd/plus+sign",     "odd/percent%20literal",
      "odd/hash#frag",         "odd/question?mark", "odd/amp&and=eq",
      "odd/tilde~x",           "odd/\xe4\xb8\xad\xe6\x96\x87\xe2\x82\xac.txt",
      "odd/quote\"'<>",        "odd/trailing-dot.", "odd/semi;colon:comma,",
      "odd/dir/nested key",
  };
  char *want[FERRY_ARRAY_LEN(odd) + 1];
  char **got;
  size_t n = FERRY_ARRAY_LEN(odd), i, ngot;
  fbuf_t longk, body;
  store_error_t err;
  int pages;
  (void)state;
  for (i = 0; i < n; i++) {
    want[i] = k(odd[i]);
    put_str(want[i], odd[i]);
  }
  /* A 1023-byte key, cut in path segments s3rver's filesystem can hold. */
  fbuf_init(&longk, 0);
  fbuf_adds(&longk, PFX);
  fbuf_adds(&longk, "odd/long");
  while (longk.len < 1023) fbuf_addc(&longk, (longk.len % 200 == 0) ? '/' : 'x');
  assert_int_equal(longk.len, 1023);
  want[n] = fbuf_steal(&longk);
  put_str(want[n], "long");
  n++;

  {
    char *p = k("odd/");
    ngot = list_all(p, 1000, &got, &pages);
    fx_free(p);
  }
  qsort(want, n, sizeof(char *), cmp_str);
  assert_int_equal(ngot, n);
  for (i = 0; i < n; i++) assert_string_equal(got[i], want[i]);
  free_keys(got, ngot);

  /* Each one reads back by its key, too. */
  fbuf_init(&body, 0);
  for (i = 0; i < n; i++) {
    must(store_get_buf(S3, "ferry-test", want[i], NULL, NULL, 4096, &body, NULL, &err),
         &err, want[i]);
    must(store_delete(S3, "ferry-test", want[i], &err), &err, "delete");
    fx_free(want[i]);
  }
  fbuf_release(&body);
}

static void test_s3_pagination(void **state) {
  char *keys[5], **got, *prefix = k("page/");
  size_t i, n;
  int pages;
  store_list_page_t pg;
  store_error_t err;
  (void)state;
  for (i = 0; i < 5; i++) {
    char name[32];
    snprintf(name, sizeof(name), "page/k%zu", i);
    keys[i] = k(name);
    put_str(keys[i], "x");
  }
  n = list_all(prefix, 2, &got, &pages);
  assert_int_equal(n, 5);
  assert_int_equal(pages, 3);
  for (i = 0; i < 5; i++) assert_string_equal(got[i], keys[i]);
  free_keys(got, n);

  /* start-after: strictly after, even a key that does not exist. */
  must(store_list(S3, "ferry-test", prefix, NULL, keys[2], NULL, 1000, &pg, &err), &err,
       "start-after");
  assert_int_equal(pg.n_objects, 2);
  assert_string_equal(pg.objects[0].key, keys[3]);
  assert_string_equal(pg.objects[1].key, keys[4]);
  assert_int_equal(pg.objects[0].size, 1);
  assert_false(pg.truncated);
  store_list_page_release(&pg);

  for (i = 0; i < 5; i++) {
    must(store_delete(S3, "ferry-test", keys[i], &err), &err, "delete");
    fx_free(keys[i]);
  }
  fx_free(prefix);
}

static void test_s3_delimiter(void **state) {
  const char *names[] = {"tree/a", "tree/b/1", "tree/b/2", "tree/c d/1"};
  char *keys[4], *prefix = k("tree/");
  store_list_page_t pg;
  store_error_t err;
  size_t i;
  (void)state;
  for (i = 0; i < 4; i++) {
    keys[i] = k(names[i]);
    put_str(keys[i], "x");
  }
  must(store_list(S3, "ferry-test", prefix, "/", NULL, NULL, 1000, &pg, &err), &err,
       "delimiter");
  assert_int_equal(pg.n_objects, 1);
  assert_string_equal(pg.objects[0].key, keys[0]);
  assert_int_equal(pg.n_prefixes, 2);
  {
    char *b = k("tree/b/"), *c = k("tree/c d/");
    assert_string_equal(pg.prefixes[0], b);
    assert_string_equal(pg.prefixes[1], c);
    fx_free(b);
    fx_free(c);
  }
  store_list_page_release(&pg);
  for (i = 0; i < 4; i++) {
    must(store_delete(S3, "ferry-test", keys[i], &err), &err, "delete");
    fx_free(keys[i]);
  }
  fx_free(prefix);
}

static void test_s3_multipart(void **state) {
  const size_t sizes[3] = {5u << 20, 5u << 20, (1u << 20) + 123};
  char *key = k("mpu/big object");
  unsigned char *data;
  size_t total = sizes[0] + sizes[1] + sizes[2], off = 0, i;
  store_part_t parts[3];
  store_error_t err;
  store_head_t h;
  store_parts_t lp;
  char *uid = NULL;
  fbuf_t body;
  ferry_err_t rc;
  (void)state;
  data = fx_malloc(total);
  for (i = 0; i < total; i++) data[i] = (unsigned char)((i * 2654435761u) >> 13);

  must(store_mpu_init(S3, "ferry-test", key, NULL, &uid, &err), &err, "init");
  assert_non_null(uid);
  for (i = 0; i < 3; i++) {
    store_head_t ph;
    parts[i].number = (int)i + 1;
    parts[i].size = sizes[i];
    must(store_mpu_put_part(S3, "ferry-test", key, uid, (int)i + 1, data + off, sizes[i],
                            &parts[i].etag, &ph, &err),
         &err, "put part");
    assert_non_null(parts[i].etag);
    store_head_release(&ph);
    off += sizes[i];
  }
  /* s3rver has no ListParts (405 MethodNotAllowed); the wire test covers it.
   * Accept either answer so a newer s3rver is checked for real. */
  rc = store_mpu_list_parts(S3, "ferry-test", key, uid, &lp, &err);
  if (rc == FERRY_OK) {
    assert_int_equal(lp.n, 3);
    for (i = 0; i < 3; i++) {
      assert_int_equal(lp.parts[i].number, (int)i + 1);
      assert_string_equal(lp.parts[i].etag, parts[i].etag);
      assert_int_equal(lp.parts[i].size, sizes[i]);
    }
    store_parts_release(&lp);
  } else {
    assert_int_equal(rc, FERRY_ERR_STORE);
    assert_false(err.retryable);
  }

  must(store_mpu_complete(S3, "ferry-test", key, uid, parts, 3, &h, &err), &err, "complete");
  /* S3 would say "<md5 of part md5s>-3"; s3rver gives the whole MD5. */
  assert_non_null(h.etag);
  assert_true(strlen(h.etag) >= 32);
  store_head_release(&h);

  must(store_head_object(S3, "ferry-test", key, &h, &err), &err, "head");
  assert_int_equal(h.size, total);
  store_head_release(&h);
  fbuf_init(&body, 0);
  must(store_get_buf(S3, "ferry-test", key, NULL, NULL, total, &body, NULL, &err), &err,
       "get");
  assert_int_equal(body.len, total);
  assert_memory_equal(body.p, data, total);
  /* A range across the first part boundary. */
  {
    char range[64];
    snprintf(range, sizeof(range), "bytes=%zu-%zu", sizes[0] - 10, sizes[0] + 9);
    must(store_get_buf(S3, "ferry-test", key, range, NULL, 64, &body, NULL, &err), &err,
         "ranged get");
    assert_int_equal(body.len, 20);
    assert_memory_equal(body.p, data + sizes[0] - 10, 20);
  }
  must(store_delete(S3, "ferry-test", key, &err), &err, "delete");
  fbuf_release(&body);
  for (i = 0; i < 3; i++) fx_free(parts[i].etag);
  fx_free(uid);
  fx_free(data);
  fx_free(key);
}

static void test_s3_abort(void **state) {
  char *key = k("mpu/aborted");
  char *uid = NULL, *etag = NULL;
  store_error_t err;
  store_uploads_t ups;
  ferry_err_t rc;
  size_t i;
  (void)state;
  must(store_mpu_init(S3, "ferry-test", key, NULL, &uid, &err), &err, "init");
  must(store_mpu_put_part(S3, "ferry-test", key, uid, 1, "abc", 3, &etag, NULL, &err), &err,
       "put part");
  rc = store_mpu_abort(S3, "ferry-test", key, uid, &err);
  if (rc == FERRY_OK) {
    must(store_mpu_list_uploads(S3, "ferry-test", PFX, &ups, &err), &err, "list uploads");
    for (i = 0; i < ups.n; i++) assert_string_not_equal(ups.uploads[i].upload_id, uid);
    store_uploads_release(&ups);
  } else {
    /* s3rver 3.7 implements neither AbortMultipartUpload (405) nor
     * ListMultipartUploads (501): the errors must still come back typed. */
    assert_int_equal(rc, FERRY_ERR_STORE);
    assert_string_equal(err.code, "MethodNotAllowed");
    assert_false(err.retryable);
    assert_int_equal(store_mpu_list_uploads(S3, "ferry-test", PFX, &ups, &err),
                     FERRY_ERR_STORE);
    assert_string_equal(err.code, "NotImplemented");
    assert_false(err.retryable);
  }
  fx_free(etag);
  fx_free(uid);
  fx_free(key);
}

static void test_s3_errors(void **state) {
  store_error_t err;
  store_list_page_t pg;
  store_head_t h;
  fbuf_t body;
  store_conf_t c;
  store_t *s;
  char eb[FERRY_ERRLEN], *key = k("errors/missing");
  (void)state;
  fbuf_init(&body, 0);
  assert_int_equal(store_list(S3, "ferry-no-such-bucket", NULL, NULL, NULL, NULL, 10, &pg,
                              &err),
                   FERRY_ERR_STORE);
  assert_int_equal(err.http_status, 404);
  assert_string_equal(err.code, "NoSuchBucket");
  assert_false(err.retryable);
  assert_int_equal(store_put_buf(S3, "ferry-no-such-bucket", "k", "x", 1, NULL, 0, NULL,
                                 &err),
                   FERRY_ERR_STORE);
  assert_string_equal(err.code, "NoSuchBucket");

  assert_int_equal(store_get_buf(S3, "ferry-test", key, NULL, NULL, 100, &body, NULL, &err),
                   FERRY_ERR_STORE);
  assert_int_equal(err.http_status, 404);
  assert_string_equal(err.code, "NoSuchKey");
  assert_false(err.retryable);
  assert_int_equal(store_head_object(S3, "ferry-test", key, &h, &err), FERRY_ERR_STORE);
  assert_string_equal(err.code, "NoSuchKey");
  store_head_release(&h);

  /* s3rver does not verify SigV4 signatures (only V2), so a wrong secret is
   * accepted there; a wrong access key is what it can refuse. */
  s3_conf(&c);
  c.access_key = "NOTAKEY";
  s = store_new(&c, eb);
  assert_non_null(s);
  assert_int_equal(store_list(s, "ferry-test", NULL, NULL, NULL, NULL, 10, &pg, &err),
                   FERRY_ERR_STORE);
  assert_int_equal(err.http_status, 403);
  assert_string_equal(err.code, "InvalidAccessKeyId");
  assert_false(err.retryable);
  store_destroy(s);

  /* Nothing listens on port 1: transport error, retryable. */
  s3_conf(&c);
  c.endpoint = "http://127.0.0.1:1";
  s = store_new(&c, eb);
  assert_non_null(s);
  assert_int_equal(store_head_object(s, "ferry-test", "k", &h, &err), FERRY_ERR_HTTP);
  assert_int_equal(err.http_status, 0);
  assert_int_equal(err.curl_code, CURLE_COULDNT_CONNECT);
  assert_true(err.message[0] != '\0');
  assert_true(err.retryable);
  store_head_release(&h);
  store_destroy(s);
  fbuf_release(&body);
  fx_free(key);
}

/* s3rver takes a bucket from the Host name only under its service endpoint
 * (amazonaws.com): "ferry-test.s3.amazonaws.com" is bucket ferry-test, while
 * "ferry-test.s3.local" would be taken whole as a bucket name. So the
 * virtual-hosted test uses the amazonaws.com name, resolved to s3rver by
 * connect_to (nothing leaves loopback); a path-style store with a wrong port
 * checks that connect_to overrides the port too. */
static void test_s3_connect_to(void **state) {
  store_conf_t c;
  store_t *s;
  char eb[FERRY_ERRLEN], ct[128], *key = k("vhost/obj"), *prefix = k("vhost/");
  const char *hostport = strstr(S3_ENDPOINT, "://");
  store_error_t err;
  store_list_page_t pg;
  fbuf_t body;
  (void)state;
  assert_non_null(hostport);
  snprintf(ct, sizeof(ct), "%s", hostport + 3);
  s3_conf(&c);
  c.endpoint = "http://s3.amazonaws.com";
  c.path_style = 0;
  c.connect_to = ct;
  s = store_new(&c, eb);
  assert_non_null(s);
  must(store_put_buf(s, "ferry-test", key, "vhost", 5, NULL, 1, NULL, &err), &err,
       "vhost put");
  must(store_list(s, "ferry-test", prefix, NULL, NULL, NULL, 10, &pg, &err), &err,
       "vhost list");
  assert_int_equal(pg.n_objects, 1);
  assert_string_equal(pg.objects[0].key, key);
  store_list_page_release(&pg);
  store_destroy(s);

  /* Path style through a host name and port that are not s3rver's. */
  s3_conf(&c);
  c.endpoint = "http://localhost:9";
  c.connect_to = ct;
  s = store_new(&c, eb);
  assert_non_null(s);
  fbuf_init(&body, 0);
  must(store_get_buf(s, "ferry-test", key, NULL, NULL, 100, &body, NULL, &err), &err,
       "connect_to get");
  assert_int_equal(body.len, 5);
  assert_memory_equal(body.p, "vhost", 5);
  must(store_delete(s, "ferry-test", key, &err), &err, "delete");
  store_destroy(s);
  fbuf_release(&body);
  fx_free(key);
  fx_free(prefix);
}

static void test_s3_create_bucket(void **state) {
  char name[64];
  store_error_t err;
  store_list_page_t pg;
  (void)state;
  snprintf(name, sizeof(name), "ferry-itest-%d-%ld", (int)getpid(), (long)time(NULL));
  must(store_create_bucket(S3, name, &err), &err, "create bucket");
  must(store_list(S3, name, NULL, NULL, NULL, NULL, 10, &pg, &err), &err, "list new bucket");
  assert_int_equal(pg.n_objects, 0);
  assert_false(pg.truncated);
  store_list_page_release(&pg);
}

int main(void) {
  const struct CMUnitTest wire[] = {
      cmocka_unit_test(test_wire_hdr_cb),
      cmocka_unit_test(test_wire_exact_headers),
      cmocka_unit_test(test_wire_keepalive),
      cmocka_unit_test(test_wire_dot_segments),
      cmocka_unit_test(test_wire_head_parse),
      cmocka_unit_test(test_wire_head_bad_numbers),
      cmocka_unit_test(test_wire_head_errors),
      cmocka_unit_test(test_wire_body_errors),
      cmocka_unit_test(test_wire_oss_range),
      cmocka_unit_test(test_wire_multipart),
      cmocka_unit_test(test_wire_connect_to),
  };
  const struct CMUnitTest s3[] = {
      cmocka_unit_test(test_s3_roundtrip),   cmocka_unit_test(test_s3_odd_keys),
      cmocka_unit_test(test_s3_pagination),  cmocka_unit_test(test_s3_delimiter),
      cmocka_unit_test(test_s3_multipart),   cmocka_unit_test(test_s3_abort),
      cmocka_unit_test(test_s3_errors),      cmocka_unit_test(test_s3_connect_to),
      cmocka_unit_test(test_s3_create_bucket),
  };
  int rc = 0;
  rc |= cmocka_run_group_tests_name("wire", wire, wire_setup, wire_teardown);
  rc |= cmocka_run_group_tests_name("s3rver", s3, s3_setup, s3_teardown);
  return rc ? 1 : 0;
}
