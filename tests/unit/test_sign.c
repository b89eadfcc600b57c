/*
 * Unit tests for lib/store/request.c: every vendor-published signing vector
 * (OSS V1 and V4, COS, AWS SigV4), read from tests/fixtures/signing_vectors.json,
 * plus URL building and store_req_sign behaviour (odd keys, addressing,
 * ports, re-signing, validation).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/enc.h"
#include "core/kv.h"
#include "store/request.h"
#include "store/store.h"

static json_t *g_vectors;

static int load_vectors(void **state) {
  json_error_t jerr;
  (void)state;
  g_vectors = json_load_file(FIXTURES_DIR "/signing_vectors.json", 0, &jerr);
  if (!g_vectors) {
    print_error("cannot load signing_vectors.json: %s (line %d)\n", jerr.text, jerr.line);
    return -1;
  }
  return 0;
}

static int free_vectors(void **state) {
  (void)state;
  json_decref(g_vectors);
  g_vectors = NULL;
  return 0;
}

/* ------------------------------------------------------------- helpers */

static const char *jstr(const json_t *v, const char *name) {
  const json_t *s = json_object_get(v, name);
  return json_is_string(s) ? json_string_value(s) : NULL;
}

static long long jint(const json_t *v, const char *name) {
  const json_t *s = json_object_get(v, name);
  assert_true(json_is_integer(s));
  return (long long)json_integer_value(s);
}

static json_t *group(const char *name) {
  json_t *g = json_object_get(g_vectors, name);
  assert_true(json_is_array(g));
  assert_true(json_array_size(g) > 0);
  return g;
}

/* Compares and names the vector on a mismatch. */
static void check_str(const char *id, const char *what, const char *got, const char *want) {
  if (strcmp(got, want) != 0) {
    print_error("%s: %s differs\n  got:  [%s]\n  want: [%s]\n", id, what, got, want);
    fail();
  }
}

static int in_list(const char *name, const char *const *skip) {
  for (; skip && *skip; skip++)
    if (strcasecmp(name, *skip) == 0) return 1;
  return 0;
}

static void conf_init(store_conf_t *c, store_type_t type, store_sign_alg_t alg,
                      const char *endpoint, const char *region, const char *ak,
                      const char *sk) {
  memset(c, 0, sizeof(*c));
  c->name = "test";
  c->type = type;
  c->sign = alg;
  c->endpoint = (char *)endpoint;
  c->region = (char *)region;
  c->access_key = (char *)ak;
  c->secret_key.v = (char *)sk;
}

/* Builds the request of vector v: virtual-hosted on v.endpoint, with its
 * headers (minus those named in skip) and query. */
static void build_req(store_req_t *r, const json_t *v, const char *const *skip) {
  store_conf_t c;
  size_t i;
  json_t *pair;
  conf_init(&c, STORE_S3, SIGN_DEFAULT, jstr(v, "endpoint"), NULL, NULL, NULL);
  const char *key = jstr(v, "key");
  /* "" in the vectors is a bucket-level request (ListObjects). */
  store_req_init(r, &c, jstr(v, "method"), jstr(v, "bucket"), key && *key ? key : NULL);
  json_array_foreach(json_object_get(v, "headers"), i, pair) {
    const char *n = json_string_value(json_array_get(pair, 0));
    if (!in_list(n, skip)) kvlist_add(&r->headers, n, json_string_value(json_array_get(pair, 1)));
  }
  json_array_foreach(json_object_get(v, "query"), i, pair) {
    kvlist_add(&r->query, json_string_value(json_array_get(pair, 0)),
               json_string_value(json_array_get(pair, 1)));
  }
}

static const char *last_line(const char *s) {
  const char *p = strrchr(s, '\n');
  return p ? p + 1 : s;
}

/* Line i (0-based) of s, into out. */
static void nth_line(const char *s, int i, fbuf_t *out) {
  while (i-- > 0) {
    s = strchr(s, '\n');
    assert_non_null(s);
    s++;
  }
  fbuf_add(out, s, strcspn(s, "\n"));
}

static void check_url_has(const char *id, const json_t *v, const char *url) {
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(v, "url_has"), i, s) {
    if (!strstr(url, json_string_value(s))) {
      print_error("%s: URL %s lacks %s\n", id, url, json_string_value(s));
      fail();
    }
  }
}

/* Runs store_req_sign for a vector that an SDK produced with its own date
 * headers: the request without them, signed at v.via_sign.now, must carry
 * the same Authorization. */
static void check_via_sign(const json_t *v, store_type_t type, store_sign_alg_t alg,
                           const char *const *skip) {
  const json_t *vs = json_object_get(v, "via_sign");
  const char *id = jstr(v, "id");
  store_conf_t c;
  store_req_t r;
  char errbuf[FERRY_ERRLEN];
  const char *payload = NULL;
  size_t i;
  json_t *pair;
  if (!vs) return;
  conf_init(&c, type, alg, jstr(v, "endpoint"), jstr(vs, "region"), jstr(v, "ak"),
            jstr(v, "sk"));
  build_req(&r, v, skip);
  json_array_foreach(json_object_get(v, "headers"), i, pair) {
    if (strcasecmp(json_string_value(json_array_get(pair, 0)), "x-amz-content-sha256") == 0)
      payload = json_string_value(json_array_get(pair, 1));
  }
  if (payload) {
    fx_free(r.payload_hash);
    r.payload_hash = fx_strdup(payload);
  }
  assert_int_equal(store_req_sign(&r, &c, (time_t)jint(vs, "now"), errbuf), FERRY_OK);
  assert_non_null(kvlist_get(&r.headers, "Authorization"));
  check_str(id, "Authorization via store_req_sign", kvlist_get(&r.headers, "Authorization"),
            jstr(v, "auth"));
  assert_non_null(r.url);
  if (jstr(v, "url")) check_str(id, "URL via store_req_sign", r.url, jstr(v, "url"));
  store_req_release(&r);
}

