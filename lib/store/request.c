/*
 * request.c: pure request building (host, URL) and the four signing dialects
 * (AWS SigV4, OSS V1, OSS V4, COS), as each vendor documents it; the published
 * vectors are in tests/fixtures/signing_vectors.json (tests/unit/test_sign.c).
 *
 * Every dialect works from the decoded key and query in the store_req_t; the
 * URL is built from the same values by store_req_url, so what is signed and
 * what goes on the wire cannot drift apart.
 */
#include "store/request.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/enc.h"

#define UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

/* ---------------------------------------------------------------- helpers */

static int is_empty(const char *s) { return s == NULL || *s == '\0'; }

static char *lower_dup(const char *s) {
  char *d = fx_strdup(s);
  char *p;
  for (p = d; *p; p++) *p = (char)tolower((unsigned char)*p);
  return d;
}

/* Copy of s without leading/trailing spaces and tabs (HTTP OWS). When
 * collapse, inner runs of spaces/tabs become one space (SigV4 rule). */
static char *trim_dup(const char *s, int collapse) {
  size_t n = strlen(s), i, o = 0;
  char *d;
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
  while (n > 0 && (*s == ' ' || *s == '\t')) s++, n--;
  d = fx_malloc(n + 1);
  for (i = 0; i < n; i++) {
    int sp = s[i] == ' ' || s[i] == '\t';
    if (collapse && sp) {
      if (o > 0 && d[o - 1] == ' ') continue;
      d[o++] = ' ';
    } else {
      d[o++] = s[i];
    }
  }
  d[o] = '\0';
  return d;
}

static void add_hex(fbuf_t *out, const unsigned char *p, size_t n) { enc_hex(out, p, n); }

static void sha256_hex(fbuf_t *out, const char *s, size_t n) {
  unsigned char h[32];
  enc_sha256(h, s, n);
  add_hex(out, h, sizeof(h));
}

/* The path as it goes on the wire ("/", "/key", "/bucket/key" when
 * path-style), encoded (keep '/') or raw. */
static void build_path(const store_req_t *r, fbuf_t *out, int encoded) {
  fbuf_addc(out, '/');
  if (r->path_style && r->bucket) {
    if (encoded)
      enc_pct(out, r->bucket, strlen(r->bucket), 0);
    else
      fbuf_adds(out, r->bucket);
    fbuf_addc(out, '/');
  }
  if (r->key) {
    if (encoded)
      enc_pct(out, r->key, strlen(r->key), 1);
    else
      fbuf_adds(out, r->key);
  }
}

/* A name/value pair prepared for a canonical form; idx keeps the original
 * order of repeated names (qsort is not stable). */
typedef struct pair {
  char *name;
  char *value;
  size_t idx;
} pair_t;

typedef struct pairs {
  pair_t *v;
  size_t n;
} pairs_t;

static void pairs_release(pairs_t *ps) {
  size_t i;
  for (i = 0; i < ps->n; i++) {
    fx_free(ps->v[i].name);
    fx_free(ps->v[i].value);
  }
  fx_free(ps->v);
  ps->v = NULL;
  ps->n = 0;
}

