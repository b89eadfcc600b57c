/*
 * client.h: the object-store client's I/O half (libcurl). Two ways in:
 *
 * 1. store_http_setup() configures a libcurl easy handle for a signed
 *    store_req_t (URL, headers, connect-to override, TLS, timeouts), so the
 *    copy engine can drive it in its own multi loop with its own callbacks.
 * 2. Blocking operations (store_list, store_head, store_get_buf, store_put_buf,
 *    multipart ...) built on (1) with one easy handle per store_t, used by the
 *    lister, the tests and tools. Bodies go through memory (small) or callbacks.
 *
 * A store_t is used by one thread at a time.
 */
#ifndef FERRY_STORE_CLIENT_H
#define FERRY_STORE_CLIENT_H

#include <curl/curl.h>

#include "core/kv.h"
#include "store/request.h"
#include "store/store.h"
#include "store/xml.h"

typedef struct store store_t;

/* New client for conf (deep-copied). NULL with errbuf filled on bad conf
 * (no endpoint, missing credentials or region for its dialect, connect_to
 * not "HOST:PORT"). */
store_t *store_new(const store_conf_t *conf, char *errbuf);
void store_destroy(store_t *s);
const store_conf_t *store_conf(const store_t *s);   /* borrowed */

/* Builds and signs a request for this store at the current time. Only for
 * requests without extra query parameters or headers; otherwise call
 * store_req_init(r, store_conf(s), ...), add them, then
 * store_req_sign(r, store_conf(s), time(NULL), errbuf). */
ferry_err_t store_req_prepare(store_t *s, store_req_t *r, const char *method,
                              const char *bucket, const char *key);

/* Sets URL, method, headers (the returned list must be kept until the
 * transfer ends, then curl_slist_free_all'd), connect-to, TLS verification,
 * timeouts, keep-alive, and NOSIGNAL on easy. Does not set write/read/header
 * callbacks. HEAD sets NOBODY; PUT/POST with body_len >= 0 set UPLOAD /
 * POSTFIELDSIZE_LARGE / INFILESIZE_LARGE accordingly.
 * - The wire carries exactly r->headers: libcurl's own Expect and Accept (and
 *   a POST's form Content-Type) are suppressed; a header with an empty value
 *   is not sent (the signers treat it as absent). Content-Length belongs in
 *   r->headers when the dialect signs it (COS).
 * - PATH_AS_IS is set, so "/./" and "/../" inside keys go out as signed.
 * - A PUT/POST with body_len < 0 sends an empty body. The caller sets
 *   READFUNCTION and also SEEKFUNCTION: libcurl rewinds the body when it
 *   re-sends a request on a fresh connection after a dead keep-alive one.
 * - No low-speed limit, no redirects followed.
 * - The CONNECT_TO list belongs to s: s must outlive the transfer. */
ferry_err_t store_http_setup(store_t *s, CURL *easy, const store_req_t *r,
                             curl_off_t body_len, struct curl_slist **hdrs_out,
                             char *errbuf);

/* Response headers collected by store_hdr_cb (pass a kvlist_t* as
 * CURLOPT_HEADERDATA). Names kept as sent; values trimmed. The list is reset
 * when a new status line arrives (redirects, 100-continue). */
size_t store_hdr_cb(char *buf, size_t size, size_t n, void *kvlist);

/* Fills err from a completed response: status, headers (request id,
 * Retry-After) and an XML error body (may be NULL/empty, e.g. for HEAD), then
 * classifies it. For a transport failure pass status 0 and the CURLcode. */
void store_error_from_response(store_error_t *err, int http_status,
                               const kvlist_t *headers, const char *body,
                               size_t body_len, CURLcode cc,
                               const char *curl_errbuf);

/* For a transport failure (no HTTP status), prefixes err->message with the
 * store's name ("store cos-gz: SSL certificate problem: ..."), and for a TLS
 * verification failure a hint (a private CA goes in ca_file), so that a
 * failed object says which side and why. Other errors are left alone (their
 * service message and request id already identify them). Idempotent. */
void store_error_name_store(store_error_t *err, const store_t *s);

/* Object metadata from a HEAD or GET response. */
typedef struct store_head {
  uint64_t size;
  char *etag;            /* unquoted */
  time_t mtime;
  int has_crc64;
  uint64_t crc64;        /* x-oss-hash-crc64ecma / x-cos-hash-crc64ecma */
  char *content_type;
  kvlist_t meta;         /* user metadata, names without the x-*-meta- prefix, lower case */
  kvlist_t std;          /* Cache-Control, Content-Disposition, Content-Encoding,
                            Content-Language, Expires, when present */
  char *storage_class;   /* NULL when absent (COS omits STANDARD) */
} store_head_t;
/* size: Content-Length, or the object's total from Content-Range for a 206.
 * mtime: -1 when absent. etag: NULL when absent. */

void store_head_release(store_head_t *h);
/* Parses response headers into h (h uninitialized). A header that is
 * present but unreadable is left out (size 0, has_crc64 0): callers that act
 * on sizes or CRCs use store_head_parse, which refuses it. */
void store_head_from_headers(store_head_t *h, store_type_t type,
                             const kvlist_t *headers);
