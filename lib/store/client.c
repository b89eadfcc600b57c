/* client.c: the object-store client's I/O half: libcurl setup for a signed
 * request, response-header and error handling, and the blocking operations
 * over one reused easy handle per store. Signing lives in request.c, XML in
 * xml.c; nothing here builds a signature or parses XML by hand. */
#include "store/client.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/buf.h"
#include "core/enc.h"
#include "core/log.h"

/* Error bodies are small XML documents; a larger one is truncated (and then
 * fails to parse, so the code comes from the status). */
#define ERR_BODY_MAX (64 * 1024)
/* Listing pages and multipart documents: 1000 entries of at most ~3 KiB. */
#define DOC_BODY_MAX (16 * 1024 * 1024)
/* Blocking operations give up on a connection that moves less than one byte
 * per second for this long; the engine sets its own stall limits. */
#define BLOCKING_STALL_S 120L

struct store {
  store_conf_t conf;
  CURL *easy;                      /* reused for every blocking operation */
  struct curl_slist *connect_to;   /* CURLOPT_CONNECT_TO list, or NULL */
  char curl_err[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static void copy_str(char *dst, size_t n, const char *src) {
  snprintf(dst, n, "%s", src ? src : "");
}

/* ------------------------------------------------------------------------ */
/* Store lifecycle                                                           */

/* Accepts "HOST:PORT" or "[V6]:PORT" with a port in 1..65535. */
static int connect_to_valid(const char *s) {
  const char *colon = strrchr(s, ':');
  char *end;
  long port;
  if (!colon || colon == s) return 0;
  if (s[0] == '[' && colon[-1] != ']') return 0;
  errno = 0;
  port = strtol(colon + 1, &end, 10);
  return colon[1] != '\0' && *end == '\0' && errno == 0 && port >= 1 && port <= 65535;
}

store_t *store_new(const store_conf_t *conf, char *errbuf) {
  store_t *s;
  store_sign_alg_t alg;
  const char *name;
  if (!conf) {
    ferry_seterr(errbuf, FERRY_ERR_INVALID, "store: no configuration");
    return NULL;
  }
  name = conf->name ? conf->name : "(unnamed)";
  alg = store_conf_sign(conf);
  if ((!conf->endpoint || !*conf->endpoint) && conf->type != STORE_HTTP) {
    ferry_seterr(errbuf, FERRY_ERR_CONFIG, "store %s: endpoint is not set", name);
    return NULL;
  }
  if (alg != SIGN_NONE && (!conf->access_key || !*conf->access_key ||
                           !conf->secret_key.v || !*conf->secret_key.v)) {
    ferry_seterr(errbuf, FERRY_ERR_CONFIG,
                 "store %s: access_key and secret_key are required to sign", name);
    return NULL;
  }
  if ((alg == SIGN_S3V4 || alg == SIGN_OSS_V4) && (!conf->region || !*conf->region)) {
    ferry_seterr(errbuf, FERRY_ERR_CONFIG,
                 "store %s: region is required by its signature version", name);
    return NULL;
  }
  if (conf->connect_to && *conf->connect_to && !connect_to_valid(conf->connect_to)) {
    ferry_seterr(errbuf, FERRY_ERR_CONFIG,
                 "store %s: connect_to '%s' is not HOST:PORT", name, conf->connect_to);
    return NULL;
  }
  if (conf->connect_timeout_ms < 0) {
    ferry_seterr(errbuf, FERRY_ERR_CONFIG, "store %s: connect_timeout_ms is negative",
                 name);
    return NULL;
  }
  pthread_once(&curl_once, curl_init_once);

  s = fx_calloc(1, sizeof(*s));
  store_conf_copy(&s->conf, conf);
  s->easy = curl_easy_init();
  if (!s->easy) {
    store_conf_release(&s->conf);
    fx_free(s);
    ferry_seterr(errbuf, FERRY_ERR_NOMEM, "store %s: curl_easy_init failed", name);
    return NULL;
  }
  if (conf->connect_to && *conf->connect_to) {
    /* "::ADDR:PORT": any host and port of the URL connect to ADDR:PORT,
     * while the URL (and so Host, SNI and the signature) keep the name. */
    char *entry = fx_asprintf("::%s", conf->connect_to);
    s->connect_to = curl_slist_append(NULL, entry);
    fx_free(entry);
    if (!s->connect_to) {
      store_destroy(s);
      ferry_seterr(errbuf, FERRY_ERR_NOMEM, "store %s: out of memory", name);
      return NULL;
    }
  }
  return s;
}

void store_destroy(store_t *s) {
  if (!s) return;
  if (s->easy) curl_easy_cleanup(s->easy);
  curl_slist_free_all(s->connect_to);
  store_conf_release(&s->conf);
  fx_free(s);
}

const store_conf_t *store_conf(const store_t *s) { return &s->conf; }

ferry_err_t store_req_prepare(store_t *s, store_req_t *r, const char *method,
                              const char *bucket, const char *key) {
  char eb[FERRY_ERRLEN];
  ferry_err_t rc;
  store_req_init(r, &s->conf, method, bucket, key);
  rc = store_req_sign(r, &s->conf, time(NULL), eb);
  if (rc) LOG_WARN("store", "store=%s op=sign err=%s", FLOG_V(s->conf.name), FLOG_Q(eb));
  return rc;
}

/* ------------------------------------------------------------------------ */
/* libcurl setup                                                             */

static int has_crlf(const char *s) { return strpbrk(s, "\r\n") != NULL; }

ferry_err_t store_http_setup(store_t *s, CURL *easy, const store_req_t *r,
                             curl_off_t body_len, struct curl_slist **hdrs_out,
                             char *errbuf) {
  struct curl_slist *hdrs = NULL;
  const store_conf_t *c = &s->conf;
  const char *m = r->method;
  int is_upload;
  size_t i;

  *hdrs_out = NULL;
  if (!r->url || !m) {
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "store %s: request is not signed (no URL)", c->name);
  }
  is_upload = strcmp(m, "PUT") == 0 || strcmp(m, "POST") == 0;
  if (body_len < 0) body_len = 0;

  /* Headers exactly as signed. A header with an empty value counts as absent
   * (the signers skip it), so it goes to libcurl as "Name:", which sends
   * nothing and removes any header of that name libcurl would add. */
  for (i = 0; i < r->headers.n; i++) {
    const kv_t *h = &r->headers.v[i];
    char *line;
    struct curl_slist *t;
    if (!*h->name || has_crlf(h->name) || strchr(h->name, ':') || has_crlf(h->value)) {
      curl_slist_free_all(hdrs);
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "store %s: header '%s' has a line break or colon", c->name,
                          h->name);
    }
    line = fx_asprintf(*h->value ? "%s: %s" : "%s:", h->name, h->value);
    t = curl_slist_append(hdrs, line);
    fx_free(line);
    if (!t) goto nomem;
    hdrs = t;
  }
  /* Suppress what libcurl would add on its own, so the wire carries the
   * signed set: "Expect: 100-continue" on uploads, "Accept: * / *" always,
   * and the form Content-Type it adds to a POST. */
  {
    static const char *const suppress[] = {"Expect", "Accept", "Content-Type"};
    size_t k;
    for (k = 0; k < FERRY_ARRAY_LEN(suppress); k++) {
      char line[32];
      struct curl_slist *t;
      if (k == 2 && !is_upload) continue;
      if (kvlist_get(&r->headers, suppress[k])) continue;
      snprintf(line, sizeof(line), "%s:", suppress[k]);
      t = curl_slist_append(hdrs, line);
      if (!t) goto nomem;
      hdrs = t;
    }
  }

