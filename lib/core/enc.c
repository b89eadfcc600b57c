/* enc.c: percent-encoding, hex, base64, digests (OpenSSL), dates. */
#include "core/enc.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

static const char HEXU[] = "0123456789ABCDEF";
static const char HEXL[] = "0123456789abcdef";

void enc_pct(fbuf_t *out, const char *s, size_t n, int keep_slash) {
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
        c == '~' || (keep_slash && c == '/')) {
      fbuf_addc(out, (char)c);
    } else {
      char e[3] = {'%', HEXU[c >> 4], HEXU[c & 15]};
      fbuf_add(out, e, 3);
    }
  }
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

ferry_err_t enc_pct_decode(fbuf_t *out, const char *s, size_t n, int plus_space) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (s[i] == '%') {
      int h, l;
      if (i + 2 >= n) return FERRY_ERR_PARSE;
      h = hexval((unsigned char)s[i + 1]);
      l = hexval((unsigned char)s[i + 2]);
      if (h < 0 || l < 0) return FERRY_ERR_PARSE;
      fbuf_addc(out, (char)(h * 16 + l));
      i += 2;
    } else if (plus_space && s[i] == '+') {
      fbuf_addc(out, ' ');
    } else {
      fbuf_addc(out, s[i]);
    }
  }
  return FERRY_OK;
}

void enc_hex(fbuf_t *out, const unsigned char *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    char e[2] = {HEXL[p[i] >> 4], HEXL[p[i] & 15]};
    fbuf_add(out, e, 2);
  }
}

void enc_b64(fbuf_t *out, const unsigned char *p, size_t n) {
  static const char T[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i;
  for (i = 0; i + 2 < n; i += 3) {
    char e[4] = {T[p[i] >> 2], T[((p[i] & 3) << 4) | (p[i + 1] >> 4)],
                 T[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)], T[p[i + 2] & 63]};
    fbuf_add(out, e, 4);
  }
  if (n - i == 1) {
    char e[4] = {T[p[i] >> 2], T[(p[i] & 3) << 4], '=', '='};
    fbuf_add(out, e, 4);
  } else if (n - i == 2) {
    char e[4] = {T[p[i] >> 2], T[((p[i] & 3) << 4) | (p[i + 1] >> 4)],
                 T[(p[i + 1] & 15) << 2], '='};
    fbuf_add(out, e, 4);
  }
}

static int b64val(int c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

long enc_b64_decode(unsigned char *out, const char *s, size_t n) {
  size_t i;
  long o = 0;
  unsigned acc = 0;
  int bits = 0;
  for (i = 0; i < n; i++) {
    int v;
    if (s[i] == '=') break;
    v = b64val((unsigned char)s[i]);
    if (v < 0) return -1;
    acc = (acc << 6) | (unsigned)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (unsigned char)((acc >> bits) & 0xFF);
    }
  }
  return o;
}

/* OpenSSL 3 looks an algorithm up by name on every call that is given
 * EVP_sha256() or goes through HMAC() (a lock and a table search: 3.5 us
 * an HMAC, where the hash itself is 1 us). Fetched once here, and one HMAC
 * context per digest kept as a template to copy, they cost that once. A
 * fetch that fails (a provider without the algorithm) leaves the slow path.
 * Kept until exit, like OpenSSL's own tables. */
static pthread_once_t algs_once = PTHREAD_ONCE_INIT;
static EVP_MD *md_sha1, *md_sha256, *md_md5;
static EVP_MAC_CTX *hmac_sha1, *hmac_sha256;

static EVP_MAC_CTX *hmac_template(EVP_MAC *mac, const char *digest_name) {
  EVP_MAC_CTX *c = mac ? EVP_MAC_CTX_new(mac) : NULL;
  OSSL_PARAM p[2];
  p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest_name, 0);
  p[1] = OSSL_PARAM_construct_end();
  if (c && !EVP_MAC_CTX_set_params(c, p)) {
    EVP_MAC_CTX_free(c);
    c = NULL;
  }
  return c;
}

