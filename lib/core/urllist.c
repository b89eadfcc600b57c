/*
 * urllist.c: the URL-list parser (see urllist.h for the format).
 *
 * Every check names the line, because the file is written by hand or by a
 * script and a person has to find the bad line among millions. Excerpts in
 * messages are capped and show control bytes as '?', so that a binary file
 * fed by mistake gives readable errors; a URL with userinfo is never quoted
 * at all, and a query never (a presigned URL's signature is there), since
 * they would end up in logs.
 */
#include "core/urllist.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/enc.h"

#define HOST_MAX 255

static int is_blank(int c) {
  return c == ' ' || c == '\t';
}

static int is_hex(int c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A C1 control character (U+0080..U+009F, "\xC2\x80".."\xC2\x9F") starts at s,
 * a valid character of k bytes: text with one is damage, as with C0. */
static int is_c1(const char *s, size_t k) {
  return k == 2 && (unsigned char)s[0] == 0xC2 && (unsigned char)s[1] < 0xA0;
}

static int hex_val(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

/* A printable excerpt of s[0..n): at most 60 bytes, control bytes as '?'. */
static const char *snip(const char *s, size_t n, char out[72]) {
  size_t i, m = n > 60 ? 60 : n;
  for (i = 0; i < m; i++) {
    unsigned char c = (unsigned char)s[i];
    out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
  }
  if (n > m)
    memcpy(out + m, "...", 4);
  else
    out[m] = '\0';
  return out;
}

/* snip() of a URL (or of its path and query) without the query, which may
 * hold a presigned signature: "...?..." marks where it was. out holds 72. */
static const char *snip_url(const char *s, size_t n, char out[72]) {
  const char *q = memchr(s, '?', n);
  snip(s, q ? (size_t)(q - s) : n, out);
  if (q) strcat(out, "?...");
  return out;
}

static ferry_err_t line_err(char *errbuf, const char *name, long lineno, const char *fmt,
                            ...) __attribute__((format(printf, 4, 5)));
static ferry_err_t line_err(char *errbuf, const char *name, long lineno, const char *fmt,
                            ...) {
  char msg[FERRY_ERRLEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (name) return ferry_seterr(errbuf, FERRY_ERR_PARSE, "%s:%ld: %s", name, lineno, msg);
  return ferry_seterr(errbuf, FERRY_ERR_PARSE, "line %ld: %s", lineno, msg);
}

void urllist_entry_release(urllist_entry_t *e) {
  if (!e) return;
  fx_free(e->url);
  fx_free(e->host);
  fx_free(e->target);
  fx_free(e->key);
  memset(e, 0, sizeof(*e));
}

/* Checks the host (and port) of authority a[0..n); fills host and port. */
static ferry_err_t check_authority(const char *a, size_t n, const char *name, long lineno,
                                   char **host, int *port, char *errbuf) {
  size_t hlen, i;
  const char *p, *end = a + n;
  char sn[72];
  if (n == 0) return line_err(errbuf, name, lineno, "URL has no host");
  if (a[0] == '[') {
    const char *close = memchr(a, ']', n);
    int colon = 0;
    if (!close)
      return line_err(errbuf, name, lineno, "unclosed IPv6 literal in host '%s'",
                      snip(a, n, sn));
    for (p = a + 1; p < close; p++) {
      if (*p == ':') colon = 1;
      if (!is_hex((unsigned char)*p) && *p != ':' && *p != '.')
        return line_err(errbuf, name, lineno, "bad IPv6 literal in host '%s'",
                        snip(a, n, sn));
    }
    if (!colon)
      return line_err(errbuf, name, lineno, "bad IPv6 literal in host '%s'",
                      snip(a, n, sn));
    p = close + 1;
    if (p < end && *p != ':')
      return line_err(errbuf, name, lineno, "unexpected text after the IPv6 literal '%s'",
                      snip(a, n, sn));
  } else {
    for (p = a; p < end && *p != ':'; p++) {
      unsigned char c = (unsigned char)*p;
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_'))
        return line_err(errbuf, name, lineno, "bad character in host '%s'",
                        snip(a, n, sn));
    }
    if (p == a) return line_err(errbuf, name, lineno, "URL has no host");
  }
  hlen = (size_t)(p - a);
  if (hlen > HOST_MAX)
    return line_err(errbuf, name, lineno, "host longer than %d bytes", HOST_MAX);
  *port = 0;
  if (p < end) { /* *p == ':' */
    long v = 0;
    const char *q = p + 1;
    if (q == end || end - q > 5)
      return line_err(errbuf, name, lineno, "bad port in '%s'", snip(a, n, sn));
    for (; q < end; q++) {
      if (*q < '0' || *q > '9')
        return line_err(errbuf, name, lineno, "bad port in '%s'", snip(a, n, sn));
      v = v * 10 + (*q - '0');
    }
    if (v < 1 || v > 65535)
      return line_err(errbuf, name, lineno, "port %ld out of range 1-65535", v);
    *port = (int)v;
  }
  *host = fx_strndup(a, hlen);
  for (i = 0; i < hlen; i++)
    if ((*host)[i] >= 'A' && (*host)[i] <= 'Z') (*host)[i] = (char)((*host)[i] + 32);
  return FERRY_OK;
}

/* Checks the bytes of the path and query t[0..n). */
static ferry_err_t check_target(const char *t, size_t n, const char *name, long lineno,
                                char *errbuf) {
  size_t i = 0;
  char sn[72];
  while (i < n) {
    unsigned char c = (unsigned char)t[i];
    if (c == '#')
      return line_err(errbuf, name, lineno,
                      "a fragment ('#') in the URL, which is never sent to a server; "
                      "write '#' in a path as %%23: '%s'",
                      snip_url(t, n, sn));
    if (c <= 0x20 || c == 0x7f)
      return line_err(errbuf, name, lineno, "control byte 0x%02x in URL '%s'", c,
                      snip_url(t, n, sn));
    if (c == '%') {
      if (i + 2 >= n || !is_hex((unsigned char)t[i + 1]) ||
          !is_hex((unsigned char)t[i + 2]))
        return line_err(errbuf, name, lineno, "bad %%XX escape in URL '%s'",
                        snip_url(t, n, sn));
      i += 3;
      continue;
    }
    if (c >= 0x80) {
      size_t k = enc_utf8_char(t + i, n - i);
      if (!k)
        return line_err(errbuf, name, lineno, "URL is not valid UTF-8: '%s'",
                        snip_url(t, n, sn));
      if (is_c1(t + i, k))
        return line_err(errbuf, name, lineno, "control character U+%04X in URL '%s'",
                        (unsigned char)t[i + 1], snip_url(t, n, sn));
      i += k;
      continue;
    }
    i++;
  }
  return FERRY_OK;
}

/* The key a URL path names: target up to '?', without the leading '/',
 * percent-decoded. Returns a new string or NULL with errbuf filled. */
static char *derive_key(const char *target, const char *name, long lineno, char *errbuf) {
  const char *p = target, *q = strchr(target, '?');
  size_t n = q ? (size_t)(q - target) : strlen(target), i, o = 0;
  char *key;
  if (n && *p == '/') p++, n--;
  key = fx_malloc(n + 1);
  for (i = 0; i < n; i++) {
    if (p[i] == '%' && i + 2 < n && is_hex((unsigned char)p[i + 1]) &&
        is_hex((unsigned char)p[i + 2])) {
      key[o++] = (char)(hex_val((unsigned char)p[i + 1]) * 16 +
                        hex_val((unsigned char)p[i + 2]));
      i += 2;
    } else {
      key[o++] = p[i];
    }
  }
  key[o] = '\0';
  if (o == 0) {
    fx_free(key);
    line_err(errbuf, name, lineno,
             "the URL path names no object; give the destination key after the URL");
    return NULL;
  }
  if (memchr(key, '\0', o)) {
    fx_free(key);
    line_err(errbuf, name, lineno, "the URL path decodes to a NUL byte (%%00)");
    return NULL;
  }
  if (o > URLLIST_KEY_MAX) {
    fx_free(key);
    line_err(errbuf, name, lineno, "the key from the URL path is %zu bytes, over %d", o,
             URLLIST_KEY_MAX);
    return NULL;
  }
  if (!enc_utf8_valid(key, o)) {
    fx_free(key);
    line_err(errbuf, name, lineno, "the URL path does not decode to valid UTF-8");
    return NULL;
  }
  for (i = 0; i < o; i++) {
    unsigned char c = (unsigned char)key[i];
    if (c < 0x20 || c == 0x7f || is_c1(key + i, 2)) {
      unsigned cp = c == 0xC2 ? (unsigned char)key[i + 1] : c;
      fx_free(key);
      line_err(errbuf, name, lineno,
               "the URL path decodes to a control character (U+%04X); give the "
               "destination key after the URL",
               cp);
      return NULL;
    }
  }
  return key;
}

/* Checks a destination key written on the line. */
static ferry_err_t check_key(const char *k, size_t n, const char *name, long lineno,
                             char *errbuf) {
  size_t i;
  char sn[72];
  if (n > URLLIST_KEY_MAX)
    return line_err(errbuf, name, lineno, "destination key is %zu bytes, over %d: '%s'",
                    n, URLLIST_KEY_MAX, snip(k, n, sn));
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)k[i];
    if (c < 0x20 || c == 0x7f)
      return line_err(errbuf, name, lineno, "control byte 0x%02x in destination key '%s'",
                      c, snip(k, n, sn));
  }
  if (!enc_utf8_valid(k, n))
    return line_err(errbuf, name, lineno, "destination key is not valid UTF-8: '%s'",
                    snip(k, n, sn));
  for (i = 0; i + 1 < n; i++)
    if (is_c1(k + i, 2))
      return line_err(errbuf, name, lineno,
                      "control character U+%04X in destination key '%s'",
                      (unsigned char)k[i + 1], snip(k, n, sn));
  return FERRY_OK;
}

ferry_err_t urllist_parse_line(const char *line, size_t len, const char *name,
                               long lineno, urllist_entry_t *out, int *is_entry,
                               char *errbuf) {
  const char *s = line, *e, *u_end, *auth, *auth_end, *k;
  size_t ulen, skip;
  const char *nul;
  char sn[72];
  ferry_err_t rc;
  memset(out, 0, sizeof(*out));
  *is_entry = 0;
  if (!line) len = 0;
  e = s + len;
  if (e > s && e[-1] == '\r') e--;
  while (s < e && is_blank((unsigned char)*s)) s++;
  while (e > s && is_blank((unsigned char)e[-1])) e--;
  if (s == e || *s == '#') return FERRY_OK;
  if ((nul = memchr(s, '\0', (size_t)(e - s))) != NULL)
    return line_err(errbuf, name, lineno, "NUL byte at column %zu",
                    (size_t)(nul - line) + 1);

  for (u_end = s; u_end < e && !is_blank((unsigned char)*u_end); u_end++) {
  }
  ulen = (size_t)(u_end - s);
  if (ulen > URLLIST_URL_MAX)
    return line_err(errbuf, name, lineno, "URL is %zu bytes, over %d: '%s'", ulen,
                    URLLIST_URL_MAX, snip_url(s, ulen, sn));
  if (ulen >= 7 && strncasecmp(s, "http://", 7) == 0) {
    skip = 7;
  } else if (ulen >= 8 && strncasecmp(s, "https://", 8) == 0) {
    skip = 8;
    out->https = 1;
  } else {
    return line_err(errbuf, name, lineno, "not an http:// or https:// URL: '%s'",
                    snip_url(s, ulen, sn));
  }
  auth = s + skip;
  for (auth_end = auth; auth_end < u_end; auth_end++)
    if (*auth_end == '/' || *auth_end == '?' || *auth_end == '#') break;
  /* Before any excerpt of the URL: userinfo may hold a password. */
  if (memchr(auth, '@', (size_t)(auth_end - auth))) {
    out->https = 0;
    return line_err(errbuf, name, lineno,
                    "a user name or password in the URL, which is not supported "
                    "(credentials belong in the config)");
  }
  rc = check_authority(auth, (size_t)(auth_end - auth), name, lineno, &out->host,
                       &out->port, errbuf);
  if (rc == FERRY_OK)
    rc = check_target(auth_end, (size_t)(u_end - auth_end), name, lineno, errbuf);
  if (rc != FERRY_OK) {
    urllist_entry_release(out);
    return rc;
  }
  if (auth_end == u_end)
    out->target = fx_strdup("/");
  else if (*auth_end == '?')
    out->target = fx_asprintf("/%.*s", (int)(u_end - auth_end), auth_end);
  else
    out->target = fx_strndup(auth_end, (size_t)(u_end - auth_end));

  for (k = u_end; k < e && is_blank((unsigned char)*k); k++) {
  }
  if (k < e) {
    rc = check_key(k, (size_t)(e - k), name, lineno, errbuf);
    if (rc != FERRY_OK) {
      urllist_entry_release(out);
      return rc;
    }
    out->key = fx_strndup(k, (size_t)(e - k));
    out->key_given = 1;
  } else {
    out->key = derive_key(out->target, name, lineno, errbuf);
    if (!out->key) {
      urllist_entry_release(out);
      return FERRY_ERR_PARSE;
    }
  }
  out->url = fx_strndup(s, ulen);
  out->line = lineno;
  *is_entry = 1;
  return FERRY_OK;
}

char *urllist_redact(const char *url) {
  const char *q = strchr(url, '?');
  if (!q) return fx_strdup(url);
  return fx_asprintf("%.*s?\xE2\x80\xA6", (int)(q - url), url);
}

void urllist_cursor_init(urllist_cursor_t *c, const char *buf, size_t len,
                         const char *name) {
  memset(c, 0, sizeof(*c));
  c->buf = buf;
  c->len = buf ? len : 0;
  c->name = name;
  /* A byte order mark from a Windows editor is not part of the first URL. */
  if (c->len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) c->off = 3;
}

ferry_err_t urllist_next(urllist_cursor_t *c, urllist_entry_t *out, int *eof,
                         char *errbuf) {
  memset(out, 0, sizeof(*out));
  *eof = 0;
  while (c->off < c->len) {
    const char *s = c->buf + c->off;
    const char *nl = memchr(s, '\n', c->len - c->off);
    size_t n = nl ? (size_t)(nl - s) : c->len - c->off;
    int is_entry;
    ferry_err_t rc;
    c->off += n + (nl ? 1 : 0);
    c->line++;
    rc = urllist_parse_line(s, n, c->name, c->line, out, &is_entry, errbuf);
    if (rc != FERRY_OK) return rc;
    if (is_entry) return FERRY_OK;
  }
  *eof = 1;
  return FERRY_OK;
}