  /* Method. HTTPGET first resets NOBODY/UPLOAD/POST left by an earlier use of
   * the handle; CUSTOMREQUEST is cleared unless needed. */
  curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, NULL);
  if (strcmp(m, "GET") == 0) {
    /* nothing more */
  } else if (strcmp(m, "HEAD") == 0) {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else if (strcmp(m, "PUT") == 0) {
    curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, body_len);
  } else if (strcmp(m, "POST") == 0) {
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, body_len);
  } else {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, m);
  }

  curl_easy_setopt(easy, CURLOPT_URL, r->url);
  /* The path is sent as built and signed: no squashing of "/./" or "/../"
   * inside keys. */
  curl_easy_setopt(easy, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, NULL); /* bytes as stored */
  curl_easy_setopt(easy, CURLOPT_CONNECT_TO, s->connect_to);

  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, c->insecure ? 0L : 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, c->insecure ? 0L : 2L);
  if (c->ca_file && *c->ca_file) curl_easy_setopt(easy, CURLOPT_CAINFO, c->ca_file);

  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   c->connect_timeout_ms > 0 ? c->connect_timeout_ms : 10000L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 60L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 30L);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);

  *hdrs_out = hdrs;
  return FERRY_OK;

nomem:
  curl_slist_free_all(hdrs);
  return ferry_seterr(errbuf, FERRY_ERR_NOMEM, "store %s: out of memory", c->name);
}

/* ------------------------------------------------------------------------ */
/* Response headers and errors                                               */

void store_error_name_store(store_error_t *err, const store_t *s) {
  char *pfx, *text;
  const char *name;
  if (!err || !s || err->http_status != 0 || err->curl_code == 0) return;
  name = s->conf.name ? s->conf.name : "(unnamed)";
  pfx = fx_asprintf("store %s: ", name);
  if (strncmp(err->message, pfx, strlen(pfx)) == 0) {
    fx_free(pfx);
    return;
  }
  if (store_error_is_tls(err))
    text = fx_asprintf("%s%s (TLS certificate not accepted; a private CA goes in ca_file)", pfx,
                       err->message[0] ? err->message : "certificate not accepted");
  else
    text = fx_asprintf("%s%s", pfx,
                       err->message[0] ? err->message
                                       : curl_easy_strerror((CURLcode)err->curl_code));
  copy_str(err->message, sizeof(err->message), text);
  fx_free(text);
  fx_free(pfx);
}

static int is_ws(char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; }

size_t store_hdr_cb(char *buf, size_t size, size_t n, void *kvlist) {
  kvlist_t *l = kvlist;
  size_t len = size * n, nlen, vs, ve;
  const char *colon;
  char *name;

  if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
    /* A new response (after 100-continue or a redirect): start over. */
    kvlist_release(l);
    return len;
  }
  if (len > 0 && (buf[0] == ' ' || buf[0] == '\t')) {
    /* Obsolete line folding: continue the previous value. */
    if (l->n) {
      kv_t *last = &l->v[l->n - 1];
      vs = 0;
      ve = len;
      while (vs < ve && is_ws(buf[vs])) vs++;
      while (ve > vs && is_ws(buf[ve - 1])) ve--;
      if (ve > vs) {
        char *nv = fx_asprintf("%s %.*s", last->value, (int)(ve - vs), buf + vs);
        fx_free(last->value);
        last->value = nv;
      }
    }
    return len;
  }
  colon = memchr(buf, ':', len);
  if (!colon) return len; /* the blank line ending the block, or junk */
  nlen = (size_t)(colon - buf);
  while (nlen > 0 && is_ws(buf[nlen - 1])) nlen--;
  if (nlen == 0) return len;
  vs = (size_t)(colon - buf) + 1;
  ve = len;
  while (vs < ve && is_ws(buf[vs])) vs++;
  while (ve > vs && is_ws(buf[ve - 1])) ve--;
  name = fx_strndup(buf, nlen);
  kvlist_addn(l, name, buf + vs, ve - vs);
  fx_free(name);
  return len;
}

/* The service code to report when an error response has no parsable body,
 * as HEAD responses never do. */
static const char *code_from_status(int status) {
  switch (status) {
  case 301: return "PermanentRedirect";
  case 302:
  case 307: return "TemporaryRedirect";
  case 304: return "NotModified";
  case 400: return "BadRequest";
  case 401: return "Unauthorized";
  case 403: return "AccessDenied";
  case 404: return "NoSuchKey";
  case 405: return "MethodNotAllowed";
  case 408: return "RequestTimeout";
  case 409: return "Conflict";
  case 411: return "MissingContentLength";
  case 412: return "PreconditionFailed";
  case 416: return "InvalidRange";
  case 429: return "TooManyRequests";
  case 500: return "InternalError";
  case 501: return "NotImplemented";
  case 502: return "BadGateway";
  case 503: return "ServiceUnavailable";
  case 504: return "GatewayTimeout";
  default: return "";
  }
}