/* store_head_from_headers, then FERRY_ERR_STORE when a header is present but
 * does not hold what it must: Content-Length or a CRC-64 header
 * (x-oss-hash-crc64ecma, x-cos-hash-crc64ecma) that is not an unsigned
 * decimal up to 2^64-1 (negative, empty, junk, overflow), or a
 * Content-Range that is not "bytes A-B/TOTAL" or "bytes A-B/ *". errbuf says
 * which header, its value (escaped, cut) and `what` (the object, e.g.
 * "oss:bucket/key"; borrowed, may be NULL). h is filled (and must be
 * released) either way. An absent header is no error. Thread-safe. */
ferry_err_t store_head_parse(store_head_t *h, store_type_t type, const kvlist_t *headers,
                             const char *what, char errbuf[FERRY_ERRLEN]);

/* --- Blocking operations. All return FERRY_OK, or FERRY_ERR_STORE /
 * FERRY_ERR_HTTP with *err filled (err may not be NULL); a bad argument
 * gives FERRY_ERR_INVALID with err->message saying which (not retryable).
 * A 2xx answer that is not what the operation needs (unparsable XML, an
 * ignored Range, no ETag) is FERRY_ERR_STORE with http_status 2xx and code
 * "MalformedResponse" / "RangeNotHonored" / "IncompleteBody". They do not
 * retry: err->retryable is the caller's verdict. Each request is signed at
 * the time it is sent and runs on the store's one easy handle (keep-alive);
 * a connection moving under 1 byte/s for 120 s is given up. Output structs
 * are zeroed first, so they can be released whatever the result. -------- */

/* One ListObjectsV2 page. prefix/delimiter/start_after/token may be NULL;
 * max_keys 1..1000. Sends encoding-type=url. */
ferry_err_t store_list(store_t *s, const char *bucket, const char *prefix,
                       const char *delimiter, const char *start_after,
                       const char *token, int max_keys, store_list_page_t *out,
                       store_error_t *err);
/* store_list with the ListObjects flavour chosen: STORE_LIST_V1 sends no
 * list-type, `after` as marker and no token; V2 (or AUTO) is store_list,
 * `after` as start-after. The walk's state is store/listcur.h's. */
ferry_err_t store_list_ex(store_t *s, store_list_api_t api, const char *bucket,
                          const char *prefix, const char *delimiter, const char *after,
                          const char *token, int max_keys, store_list_page_t *out,
                          store_error_t *err);
ferry_err_t store_head_object(store_t *s, const char *bucket, const char *key,
                              store_head_t *out, store_error_t *err);
/* GET into memory (cap max_bytes, 0 = none; a larger body fails with
 * FERRY_ERR_HTTP). body is reset first. range may be NULL ("bytes=0-9");
 * with a range the answer must be 206 with a Content-Range matching the
 * bytes received (OSS also gets x-oss-range-behavior: standard). if_match
 * may be NULL; an unquoted ETag is quoted. head receives the response
 * headers (may be NULL). */
ferry_err_t store_get_buf(store_t *s, const char *bucket, const char *key,
                          const char *range, const char *if_match,
                          size_t max_bytes, fbuf_t *body, store_head_t *head,
                          store_error_t *err);
/* PUT from memory. extra: additional request headers (Content-Type,
 * x-*-meta-*, ...), may be NULL. content_md5: add Content-MD5. etag_out and
 * crc_out (may be NULL) from the response. */
ferry_err_t store_put_buf(store_t *s, const char *bucket, const char *key,
                          const void *data, size_t len, const kvlist_t *extra,
                          int content_md5, store_head_t *resp, store_error_t *err);
ferry_err_t store_delete(store_t *s, const char *bucket, const char *key,
                         store_error_t *err);
ferry_err_t store_mpu_init(store_t *s, const char *bucket, const char *key,
                           const kvlist_t *extra, char **upload_id,
                           store_error_t *err);
ferry_err_t store_mpu_put_part(store_t *s, const char *bucket, const char *key,
                               const char *upload_id, int part_number,
                               const void *data, size_t len, char **etag,
                               store_head_t *resp, store_error_t *err);
/* parts must be in ascending part number order. A 200 whose body is an
 * <Error> (COS) is FERRY_ERR_STORE with the error's code; resp->etag is the
 * ETag of the result document. */
ferry_err_t store_mpu_complete(store_t *s, const char *bucket, const char *key,
                               const char *upload_id, const store_part_t *parts,
                               size_t n, store_head_t *resp, store_error_t *err);
ferry_err_t store_mpu_abort(store_t *s, const char *bucket, const char *key,
                            const char *upload_id, store_error_t *err);
/* The first 1000 parts (out->truncated says if there are more). */
ferry_err_t store_mpu_list_parts(store_t *s, const char *bucket, const char *key,
                                 const char *upload_id, store_parts_t *out,
                                 store_error_t *err);
/* The first 1000 uploads under prefix (may be NULL). */
ferry_err_t store_mpu_list_uploads(store_t *s, const char *bucket,
                                   const char *prefix, store_uploads_t *out,
                                   store_error_t *err);
/* The CompleteMultipartUpload XML body. */
void store_mpu_complete_body(fbuf_t *out, const store_part_t *parts, size_t n);
/* Creates a bucket (PUT /bucket); tests and demo only. */
ferry_err_t store_create_bucket(store_t *s, const char *bucket, store_error_t *err);

#endif
