/* store.c: store configuration helpers, listed objects, and the typed store
 * error with its retry classification (store_error_classify in store.h). */
#include "store/store.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

/* ------------------------------------------------------------------ conf */

static void secret_release(secret_t *s) {
  if (s->v) {
    /* Wipe before free so the secret does not linger in freed heap. */
    explicit_bzero(s->v, strlen(s->v));
    fx_free(s->v);
  }
  s->v = NULL;
}

void store_conf_release(store_conf_t *c) {
  if (!c) return;
  fx_free(c->name);
  fx_free(c->endpoint);
  fx_free(c->region);
  fx_free(c->connect_to);
  fx_free(c->access_key);
  secret_release(&c->secret_key);
  secret_release(&c->session_token);
  fx_free(c->ca_file);
  memset(c, 0, sizeof(*c));
}

void store_conf_copy(store_conf_t *dst, const store_conf_t *src) {
  *dst = *src; /* scalars */
  dst->name = fx_strdup(src->name);
  dst->endpoint = fx_strdup(src->endpoint);
  dst->region = fx_strdup(src->region);
  dst->connect_to = fx_strdup(src->connect_to);
  dst->access_key = fx_strdup(src->access_key);
  dst->secret_key.v = fx_strdup(src->secret_key.v);
  dst->session_token.v = fx_strdup(src->session_token.v);
  dst->ca_file = fx_strdup(src->ca_file);
}

store_sign_alg_t store_conf_sign(const store_conf_t *c) {
  if (c->sign != SIGN_DEFAULT) return c->sign;
  switch (c->type) {
  case STORE_OSS: return SIGN_OSS_V4;
  case STORE_COS: return SIGN_COS;
  case STORE_S3: return SIGN_S3V4;
  case STORE_HTTP: return SIGN_NONE;
  }
  return SIGN_S3V4;
}

size_t store_key_max(store_type_t t) {
  return t == STORE_S3 || t == STORE_HTTP ? 1024 : 1023;
}

const char *store_type_str(store_type_t t) {
  switch (t) {
  case STORE_S3: return "s3";
  case STORE_OSS: return "oss";
  case STORE_COS: return "cos";
  case STORE_HTTP: return "http";
  }
  return "unknown";
}

int store_type_parse(const char *s, store_type_t *out) {
  static const struct {
    const char *name;
    store_type_t t;
  } tab[] = {{"s3", STORE_S3}, {"oss", STORE_OSS}, {"cos", STORE_COS}, {"http", STORE_HTTP}};
  size_t i;
  if (!s) return -1;
  for (i = 0; i < FERRY_ARRAY_LEN(tab); i++) {
    if (strcasecmp(s, tab[i].name) == 0) {
      if (out) *out = tab[i].t;
      return 0;
    }
  }
  return -1;
}

void store_conf_urls(store_conf_t *out) {
  memset(out, 0, sizeof(*out));
  out->name = fx_strdup(STORE_URLS_NAME);
  out->type = STORE_HTTP;
  out->sign = SIGN_NONE;
}

/* ---------------------------------------------------------------- object */

void store_object_release(store_object_t *o) {
  if (!o) return;
  fx_free(o->key);
  fx_free(o->etag);
  fx_free(o->storage_class);
  memset(o, 0, sizeof(*o));
  o->mtime = -1;
}

/* ----------------------------------------------------------------- error */

void store_error_clear(store_error_t *e) {
  if (e) memset(e, 0, sizeof(*e));
}

/* Service codes that mean "try again", whatever the status says: COS can
 * report an error inside a 200 body, S3 sends RequestTimeout as 400 and
 * RequestTimeTooSkewed as 403 (a re-signed retry carries a fresh date). */
static const char *const RETRY_CODES[] = {
    "RequestTimeout",  "RequestTimeTooSkewed", "SlowDown",
    "InternalError",   "ServiceUnavailable",   "Throttling",
    "ThrottlingException", "RequestLimitExceeded", "TooManyRequests",
    "TotalQpsLimitExceeded", "MetaOperationQpsLimitExceeded",
    "DownloadTrafficRateLimitExceeded", "UploadTrafficRateLimitExceeded",
    /* the body arrived damaged (or its Content-MD5 was wrong): send it again */
    "BadDigest"};

/* Codes that never succeed by repetition, even with a 5xx status. */
static const char *const FATAL_CODES[] = {
    "AccessDenied",  "NoSuchBucket",          "NoSuchKey",
    "NoSuchUpload",  "SignatureDoesNotMatch", "InvalidAccessKeyId",
    "NotImplemented", "InvalidArgument",      "InvalidBucketName",
    "EntityTooLarge", "EntityTooSmall",       "InvalidPart",
    "InvalidPartOrder", "PreconditionFailed", "InvalidRange",
    "ExpiredToken",  "InvalidObjectName",     "KeyTooLong"};

static int code_in(const char *code, const char *const *tab, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (strcmp(code, tab[i]) == 0) return 1;
  return 0;
}

/* Transport failures worth another attempt: the connection broke, timed
 * out, or could not be made (the server may be restarting; DNS may blip).
 * Not retried: bad URL, TLS verification failures, and failures raised by
 * our own callbacks (write/read/abort), whose cause the caller knows. */
static int curl_retryable(int cc) {
  switch ((CURLcode)cc) {
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_CONNECT:
  case CURLE_HTTP2:
  case CURLE_PARTIAL_FILE:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_SEND_FAIL_REWIND: /* a reused connection died mid-upload */
  case CURLE_HTTP2_STREAM:
  case CURLE_HTTP3:
  case CURLE_QUIC_CONNECT_ERROR:
    return 1;
  default:
    return 0;
  }
}

int store_error_is_tls(const store_error_t *e) {
  if (!e || e->http_status != 0) return 0;
  switch ((CURLcode)e->curl_code) {
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
    return 1;
  default:
    return 0;
  }
}

void store_error_classify(store_error_t *e) {
  int st;
  if (!e) return;
  st = e->http_status;
  e->retryable = 0;
  if (st == 0) {
    e->retryable = e->curl_code != 0 && curl_retryable(e->curl_code);
    return;
  }
  if (e->code[0]) {
    if (code_in(e->code, RETRY_CODES, FERRY_ARRAY_LEN(RETRY_CODES))) {
      e->retryable = 1;
      return;
    }
    if (code_in(e->code, FATAL_CODES, FERRY_ARRAY_LEN(FATAL_CODES))) return;
  }
  if (st >= 500 && st != 501) e->retryable = 1;
  else if (st == 408 || st == 429) e->retryable = 1;
  else if (st >= 200 && st < 300 && e->curl_code != 0)
    /* The body broke off after a good status line. */
    e->retryable = curl_retryable(e->curl_code);
}

void store_error_format(const store_error_t *e, char *out, size_t n) {
  size_t o;
  if (!out || n == 0) return;
  out[0] = '\0';
  if (!e) return;
  if (e->http_status == 0) {
    const char *msg = e->message[0] ? e->message
                      : e->curl_code ? curl_easy_strerror((CURLcode)e->curl_code)
                                     : "no response";
    snprintf(out, n, "transport error (curl %d): %s", e->curl_code, msg);
    return;
  }
  snprintf(out, n, "HTTP %d", e->http_status);
  o = strlen(out);
  if (e->code[0] && o < n) snprintf(out + o, n - o, " %s", e->code);
  o = strlen(out);
  if (e->message[0] && o < n) snprintf(out + o, n - o, ": %s", e->message);
  o = strlen(out);
  if (e->request_id[0] && o < n)
    snprintf(out + o, n - o, " (request-id=%s)", e->request_id);
}