static long parse_retry_after(const char *v) {
  char *end;
  long n;
  time_t t;
  if (!v || !*v) return 0;
  if (isdigit((unsigned char)v[0])) {
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || *end) return 0;
    return n;
  }
  t = enc_time_parse(v); /* an HTTP date */
  if (t < 0) return 0;
  n = (long)(t - time(NULL));
  return n > 0 ? n : 0;
}

/* Merges a parsed <Error> document into err, keeping what headers gave. */
static int merge_xml_error(store_error_t *err, const char *body, size_t len) {
  store_error_t x;
  char eb[FERRY_ERRLEN];
  store_error_clear(&x);
  if (store_xml_parse_error(body, len, &x, eb) != FERRY_OK || !x.code[0]) return 0;
  copy_str(err->code, sizeof(err->code), x.code);
  copy_str(err->message, sizeof(err->message), x.message);
  if (!err->request_id[0]) copy_str(err->request_id, sizeof(err->request_id), x.request_id);
  return 1;
}

/* A short printable excerpt of a body that is not an error document (a
 * proxy's HTML page, say), for the message. */
static void body_excerpt(char *out, size_t n, const char *body, size_t len) {
  size_t i, o = 0;
  int sp = 0;
  for (i = 0; i < len && o + 1 < n; i++) {
    unsigned char ch = (unsigned char)body[i];
    if (ch < 0x20 || ch == 0x7f) {
      if (!sp && o) out[o++] = ' ';
      sp = 1;
      continue;
    }
    out[o++] = (char)ch;
    sp = 0;
  }
  out[o] = '\0';
}

void store_error_from_response(store_error_t *err, int http_status,
                               const kvlist_t *headers, const char *body,
                               size_t body_len, CURLcode cc,
                               const char *curl_errbuf) {
  static const char *const rid_names[] = {"x-oss-request-id", "x-cos-request-id",
                                          "x-amz-request-id"};
  size_t i;
  store_error_clear(err);
  err->http_status = http_status;
  err->curl_code = (int)cc;
  if (headers) {
    for (i = 0; i < FERRY_ARRAY_LEN(rid_names); i++) {
      const char *v = kvlist_get(headers, rid_names[i]);
      if (v && *v) {
        copy_str(err->request_id, sizeof(err->request_id), v);
        break;
      }
    }
    err->retry_after_s = parse_retry_after(kvlist_get(headers, "Retry-After"));
  }

  if (cc != CURLE_OK) {
    copy_str(err->message, sizeof(err->message),
             curl_errbuf && *curl_errbuf ? curl_errbuf : curl_easy_strerror(cc));
    store_error_classify(err);
    return;
  }

  if (body && body_len > 0) {
    if (!merge_xml_error(err, body, body_len)) {
      char ex[160];
      body_excerpt(ex, sizeof(ex), body, body_len);
      snprintf(err->message, sizeof(err->message), "HTTP %d with a non-error body: %s",
               http_status, ex);
    }
  } else if (headers && kvlist_get(headers, "x-oss-err")) {
    /* OSS repeats the error document base64-encoded in x-oss-err on
     * responses without a body (HEAD). */
    const char *v = kvlist_get(headers, "x-oss-err");
    size_t n = strlen(v);
    unsigned char *dec = fx_malloc(n * 3 / 4 + 3);
    long dn = enc_b64_decode(dec, v, n);
    if (dn > 0) merge_xml_error(err, (const char *)dec, (size_t)dn);
    fx_free(dec);
  }
  if (!err->code[0]) {
    copy_str(err->code, sizeof(err->code), code_from_status(http_status));
    if (!err->message[0])
      snprintf(err->message, sizeof(err->message), "HTTP %d without an error body",
               http_status);
  }
  store_error_classify(err);
}

/* ------------------------------------------------------------------------ */
/* Object metadata from headers                                              */

void store_head_release(store_head_t *h) {
  if (!h) return;
  fx_free(h->etag);
  fx_free(h->content_type);
  fx_free(h->storage_class);
  kvlist_release(&h->meta);
  kvlist_release(&h->std);
  h->etag = h->content_type = h->storage_class = NULL;
}

/* Strict unsigned decimal: digits only, no sign, no overflow. */
static int parse_u64(const char *s, uint64_t *out) {
  char *end;
  unsigned long long v;
  if (!s || !isdigit((unsigned char)s[0])) return 0;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno || *end) return 0;
  *out = (uint64_t)v;
  return 1;
}

/* "bytes START-END/TOTAL" (TOTAL may be "*"). Returns 1 on success. */
static int parse_content_range(const char *v, uint64_t *start, uint64_t *end,
                               uint64_t *total, int *has_total) {
  unsigned long long a, b;
  char *p;
  if (!v || strncasecmp(v, "bytes ", 6) != 0) return 0;
  v += 6;
  if (!isdigit((unsigned char)*v)) return 0;
  errno = 0;
  a = strtoull(v, &p, 10);
  if (errno || *p != '-' || !isdigit((unsigned char)p[1])) return 0;
  b = strtoull(p + 1, &p, 10);
  if (errno || *p != '/' || b < a) return 0;
  *start = a;
  *end = b;
  p++;
  if (strcmp(p, "*") == 0) {
    *has_total = 0;
    return 1;
  }
  if (!parse_u64(p, total) || *total <= b) return 0;
  *has_total = 1;
  return 1;
}

/* errbuf: the header that store_head_parse refuses, with its value escaped
 * and cut (it is whatever the server sent) and the object. */