/* ---------------------------------------------------------------- OSS V1 */

static void test_oss_v1_vectors(void **state) {
  static const char *const added[] = {"Date", "x-oss-date", NULL};
  json_t *g = group("oss_v1"), *v;
  size_t i;
  (void)state;
  json_array_foreach(g, i, v) {
    const char *id = jstr(v, "id");
    store_req_t r;
    fbuf_t auth, sts, res;
    fbuf_init(&auth, 0);
    fbuf_init(&sts, 0);
    fbuf_init(&res, 0);
    build_req(&r, v, NULL);
    assert_int_equal(sign_oss_v1(&r, jstr(v, "ak"), jstr(v, "sk"), &auth, &sts), FERRY_OK);
    if (jstr(v, "sts")) check_str(id, "string to sign", fbuf_str(&sts), jstr(v, "sts"));
    if (jstr(v, "resource")) {
      sign_oss_v1_resource(&r, &res);
      check_str(id, "canonical resource", fbuf_str(&res), jstr(v, "resource"));
      assert_non_null(strstr(fbuf_str(&sts), jstr(v, "resource")));
    }
    check_str(id, "Authorization", fbuf_str(&auth), jstr(v, "auth"));
    if (jstr(v, "url")) {
      store_req_url(&r);
      check_str(id, "URL", r.url, jstr(v, "url"));
    }
    store_req_release(&r);
    fbuf_release(&auth);
    fbuf_release(&sts);
    fbuf_release(&res);
    check_via_sign(v, STORE_OSS, SIGN_OSS_V1, added);
  }
}

static void test_oss_v1_presign_vectors(void **state) {
  json_t *g = group("oss_v1_presign"), *v;
  size_t i;
  (void)state;
  json_array_foreach(g, i, v) {
    const char *id = jstr(v, "id");
    store_req_t r;
    fbuf_t sts;
    fbuf_init(&sts, 0);
    build_req(&r, v, NULL);
    assert_int_equal(sign_oss_v1_presign(&r, jstr(v, "ak"), jstr(v, "sk"), jstr(v, "token"),
                                         (time_t)jint(v, "expires"), &sts),
                     FERRY_OK);
    check_str(id, "string to sign", fbuf_str(&sts), jstr(v, "sts"));
    assert_non_null(kvlist_get(&r.query, "Signature"));
    check_str(id, "Signature", kvlist_get(&r.query, "Signature"), jstr(v, "signature"));
    assert_non_null(r.url);
    check_url_has(id, v, r.url);
    store_req_release(&r);
    fbuf_release(&sts);
  }
}

/* ---------------------------------------------------------------- OSS V4 */

static void test_oss_v4_keys(void **state) {
  json_t *g = group("oss_v4_keys"), *v;
  size_t i;
  (void)state;
  json_array_foreach(g, i, v) {
    unsigned char k[32];
    fbuf_t hex;
    fbuf_init(&hex, 0);
    sign_oss_v4_key(k, jstr(v, "sk"), jstr(v, "ymd"), jstr(v, "region"), jstr(v, "product"));
    enc_hex(&hex, k, sizeof(k));
    check_str(jstr(v, "ymd"), "signing key", fbuf_str(&hex), jstr(v, "key"));
    fbuf_release(&hex);
  }
}

/* The signing keys are kept per thread (four at a time): a key served from
 * there is the one the HMAC chain gives, for each of more secrets and days
 * than it holds, in any order, and the official vectors above pass whether
 * they hit it or not (they run twice). */
static void ref_key(unsigned char k[32], const char *sk, const char *ymd, const char *region) {
  char ks[128];
  snprintf(ks, sizeof(ks), "aliyun_v4%s", sk);
  enc_hmac_sha256(k, ks, strlen(ks), ymd, strlen(ymd));
  enc_hmac_sha256(k, k, 32, region, strlen(region));
  enc_hmac_sha256(k, k, 32, "oss", 3);
  enc_hmac_sha256(k, k, 32, "aliyun_v4_request", 17);
}

static void test_v4_key_cache(void **state) {
  static const char *const sks[] = {"sk-a", "sk-b", "sk-c", "sk-d", "sk-e", "sk-a\x1fx"};
  static const char *const days[] = {"20261207", "20261208"};
  int round, i, d;
  (void)state;
  for (round = 0; round < 3; round++)
    for (i = 0; i < 6; i++)
      for (d = 0; d < 2; d++) {
        int si = round == 1 ? 5 - i : i;
        unsigned char got[32], want[32];
        sign_oss_v4_key(got, sks[si], days[d], "cn-hangzhou", "oss");
        ref_key(want, sks[si], days[d], "cn-hangzhou");
        assert_memory_equal(got, want, 32);
      }
  test_oss_v4_keys(state);
  test_oss_v4_keys(state);
}

