/*
 * store.h: shared types of the object-store client: a store's configuration,
 * the objects it lists, and the typed error every operation returns.
 * Plain data; thread-safe to read once built.
 */
#ifndef FERRY_STORE_H
#define FERRY_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/ferry.h"

typedef enum store_type {
  STORE_S3 = 0,
  STORE_OSS,
  STORE_COS,
  STORE_HTTP  /* plain HTTP(S) for URL-list sources: anonymous, the object key is the
                 whole URL (request.h), no bucket, no listing; read-only */
} store_type_t;

/* The name of the built-in STORE_HTTP store that URL-list segments name as
 * their source ("urls" is reserved in the config for it). */
#define STORE_URLS_NAME "urls"

typedef enum store_sign_alg {
  SIGN_DEFAULT = 0,  /* per type: s3 -> SIGN_S3V4, oss -> SIGN_OSS_V4, cos -> SIGN_COS */
  SIGN_S3V4,
  SIGN_OSS_V1,
  SIGN_OSS_V4,
  SIGN_COS,
  SIGN_NONE          /* anonymous requests (public buckets, tests) */
} store_sign_alg_t;

/* A secret string: never logged, never serialized. Print with "****". */
typedef struct secret {
  char *v;   /* owned; NULL when unset */
} secret_t;

/* One named store from the config (`stores = ( { name = ...; ... } )`). */
typedef struct store_conf {
  char *name;             /* e.g. "oss-hz" */
  store_type_t type;
  char *endpoint;         /* "https://oss-cn-hangzhou.aliyuncs.com", "http://127.0.0.1:9000";
                             no scheme means https */
  char *region;           /* signing region: "cn-hangzhou", "ap-guangzhou", "us-east-1" */
  int path_style;         /* 1: http://endpoint/bucket/key; 0: http://bucket.endpoint/key */
  char *connect_to;       /* optional "ADDR:PORT": connect there whatever the URL host
                             (like curl --connect-to ::ADDR:PORT); NULL = normal DNS */
  store_sign_alg_t sign;
  char *access_key;       /* access key id (not secret, but not logged either) */
  secret_t secret_key;
  secret_t session_token; /* STS / temporary token, optional */
  int insecure;           /* 1: skip TLS verification (explicit config only) */
  char *ca_file;          /* private CA bundle, optional */
  long connect_timeout_ms;/* default 10000 */
  long max_host_conns;    /* cap of connections per host, default 64 */
  int list_api;           /* store_list_api_t: which ListObjects the listers use */
} store_conf_t;

/* ListObjects flavour (store key `list_api`, docs/config.md): V2 (list-type=2,
 * continuation-token / start-after) or V1 (marker). AUTO is V2, falling back
 * to V1 for the rest of a listing when a V2 page does not advance (a store
 * that ignores list-type=2 or start-after): store/listcur.h. */
typedef enum store_list_api { STORE_LIST_AUTO = 0, STORE_LIST_V1, STORE_LIST_V2 } store_list_api_t;

void store_conf_release(store_conf_t *c);
/* Deep copy of src into dst (dst uninitialized). */
void store_conf_copy(store_conf_t *dst, const store_conf_t *src);
/* The effective signing dialect (resolves SIGN_DEFAULT by type). */
store_sign_alg_t store_conf_sign(const store_conf_t *c);
const char *store_type_str(store_type_t t);        /* "s3", "oss", "cos", "http" */
int store_type_parse(const char *s, store_type_t *out);  /* 0 ok, -1 unknown */
/* The longest object key, in bytes, a store of type t accepts: S3 1024
 * (its documented limit), OSS 1023 (OSS documents "less than 1024 bytes"),
 * COS 1023 (COS states no limit: kept at OSS's). STORE_KEY_MAX is the largest of them, for parsers that do not know
 * the dialect. */
#define STORE_KEY_MAX 1024
size_t store_key_max(store_type_t t);

/* Fills out (uninitialized) with the built-in URL store: name
 * STORE_URLS_NAME, type STORE_HTTP, SIGN_NONE, no endpoint. Release it with
 * store_conf_release. */
void store_conf_urls(store_conf_t *out);

/* One listed object. */
typedef struct store_object {
  char *key;            /* raw UTF-8 key (already URL-decoded) */
  uint64_t size;
  char *etag;           /* without quotes */
  time_t mtime;         /* -1 when unknown */
  char *storage_class;  /* as the store names it, may be NULL */
  int has_crc64;
  uint64_t crc64;
} store_object_t;

void store_object_release(store_object_t *o);

/* The typed error of a failed store operation. */
typedef struct store_error {
  int http_status;      /* 0 when no response arrived */
  int curl_code;        /* CURLcode of a transport failure, else 0 */
  char code[64];        /* service code: "SlowDown", "NoSuchKey", ... or "" */
  char message[256];    /* service message or transport error text */
  char request_id[128]; /* x-oss-request-id / x-cos-request-id / x-amz-request-id */
  int retryable;        /* verdict: 1 = try again (with backoff) */
  long retry_after_s;   /* Retry-After header in seconds, 0 if absent */
} store_error_t;

void store_error_clear(store_error_t *e);
/* Sets retryable from status/code/curl_code (the vendors' documented error codes:
 * 5xx, 408, 429, RequestTimeout, RequestTimeTooSkewed, SlowDown, transport
 * resets and timeouts retry; AccessDenied, NoSuchBucket, NoSuchKey,
 * SignatureDoesNotMatch, InvalidAccessKeyId, other 4xx do not). */
void store_error_classify(store_error_t *e);
/* 1 when e is a transport failure of TLS verification (the server's
 * certificate chain or name was not accepted, or ca_file is unusable):
 * never retried, and reported with reason "tls". */
int store_error_is_tls(const store_error_t *e);
/* One line: "HTTP 403 AccessDenied: message (request-id=...)". */
void store_error_format(const store_error_t *e, char *out, size_t n);

/* The host of an endpoint ("https://h:443/x" -> "h"), lower case, into out
 * (n bytes). */
void store_endpoint_host(const char *endpoint, char *out, size_t n);
/* The region a well-known endpoint host names (OSS "oss-cn-hangzhou
 * [-internal].aliyuncs.com", COS "cos[-internal].ap-guangzhou.myqcloud.com"
 * or ".tencentcos.cn"; accelerate endpoints name none), or NULL. A new
 * string. region.c. */
char *store_region_from_endpoint(store_type_t type, const char *endpoint);

#endif