static ferry_err_t bad_header(char *errbuf, const char *name, const char *value,
                              const char *what, const char *want) {
  char v[48];
  size_t n = strlen(value);
  if (n > 32) {
    memcpy(v, value, 32);
    strcpy(v + 32, "...");
  } else {
    memcpy(v, value, n + 1);
  }
  /* The object last: a long key may be cut, the header never. */
  return ferry_seterr(errbuf, FERRY_ERR_STORE,
                      "bad %s header %s (%s) in the response for %s", name, FLOG_Q(v),
                      want, what && *what ? what : "the object");
}

ferry_err_t store_head_parse(store_head_t *h, store_type_t type, const kvlist_t *headers,
                             const char *what, char errbuf[FERRY_ERRLEN]) {
  static const char *const crc_names[] = {"x-oss-hash-crc64ecma", "x-cos-hash-crc64ecma"};
  const char *v;
  uint64_t a, b, total;
  int has_total;
  size_t k;
  store_head_from_headers(h, type, headers);
  if (!headers) return FERRY_OK;
  if ((v = kvlist_get(headers, "Content-Length")) && !parse_u64(v, &a))
    return bad_header(errbuf, "Content-Length", v, what, "not an unsigned decimal size");
  if ((v = kvlist_get(headers, "Content-Range")) &&
      !parse_content_range(v, &a, &b, &total, &has_total))
    return bad_header(errbuf, "Content-Range", v, what, "not bytes FIRST-LAST/TOTAL");
  for (k = 0; k < FERRY_ARRAY_LEN(crc_names); k++)
    if ((v = kvlist_get(headers, crc_names[k])) && !parse_u64(v, &a))
      return bad_header(errbuf, crc_names[k], v, what, "not an unsigned decimal CRC-64");
  return FERRY_OK;
}

static char *unquote_etag(const char *v) {
  size_t n;
  if (!v) return NULL;
  if (strncmp(v, "W/", 2) == 0) v += 2;
  n = strlen(v);
  if (n >= 2 && v[0] == '"' && v[n - 1] == '"') return fx_strndup(v + 1, n - 2);
  return fx_strdup(v);
}

void store_head_from_headers(store_head_t *h, store_type_t type,
                             const kvlist_t *headers) {
  static const char *const meta_prefix[] = {"x-amz-meta-", "x-oss-meta-", "x-cos-meta-"};
  static const char *const std_names[] = {"Cache-Control", "Content-Disposition",
                                          "Content-Encoding", "Content-Language",
                                          "Expires"};
  const char *crc_first = type == STORE_COS ? "x-cos-hash-crc64ecma"
                                            : "x-oss-hash-crc64ecma";
  const char *crc_second = type == STORE_COS ? "x-oss-hash-crc64ecma"
                                             : "x-cos-hash-crc64ecma";
  const char *v;
  uint64_t a, b, total;
  int has_total;
  size_t i, k;

  memset(h, 0, sizeof(*h));
  kvlist_init(&h->meta);
  kvlist_init(&h->std);
  h->mtime = -1;
  if (!headers) return;

  /* A ranged response describes the object by its Content-Range total. */
  if (parse_content_range(kvlist_get(headers, "Content-Range"), &a, &b, &total,
                          &has_total) &&
      has_total) {
    h->size = total;
  } else if (!parse_u64(kvlist_get(headers, "Content-Length"), &h->size)) {
    h->size = 0;
  }
  h->etag = unquote_etag(kvlist_get(headers, "ETag"));
  if ((v = kvlist_get(headers, "Last-Modified"))) h->mtime = enc_time_parse(v);
  if ((v = kvlist_get(headers, crc_first)) || (v = kvlist_get(headers, crc_second)))
    h->has_crc64 = parse_u64(v, &h->crc64);
  h->content_type = fx_strdup(kvlist_get(headers, "Content-Type"));
  for (k = 0; k < FERRY_ARRAY_LEN(std_names); k++)
    if ((v = kvlist_get(headers, std_names[k]))) kvlist_add(&h->std, std_names[k], v);
  if (!(v = kvlist_get(headers, "x-oss-storage-class")) &&
      !(v = kvlist_get(headers, "x-cos-storage-class")))
    v = kvlist_get(headers, "x-amz-storage-class");
  h->storage_class = fx_strdup(v);

  for (i = 0; i < headers->n; i++) {
    const kv_t *kv = &headers->v[i];
    for (k = 0; k < FERRY_ARRAY_LEN(meta_prefix); k++) {
      size_t pl = strlen(meta_prefix[k]);
      if (strncasecmp(kv->name, meta_prefix[k], pl) == 0 && kv->name[pl]) {
        char *name = fx_strdup(kv->name + pl);
        char *p;
        for (p = name; *p; p++) *p = (char)tolower((unsigned char)*p);
        kvlist_add(&h->meta, name, kv->value);
        fx_free(name);
        break;
      }
    }
  }
}

/* ------------------------------------------------------------------------ */
/* The blocking transfer                                                     */

typedef struct xfer {
  store_t *s;
  kvlist_t headers;       /* response headers */
  long status;            /* 0 until known */
  fbuf_t *ok_body;        /* 2xx body target, or NULL to keep it in doc */
  size_t ok_max;          /* cap for ok_body, 0 = none */
  fbuf_t doc;             /* 2xx body when ok_body is NULL (capped) */
  fbuf_t err_body;        /* non-2xx body (truncated at ERR_BODY_MAX) */
  int overflow;           /* a 2xx body went past its cap */
  const unsigned char *up;
  curl_off_t up_len, up_off;
} xfer_t;

static void xfer_init(xfer_t *x, store_t *s) {
  memset(x, 0, sizeof(*x));
  x->s = s;
  kvlist_init(&x->headers);
  fbuf_init(&x->doc, DOC_BODY_MAX);
  fbuf_init(&x->err_body, 0);
  x->up_len = -1;
}

static void xfer_release(xfer_t *x) {
  kvlist_release(&x->headers);
  fbuf_release(&x->doc);
  fbuf_release(&x->err_body);
}