static void test_oss_v4_vectors(void **state) {
  static const char *const added[] = {"x-oss-date", "x-oss-content-sha256", NULL};
  json_t *g = group("oss_v4"), *v;
  size_t i;
  (void)state;
  json_array_foreach(g, i, v) {
    const char *id = jstr(v, "id");
    store_req_t r;
    fbuf_t auth, sts, can, h;
    fbuf_init(&auth, 0);
    fbuf_init(&sts, 0);
    fbuf_init(&can, 0);
    fbuf_init(&h, 0);
    build_req(&r, v, NULL);
    sign_oss_v4_canonical(&r, jstr(v, "additional"), &can);
    if (jstr(v, "canonical"))
      check_str(id, "canonical request", fbuf_str(&can), jstr(v, "canonical"));
    assert_int_equal(sign_oss_v4(&r, jstr(v, "ak"), jstr(v, "sk"), jstr(v, "region"),
                                 jstr(v, "product"), jstr(v, "additional"),
                                 (time_t)jint(v, "now"), &auth, &sts),
                     FERRY_OK);
    if (jstr(v, "sts")) check_str(id, "string to sign", fbuf_str(&sts), jstr(v, "sts"));
    /* The hash line of the string to sign is the canonical request's hash. */
    {
      unsigned char d[32];
      enc_sha256(d, can.p, can.len);
      enc_hex(&h, d, sizeof(d));
      check_str(id, "hash line", last_line(fbuf_str(&sts)), fbuf_str(&h));
    }
    if (jstr(v, "sts_hash"))
      check_str(id, "hash line", last_line(fbuf_str(&sts)), jstr(v, "sts_hash"));
    check_str(id, "Authorization", fbuf_str(&auth), jstr(v, "auth"));
    store_req_release(&r);
    fbuf_release(&auth);
    fbuf_release(&sts);
    fbuf_release(&can);
    fbuf_release(&h);
    check_via_sign(v, STORE_OSS, SIGN_OSS_V4, added);
  }
}

static void test_oss_v4_presign_vectors(void **state) {
  json_t *g = group("oss_v4_presign"), *v;
  size_t i;
  (void)state;
  json_array_foreach(g, i, v) {
    const char *id = jstr(v, "id");
    store_req_t r;
    fbuf_t sts;
    fbuf_init(&sts, 0);
    build_req(&r, v, NULL);
    assert_int_equal(sign_oss_v4_presign(&r, jstr(v, "ak"), jstr(v, "sk"), jstr(v, "token"),
                                         jstr(v, "region"), jstr(v, "product"),
                                         jstr(v, "additional"), (time_t)jint(v, "now"),
                                         (long)jint(v, "expires"), &sts),
                     FERRY_OK);
    assert_non_null(kvlist_get(&r.query, "x-oss-signature"));
    check_str(id, "x-oss-signature", kvlist_get(&r.query, "x-oss-signature"),
              jstr(v, "signature"));
    check_url_has(id, v, r.url);
    store_req_release(&r);
    fbuf_release(&sts);
  }
}

/* ------------------------------------------------------------------- COS */

static void test_cos_vectors(void **state) {
  json_t *g = group("cos"), *v;
  size_t i;
  (void)state;
  json_array_foreach(g, i, v) {
    const char *id = jstr(v, "id");
    store_req_t r;
    fbuf_t auth, sts, hs, key;
    fbuf_init(&auth, 0);
    fbuf_init(&sts, 0);
    fbuf_init(&hs, 0);
    fbuf_init(&key, 0);
    build_req(&r, v, NULL);
    sign_cos_http_string(&r, &hs);
    if (jstr(v, "http_string"))
      check_str(id, "HttpString", fbuf_str(&hs), jstr(v, "http_string"));
    if (jstr(v, "http_headers")) {
      fbuf_t line;
      fbuf_init(&line, 0);
      nth_line(fbuf_str(&hs), 3, &line);
      check_str(id, "HttpHeaders", fbuf_str(&line), jstr(v, "http_headers"));
      fbuf_release(&line);
    }
    if (jstr(v, "http_parameters")) {
      fbuf_t line;
      fbuf_init(&line, 0);
      nth_line(fbuf_str(&hs), 2, &line);
      check_str(id, "HttpParameters", fbuf_str(&line), jstr(v, "http_parameters"));
      fbuf_release(&line);
    }
    if (jstr(v, "sign_key")) {
      sign_cos_key(&key, jstr(v, "sk"), jstr(v, "key_time"));
      check_str(id, "SignKey", fbuf_str(&key), jstr(v, "sign_key"));
    }
    assert_int_equal(sign_cos(&r, jstr(v, "ak"), jstr(v, "sk"), jstr(v, "key_time"), &auth,
                              &sts),
                     FERRY_OK);
    if (jstr(v, "sts")) check_str(id, "string to sign", fbuf_str(&sts), jstr(v, "sts"));
    check_str(id, "Authorization", fbuf_str(&auth), jstr(v, "auth"));
    store_req_release(&r);
    fbuf_release(&auth);
    fbuf_release(&sts);
    fbuf_release(&hs);
    fbuf_release(&key);
  }
}

/* ------------------------------------------------------------------ SigV4 */

static void test_s3v4_vectors(void **state) {
  static const char *const added[] = {"x-amz-date", "x-amz-content-sha256", NULL};
  json_t *g = group("s3v4"), *v;
  size_t i;
  (void)state;
  json_array_foreach(g, i, v) {
    const char *id = jstr(v, "id");
    store_req_t r;
    fbuf_t auth, sts, can, line, h;
    unsigned char d[32];
    fbuf_init(&auth, 0);
    fbuf_init(&sts, 0);
    fbuf_init(&can, 0);
    fbuf_init(&line, 0);
    fbuf_init(&h, 0);
    build_req(&r, v, NULL);
    sign_s3v4_canonical(&r, &can);
    if (jstr(v, "canonical"))
      check_str(id, "canonical request", fbuf_str(&can), jstr(v, "canonical"));
    if (jstr(v, "canonical_uri")) {
      nth_line(fbuf_str(&can), 1, &line);
      check_str(id, "canonical URI", fbuf_str(&line), jstr(v, "canonical_uri"));
      fbuf_reset(&line);
    }
    if (jstr(v, "canonical_query")) {
      nth_line(fbuf_str(&can), 2, &line);
      check_str(id, "canonical query", fbuf_str(&line), jstr(v, "canonical_query"));
    }
    assert_int_equal(sign_s3v4(&r, jstr(v, "ak"), jstr(v, "sk"), jstr(v, "region"),
                               (time_t)jint(v, "now"), &auth, &sts),
                     FERRY_OK);
    enc_sha256(d, can.p, can.len);
    enc_hex(&h, d, sizeof(d));
    check_str(id, "hash line", last_line(fbuf_str(&sts)), fbuf_str(&h));
    if (jstr(v, "sts_hash"))
      check_str(id, "hash line", last_line(fbuf_str(&sts)), jstr(v, "sts_hash"));
    check_str(id, "Authorization", fbuf_str(&auth), jstr(v, "auth"));
    store_req_release(&r);
    fbuf_release(&auth);
    fbuf_release(&sts);
    fbuf_release(&can);
    fbuf_release(&line);
    fbuf_release(&h);
    check_via_sign(v, STORE_S3, SIGN_S3V4, added);
  }
}

