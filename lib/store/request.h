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
  int path_style;      /* set by init: 1 when the bucket is the first path segment */
  int raw_url;         /* set by init for a STORE_HTTP store: the key is the whole URL */
  int empty_key;       /* set by init: an object request was given "" as its key */
} store_req_t;

/* Fills host/scheme from conf (virtual-hosted unless conf->path_style or no
 * bucket). method (upper-cased), bucket and key are copied; an empty bucket
 * counts as NULL. key NULL makes a bucket-level (or service-level) request;
 * an empty key "" is an object request without a key: init sets empty_key
 * and store_req_sign refuses it (an empty key would address the bucket:
 * a PUT would be CreateBucket, a HEAD would be HeadBucket). conf->endpoint is "[scheme://]host[:port][/]"; no scheme
 * means https; a port is kept in host (and so in the Host header). Adds the
 * "Host" header. payload_hash starts as "UNSIGNED-PAYLOAD". Never fails: a
 * missing endpoint gives an empty host, which store_req_sign rejects. */
void store_req_init(store_req_t *r, const store_conf_t *conf, const char *method,
                    const char *bucket, const char *key);
/* For a STORE_HTTP store (URL lists) init differs: the key is a whole
 * "http[s]://host[:port]/path?query" URL, scheme and host come from it, the
 * bucket is ignored, raw_url is set, and store_req_url uses the URL as
 * written (query parameters added to r->query are appended). Signing is
 * SIGN_NONE: nothing is added. */
/* A bucket-level request (list, uploads, create): store_req_init without a
 * key, spelled out so that no object request is built by accident. */
void store_req_init_bucket(store_req_t *r, const store_conf_t *conf, const char *method,
                           const char *bucket);
void store_req_release(store_req_t *r);

/* Builds r->url: scheme://host/[bucket/ if path-style]key-percent-encoded(keep '/')
 * ?query (each name/value percent-encoded, in insertion order; a parameter
 * whose value is "" is written as the bare name, which every dialect accepts).
 * Every byte except A-Z a-z 0-9 - . _ ~ (and '/' in the path) is escaped, so
 * the URL the server decodes is exactly r->key and r->query. The client must
 * set CURLOPT_PATH_AS_IS: libcurl would otherwise squash "/./" and "/../" in
 * keys such as "a/../b", and the signature (computed over the key as is)
 * would no longer match the path the server receives. */
void store_req_url(store_req_t *r);

/* Adds the date headers and Authorization for conf's dialect at time now, and
 * builds r->url. SIGN_NONE only builds the URL. Safe to call again on the same
 * request (a retry): the headers it added before are replaced.
 *   S3V4:   x-amz-date, x-amz-content-sha256 (r->payload_hash),
 *           x-amz-security-token when conf has a session token.
 *   OSS V1: Date and x-oss-date (same RFC 1123 value), x-oss-security-token.
 *   OSS V4: x-oss-date (ISO 8601 basic), x-oss-content-sha256: UNSIGNED-PAYLOAD,
 *           x-oss-security-token; the region is conf->region without a
 *           leading "oss-".
 *   COS:    key time now-60;now+3600, x-cos-security-token (sent, not signed).
 * S3V4 without conf->region signs for "us-east-1"; OSS V4 requires a region.
 * Fails with FERRY_ERR_INVALID (errbuf names the problem) on: no host, an
 * object request with an empty key (empty_key), a bad bucket name (allowed:
 * A-Z a-z 0-9 . _ -), a key longer than the dialect allows (store_key_max), a
 * header name/value with CR, LF or (in names) ':' or spaces, missing
 * credentials for a signing dialect.
 *
 * Headers with an empty value are treated as absent by every dialect:
 * libcurl drops a header given as "Name:", so it never reaches the server. */
ferry_err_t store_req_sign(store_req_t *r, const store_conf_t *conf, time_t now,
                           char *errbuf);

/* --- The signing dialects, exposed for the vector tests. ---------------------
 * Each writes the Authorization header value into out (appended). They sign
 * the headers in r->headers that their dialect signs (below), plus what the
 * dialect requires, which the caller must have added: x-amz-date / x-oss-date
 * / Date. sts_out, when not NULL, receives the string to sign (appended; for
 * tests and debugging). They fail (FERRY_ERR_INVALID) only on NULL
 * credentials or a missing region/key time; they do not validate headers
 * (store_req_sign does).
 *
 * How each dialect treats the key in what it signs:
 *   S3V4:   the wire path, percent-encoded once keeping '/'; "/bucket" first
 *           when path-style.
 *   OSS V1: "/bucket/key" with the key raw (not encoded).
 *   OSS V4: "/bucket/key" percent-encoded keeping '/', whatever the addressing.
 *   COS:    the wire path decoded, i.e. "/" + the raw key ("/" bucket-level).
 * Empty query values: S3V4 and COS sign "name=", OSS V1 and V4 a bare "name". */