static size_t write_cb(char *p, size_t size, size_t n, void *ud) {
  xfer_t *x = ud;
  size_t len = size * n;
  if (!x->status) curl_easy_getinfo(x->s->easy, CURLINFO_RESPONSE_CODE, &x->status);
  if (x->status < 200 || x->status >= 300) {
    size_t room = ERR_BODY_MAX - x->err_body.len;
    fbuf_add(&x->err_body, p, FERRY_MIN(room, len));
    return len;
  }
  if (x->ok_body) {
    if (x->ok_max && x->ok_body->len + len > x->ok_max) {
      x->overflow = 1;
      return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (fbuf_add(x->ok_body, p, len) != FERRY_OK) {
      x->overflow = 1; /* the caller's buffer has a smaller cap of its own */
      return 0;
    }
    return len;
  }
  if (fbuf_add(&x->doc, p, len) != FERRY_OK) {
    x->overflow = 1;
    return 0;
  }
  return len;
}

static size_t read_cb(char *p, size_t size, size_t n, void *ud) {
  xfer_t *x = ud;
  curl_off_t left = x->up_len - x->up_off;
  size_t len = size * n;
  if (left <= 0) return 0;
  if ((curl_off_t)len > left) len = (size_t)left;
  memcpy(p, x->up + x->up_off, len);
  x->up_off += (curl_off_t)len;
  return len;
}

/* libcurl rewinds the body when it re-sends a request, e.g. after finding a
 * reused keep-alive connection dead. */
static int seek_cb(void *ud, curl_off_t offset, int origin) {
  xfer_t *x = ud;
  if (origin != SEEK_SET || offset < 0 || offset > x->up_len) return CURL_SEEKFUNC_FAIL;
  x->up_off = offset;
  return CURL_SEEKFUNC_OK;
}

static ferry_err_t local_error(store_error_t *err, ferry_err_t rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ferry_err_t local_error(store_error_t *err, ferry_err_t rc, const char *fmt, ...) {
  va_list ap;
  store_error_clear(err);
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof(err->message), fmt, ap);
  va_end(ap);
  err->retryable = 0;
  return rc;
}

/* Signs r now, runs it on the store's handle, and sorts the outcome:
 * FERRY_OK for a 2xx, FERRY_ERR_STORE for another status, FERRY_ERR_HTTP for
 * a transport failure. up/up_len: request body (up_len < 0: none). */
static ferry_err_t perform(store_t *s, store_req_t *r, const void *up, curl_off_t up_len,
                           xfer_t *x, store_error_t *err) {
  char eb[FERRY_ERRLEN];
  struct curl_slist *hdrs = NULL;
  ferry_err_t rc;
  CURLcode cc;
  CURL *e = s->easy;
  int64_t t0 = ferry_now_us();

  store_error_clear(err);
  rc = store_req_sign(r, &s->conf, time(NULL), eb);
  if (rc) return local_error(err, rc, "signing failed: %s", eb);

  curl_easy_reset(e); /* keeps the connection cache: keep-alive survives */
  rc = store_http_setup(s, e, r, up_len, &hdrs, eb);
  if (rc) return local_error(err, rc, "%s", eb);

  x->up = up;
  x->up_len = up_len;
  x->up_off = 0;
  s->curl_err[0] = '\0';
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->curl_err);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, store_hdr_cb);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &x->headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
  if (up_len >= 0) {
    curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(e, CURLOPT_READDATA, x);
    curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, seek_cb);
    curl_easy_setopt(e, CURLOPT_SEEKDATA, x);
  }
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, BLOCKING_STALL_S);

  cc = curl_easy_perform(e);
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &x->status);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
  curl_slist_free_all(hdrs);

  LOG_DEBUG("store", "store=%s op=%s bucket=%s status=%ld curl=%d ms=%lld",
            FLOG_V(s->conf.name), r->method, FLOG_V(r->bucket ? r->bucket : "-"),
            x->status, (int)cc, (long long)((ferry_now_us() - t0) / 1000));

  if (x->overflow) {
    local_error(err, FERRY_ERR_HTTP, "response body larger than %zu bytes",
                x->ok_body ? x->ok_max : (size_t)DOC_BODY_MAX);
    err->http_status = (int)x->status;
    err->curl_code = (int)cc;
    return FERRY_ERR_HTTP;
  }
  if (cc != CURLE_OK) {
    store_error_from_response(err, 0, &x->headers, NULL, 0, cc, s->curl_err);
    store_error_name_store(err, s);
    if (cc == CURLE_WEIRD_SERVER_REPLY && r->bucket) {
      /* curl refuses some malformed answers itself (a negative or junk
       * Content-Length): say which object the answer was for. */
      char *t = fx_asprintf("%s in the response for %s:%s/%s", err->message, s->conf.name,
                            r->bucket, r->key ? r->key : "");
      copy_str(err->message, sizeof(err->message), t);
      fx_free(t);
    }
    return FERRY_ERR_HTTP;
  }
  if (x->status < 200 || x->status >= 300) {
    store_error_from_response(err, (int)x->status, &x->headers, x->err_body.p,
                              x->err_body.len, CURLE_OK, NULL);
    return FERRY_ERR_STORE;
  }
  return FERRY_OK;
}

/* A 2xx answer whose content is not what the operation needs. */
static ferry_err_t bad_answer(store_error_t *err, const xfer_t *x, const char *code,
                              const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static ferry_err_t bad_answer(store_error_t *err, const xfer_t *x, const char *code,
                              const char *fmt, ...) {
  va_list ap;
  const char *rid;
  store_error_clear(err);
  err->http_status = (int)x->status;
  copy_str(err->code, sizeof(err->code), code);
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof(err->message), fmt, ap);
  va_end(ap);
  if (!(rid = kvlist_get(&x->headers, "x-oss-request-id")) &&
      !(rid = kvlist_get(&x->headers, "x-cos-request-id")))
    rid = kvlist_get(&x->headers, "x-amz-request-id");
  copy_str(err->request_id, sizeof(err->request_id), rid);
  err->retryable = 0;
  return FERRY_ERR_STORE;
}

static int key_ok(const char *key) { return key && *key; }

/* The head of a 2xx answer into h (NULL: checked only): a size or CRC
 * header store_head_parse refuses makes the answer MalformedResponse, naming
 * the header and the object. */