static void test_s3v4_presign_vectors(void **state) {
  json_t *g = group("s3v4_presign"), *v;
  size_t i;
  (void)state;
  json_array_foreach(g, i, v) {
    const char *id = jstr(v, "id");
    store_req_t r;
    build_req(&r, v, NULL);
    assert_int_equal(sign_s3v4_presign(&r, jstr(v, "ak"), jstr(v, "sk"), jstr(v, "token"),
                                       jstr(v, "region"), (time_t)jint(v, "now"),
                                       (long)jint(v, "expires"), NULL),
                     FERRY_OK);
    assert_non_null(kvlist_get(&r.query, "X-Amz-Signature"));
    check_str(id, "X-Amz-Signature", kvlist_get(&r.query, "X-Amz-Signature"),
              jstr(v, "signature"));
    check_url_has(id, v, r.url);
    store_req_release(&r);
  }
}

/* ------------------------------------------------------- URLs and keys */

static void test_url_addressing(void **state) {
  store_conf_t c;
  store_req_t r;
  (void)state;

  /* Virtual-hosted, no scheme: https. */
  conf_init(&c, STORE_OSS, SIGN_DEFAULT, "oss-cn-hangzhou.aliyuncs.com", NULL, NULL, NULL);
  store_req_init(&r, &c, "get", "bkt", "a/b.txt");
  assert_string_equal(r.method, "GET");
  assert_string_equal(r.scheme, "https");
  assert_string_equal(r.host, "bkt.oss-cn-hangzhou.aliyuncs.com");
  assert_string_equal(kvlist_get(&r.headers, "Host"), "bkt.oss-cn-hangzhou.aliyuncs.com");
  assert_false(r.path_style);
  store_req_url(&r);
  assert_string_equal(r.url, "https://bkt.oss-cn-hangzhou.aliyuncs.com/a/b.txt");
  store_req_release(&r);

  /* Path style with a port and a trailing slash. */
  conf_init(&c, STORE_S3, SIGN_DEFAULT, "http://127.0.0.1:9000/", NULL, NULL, NULL);
  c.path_style = 1;
  store_req_init(&r, &c, "PUT", "bkt", "k");
  assert_string_equal(r.scheme, "http");
  assert_string_equal(r.host, "127.0.0.1:9000");
  assert_true(r.path_style);
  kvlist_add(&r.query, "partNumber", "3");
  kvlist_add(&r.query, "uploadId", "a/b+c=");
  store_req_url(&r);
  assert_string_equal(r.url, "http://127.0.0.1:9000/bkt/k?partNumber=3&uploadId=a%2Fb%2Bc%3D");
  store_req_release(&r);

  /* Path style, bucket-level; bare query name. */
  store_req_init(&r, &c, "GET", "bkt", NULL);
  kvlist_add(&r.query, "uploads", NULL);
  store_req_url(&r);
  assert_string_equal(r.url, "http://127.0.0.1:9000/bkt/?uploads");
  store_req_release(&r);

  /* Virtual-hosted keeps the port after the bucket; scheme case-folded. */
  conf_init(&c, STORE_S3, SIGN_DEFAULT, "HTTP://s3.local:8080", NULL, NULL, NULL);
  store_req_init_bucket(&r, &c, "GET", "b");
  assert_string_equal(r.host, "b.s3.local:8080");
  assert_null(r.key);
  store_req_url(&r);
  assert_string_equal(r.url, "http://b.s3.local:8080/");
  store_req_release(&r);

  /* Service level: no bucket, no key. */
  store_req_init(&r, &c, "GET", NULL, NULL);
  assert_string_equal(r.host, "s3.local:8080");
  assert_false(r.path_style);
  store_req_url(&r);
  assert_string_equal(r.url, "http://s3.local:8080/");
  store_req_release(&r);
}

/* Every byte 1..255 in a key: the URL decodes back to it exactly, and each
 * dialect's view of the key agrees with the wire. */