/* S3V4 signs every header except authorization, user-agent, expect,
 * transfer-encoding, connection and x-amzn-trace-id (ones libcurl or proxies
 * may add, drop or rewrite). Values are trimmed and inner runs of spaces
 * collapsed. The payload hash is the x-amz-content-sha256 header, else
 * r->payload_hash, else UNSIGNED-PAYLOAD. The timestamp is now. */
ferry_err_t sign_s3v4(const store_req_t *r, const char *ak, const char *sk,
                      const char *region, time_t now, fbuf_t *out, fbuf_t *sts_out);
/* OSS V1 signs Content-MD5, Content-Type, the date (x-oss-date if present,
 * else Date), every x-oss-* header, and the canonical resource with the
 * sub-resources OSS documents (OSS_SUBRESOURCES in request.c; plus every
 * query name starting with "x-oss-", and resourceGroup). */
ferry_err_t sign_oss_v1(const store_req_t *r, const char *ak, const char *sk,
                        fbuf_t *out, fbuf_t *sts_out);
/* additional: ';'-separated header names to sign in addition (may be NULL;
 * lower-cased, de-duplicated, sorted; names signed anyway and names absent
 * from r->headers are dropped); product: "oss" (or "oss-cloudbox"). Signs
 * x-oss-*, content-type, content-md5 and the additional headers; the payload
 * line is the x-oss-content-sha256 header, else UNSIGNED-PAYLOAD. The
 * timestamp (string to sign and scope) is now. */
ferry_err_t sign_oss_v4(const store_req_t *r, const char *ak, const char *sk,
                        const char *region, const char *product,
                        const char *additional, time_t now, fbuf_t *out,
                        fbuf_t *sts_out);
/* key_time: "start;end". Header rule (names case-insensitive): signs host,
 * date, content-type, content-length, content-md5, content-disposition,
 * content-encoding, cache-control, expires, range, if-match, if-none-match,
 * if-modified-since, if-unmodified-since, origin, pic-operations, every
 * x-cos-* header except x-cos-security-token, and every x-ci-* header, when
 * present and non-empty. That is the official SDKs' whitelist (cos_auth.py,
 * util.js) plus date (signed in the documented example COS-1), minus expect
 * and transfer-encoding, which libcurl controls. Query names are lower-cased,
 * then names and values percent-encoded and sorted by encoded name. */
ferry_err_t sign_cos(const store_req_t *r, const char *ak, const char *sk,
                     const char *key_time, fbuf_t *out, fbuf_t *sts_out);

/* --- Intermediates, for tests and debugging (appended to out). ----------- */
/* The S3V4 canonical request (payload hash as in sign_s3v4). */
void sign_s3v4_canonical(const store_req_t *r, fbuf_t *out);
/* The OSS V4 canonical request; additional as in sign_oss_v4. */
void sign_oss_v4_canonical(const store_req_t *r, const char *additional, fbuf_t *out);
/* The OSS V1 canonical resource ("/bucket/key?sub&res=v"). */
void sign_oss_v1_resource(const store_req_t *r, fbuf_t *out);
/* The COS HttpString ("put\n/key\nparams\nheaders\n"). */
void sign_cos_http_string(const store_req_t *r, fbuf_t *out);
/* OSS V4 signing key from SecretKey, "YYYYMMDD", region and product. */
void sign_oss_v4_key(unsigned char out[32], const char *sk, const char *ymd,
                     const char *region, const char *product);
/* COS SignKey: lowercase hex of HMAC-SHA1(sk, key_time). */
void sign_cos_key(fbuf_t *out, const char *sk, const char *key_time);

/* --- Presigned URLs (query authentication). ------------------------------
 * Each adds its auth parameters to r->query (after the ones already there),
 * signs, appends the signature parameter and builds r->url. token (may be
 * NULL) is an STS session token. r should be fresh from store_req_init plus
 * the caller's own query/headers. */
/* AWS: X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders=host,
 * [-Security-Token], then X-Amz-Signature. Only host is signed; the payload
 * is UNSIGNED-PAYLOAD. */
ferry_err_t sign_s3v4_presign(store_req_t *r, const char *ak, const char *sk,
                              const char *token, const char *region, time_t now,
                              long expires_s, fbuf_t *sts_out);
/* OSS V1: [security-token], OSSAccessKeyId, Expires=expires_at, Signature.
 * The date line of the string to sign is expires_at in decimal. */
ferry_err_t sign_oss_v1_presign(store_req_t *r, const char *ak, const char *sk,
                                const char *token, time_t expires_at,
                                fbuf_t *sts_out);
/* OSS V4: x-oss-signature-version, x-oss-date, x-oss-expires,
 * x-oss-credential, [x-oss-additional-headers], [x-oss-security-token], then
 * x-oss-signature. Headers are signed as in sign_oss_v4. */
ferry_err_t sign_oss_v4_presign(store_req_t *r, const char *ak, const char *sk,
                                const char *token, const char *region,
                                const char *product, const char *additional,
                                time_t now, long expires_s, fbuf_t *sts_out);

#endif