static ferry_err_t answer_head(store_t *s, const xfer_t *x, const char *bucket,
                               const char *key, store_head_t *h, store_error_t *err) {
  char eb[FERRY_ERRLEN], what[FERRY_ERRLEN];
  store_head_t tmp;
  ferry_err_t rc;
  snprintf(what, sizeof(what), "%s:%s/%s", s->conf.name, bucket, key);
  rc = store_head_parse(h ? h : &tmp, s->conf.type, &x->headers, what, eb);
  if (!h) store_head_release(&tmp);
  if (rc != FERRY_OK) return bad_answer(err, x, "MalformedResponse", "%s", eb);
  return FERRY_OK;
}

/* ------------------------------------------------------------------------ */
/* Operations                                                                */

ferry_err_t store_list(store_t *s, const char *bucket, const char *prefix,
                       const char *delimiter, const char *start_after,
                       const char *token, int max_keys, store_list_page_t *out,
                       store_error_t *err) {
  return store_list_ex(s, STORE_LIST_V2, bucket, prefix, delimiter, start_after, token,
                       max_keys, out, err);
}

ferry_err_t store_list_ex(store_t *s, store_list_api_t api, const char *bucket,
                          const char *prefix, const char *delimiter, const char *after,
                          const char *token, int max_keys, store_list_page_t *out,
                          store_error_t *err) {
  int v1 = api == STORE_LIST_V1;
  store_req_t r;
  xfer_t x;
  ferry_err_t rc;
  char eb[FERRY_ERRLEN], mk[16];
  memset(out, 0, sizeof(*out));
  if (!bucket || !*bucket) return local_error(err, FERRY_ERR_INVALID, "list: no bucket");
  if (max_keys < 1 || max_keys > 1000)
    return local_error(err, FERRY_ERR_INVALID, "list: max_keys %d not in 1..1000",
                       max_keys);
  store_req_init_bucket(&r, &s->conf, "GET", bucket);
  if (!v1) kvlist_add(&r.query, "list-type", "2");
  kvlist_add(&r.query, "encoding-type", "url");
  snprintf(mk, sizeof(mk), "%d", max_keys);
  kvlist_add(&r.query, "max-keys", mk);
  if (prefix && *prefix) kvlist_add(&r.query, "prefix", prefix);
  if (delimiter && *delimiter) kvlist_add(&r.query, "delimiter", delimiter);
  if (after && *after) kvlist_add(&r.query, v1 ? "marker" : "start-after", after);
  if (!v1 && token && *token) kvlist_add(&r.query, "continuation-token", token);
  xfer_init(&x, s);
  rc = perform(s, &r, NULL, -1, &x, err);
  if (rc == FERRY_OK) {
    if (store_xml_parse_list(x.doc.p ? x.doc.p : "", x.doc.len, out, eb) != FERRY_OK) {
      store_list_page_release(out);
      memset(out, 0, sizeof(*out));
      rc = bad_answer(err, &x, "MalformedResponse", "%s: %s", v1 ? "ListObjects" : "ListObjectsV2",
                      eb);
    }
  }
  xfer_release(&x);
  store_req_release(&r);
  return rc;
}

ferry_err_t store_head_object(store_t *s, const char *bucket, const char *key,
                              store_head_t *out, store_error_t *err) {
  store_req_t r;
  xfer_t x;
  ferry_err_t rc;
  memset(out, 0, sizeof(*out));
  out->mtime = -1;
  if (!bucket || !key_ok(key))
    return local_error(err, FERRY_ERR_INVALID, "head: no bucket or key");
  store_req_init(&r, &s->conf, "HEAD", bucket, key);
  xfer_init(&x, s);
  rc = perform(s, &r, NULL, -1, &x, err);
  if (rc == FERRY_OK) rc = answer_head(s, &x, bucket, key, out, err);
  xfer_release(&x);
  store_req_release(&r);
  return rc;
}

ferry_err_t store_get_buf(store_t *s, const char *bucket, const char *key,
                          const char *range, const char *if_match,
                          size_t max_bytes, fbuf_t *body, store_head_t *head,
                          store_error_t *err) {
  store_req_t r;
  xfer_t x;
  ferry_err_t rc;
  if (head) {
    memset(head, 0, sizeof(*head));
    head->mtime = -1;
  }
  if (!bucket || !key_ok(key) || !body)
    return local_error(err, FERRY_ERR_INVALID, "get: no bucket, key or buffer");
  fbuf_reset(body);
  store_req_init(&r, &s->conf, "GET", bucket, key);
  if (range && *range) {
    kvlist_add(&r.headers, "Range", range);
    /* OSS ignores a bad Range (200 + whole object) unless told otherwise. */
    if (s->conf.type == STORE_OSS) kvlist_add(&r.headers, "x-oss-range-behavior", "standard");
  }
  if (if_match && *if_match) {
    if (if_match[0] == '"' || strcmp(if_match, "*") == 0) {
      kvlist_add(&r.headers, "If-Match", if_match);
    } else {
      char *q = fx_asprintf("\"%s\"", if_match);
      kvlist_add(&r.headers, "If-Match", q);
      fx_free(q);
    }
  }
  xfer_init(&x, s);
  x.ok_body = body;
  x.ok_max = max_bytes;
  rc = perform(s, &r, NULL, -1, &x, err);
  if (rc == FERRY_OK && range && *range) {
    /* A range that was not honoured must not pass for the requested bytes. */
    uint64_t a, b, total;
    int has_total;
    const char *cr = kvlist_get(&x.headers, "Content-Range");
    if (x.status != 206 || !parse_content_range(cr, &a, &b, &total, &has_total)) {
      rc = bad_answer(err, &x, "RangeNotHonored",
                      "ranged GET (%s) answered %ld without a valid Content-Range", range,
                      x.status);
    } else if ((uint64_t)body->len != b - a + 1) {
      rc = bad_answer(err, &x, "IncompleteBody",
                      "ranged GET got %zu bytes for Content-Range %s", body->len, cr);
    }
  }
  if (rc == FERRY_OK) rc = answer_head(s, &x, bucket, key, head, err);
  xfer_release(&x);
  store_req_release(&r);
  return rc;
}