static void test_odd_keys_roundtrip(void **state) {
  static const char *const keys[] = {
      "a b+c%20d#e?f&g=h;i", "dir//x/./y/../z", "\xe8\x85\xbe\xe8\xae\xaf/\xe6\xb5\x8b",
      "tab\there\nnl\rcr\x01\x7f", "~!*'()[]{}$,:@|\\^`\"<>", "/leading", "trailing/"};
  char all[256];
  size_t i, k;
  store_conf_t c;
  (void)state;
  for (i = 1; i < 256; i++) all[i - 1] = (char)i;
  all[255] = '\0';
  conf_init(&c, STORE_S3, SIGN_DEFAULT, "http://127.0.0.1:9000", NULL, NULL, NULL);
  for (k = 0; k <= FERRY_ARRAY_LEN(keys); k++) {
    const char *key = k < FERRY_ARRAY_LEN(keys) ? keys[k] : all;
    int ps;
    for (ps = 0; ps <= 1; ps++) {
      store_req_t r;
      fbuf_t dec, can, line, want, res, hs;
      const char *path;
      c.path_style = ps;
      store_req_init(&r, &c, "GET", "bkt", key);
      kvlist_add(&r.query, key, key); /* query names/values too */
      store_req_url(&r);
      fbuf_init(&dec, 0);
      fbuf_init(&can, 0);
      fbuf_init(&line, 0);
      fbuf_init(&want, 0);
      fbuf_init(&res, 0);
      fbuf_init(&hs, 0);
      /* The URL has no raw byte outside the unreserved set and "/?&=%:". */
      for (path = r.url; *path; path++)
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                               "0123456789-._~/?&=%:",
                               *path));
      path = strchr(r.url + strlen("http://"), '/');
      assert_non_null(path);
      /* Path decodes to [/bkt]/key. */
      assert_int_equal(enc_pct_decode(&dec, path, strcspn(path, "?"), 0), FERRY_OK);
      fbuf_addf(&want, "%s/%s", ps ? "/bkt" : "", key);
      assert_string_equal(fbuf_str(&dec), fbuf_str(&want));
      /* Query decodes to key=key. */
      fbuf_reset(&dec);
      {
        const char *q = strchr(path, '?');
        const char *eq;
        assert_non_null(q);
        eq = strchr(q + 1, '=');
        assert_non_null(eq);
        assert_int_equal(enc_pct_decode(&dec, q + 1, (size_t)(eq - q - 1), 0), FERRY_OK);
        assert_string_equal(fbuf_str(&dec), key);
        fbuf_reset(&dec);
        assert_int_equal(enc_pct_decode(&dec, eq + 1, strlen(eq + 1), 0), FERRY_OK);
        assert_string_equal(fbuf_str(&dec), key);
      }
      /* S3: canonical URI is exactly the wire path. */
      sign_s3v4_canonical(&r, &can);
      nth_line(fbuf_str(&can), 1, &line);
      fbuf_reset(&dec);
      fbuf_add(&dec, path, strcspn(path, "?"));
      assert_string_equal(fbuf_str(&line), fbuf_str(&dec));
      /* OSS V4: "/bkt/" + encoded key. */
      fbuf_reset(&can);
      fbuf_reset(&line);
      fbuf_reset(&want);
      sign_oss_v4_canonical(&r, NULL, &can);
      nth_line(fbuf_str(&can), 1, &line);
      fbuf_adds(&want, "/bkt/");
      enc_pct(&want, key, strlen(key), 1);
      assert_string_equal(fbuf_str(&line), fbuf_str(&want));
      /* OSS V1: "/bkt/" + raw key (before the sub-resources). */
      sign_oss_v1_resource(&r, &res);
      fbuf_reset(&want);
      fbuf_addf(&want, "/bkt/%s", key);
      assert_string_equal(fbuf_str(&res), fbuf_str(&want));
      /* COS: the path line is the decoded wire path. */
      sign_cos_http_string(&r, &hs);
      fbuf_reset(&want);
      fbuf_addf(&want, "get\n%s/%s\n", ps ? "/bkt" : "", key);
      assert_memory_equal(fbuf_str(&hs), fbuf_str(&want), want.len);
      store_req_release(&r);
      fbuf_release(&dec);
      fbuf_release(&can);
      fbuf_release(&line);
      fbuf_release(&want);
      fbuf_release(&res);
      fbuf_release(&hs);
    }
  }
}

/* Keys up to the dialect's limit are signed, longer ones refused: S3 allows
 * 1024 bytes, OSS (and COS) 1023. */
static void test_key_length_limit(void **state) {
  static const struct {
    store_type_t type;
    store_sign_alg_t sign;
    size_t max;
  } d[] = {{STORE_S3, SIGN_S3V4, 1024}, {STORE_OSS, SIGN_OSS_V4, 1023},
           {STORE_COS, SIGN_COS, 1023}};
  store_conf_t c;
  store_req_t r;
  char key[1026];
  char errbuf[FERRY_ERRLEN];
  size_t i;
  (void)state;
  for (i = 0; i < FERRY_ARRAY_LEN(d); i++) {
    conf_init(&c, d[i].type, d[i].sign, "http://127.0.0.1:9000", "cn-hangzhou", "AK", "SK");
    c.path_style = 1;
    memset(key, 'k', sizeof(key));
    key[d[i].max] = '\0';
    store_req_init(&r, &c, "GET", "b", key);
    assert_int_equal(store_req_sign(&r, &c, 1369353600, errbuf), FERRY_OK);
    store_req_release(&r);
    key[d[i].max] = 'k';
    key[d[i].max + 1] = '\0';
    store_req_init(&r, &c, "GET", "b", key);
    assert_int_equal(store_req_sign(&r, &c, 1369353600, errbuf), FERRY_ERR_INVALID);
    assert_non_null(strstr(errbuf, d[i].max == 1024 ? "1025 bytes, the s3 limit is 1024"
                                                    : "1024 bytes, the"));
    store_req_release(&r);
  }
}

/* ---------------------------------------------------------- store_req_sign */