static void algs_init(void) {
  EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  md_sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
  md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  md_md5 = EVP_MD_fetch(NULL, "MD5", NULL);
  hmac_sha1 = hmac_template(mac, "SHA1");
  hmac_sha256 = hmac_template(mac, "SHA256");
  EVP_MAC_free(mac);  /* the contexts hold their own reference */
}

static void digest(const EVP_MD *fetched, const EVP_MD *legacy, unsigned char *out,
                   const void *p, size_t n) {
  unsigned int len = 0;
  EVP_Digest(p, n, out, &len, fetched ? fetched : legacy, NULL);
}

void enc_sha1(unsigned char out[20], const void *p, size_t n) {
  pthread_once(&algs_once, algs_init);
  digest(md_sha1, EVP_sha1(), out, p, n);
}
void enc_sha256(unsigned char out[32], const void *p, size_t n) {
  pthread_once(&algs_once, algs_init);
  digest(md_sha256, EVP_sha256(), out, p, n);
}
void enc_md5(unsigned char out[16], const void *p, size_t n) {
  pthread_once(&algs_once, algs_init);
  digest(md_md5, EVP_md5(), out, p, n);
}

static void hmac(const EVP_MAC_CTX *tpl, const EVP_MD *legacy, unsigned char *out, size_t outlen,
                 const void *key, size_t klen, const void *msg, size_t mlen) {
  EVP_MAC_CTX *c = tpl ? EVP_MAC_CTX_dup(tpl) : NULL;
  unsigned int len = (unsigned int)outlen;
  size_t got = 0;
  if (c && EVP_MAC_init(c, key, klen, NULL) && EVP_MAC_update(c, msg, mlen) &&
      EVP_MAC_final(c, out, &got, outlen) && got == outlen) {
    EVP_MAC_CTX_free(c);
    return;
  }
  EVP_MAC_CTX_free(c);
  HMAC(legacy, key, (int)klen, msg, mlen, out, &len);
}

void enc_hmac_sha1(unsigned char out[20], const void *key, size_t klen,
                   const void *msg, size_t mlen) {
  pthread_once(&algs_once, algs_init);
  hmac(hmac_sha1, EVP_sha1(), out, 20, key, klen, msg, mlen);
}

void enc_hmac_sha256(unsigned char out[32], const void *key, size_t klen,
                     const void *msg, size_t mlen) {
  pthread_once(&algs_once, algs_init);
  hmac(hmac_sha256, EVP_sha256(), out, 32, key, klen, msg, mlen);
}

void enc_time_iso8601_basic(char out[17], time_t t) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

void enc_time_ymd(char out[9], time_t t) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 9, "%Y%m%d", &tm);
}

void enc_time_rfc1123(char out[30], time_t t) {
  static const char *wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char *mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  struct tm tm;
  gmtime_r(&t, &tm);
  /* Locale-independent by construction; fields are bounded by gmtime_r. */
  snprintf(out, 30, "%.3s, %02u %.3s %04u %02u:%02u:%02u GMT",
           wd[(unsigned)tm.tm_wday % 7], (unsigned)tm.tm_mday % 100u,
           mo[(unsigned)tm.tm_mon % 12], (unsigned)(tm.tm_year + 1900) % 10000u,
           (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
           (unsigned)tm.tm_sec % 100u);
}

time_t enc_time_parse(const char *s) {
  struct tm tm;
  const char *end;
  memset(&tm, 0, sizeof(tm));
  if (!s) return -1;
  end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) {
    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%a, %d %b %Y %H:%M:%S", &tm);
    if (!end) return -1;
  }
  return timegm(&tm);
}

size_t enc_utf8_char(const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  unsigned c = u[0], cp;
  size_t len, i;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (n < len) return 0;
  for (i = 1; i < len; i++) {
    if ((u[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (u[i] & 0x3F);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

int enc_utf8_valid(const char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    size_t k = enc_utf8_char(s + i, n - i);
    if (!k) return 0;
    i += k;
  }
  return 1;
}

void enc_utf8_repair(fbuf_t *out, const char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    size_t k = enc_utf8_char(s + i, n - i);
    if (k) {
      fbuf_add(out, s + i, k);
      i += k;
    } else {
      fbuf_add(out, "\xEF\xBF\xBD", 3);
      i++;
    }
  }
}