/* Adds caller headers; Content-Length and Content-MD5 are ours to set. */
static void add_extra(store_req_t *r, const kvlist_t *extra) {
  size_t i;
  if (!extra) return;
  for (i = 0; i < extra->n; i++) {
    const char *n = extra->v[i].name;
    if (strcasecmp(n, "Content-Length") == 0 || strcasecmp(n, "Host") == 0) continue;
    kvlist_set(&r->headers, n, extra->v[i].value);
  }
}

static void set_content_length(store_req_t *r, size_t len) {
  char v[32];
  snprintf(v, sizeof(v), "%zu", len);
  kvlist_set(&r->headers, "Content-Length", v);
}

static void set_content_md5(store_req_t *r, const void *data, size_t len) {
  unsigned char md[16];
  fbuf_t b;
  enc_md5(md, data, len);
  fbuf_init(&b, 0);
  enc_b64(&b, md, sizeof(md));
  kvlist_set(&r->headers, "Content-MD5", fbuf_str(&b));
  fbuf_release(&b);
}

ferry_err_t store_put_buf(store_t *s, const char *bucket, const char *key,
                          const void *data, size_t len, const kvlist_t *extra,
                          int content_md5, store_head_t *resp, store_error_t *err) {
  store_req_t r;
  xfer_t x;
  ferry_err_t rc;
  if (resp) {
    memset(resp, 0, sizeof(*resp));
    resp->mtime = -1;
  }
  if (!bucket || !key_ok(key) || (len && !data))
    return local_error(err, FERRY_ERR_INVALID, "put: no bucket, key or data");
  store_req_init(&r, &s->conf, "PUT", bucket, key);
  add_extra(&r, extra);
  set_content_length(&r, len);
  if (content_md5) set_content_md5(&r, data ? data : "", len);
  xfer_init(&x, s);
  rc = perform(s, &r, data ? data : "", (curl_off_t)len, &x, err);
  if (rc == FERRY_OK) rc = answer_head(s, &x, bucket, key, resp, err);
  xfer_release(&x);
  store_req_release(&r);
  return rc;
}

ferry_err_t store_delete(store_t *s, const char *bucket, const char *key,
                         store_error_t *err) {
  store_req_t r;
  xfer_t x;
  ferry_err_t rc;
  if (!bucket || !key_ok(key))
    return local_error(err, FERRY_ERR_INVALID, "delete: no bucket or key");
  store_req_init(&r, &s->conf, "DELETE", bucket, key);
  xfer_init(&x, s);
  rc = perform(s, &r, NULL, -1, &x, err);
  xfer_release(&x);
  store_req_release(&r);
  return rc;
}

ferry_err_t store_mpu_init(store_t *s, const char *bucket, const char *key,
                           const kvlist_t *extra, char **upload_id,
                           store_error_t *err) {
  store_req_t r;
  xfer_t x;
  ferry_err_t rc;
  char eb[FERRY_ERRLEN];
  *upload_id = NULL;
  if (!bucket || !key_ok(key))
    return local_error(err, FERRY_ERR_INVALID, "multipart init: no bucket or key");
  store_req_init(&r, &s->conf, "POST", bucket, key);
  kvlist_add(&r.query, "uploads", "");
  add_extra(&r, extra);
  kvlist_del(&r.headers, "Content-MD5");
  set_content_length(&r, 0);
  xfer_init(&x, s);
  rc = perform(s, &r, "", 0, &x, err);
  if (rc == FERRY_OK &&
      store_xml_parse_initiate(fbuf_str(&x.doc), x.doc.len, upload_id, eb) != FERRY_OK) {
    fx_free(*upload_id);
    *upload_id = NULL;
    rc = bad_answer(err, &x, "MalformedResponse", "InitiateMultipartUpload: %s", eb);
  }
  xfer_release(&x);
  store_req_release(&r);
  return rc;
}

static void add_upload_query(store_req_t *r, int part_number, const char *upload_id) {
  if (part_number > 0) {
    char pn[16];
    snprintf(pn, sizeof(pn), "%d", part_number);
    kvlist_add(&r->query, "partNumber", pn);
  }
  kvlist_add(&r->query, "uploadId", upload_id);
}

ferry_err_t store_mpu_put_part(store_t *s, const char *bucket, const char *key,
                               const char *upload_id, int part_number,
                               const void *data, size_t len, char **etag,
                               store_head_t *resp, store_error_t *err) {
  store_req_t r;
  xfer_t x;
  ferry_err_t rc;
  if (etag) *etag = NULL;
  if (resp) {
    memset(resp, 0, sizeof(*resp));
    resp->mtime = -1;
  }
  if (!bucket || !key_ok(key) || !upload_id || !*upload_id || (len && !data))
    return local_error(err, FERRY_ERR_INVALID, "upload part: missing argument");
  if (part_number < 1 || part_number > 10000)
    return local_error(err, FERRY_ERR_INVALID, "upload part: part number %d not in 1..10000",
                       part_number);
  store_req_init(&r, &s->conf, "PUT", bucket, key);
  add_upload_query(&r, part_number, upload_id);
  set_content_length(&r, len);
  xfer_init(&x, s);
  rc = perform(s, &r, data ? data : "", (curl_off_t)len, &x, err);
  if (rc == FERRY_OK) {
    const char *et = kvlist_get(&x.headers, "ETag");
    if (!et || !*et) {
      rc = bad_answer(err, &x, "MalformedResponse", "UploadPart %d answered without ETag",
                      part_number);
    } else {
      rc = answer_head(s, &x, bucket, key, resp, err);
      if (rc == FERRY_OK && etag) *etag = unquote_etag(et);
    }
  }
  xfer_release(&x);
  store_req_release(&r);
  return rc;
}

void store_mpu_complete_body(fbuf_t *out, const store_part_t *parts, size_t n) {
  size_t i;
  fbuf_adds(out, "<CompleteMultipartUpload>");
  for (i = 0; i < n; i++) {
    char *q = fx_asprintf("\"%s\"", parts[i].etag ? parts[i].etag : "");
    fbuf_addf(out, "<Part><PartNumber>%d</PartNumber><ETag>", parts[i].number);
    store_xml_escape(out, q);
    fbuf_adds(out, "</ETag></Part>");
    fx_free(q);
  }
  fbuf_adds(out, "</CompleteMultipartUpload>");
}

