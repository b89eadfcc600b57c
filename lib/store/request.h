/*
 * request.h: pure request building and signing. Inputs -> method, URL,
 * headers; no network. The HTTP client (client.h) turns a built request into
 * a libcurl transfer. Thread-safe (no shared state).
 *
 * Lifecycle:
 *   store_req_t r;
 *   store_req_init(&r, conf, "GET", bucket, key);   // host, path, url base
 *   kvlist_add(&r.query, "list-type", "2");         // decoded names/values
 *   kvlist_add(&r.headers, "Range", "bytes=0-9");
 *   store_req_sign(&r, conf, time(NULL));           // date headers + Authorization
 *   ... use r.url, r.headers ...
 *   store_req_release(&r);
 */
#ifndef FERRY_STORE_REQUEST_H
#define FERRY_STORE_REQUEST_H

#include <time.h>

#include "core/buf.h"
#include "core/kv.h"
#include "store/store.h"

typedef struct store_req {
  char *method;        /* "GET", "PUT", "HEAD", "POST", "DELETE" (owned) */
  char *bucket;        /* NULL for service-level requests (owned) */
  char *key;           /* raw UTF-8 key, NULL for bucket-level (owned) */
  kvlist_t query;      /* decoded query parameters, in insertion order */
  kvlist_t headers;    /* request headers; "Host" is set by init */
  char *host;          /* Host header value, e.g. "bucket.oss-cn-hangzhou.aliyuncs.com" or
                          "127.0.0.1:9000" (owned) */
  char *scheme;        /* "http" or "https" (owned) */
  char *payload_hash;  /* S3V4 x-amz-content-sha256 value; default UNSIGNED-PAYLOAD (owned) */
  char *url;           /* full URL, filled by store_req_sign (or store_req_url) (owned) */
} store_req_t;

/* Fills host/scheme from conf (virtual-hosted unless conf->path_style or no
 * bucket). method/bucket/key are copied. */
void store_req_init(store_req_t *r, const store_conf_t *conf, const char *method,
                    const char *bucket, const char *key);
void store_req_release(store_req_t *r);

/* Builds r->url: scheme://host/[bucket/ if path-style]key-percent-encoded(keep '/')
 * ?query (each name/value percent-encoded, bare name when the value is "" and
 * the dialect writes it bare, in insertion order). */
void store_req_url(store_req_t *r);

/* Adds the date headers and Authorization for conf's dialect at time now, and
 * builds r->url. SIGN_NONE only builds the URL. */
ferry_err_t store_req_sign(store_req_t *r, const store_conf_t *conf, time_t now,
                           char *errbuf);

/* --- The signing dialects, exposed for the vector tests. ---------------------
 * Each writes the Authorization header value into out (appended). They sign
 * exactly the headers in r->headers (plus what the dialect requires, which the
 * caller must have added: x-amz-date / x-oss-date / Date). sts_out, when not
 * NULL, receives the string to sign (for tests and debugging). */
ferry_err_t sign_s3v4(const store_req_t *r, const char *ak, const char *sk,
                      const char *region, time_t now, fbuf_t *out, fbuf_t *sts_out);
ferry_err_t sign_oss_v1(const store_req_t *r, const char *ak, const char *sk,
                        fbuf_t *out, fbuf_t *sts_out);
/* additional: ';'-separated header names to sign in addition (may be NULL);
 * product: "oss" (or "oss-cloudbox"). */
ferry_err_t sign_oss_v4(const store_req_t *r, const char *ak, const char *sk,
                        const char *region, const char *product,
                        const char *additional, time_t now, fbuf_t *out,
                        fbuf_t *sts_out);
/* key_time: "start;end". Signs host, content-length, content-type, content-md5
 * when present, and every x-cos-* header except x-cos-security-token. */
ferry_err_t sign_cos(const store_req_t *r, const char *ak, const char *sk,
                     const char *key_time, fbuf_t *out, fbuf_t *sts_out);

#endif