static int pair_cmp_name_idx(const void *a, const void *b) {
  const pair_t *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  if (c) return c;
  return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int pair_cmp_name_value(const void *a, const void *b) {
  const pair_t *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  if (c) return c;
  return strcmp(x->value, y->value);
}

/* Header filter: lname is the lower-cased name. */
typedef int (*hdr_want_fn)(const char *lname, const void *ctx);

/* Collects the wanted, non-empty headers of l as lower-case name / trimmed
 * value, sorted by name, repeated names merged with ','. */
static void collect_headers(const kvlist_t *l, hdr_want_fn want, const void *ctx,
                            int collapse, pairs_t *out) {
  size_t i, o = 0;
  out->v = fx_calloc(l->n ? l->n : 1, sizeof(pair_t));
  out->n = 0;
  for (i = 0; i < l->n; i++) {
    char *lname = lower_dup(l->v[i].name);
    char *val;
    if (!want(lname, ctx)) {
      fx_free(lname);
      continue;
    }
    val = trim_dup(l->v[i].value, collapse);
    if (*val == '\0') { /* libcurl would not send it */
      fx_free(lname);
      fx_free(val);
      continue;
    }
    out->v[out->n].name = lname;
    out->v[out->n].value = val;
    out->v[out->n].idx = i;
    out->n++;
  }
  qsort(out->v, out->n, sizeof(pair_t), pair_cmp_name_idx);
  /* Merge repeated names in place. */
  for (i = 0; i < out->n; i++) {
    if (o > 0 && strcmp(out->v[o - 1].name, out->v[i].name) == 0) {
      char *m = fx_asprintf("%s,%s", out->v[o - 1].value, out->v[i].value);
      fx_free(out->v[o - 1].value);
      out->v[o - 1].value = m;
      fx_free(out->v[i].name);
      fx_free(out->v[i].value);
    } else {
      out->v[o++] = out->v[i];
    }
  }
  out->n = o;
}

/* Query parameters with names/values percent-encoded (names lower-cased
 * first when lower), sorted by encoded name then value. */
static void collect_query_encoded(const kvlist_t *q, int lower, pairs_t *out) {
  size_t i;
  fbuf_t b;
  fbuf_init(&b, 0);
  out->v = fx_calloc(q->n ? q->n : 1, sizeof(pair_t));
  out->n = q->n;
  for (i = 0; i < q->n; i++) {
    char *name = lower ? lower_dup(q->v[i].name) : fx_strdup(q->v[i].name);
    fbuf_reset(&b);
    enc_pct(&b, name, strlen(name), 0);
    out->v[i].name = fx_strdup(fbuf_str(&b));
    fbuf_reset(&b);
    enc_pct(&b, q->v[i].value, strlen(q->v[i].value), 0);
    out->v[i].value = fx_strdup(fbuf_str(&b));
    out->v[i].idx = i;
    fx_free(name);
  }
  fbuf_release(&b);
  qsort(out->v, out->n, sizeof(pair_t), pair_cmp_name_value);
}

/* name=value&... ; an empty value is written "name=" unless bare_empty. */
static void write_query(fbuf_t *out, const pairs_t *ps, int bare_empty) {
  size_t i;
  for (i = 0; i < ps->n; i++) {
    if (i) fbuf_addc(out, '&');
    fbuf_adds(out, ps->v[i].name);
    if (!bare_empty || ps->v[i].value[0]) {
      fbuf_addc(out, '=');
      fbuf_adds(out, ps->v[i].value);
    }
  }
}

static const char *hdr_get(const kvlist_t *l, const char *name) {
  return kvlist_get(l, name);
}

/* ------------------------------------------------------------ init / URL */

void store_req_init(store_req_t *r, const store_conf_t *conf, const char *method,
                    const char *bucket, const char *key) {
  const char *ep = conf && conf->endpoint ? conf->endpoint : "";
  const char *p, *hostpart;
  size_t hlen;
  char *m;

  memset(r, 0, sizeof(*r));
  r->method = fx_strdup(method ? method : "GET");
  for (m = r->method; *m; m++) *m = (char)toupper((unsigned char)*m);
  r->bucket = is_empty(bucket) ? NULL : fx_strdup(bucket);
  r->key = is_empty(key) ? NULL : fx_strdup(key);
  r->empty_key = key != NULL && !*key;
  kvlist_init(&r->query);
  kvlist_init(&r->headers);
  r->payload_hash = fx_strdup(UNSIGNED_PAYLOAD);

  if (conf && conf->type == STORE_HTTP) {
    /* URL lists: the key is the URL; no bucket, no endpoint. */
    r->raw_url = 1;
    fx_free(r->bucket);
    r->bucket = NULL;
    ep = r->key ? r->key : "";
  }
  while (*ep == ' ') ep++;
  p = strstr(ep, "://");
  if (p) {
    r->scheme = lower_dup(ep);
    r->scheme[p - ep] = '\0';
    hostpart = p + 3;
  } else {
    r->scheme = fx_strdup("https");
    hostpart = ep;
  }
  /* The authority ends at the first '/', '?' or space; a path in the
   * endpoint is not supported and ignored. */
  hlen = strcspn(hostpart, "/? \t");

  r->path_style = r->bucket != NULL && conf != NULL && conf->path_style;
  if (r->bucket && !r->path_style)
    r->host = fx_asprintf("%s.%.*s", r->bucket, (int)hlen, hostpart);
  else
    r->host = fx_strndup(hostpart, hlen);
  kvlist_add(&r->headers, "Host", r->host);
}

void store_req_init_bucket(store_req_t *r, const store_conf_t *conf, const char *method,
                           const char *bucket) {
  store_req_init(r, conf, method, bucket, NULL);
}

void store_req_release(store_req_t *r) {
  if (!r) return;
  fx_free(r->method);
  fx_free(r->bucket);
  fx_free(r->key);
  kvlist_release(&r->query);
  kvlist_release(&r->headers);
  fx_free(r->host);
  fx_free(r->scheme);
  fx_free(r->payload_hash);
  fx_free(r->url);
  memset(r, 0, sizeof(*r));
}

void store_req_url(store_req_t *r) {
  fbuf_t b;
  size_t i;
  int has_query = 0;
  fbuf_init(&b, 0);
  if (r->raw_url) {
    fbuf_adds(&b, r->key ? r->key : "");
    has_query = r->key && strchr(r->key, '?') != NULL;
  } else {
    fbuf_addf(&b, "%s://%s", r->scheme ? r->scheme : "https", r->host ? r->host : "");
    build_path(r, &b, 1);
  }
  for (i = 0; i < r->query.n; i++) {
    const kv_t *kv = &r->query.v[i];
    fbuf_addc(&b, i || has_query ? '&' : '?');
    enc_pct(&b, kv->name, strlen(kv->name), 0);
    if (kv->value[0]) {
      fbuf_addc(&b, '=');
      enc_pct(&b, kv->value, strlen(kv->value), 0);
    }
  }
  fx_free(r->url);
  r->url = fbuf_steal(&b);
  fbuf_release(&b);
}

/* ------------------------------------------------------------------ SigV4 */

static const char *const S3_UNSIGNED_HEADERS[] = {
    "authorization", "user-agent", "expect", "transfer-encoding", "connection",
    "x-amzn-trace-id"};

static int s3_want(const char *lname, const void *ctx) {
  size_t i;
  (void)ctx;
  for (i = 0; i < FERRY_ARRAY_LEN(S3_UNSIGNED_HEADERS); i++)
    if (strcmp(lname, S3_UNSIGNED_HEADERS[i]) == 0) return 0;
  return 1;
}

static int s3_want_host(const char *lname, const void *ctx) {
  (void)ctx;
  return strcmp(lname, "host") == 0;
}

/* Canonical request; signed header names go to signed_out when not NULL. */
static void s3_canonical(const store_req_t *r, hdr_want_fn want, const char *payload,
                         fbuf_t *out, fbuf_t *signed_out) {
  pairs_t q, h;
  size_t i;
  fbuf_t sh;
  fbuf_init(&sh, 0);

  fbuf_adds(out, r->method);
  fbuf_addc(out, '\n');
  build_path(r, out, 1);
  fbuf_addc(out, '\n');
  collect_query_encoded(&r->query, 0, &q);
  write_query(out, &q, 0);
  fbuf_addc(out, '\n');
  collect_headers(&r->headers, want, NULL, 1, &h);
  for (i = 0; i < h.n; i++) {
    fbuf_addf(out, "%s:%s\n", h.v[i].name, h.v[i].value);
    if (i) fbuf_addc(&sh, ';');
    fbuf_adds(&sh, h.v[i].name);
  }
  fbuf_addc(out, '\n');
  fbuf_adds(out, fbuf_str(&sh));
  fbuf_addc(out, '\n');
  fbuf_adds(out, payload);
  if (signed_out) fbuf_adds(signed_out, fbuf_str(&sh));
  pairs_release(&q);
  pairs_release(&h);
  fbuf_release(&sh);
}

static const char *s3_payload(const store_req_t *r) {
  const char *p = hdr_get(&r->headers, "x-amz-content-sha256");
  if (!is_empty(p)) return p;
  if (!is_empty(r->payload_hash)) return r->payload_hash;
  return UNSIGNED_PAYLOAD;
}

void sign_s3v4_canonical(const store_req_t *r, fbuf_t *out) {
  char *payload = trim_dup(s3_payload(r), 0);
  s3_canonical(r, s3_want, payload, out, NULL);
  fx_free(payload);
}

/* A V4 signing key (SigV4's and OSS V4's: HMAC chain over the day, the
 * region, the service and a terminator) changes once a day per secret and
 * scope, but took four HMACs on every request: with GET, PUT and a HEAD per
 * small object, a sixth of a worker's CPU. A few keys are kept per thread
 * (the source's and the destination's alternate), wiped when replaced. */
#define KCACHE_N 4
typedef struct kslot {
  char tag[256];            /* prefix, secret, day, region, service; "" free */
  unsigned char k[32];
} kslot_t;
static _Thread_local kslot_t kcache[KCACHE_N];
static _Thread_local unsigned kcache_next;

static void v4_key(unsigned char k[32], const char *prefix, const char *sk, const char *ymd,
                   const char *region, const char *service, const char *term) {
  char tag[sizeof(kcache[0].tag)];
  char *ksecret;
  int n = snprintf(tag, sizeof(tag), "%s\x1f%s\x1f%s\x1f%s\x1f%s", prefix, sk, ymd, region,
                   service);
  unsigned i;
  int cache = n > 0 && (size_t)n < sizeof(tag);
  if (cache)
    for (i = 0; i < KCACHE_N; i++)
      if (kcache[i].tag[0] && strcmp(kcache[i].tag, tag) == 0) {
        memcpy(k, kcache[i].k, 32);
        explicit_bzero(tag, sizeof(tag));
        return;
      }
  ksecret = fx_asprintf("%s%s", prefix, sk);
  enc_hmac_sha256(k, ksecret, strlen(ksecret), ymd, strlen(ymd));
  explicit_bzero(ksecret, strlen(ksecret));
  fx_free(ksecret);
  enc_hmac_sha256(k, k, 32, region, strlen(region));
  enc_hmac_sha256(k, k, 32, service, strlen(service));
  enc_hmac_sha256(k, k, 32, term, strlen(term));
  if (cache) {
    kslot_t *s = &kcache[kcache_next++ % KCACHE_N];
    explicit_bzero(s, sizeof(*s));
    memcpy(s->tag, tag, (size_t)n + 1);
    memcpy(s->k, k, 32);
  }
  explicit_bzero(tag, sizeof(tag));
}

/* Signature over canonical (hex into sig_hex) with the scope of now. */
static void s3_signature(const char *canonical, const char *sk, const char *region,
                         time_t now, fbuf_t *sig_hex, fbuf_t *sts_out) {
  char iso[17], ymd[9];
  unsigned char k[32], s[32];
  fbuf_t sts;
  fbuf_init(&sts, 0);
  enc_time_iso8601_basic(iso, now);
  enc_time_ymd(ymd, now);
  fbuf_addf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/s3/aws4_request\n", iso, ymd, region);
  sha256_hex(&sts, canonical, strlen(canonical));

  v4_key(k, "AWS4", sk, ymd, region, "s3", "aws4_request");
  enc_hmac_sha256(s, k, sizeof(k), sts.p, sts.len);
  explicit_bzero(k, sizeof(k));
  add_hex(sig_hex, s, sizeof(s));
  if (sts_out) fbuf_adds(sts_out, fbuf_str(&sts));
  fbuf_release(&sts);
}

ferry_err_t sign_s3v4(const store_req_t *r, const char *ak, const char *sk,
                      const char *region, time_t now, fbuf_t *out, fbuf_t *sts_out) {
  fbuf_t can, signed_h, sig;
  char ymd[9];
  char *payload;
  if (!r || !ak || !sk || is_empty(region) || !out) return FERRY_ERR_INVALID;
  fbuf_init(&can, 0);
  fbuf_init(&signed_h, 0);
  fbuf_init(&sig, 0);
  payload = trim_dup(s3_payload(r), 0);
  s3_canonical(r, s3_want, payload, &can, &signed_h);
  fx_free(payload);
  s3_signature(fbuf_str(&can), sk, region, now, &sig, sts_out);
  enc_time_ymd(ymd, now);
  fbuf_addf(out,
            "AWS4-HMAC-SHA256 Credential=%s/%s/%s/s3/aws4_request,SignedHeaders=%s,"
            "Signature=%s",
            ak, ymd, region, fbuf_str(&signed_h), fbuf_str(&sig));
  fbuf_release(&can);
  fbuf_release(&signed_h);
  fbuf_release(&sig);
  return FERRY_OK;
}

ferry_err_t sign_s3v4_presign(store_req_t *r, const char *ak, const char *sk,
                              const char *token, const char *region, time_t now,
                              long expires_s, fbuf_t *sts_out) {
  char iso[17], ymd[9], num[32];
  char *cred;
  fbuf_t can, sig;
  if (!r || !ak || !sk || is_empty(region) || expires_s <= 0) return FERRY_ERR_INVALID;
  enc_time_iso8601_basic(iso, now);
  enc_time_ymd(ymd, now);
  cred = fx_asprintf("%s/%s/%s/s3/aws4_request", ak, ymd, region);
  snprintf(num, sizeof(num), "%ld", expires_s);
  kvlist_add(&r->query, "X-Amz-Algorithm", "AWS4-HMAC-SHA256");
  kvlist_add(&r->query, "X-Amz-Credential", cred);
  kvlist_add(&r->query, "X-Amz-Date", iso);
  kvlist_add(&r->query, "X-Amz-Expires", num);
  kvlist_add(&r->query, "X-Amz-SignedHeaders", "host");
  if (!is_empty(token)) kvlist_add(&r->query, "X-Amz-Security-Token", token);
  fx_free(cred);

  fbuf_init(&can, 0);
  fbuf_init(&sig, 0);
  s3_canonical(r, s3_want_host, UNSIGNED_PAYLOAD, &can, NULL);
  s3_signature(fbuf_str(&can), sk, region, now, &sig, sts_out);
  kvlist_add(&r->query, "X-Amz-Signature", fbuf_str(&sig));
  fbuf_release(&can);
  fbuf_release(&sig);
  store_req_url(r);
  return FERRY_OK;
}

/* ----------------------------------------------------------------- OSS V1 */

/* Sub-resources signed in the V1 canonical resource: the union of the
 * list in OSS's signature documentation and the Go v2 / Python SDK lists. Sorted for
 * bsearch (strcmp order). Case matters: "uploadId", not "uploadid". */
static const char *const OSS_SUBRESOURCES[] = {
    "acl", "append", "asyncFetch", "bucketInfo", "callback", "callback-var",
    "cname", "comp", "continuation-token", "cors", "delete", "encryption",
    "endTime", "img", "inventory", "inventoryId", "lifecycle", "live",
    "location", "logging", "objectMeta", "partNumber", "policy", "position",
    "qos", "referer", "replication", "replicationLocation",
    "replicationProgress", "requestPayment", "resourceGroup",
    "response-cache-control", "response-content-disposition",
    "response-content-encoding", "response-content-language",
    "response-content-type", "response-expires", "restore", "security-token",
    "sequential", "startTime", "stat", "status", "style", "styleName",
    "symlink", "tagging", "uploadId", "uploads", "versionId", "versioning",
    "versions", "vod", "website", "worm", "wormExtend", "wormId"};

static int str_cmp_ptr(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int oss_is_subresource(const char *name) {
  if (strncmp(name, "x-oss-", 6) == 0) return 1;
  return bsearch(&name, OSS_SUBRESOURCES, FERRY_ARRAY_LEN(OSS_SUBRESOURCES),
                 sizeof(OSS_SUBRESOURCES[0]), str_cmp_ptr) != NULL;
}

void sign_oss_v1_resource(const store_req_t *r, fbuf_t *out) {
  pairs_t ps;
  size_t i;
  fbuf_addc(out, '/');
  if (r->bucket) {
    fbuf_adds(out, r->bucket);
    fbuf_addc(out, '/');
    if (r->key) fbuf_adds(out, r->key); /* raw: not encoded in V1 */
  }
  ps.v = fx_calloc(r->query.n ? r->query.n : 1, sizeof(pair_t));
  ps.n = 0;
  for (i = 0; i < r->query.n; i++) {
    if (!oss_is_subresource(r->query.v[i].name)) continue;
    ps.v[ps.n].name = fx_strdup(r->query.v[i].name);
    ps.v[ps.n].value = fx_strdup(r->query.v[i].value);
    ps.v[ps.n].idx = i;
    ps.n++;
  }
  qsort(ps.v, ps.n, sizeof(pair_t), pair_cmp_name_value);
  if (ps.n) {
    fbuf_addc(out, '?');
    write_query(out, &ps, 1);
  }
  pairs_release(&ps);
}

static int oss_v1_want(const char *lname, const void *ctx) {
  (void)ctx;
  return strncmp(lname, "x-oss-", 6) == 0;
}

/* The header value trimmed, or "" when absent. */
static char *hdr_trimmed(const kvlist_t *l, const char *name) {
  const char *v = hdr_get(l, name);
  return trim_dup(v ? v : "", 0);
}

/* V1 string to sign; date_line overrides the date (presign: Expires). */
static void oss_v1_sts(const store_req_t *r, const char *date_line, fbuf_t *out) {
  char *md5 = hdr_trimmed(&r->headers, "Content-MD5");
  char *ctype = hdr_trimmed(&r->headers, "Content-Type");
  char *date;
  pairs_t h;
  size_t i;
  if (date_line) {
    date = fx_strdup(date_line);
  } else {
    /* x-oss-date wins over Date (as OSS documents for V1). */
    date = hdr_trimmed(&r->headers, "x-oss-date");
    if (!*date) {
      fx_free(date);
      date = hdr_trimmed(&r->headers, "Date");
    }
  }
  fbuf_addf(out, "%s\n%s\n%s\n%s\n", r->method, md5, ctype, date);
  collect_headers(&r->headers, oss_v1_want, NULL, 0, &h);
  for (i = 0; i < h.n; i++) fbuf_addf(out, "%s:%s\n", h.v[i].name, h.v[i].value);
  sign_oss_v1_resource(r, out);
  pairs_release(&h);
  fx_free(md5);
  fx_free(ctype);
  fx_free(date);
}

static void oss_v1_signature(const char *sts, size_t n, const char *sk, fbuf_t *b64) {
  unsigned char s[20];
  enc_hmac_sha1(s, sk, strlen(sk), sts, n);
  enc_b64(b64, s, sizeof(s));
}

ferry_err_t sign_oss_v1(const store_req_t *r, const char *ak, const char *sk,
                        fbuf_t *out, fbuf_t *sts_out) {
  fbuf_t sts;
  if (!r || !ak || !sk || !out) return FERRY_ERR_INVALID;
  fbuf_init(&sts, 0);
  oss_v1_sts(r, NULL, &sts);
  fbuf_addf(out, "OSS %s:", ak);
  oss_v1_signature(sts.p ? sts.p : "", sts.len, sk, out);
  if (sts_out) fbuf_adds(sts_out, fbuf_str(&sts));
  fbuf_release(&sts);
  return FERRY_OK;
}

ferry_err_t sign_oss_v1_presign(store_req_t *r, const char *ak, const char *sk,
                                const char *token, time_t expires_at,
                                fbuf_t *sts_out) {
  char num[32];
  fbuf_t sts, sig;
  if (!r || !ak || !sk) return FERRY_ERR_INVALID;
  snprintf(num, sizeof(num), "%lld", (long long)expires_at);
  /* security-token is a sub-resource: it must be in the query when signing. */
  if (!is_empty(token)) kvlist_add(&r->query, "security-token", token);
  fbuf_init(&sts, 0);
  fbuf_init(&sig, 0);
  oss_v1_sts(r, num, &sts);
  oss_v1_signature(sts.p ? sts.p : "", sts.len, sk, &sig);
  kvlist_add(&r->query, "OSSAccessKeyId", ak);
  kvlist_add(&r->query, "Expires", num);
  kvlist_add(&r->query, "Signature", fbuf_str(&sig));
  if (sts_out) fbuf_adds(sts_out, fbuf_str(&sts));
  fbuf_release(&sts);
  fbuf_release(&sig);
  store_req_url(r);
  return FERRY_OK;
}

/* ----------------------------------------------------------------- OSS V4 */

static int oss_v4_default_signed(const char *lname) {
  return strncmp(lname, "x-oss-", 6) == 0 || strcmp(lname, "content-type") == 0 ||
         strcmp(lname, "content-md5") == 0;
}

static int has_nonempty_header(const kvlist_t *l, const char *lname) {
  size_t i;
  for (i = 0; i < l->n; i++) {
    if (strcasecmp(l->v[i].name, lname) == 0) {
      char *v = trim_dup(l->v[i].value, 0);
      int ok = *v != '\0';
      fx_free(v);
      if (ok) return 1;
    }
  }
  return 0;
}

/* The effective additional headers: "a;b" lower-case, unique, sorted, without
 * default-signed names and names absent from the request. */
static void oss_v4_additional(const store_req_t *r, const char *additional, fbuf_t *out) {
  char **names;
  size_t n = 0, cap = 0, i;
  const char *p = additional;
  if (is_empty(additional)) return;
  names = NULL;
  while (*p) {
    size_t len = strcspn(p, ";");
    char *raw = fx_strndup(p, len);
    char *t = trim_dup(raw, 0);
    char *ln = lower_dup(t);
    fx_free(raw);
    fx_free(t);
    if (*ln && !oss_v4_default_signed(ln) && has_nonempty_header(&r->headers, ln)) {
      if (n == cap) {
        cap = cap ? cap * 2 : 8;
        names = fx_realloc(names, cap * sizeof(*names));
      }
      names[n++] = ln;
    } else {
      fx_free(ln);
    }
    p += len;
    if (*p == ';') p++;
  }
  if (n) qsort(names, n, sizeof(*names), str_cmp_ptr);
  for (i = 0; i < n; i++) {
    if (i == 0 || strcmp(names[i], names[i - 1]) != 0) {
      if (out->len) fbuf_addc(out, ';');
      fbuf_adds(out, names[i]);
    }
  }
  for (i = 0; i < n; i++) fx_free(names[i]);
  fx_free(names);
}

/* ctx: the effective additional list "a;b" (already filtered). */
static int oss_v4_want(const char *lname, const void *ctx) {
  const char *list = ctx;
  size_t n = strlen(lname);
  const char *p;
  if (oss_v4_default_signed(lname)) return 1;
  for (p = list; p && *p;) {
    size_t len = strcspn(p, ";");
    if (len == n && strncmp(p, lname, n) == 0) return 1;
    p += len;
    if (*p == ';') p++;
  }
  return 0;
}

static void oss_v4_canonical_eff(const store_req_t *r, const char *eff_additional,
                                 fbuf_t *out) {
  pairs_t q, h;
  size_t i;
  fbuf_t uri;
  const char *payload = hdr_get(&r->headers, "x-oss-content-sha256");
  char *pl = trim_dup(payload ? payload : "", 0);

  fbuf_adds(out, r->method);
  fbuf_addc(out, '\n');
  /* "/bucket/key" encoded keeping '/', whatever the addressing style. */
  fbuf_init(&uri, 0);
  fbuf_addc(&uri, '/');
  if (r->bucket) {
    fbuf_adds(&uri, r->bucket);
    fbuf_addc(&uri, '/');
    if (r->key) fbuf_adds(&uri, r->key);
  }
  enc_pct(out, uri.p, uri.len, 1);
  fbuf_release(&uri);
  fbuf_addc(out, '\n');
  collect_query_encoded(&r->query, 0, &q);
  write_query(out, &q, 1);
  fbuf_addc(out, '\n');
  collect_headers(&r->headers, oss_v4_want, eff_additional, 0, &h);
  for (i = 0; i < h.n; i++) fbuf_addf(out, "%s:%s\n", h.v[i].name, h.v[i].value);
  fbuf_addc(out, '\n');
  fbuf_adds(out, eff_additional);
  fbuf_addc(out, '\n');
  fbuf_adds(out, *pl ? pl : UNSIGNED_PAYLOAD);
  fx_free(pl);
  pairs_release(&q);
  pairs_release(&h);
}

void sign_oss_v4_canonical(const store_req_t *r, const char *additional, fbuf_t *out) {
  fbuf_t eff;
  fbuf_init(&eff, 0);
  oss_v4_additional(r, additional, &eff);
  oss_v4_canonical_eff(r, fbuf_str(&eff), out);
  fbuf_release(&eff);
}

void sign_oss_v4_key(unsigned char out[32], const char *sk, const char *ymd,
                     const char *region, const char *product) {
  v4_key(out, "aliyun_v4", sk, ymd, region, product, "aliyun_v4_request");
}

static void oss_v4_signature(const char *canonical, const char *sk, const char *region,
                             const char *product, time_t now, fbuf_t *sig_hex,
                             fbuf_t *sts_out) {
  char iso[17], ymd[9];
  unsigned char k[32], s[32];
  fbuf_t sts;
  fbuf_init(&sts, 0);
  enc_time_iso8601_basic(iso, now);
  enc_time_ymd(ymd, now);
  fbuf_addf(&sts, "OSS4-HMAC-SHA256\n%s\n%s/%s/%s/aliyun_v4_request\n", iso, ymd,
            region, product);
  sha256_hex(&sts, canonical, strlen(canonical));
  sign_oss_v4_key(k, sk, ymd, region, product);
  enc_hmac_sha256(s, k, sizeof(k), sts.p, sts.len);
  explicit_bzero(k, sizeof(k));
  add_hex(sig_hex, s, sizeof(s));
  if (sts_out) fbuf_adds(sts_out, fbuf_str(&sts));
  fbuf_release(&sts);
}

ferry_err_t sign_oss_v4(const store_req_t *r, const char *ak, const char *sk,
                        const char *region, const char *product,
                        const char *additional, time_t now, fbuf_t *out,
                        fbuf_t *sts_out) {
  fbuf_t eff, can, sig;
  char ymd[9];
  if (!r || !ak || !sk || is_empty(region) || !out) return FERRY_ERR_INVALID;
  if (is_empty(product)) product = "oss";
  fbuf_init(&eff, 0);
  fbuf_init(&can, 0);
  fbuf_init(&sig, 0);
  oss_v4_additional(r, additional, &eff);
  oss_v4_canonical_eff(r, fbuf_str(&eff), &can);
  oss_v4_signature(fbuf_str(&can), sk, region, product, now, &sig, sts_out);
  enc_time_ymd(ymd, now);
  fbuf_addf(out, "OSS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aliyun_v4_request,", ak, ymd,
            region, product);
  if (eff.len) fbuf_addf(out, "AdditionalHeaders=%s,", fbuf_str(&eff));
  fbuf_addf(out, "Signature=%s", fbuf_str(&sig));
  fbuf_release(&eff);
  fbuf_release(&can);
  fbuf_release(&sig);
  return FERRY_OK;
}

ferry_err_t sign_oss_v4_presign(store_req_t *r, const char *ak, const char *sk,
                                const char *token, const char *region,
                                const char *product, const char *additional,
                                time_t now, long expires_s, fbuf_t *sts_out) {
  char iso[17], ymd[9], num[32];
  char *cred;
  fbuf_t eff, can, sig;
  if (!r || !ak || !sk || is_empty(region) || expires_s <= 0) return FERRY_ERR_INVALID;
  if (is_empty(product)) product = "oss";
  enc_time_iso8601_basic(iso, now);
  enc_time_ymd(ymd, now);
  snprintf(num, sizeof(num), "%ld", expires_s);
  cred = fx_asprintf("%s/%s/%s/%s/aliyun_v4_request", ak, ymd, region, product);
  fbuf_init(&eff, 0);
  fbuf_init(&can, 0);
  fbuf_init(&sig, 0);
  oss_v4_additional(r, additional, &eff);
  kvlist_add(&r->query, "x-oss-signature-version", "OSS4-HMAC-SHA256");
  kvlist_add(&r->query, "x-oss-date", iso);
  kvlist_add(&r->query, "x-oss-expires", num);
  kvlist_add(&r->query, "x-oss-credential", cred);
  if (eff.len) kvlist_add(&r->query, "x-oss-additional-headers", fbuf_str(&eff));
  if (!is_empty(token)) kvlist_add(&r->query, "x-oss-security-token", token);
  fx_free(cred);
  oss_v4_canonical_eff(r, fbuf_str(&eff), &can);
  oss_v4_signature(fbuf_str(&can), sk, region, product, now, &sig, sts_out);
  kvlist_add(&r->query, "x-oss-signature", fbuf_str(&sig));
  fbuf_release(&eff);
  fbuf_release(&can);
  fbuf_release(&sig);
  store_req_url(r);
  return FERRY_OK;
}

/* -------------------------------------------------------------------- COS */

static const char *const COS_SIGNED_HEADERS[] = {
    "cache-control", "content-disposition", "content-encoding", "content-length",
    "content-md5", "content-type", "date", "expires", "host", "if-match",
    "if-modified-since", "if-none-match", "if-unmodified-since", "origin",
    "pic-operations", "range"};

static int cos_want(const char *lname, const void *ctx) {
  size_t i;
  (void)ctx;
  if (strcmp(lname, "x-cos-security-token") == 0) return 0;
  if (strncmp(lname, "x-cos-", 6) == 0 || strncmp(lname, "x-ci-", 5) == 0) return 1;
  for (i = 0; i < FERRY_ARRAY_LEN(COS_SIGNED_HEADERS); i++)
    if (strcmp(lname, COS_SIGNED_HEADERS[i]) == 0) return 1;
  return 0;
}

/* HttpString, and the ';'-joined header and parameter name lists. */
static void cos_http_string(const store_req_t *r, fbuf_t *out, fbuf_t *hlist,
                            fbuf_t *plist) {
  pairs_t q, h;
  size_t i;
  char *lm = lower_dup(r->method);
  fbuf_adds(out, lm);
  fx_free(lm);
  fbuf_addc(out, '\n');
  build_path(r, out, 0); /* decoded: the raw UTF-8 key */
  fbuf_addc(out, '\n');
  collect_query_encoded(&r->query, 1, &q);
  write_query(out, &q, 0);
  fbuf_addc(out, '\n');
  for (i = 0; i < q.n; i++) {
    if (i) fbuf_addc(plist, ';');
    fbuf_adds(plist, q.v[i].name);
  }
  collect_headers(&r->headers, cos_want, NULL, 0, &h);
  /* Names are tokens, so encoding leaves them alone; values are encoded. */
  for (i = 0; i < h.n; i++) {
    if (i) {
      fbuf_addc(out, '&');
      fbuf_addc(hlist, ';');
    }
    enc_pct(out, h.v[i].name, strlen(h.v[i].name), 0);
    fbuf_addc(out, '=');
    enc_pct(out, h.v[i].value, strlen(h.v[i].value), 0);
    enc_pct(hlist, h.v[i].name, strlen(h.v[i].name), 0);
  }
  fbuf_addc(out, '\n');
  pairs_release(&q);
  pairs_release(&h);
}

void sign_cos_http_string(const store_req_t *r, fbuf_t *out) {
  fbuf_t hl, pl;
  fbuf_init(&hl, 0);
  fbuf_init(&pl, 0);
  cos_http_string(r, out, &hl, &pl);
  fbuf_release(&hl);
  fbuf_release(&pl);
}

void sign_cos_key(fbuf_t *out, const char *sk, const char *key_time) {
  unsigned char k[20];
  enc_hmac_sha1(k, sk, strlen(sk), key_time, strlen(key_time));
  add_hex(out, k, sizeof(k));
  explicit_bzero(k, sizeof(k));
}

ferry_err_t sign_cos(const store_req_t *r, const char *ak, const char *sk,
                     const char *key_time, fbuf_t *out, fbuf_t *sts_out) {
  fbuf_t hs, hl, pl, sts, key;
  unsigned char h[20], s[20];
  if (!r || !ak || !sk || is_empty(key_time) || !out) return FERRY_ERR_INVALID;
  fbuf_init(&hs, 0);
  fbuf_init(&hl, 0);
  fbuf_init(&pl, 0);
  fbuf_init(&sts, 0);
  fbuf_init(&key, 0);
  cos_http_string(r, &hs, &hl, &pl);
  enc_sha1(h, hs.p, hs.len);
  fbuf_addf(&sts, "sha1\n%s\n", key_time);
  add_hex(&sts, h, sizeof(h));
  fbuf_addc(&sts, '\n');
  /* The key of the final HMAC is the SignKey hex string itself. */
  sign_cos_key(&key, sk, key_time);
  enc_hmac_sha1(s, key.p, key.len, sts.p, sts.len);
  explicit_bzero(key.p, key.len);
  fbuf_addf(out,
            "q-sign-algorithm=sha1&q-ak=%s&q-sign-time=%s&q-key-time=%s"
            "&q-header-list=%s&q-url-param-list=%s&q-signature=",
            ak, key_time, key_time, fbuf_str(&hl), fbuf_str(&pl));
  add_hex(out, s, sizeof(s));
  if (sts_out) fbuf_adds(sts_out, fbuf_str(&sts));
  fbuf_release(&hs);
  fbuf_release(&hl);
  fbuf_release(&pl);
  fbuf_release(&sts);
  fbuf_release(&key);
  return FERRY_OK;
}

/* ----------------------------------------------------------- store_req_sign */

static const char *alg_name(store_sign_alg_t a) {
  switch (a) {
  case SIGN_DEFAULT: return "default";
  case SIGN_S3V4: return "s3v4";
  case SIGN_OSS_V1: return "oss-v1";
  case SIGN_OSS_V4: return "oss-v4";
  case SIGN_COS: return "cos";
  case SIGN_NONE: return "none";
  }
  return "?";
}

static ferry_err_t validate(const store_req_t *r, const store_conf_t *conf,
                            char *errbuf) {
  const char *sname = conf && conf->name ? conf->name : "?";
  const char *p;
  size_t i;
  if (is_empty(r->method))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "store '%s': request has no method",
                        sname);
  for (p = r->method; *p; p++)
    if (!isupper((unsigned char)*p))
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "store '%s': bad HTTP method '%.16s'", sname, r->method);
  if (r->empty_key)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "store '%s': %s of an object with an empty key refused (it would "
                        "address the bucket%s%s)",
                        sname, r->method, r->bucket ? " " : "", r->bucket ? r->bucket : "");
  if (r->bucket) {
    size_t n = strlen(r->bucket);
    if (n > 255)
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "store '%s': bucket name longer than 255 bytes", sname);
    for (p = r->bucket; *p; p++)
      if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
        return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                            "store '%s': bad character in bucket name '%.64s'", sname,
                            r->bucket);
  }
  if (r->raw_url && (!r->scheme || (strcmp(r->scheme, "http") && strcmp(r->scheme, "https"))))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "store '%s': not an http:// or https:// URL", sname);
  if (is_empty(r->host))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "store '%s': no endpoint host configured", sname);
  for (p = r->host; *p; p++)
    if ((unsigned char)*p <= ' ' || *p == '/' || *p == '@' || *p == '?' || *p == '#' ||
        *p == '\\')
      return r->raw_url  /* a URL's authority may hold a password: not quoted */
                 ? ferry_seterr(errbuf, FERRY_ERR_INVALID,
                                "store '%s': bad character in the URL's host (user info "
                                "is not allowed)", sname)
                 : ferry_seterr(errbuf, FERRY_ERR_INVALID,
                                "store '%s': bad character in host '%.128s'", sname, r->host);
  if (r->key && !r->raw_url && strlen(r->key) > store_key_max(conf ? conf->type : STORE_S3))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "store '%s': object key is %zu bytes, the %s limit is %zu", sname,
                        strlen(r->key), store_type_str(conf ? conf->type : STORE_S3),
                        store_key_max(conf ? conf->type : STORE_S3));
  for (i = 0; i < r->headers.n; i++) {
    const kv_t *kv = &r->headers.v[i];
    if (kv->name[0] == '\0')
      return ferry_seterr(errbuf, FERRY_ERR_INVALID, "store '%s': empty header name",
                          sname);
    for (p = kv->name; *p; p++)
      if ((unsigned char)*p <= ' ' || *p == ':' || (unsigned char)*p == 0x7f)
        return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                            "store '%s': bad character in header name '%.64s'", sname,
                            kv->name);
    if (strpbrk(kv->value, "\r\n"))
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "store '%s': header '%.64s' has a CR or LF in its value",
                          sname, kv->name);
  }
  return FERRY_OK;
}