ferry_err_t store_mpu_complete(store_t *s, const char *bucket, const char *key,
                               const char *upload_id, const store_part_t *parts,
                               size_t n, store_head_t *resp, store_error_t *err) {
  store_req_t r;
  xfer_t x;
  ferry_err_t rc, prc;
  fbuf_t body;
  char eb[FERRY_ERRLEN];
  char *etag = NULL;
  size_t i;
  if (resp) {
    memset(resp, 0, sizeof(*resp));
    resp->mtime = -1;
  }
  if (!bucket || !key_ok(key) || !upload_id || !*upload_id || !parts || n == 0)
    return local_error(err, FERRY_ERR_INVALID, "complete: missing argument or no parts");
  for (i = 1; i < n; i++)
    if (parts[i].number <= parts[i - 1].number)
      return local_error(err, FERRY_ERR_INVALID,
                         "complete: part numbers not ascending (%d after %d)",
                         parts[i].number, parts[i - 1].number);
  fbuf_init(&body, 0);
  store_mpu_complete_body(&body, parts, n);
  store_req_init(&r, &s->conf, "POST", bucket, key);
  add_upload_query(&r, 0, upload_id);
  kvlist_add(&r.headers, "Content-Type", "application/xml");
  set_content_length(&r, body.len);
  xfer_init(&x, s);
  rc = perform(s, &r, body.p, (curl_off_t)body.len, &x, err);
  if (rc == FERRY_OK) {
    /* COS may answer 200 at once and report a failed merge inside the body. */
    prc = store_xml_parse_complete(fbuf_str(&x.doc), x.doc.len, &etag, err, eb);
    if (prc == FERRY_ERR_STORE) {
      store_error_from_response(err, (int)x.status, &x.headers, x.doc.p, x.doc.len,
                                CURLE_OK, NULL);
      rc = FERRY_ERR_STORE;
    } else if (prc != FERRY_OK) {
      rc = bad_answer(err, &x, "MalformedResponse", "CompleteMultipartUpload: %s", eb);
    } else if ((rc = answer_head(s, &x, bucket, key, resp, err)) == FERRY_OK && resp) {
      fx_free(resp->etag);
      resp->etag = unquote_etag(etag);
    }
  }
  fx_free(etag);
  xfer_release(&x);
  store_req_release(&r);
  fbuf_release(&body);
  return rc;
}

ferry_err_t store_mpu_abort(store_t *s, const char *bucket, const char *key,
                            const char *upload_id, store_error_t *err) {
  store_req_t r;
  xfer_t x;
  ferry_err_t rc;
  if (!bucket || !key_ok(key) || !upload_id || !*upload_id)
    return local_error(err, FERRY_ERR_INVALID, "abort: missing argument");
  store_req_init(&r, &s->conf, "DELETE", bucket, key);
  add_upload_query(&r, 0, upload_id);
  xfer_init(&x, s);
  rc = perform(s, &r, NULL, -1, &x, err);
  xfer_release(&x);
  store_req_release(&r);
  return rc;
}

ferry_err_t store_mpu_list_parts(store_t *s, const char *bucket, const char *key,
                                 const char *upload_id, store_parts_t *out,
                                 store_error_t *err) {
  store_req_t r;
  xfer_t x;
  ferry_err_t rc;
  char eb[FERRY_ERRLEN];
  memset(out, 0, sizeof(*out));
  if (!bucket || !key_ok(key) || !upload_id || !*upload_id)
    return local_error(err, FERRY_ERR_INVALID, "list parts: missing argument");
  store_req_init(&r, &s->conf, "GET", bucket, key);
  add_upload_query(&r, 0, upload_id);
  kvlist_add(&r.query, "max-parts", "1000");
  xfer_init(&x, s);
  rc = perform(s, &r, NULL, -1, &x, err);
  if (rc == FERRY_OK &&
      store_xml_parse_list_parts(fbuf_str(&x.doc), x.doc.len, out, eb) != FERRY_OK) {
    store_parts_release(out);
    memset(out, 0, sizeof(*out));
    rc = bad_answer(err, &x, "MalformedResponse", "ListParts: %s", eb);
  }
  xfer_release(&x);
  store_req_release(&r);
  return rc;
}

ferry_err_t store_mpu_list_uploads(store_t *s, const char *bucket,
                                   const char *prefix, store_uploads_t *out,
                                   store_error_t *err) {
  store_req_t r;
  xfer_t x;
  ferry_err_t rc;
  char eb[FERRY_ERRLEN];
  memset(out, 0, sizeof(*out));
  if (!bucket || !*bucket) return local_error(err, FERRY_ERR_INVALID, "list uploads: no bucket");
  store_req_init_bucket(&r, &s->conf, "GET", bucket);
  kvlist_add(&r.query, "uploads", "");
  kvlist_add(&r.query, "max-uploads", "1000");
  if (prefix && *prefix) kvlist_add(&r.query, "prefix", prefix);
  xfer_init(&x, s);
  rc = perform(s, &r, NULL, -1, &x, err);
  if (rc == FERRY_OK &&
      store_xml_parse_list_uploads(fbuf_str(&x.doc), x.doc.len, out, eb) != FERRY_OK) {
    store_uploads_release(out);
    memset(out, 0, sizeof(*out));
    rc = bad_answer(err, &x, "MalformedResponse", "ListMultipartUploads: %s", eb);
  }
  xfer_release(&x);
  store_req_release(&r);
  return rc;
}

ferry_err_t store_create_bucket(store_t *s, const char *bucket, store_error_t *err) {
  store_req_t r;
  xfer_t x;
  ferry_err_t rc;
  if (!bucket || !*bucket) return local_error(err, FERRY_ERR_INVALID, "create bucket: no name");
  store_req_init_bucket(&r, &s->conf, "PUT", bucket);
  set_content_length(&r, 0);
  xfer_init(&x, s);
  rc = perform(s, &r, "", 0, &x, err);
  xfer_release(&x);
  store_req_release(&r);
  return rc;
}