static void test_sign_s3_token_and_resign(void **state) {
  store_conf_t c;
  store_req_t r;
  char errbuf[FERRY_ERRLEN];
  const char *a;
  fbuf_t want;
  size_t i, nauth = 0;
  (void)state;
  conf_init(&c, STORE_S3, SIGN_DEFAULT, "http://127.0.0.1:9000", NULL, "AK", "SK");
  c.path_style = 1;
  c.session_token.v = "TOKEN";
  store_req_init(&r, &c, "PUT", "bkt", "a b");
  kvlist_add(&r.headers, "Content-Type", "text/plain");
  kvlist_add(&r.headers, "X-Empty", "");
  kvlist_add(&r.headers, "User-Agent", "ferry");
  assert_int_equal(store_req_sign(&r, &c, 1369353600, errbuf), FERRY_OK);
  assert_int_equal(store_req_sign(&r, &c, 1369353601, errbuf), FERRY_OK);
  for (i = 0; i < r.headers.n; i++)
    if (strcasecmp(r.headers.v[i].name, "Authorization") == 0) nauth++;
  assert_int_equal(nauth, 1);
  assert_string_equal(kvlist_get(&r.headers, "x-amz-date"), "20130524T000001Z");
  assert_string_equal(kvlist_get(&r.headers, "x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
  assert_string_equal(kvlist_get(&r.headers, "x-amz-security-token"), "TOKEN");
  a = kvlist_get(&r.headers, "Authorization");
  assert_non_null(strstr(a, "Credential=AK/20130524/us-east-1/s3/aws4_request,"));
  assert_non_null(strstr(a, "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;"
                            "x-amz-security-token,"));
  assert_string_equal(r.url, "http://127.0.0.1:9000/bkt/a%20b");
  /* It equals a direct signature of the final request. */
  {
    char *saved = fx_strdup(a);
    kvlist_del(&r.headers, "Authorization");
    fbuf_init(&want, 0);
    assert_int_equal(sign_s3v4(&r, "AK", "SK", "us-east-1", 1369353601, &want, NULL),
                     FERRY_OK);
    assert_string_equal(saved, fbuf_str(&want));
    fbuf_release(&want);
    fx_free(saved);
  }
  store_req_release(&r);
}

static void test_sign_oss_dialects(void **state) {
  store_conf_t c;
  store_req_t r;
  char errbuf[FERRY_ERRLEN];
  const char *a;
  (void)state;
  /* V1: Date and x-oss-date carry the same RFC 1123 value; token signed. */
  conf_init(&c, STORE_OSS, SIGN_OSS_V1, "oss-cn-hangzhou.aliyuncs.com", "oss-cn-hangzhou",
            "AK", "SK");
  c.session_token.v = "TOK";
  store_req_init(&r, &c, "GET", "bkt", "k");
  assert_int_equal(store_req_sign(&r, &c, 1705307400, errbuf), FERRY_OK);
  assert_string_equal(kvlist_get(&r.headers, "Date"), "Mon, 15 Jan 2024 08:30:00 GMT");
  assert_string_equal(kvlist_get(&r.headers, "x-oss-date"), "Mon, 15 Jan 2024 08:30:00 GMT");
  assert_string_equal(kvlist_get(&r.headers, "x-oss-security-token"), "TOK");
  assert_true(strncmp(kvlist_get(&r.headers, "Authorization"), "OSS AK:", 7) == 0);
  store_req_release(&r);

  /* V4 (default for oss): region without "oss-", content-sha256 set. */
  c.sign = SIGN_DEFAULT;
  store_req_init(&r, &c, "GET", "bkt", "k");
  assert_int_equal(store_req_sign(&r, &c, 1705307400, errbuf), FERRY_OK);
  assert_string_equal(kvlist_get(&r.headers, "x-oss-date"), "20240115T083000Z");
  assert_string_equal(kvlist_get(&r.headers, "x-oss-content-sha256"), "UNSIGNED-PAYLOAD");
  assert_string_equal(kvlist_get(&r.headers, "x-oss-security-token"), "TOK");
  a = kvlist_get(&r.headers, "Authorization");
  assert_non_null(a);
  assert_non_null(strstr(a, "Credential=AK/20240115/cn-hangzhou/oss/aliyun_v4_request,Signature="));
  store_req_release(&r);

  /* V4 needs a region. */
  c.region = NULL;
  store_req_init(&r, &c, "GET", "bkt", "k");
  assert_int_equal(store_req_sign(&r, &c, 1705307400, errbuf), FERRY_ERR_INVALID);
  assert_non_null(strstr(errbuf, "region"));
  store_req_release(&r);
}

static void test_sign_cos_token_unsigned(void **state) {
  store_conf_t c;
  store_req_t r;
  char errbuf[FERRY_ERRLEN];
  const char *a;
  fbuf_t want;
  (void)state;
  conf_init(&c, STORE_COS, SIGN_DEFAULT, "https://cos.ap-guangzhou.myqcloud.com",
            "ap-guangzhou", "AKID", "SK");
  c.session_token.v = "TOK";
  store_req_init(&r, &c, "PUT", "examplebucket-1250000000", "big/obj.bin");
  kvlist_add(&r.query, "partNumber", "1");
  kvlist_add(&r.query, "uploadId", "x");
  kvlist_add(&r.headers, "Content-Length", "5");
  assert_int_equal(store_req_sign(&r, &c, 1705307460, errbuf), FERRY_OK);
  assert_string_equal(kvlist_get(&r.headers, "x-cos-security-token"), "TOK");
  a = kvlist_get(&r.headers, "Authorization");
  assert_non_null(strstr(a, "q-sign-time=1705307400;1705311060&q-key-time=1705307400;1705311060"));
  assert_non_null(strstr(a, "&q-header-list=content-length;host&q-url-param-list=partnumber;uploadid&"));
  assert_null(strstr(a, "security-token"));
  assert_string_equal(r.url, "https://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/"
                             "big/obj.bin?partNumber=1&uploadId=x");
  fbuf_init(&want, 0);
  {
    store_req_t r2;
    store_req_init(&r2, &c, "PUT", "examplebucket-1250000000", "big/obj.bin");
    kvlist_add(&r2.query, "partNumber", "1");
    kvlist_add(&r2.query, "uploadId", "x");
    kvlist_add(&r2.headers, "Content-Length", "5");
    assert_int_equal(sign_cos(&r2, "AKID", "SK", "1705307400;1705311060", &want, NULL),
                     FERRY_OK);
    store_req_release(&r2);
  }
  assert_string_equal(a, fbuf_str(&want));
  fbuf_release(&want);
  store_req_release(&r);
}

static void test_sign_none_and_errors(void **state) {
  store_conf_t c;
  store_req_t r;
  char errbuf[FERRY_ERRLEN];
  (void)state;
  conf_init(&c, STORE_S3, SIGN_NONE, "http://127.0.0.1:1", NULL, NULL, NULL);
  c.path_style = 1;
  store_req_init(&r, &c, "GET", "b", "k");
  assert_int_equal(store_req_sign(&r, &c, 0, errbuf), FERRY_OK);
  assert_null(kvlist_get(&r.headers, "Authorization"));
  assert_null(kvlist_get(&r.headers, "x-amz-date"));
  assert_string_equal(r.url, "http://127.0.0.1:1/b/k");
  store_req_release(&r);

  /* Credentials required for a signing dialect. */
  c.sign = SIGN_S3V4;
  store_req_init(&r, &c, "GET", "b", "k");
  assert_int_equal(store_req_sign(&r, &c, 0, errbuf), FERRY_ERR_INVALID);
  assert_non_null(strstr(errbuf, "secret_key"));
  assert_null(strstr(errbuf, "(null)"));
  store_req_release(&r);

  c.access_key = "AK";
  c.secret_key.v = "SK";
  /* Header injection. */
  store_req_init(&r, &c, "GET", "b", "k");
  kvlist_add(&r.headers, "x-amz-meta-a", "v\r\nEvil: 1");
  assert_int_equal(store_req_sign(&r, &c, 0, errbuf), FERRY_ERR_INVALID);
  assert_non_null(strstr(errbuf, "x-amz-meta-a"));
  store_req_release(&r);
  store_req_init(&r, &c, "GET", "b", "k");
  kvlist_add(&r.headers, "bad name", "v");
  assert_int_equal(store_req_sign(&r, &c, 0, errbuf), FERRY_ERR_INVALID);
  store_req_release(&r);

  /* A bucket that would change the URL's authority. */
  c.path_style = 0;
  store_req_init(&r, &c, "GET", "evil.com/x?", "k");
  assert_int_equal(store_req_sign(&r, &c, 0, errbuf), FERRY_ERR_INVALID);
  assert_non_null(strstr(errbuf, "bucket"));
  store_req_release(&r);

  /* An object request with an empty key would address the bucket (a PUT
   * is CreateBucket, a HEAD is HeadBucket): refused, whatever the method.
   * Bucket requests are store_req_init_bucket. */
  {
    static const char *const methods[] = {"PUT", "HEAD", "GET", "DELETE", "POST"};
    size_t m;
    for (m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
      store_req_init(&r, &c, methods[m], "b", "");
      assert_true(r.empty_key);
      assert_int_equal(store_req_sign(&r, &c, 0, errbuf), FERRY_ERR_INVALID);
      assert_non_null(strstr(errbuf, "empty key"));
      store_req_release(&r);
    }
    store_req_init_bucket(&r, &c, "PUT", "b");
    assert_false(r.empty_key);
    assert_int_equal(store_req_sign(&r, &c, 0, errbuf), FERRY_OK);
    store_req_release(&r);
  }

  /* No endpoint. */
  c.endpoint = NULL;
  store_req_init(&r, &c, "GET", NULL, NULL);
  assert_int_equal(store_req_sign(&r, &c, 0, errbuf), FERRY_ERR_INVALID);
  assert_non_null(strstr(errbuf, "endpoint"));
  store_req_release(&r);

  /* Release of a zeroed or NULL request is safe. */
  store_req_release(NULL);
}


/* ------------------------------------------------- dialect header rules */

static void req_plain(store_req_t *r, const char *method, const char *key) {
  store_conf_t c;
  conf_init(&c, STORE_S3, SIGN_DEFAULT, "host.example", NULL, NULL, NULL);
  store_req_init(r, &c, method, "b", key);
}

static void test_oss_v1_subresources(void **state) {
  store_req_t r;
  fbuf_t res, sts, auth;
  (void)state;
  fbuf_init(&res, 0);
  fbuf_init(&sts, 0);
  fbuf_init(&auth, 0);
  req_plain(&r, "GET", "k");
  kvlist_add(&r.query, "list-type", "2");
  kvlist_add(&r.query, "x-oss-process", "image/resize,w_10");
  kvlist_add(&r.query, "uploads", NULL);
  kvlist_add(&r.query, "uploadId", "abc");
  kvlist_add(&r.query, "partNumber", "1");
  kvlist_add(&r.query, "prefix", "p");
  kvlist_add(&r.query, "response-content-type", "a b");
  kvlist_add(&r.query, "uploadid", "lower-case is not a sub-resource");
  sign_oss_v1_resource(&r, &res);
  /* Sorted by raw name, raw values, bare name for an empty value. */
  assert_string_equal(fbuf_str(&res), "/b/k?partNumber=1&response-content-type=a b"
                                      "&uploadId=abc&uploads&x-oss-process=image/resize,w_10");
  store_req_release(&r);

  /* Empty Content-Type is an empty line (libcurl sends no such header);
   * repeated x-oss-* headers are joined with ',' in order; names folded. */
  req_plain(&r, "PUT", NULL);
  kvlist_add(&r.headers, "Content-Type", "");
  kvlist_add(&r.headers, "X-OSS-Meta-A", " v1 ");
  kvlist_add(&r.headers, "x-oss-meta-a", "v2");
  kvlist_add(&r.headers, "x-oss-meta-empty", "");
  kvlist_add(&r.headers, "Date", "D");
  assert_int_equal(sign_oss_v1(&r, "ak", "sk", &auth, &sts), FERRY_OK);
  assert_string_equal(fbuf_str(&sts), "PUT\n\n\nD\nx-oss-meta-a:v1,v2\n/b/");
  store_req_release(&r);

  /* Service level. */
  fbuf_reset(&res);
  {
    store_conf_t c;
    conf_init(&c, STORE_OSS, SIGN_DEFAULT, "host.example", NULL, NULL, NULL);
    store_req_init(&r, &c, "GET", NULL, NULL);
  }
  sign_oss_v1_resource(&r, &res);
  assert_string_equal(fbuf_str(&res), "/");
  store_req_release(&r);
  fbuf_release(&res);
  fbuf_release(&sts);
  fbuf_release(&auth);
}

static void test_oss_v4_additional_rules(void **state) {
  store_req_t r;
  fbuf_t can, auth;
  (void)state;
  fbuf_init(&can, 0);
  fbuf_init(&auth, 0);
  req_plain(&r, "GET", "k");
  kvlist_add(&r.headers, "Range", "bytes=0-1");
  kvlist_add(&r.headers, "If-Match", "");
  kvlist_add(&r.headers, "x-oss-date", "20240115T083000Z");
  /* Case, duplicates, spaces, default-signed, absent and empty names. */
  sign_oss_v4_canonical(&r, " Range;range;HOST;x-oss-date;content-type;if-match;nope;;", &can);
  assert_string_equal(fbuf_str(&can), "GET\n/b/k\n\n"
                                      "host:b.host.example\nrange:bytes=0-1\n"
                                      "x-oss-date:20240115T083000Z\n\n"
                                      "host;range\nUNSIGNED-PAYLOAD");
  assert_int_equal(sign_oss_v4(&r, "ak", "sk", "cn-hangzhou", "oss", "range;host", 1705307400,
                               &auth, NULL),
                   FERRY_OK);
  assert_non_null(strstr(fbuf_str(&auth), ",AdditionalHeaders=host;range,Signature="));
  /* Missing region is an error, not a crash. */
  assert_int_equal(sign_oss_v4(&r, "ak", "sk", NULL, "oss", NULL, 0, &auth, NULL),
                   FERRY_ERR_INVALID);
  store_req_release(&r);
  fbuf_release(&can);
  fbuf_release(&auth);
}

static void test_cos_header_whitelist(void **state) {
  store_req_t r;
  fbuf_t hs, auth;
  (void)state;
  fbuf_init(&hs, 0);
  fbuf_init(&auth, 0);
  req_plain(&r, "GET", "k");
  kvlist_add(&r.headers, "User-Agent", "ferry/1");
  kvlist_add(&r.headers, "Range", "bytes=0-9");
  kvlist_add(&r.headers, "If-Match", "\"e\"");
  kvlist_add(&r.headers, "x-cos-security-token", "TOK");
  kvlist_add(&r.headers, "X-Cos-Traffic-Limit", "819200");
  kvlist_add(&r.headers, "x-ci-thing", "1");
  kvlist_add(&r.headers, "Expect", "100-continue");
  kvlist_add(&r.headers, "Transfer-Encoding", "chunked");
  kvlist_add(&r.headers, "Content-Type", "");
  kvlist_add(&r.headers, "Accept", "*/*");
  kvlist_add(&r.query, "versionId", "v 1");
  kvlist_add(&r.query, "uploads", NULL);
  sign_cos_http_string(&r, &hs);
  assert_string_equal(fbuf_str(&hs), "get\n/k\nuploads=&versionid=v%201\n"
                                     "host=b.host.example&if-match=%22e%22&range=bytes%3D0-9"
                                     "&x-ci-thing=1&x-cos-traffic-limit=819200\n");
  assert_int_equal(sign_cos(&r, "ak", "sk", "1;2", &auth, NULL), FERRY_OK);
  assert_non_null(strstr(fbuf_str(&auth), "&q-header-list=host;if-match;range;x-ci-thing;"
                                          "x-cos-traffic-limit&q-url-param-list=uploads;"
                                          "versionid&"));
  store_req_release(&r);
  fbuf_release(&hs);
  fbuf_release(&auth);
}

static void test_s3v4_header_rules(void **state) {
  store_req_t r;
  fbuf_t can;
  (void)state;
  fbuf_init(&can, 0);
  req_plain(&r, "GET", "k");
  kvlist_add(&r.headers, "User-Agent", "ferry/1");
  kvlist_add(&r.headers, "X-Amz-Meta-A", "  a   b  ");
  kvlist_add(&r.headers, "x-amz-meta-a", "c");
  kvlist_add(&r.headers, "X-Empty", "");
  kvlist_add(&r.headers, "Expect", "");
  kvlist_add(&r.query, "b", "");
  kvlist_add(&r.query, "a", "2");
  kvlist_add(&r.query, "a", "1");
  sign_s3v4_canonical(&r, &can);
  assert_string_equal(fbuf_str(&can), "GET\n/k\na=1&a=2&b=\n"
                                      "host:b.host.example\nx-amz-meta-a:a b,c\n\n"
                                      "host;x-amz-meta-a\nUNSIGNED-PAYLOAD");
  store_req_release(&r);
  fbuf_release(&can);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_oss_v1_vectors),
      cmocka_unit_test(test_oss_v1_presign_vectors),
      cmocka_unit_test(test_oss_v4_keys),
      cmocka_unit_test(test_oss_v4_vectors),
      cmocka_unit_test(test_oss_v4_presign_vectors),
      cmocka_unit_test(test_cos_vectors),
      cmocka_unit_test(test_s3v4_vectors),
      cmocka_unit_test(test_s3v4_presign_vectors),
      cmocka_unit_test(test_url_addressing),
      cmocka_unit_test(test_odd_keys_roundtrip),
      cmocka_unit_test(test_key_length_limit),
      cmocka_unit_test(test_sign_s3_token_and_resign),
      cmocka_unit_test(test_sign_oss_dialects),
      cmocka_unit_test(test_sign_cos_token_unsigned),
      cmocka_unit_test(test_sign_none_and_errors),
      cmocka_unit_test(test_oss_v1_subresources),
      cmocka_unit_test(test_oss_v4_additional_rules),
      cmocka_unit_test(test_cos_header_whitelist),
      cmocka_unit_test(test_s3v4_header_rules),
      cmocka_unit_test(test_v4_key_cache),
  };
  return cmocka_run_group_tests(tests, load_vectors, free_vectors);
}