static void drop_auth_headers(store_req_t *r) {
  static const char *const added[] = {
      "Authorization",        "x-amz-date",       "x-amz-content-sha256",
      "x-amz-security-token", "x-oss-date",       "x-oss-content-sha256",
      "x-oss-security-token", "x-cos-security-token"};
  size_t i;
  for (i = 0; i < FERRY_ARRAY_LEN(added); i++) kvlist_del(&r->headers, added[i]);
}

ferry_err_t store_req_sign(store_req_t *r, const store_conf_t *conf, time_t now,
                           char *errbuf) {
  store_sign_alg_t alg;
  const char *sname, *ak, *sk, *token, *region;
  ferry_err_t err;
  fbuf_t auth;
  char date[30], iso[17];

  if (!r || !conf) return ferry_seterr(errbuf, FERRY_ERR_INVALID, "no request or store");
  sname = conf->name ? conf->name : "?";
  err = validate(r, conf, errbuf);
  if (err) return err;
  alg = store_conf_sign(conf);
  ak = conf->access_key;
  sk = conf->secret_key.v;
  token = is_empty(conf->session_token.v) ? NULL : conf->session_token.v;
  region = conf->region;

  /* A retry re-signs the same request: drop what an earlier call added (a
   * caller's own Date header stays, except for OSS V1 which sets it). */
  drop_auth_headers(r);
  if (alg != SIGN_NONE && (is_empty(ak) || is_empty(sk)))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "store '%s': access_key and secret_key are required for %s "
                        "signing",
                        sname, alg_name(alg));

  fbuf_init(&auth, 0);
  err = FERRY_OK;
  switch (alg) {
  case SIGN_DEFAULT: /* store_conf_sign resolves it; unreachable */
  case SIGN_NONE:
    break;
  case SIGN_S3V4:
    if (is_empty(region)) region = "us-east-1";
    enc_time_iso8601_basic(iso, now);
    kvlist_add(&r->headers, "x-amz-date", iso);
    kvlist_add(&r->headers, "x-amz-content-sha256",
               is_empty(r->payload_hash) ? UNSIGNED_PAYLOAD : r->payload_hash);
    if (token) kvlist_add(&r->headers, "x-amz-security-token", token);
    err = sign_s3v4(r, ak, sk, region, now, &auth, NULL);
    break;
  case SIGN_OSS_V1:
    enc_time_rfc1123(date, now);
    kvlist_set(&r->headers, "Date", date);
    kvlist_add(&r->headers, "x-oss-date", date);
    if (token) kvlist_add(&r->headers, "x-oss-security-token", token);
    err = sign_oss_v1(r, ak, sk, &auth, NULL);
    break;
  case SIGN_OSS_V4: {
    if (is_empty(region)) {
      fbuf_release(&auth);
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "store '%s': region is required for oss-v4 signing", sname);
    }
    /* V4 signs with the region id ("cn-hangzhou"), not "oss-cn-hangzhou". */
    if (strncmp(region, "oss-", 4) == 0 && region[4]) region += 4;
    enc_time_iso8601_basic(iso, now);
    kvlist_add(&r->headers, "x-oss-date", iso);
    kvlist_add(&r->headers, "x-oss-content-sha256", UNSIGNED_PAYLOAD);
    if (token) kvlist_add(&r->headers, "x-oss-security-token", token);
    err = sign_oss_v4(r, ak, sk, region, "oss", NULL, now, &auth, NULL);
    break;
  }
  case SIGN_COS: {
    char kt[64];
    snprintf(kt, sizeof(kt), "%lld;%lld", (long long)now - 60, (long long)now + 3600);
    /* Sent but not signed (cos_want excludes it). */
    if (token) kvlist_add(&r->headers, "x-cos-security-token", token);
    err = sign_cos(r, ak, sk, kt, &auth, NULL);
    break;
  }
  }
  if (err) {
    fbuf_release(&auth);
    return ferry_seterr(errbuf, err, "store '%s': %s signing failed", sname,
                        alg_name(alg));
  }
  if (auth.len) kvlist_add(&r->headers, "Authorization", fbuf_str(&auth));
  fbuf_release(&auth);
  store_req_url(r);
  return FERRY_OK;
}
