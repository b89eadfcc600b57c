/* urls.c: URL-list lines (urls.h). */
#include "lister/urls.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"

static int blank(char c) { return c == ' ' || c == '\t'; }

/* Well-formed UTF-8 without control bytes (C0, DEL, C1). */
static int text_ok(const unsigned char *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = p[i], k, cp;
    if (c < 0x20 || c == 0x7F) return 0;
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) k = 1, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) k = 2, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) k = 3, cp = c & 0x07;
    else return 0;
    {
      unsigned j;
      for (j = 1; j <= k; j++) {
        if (i + j >= n || (p[i + j] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i + j] & 0x3F);
      }
    }
    if ((k == 1 && cp < 0x80) || (k == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0x80 && cp < 0xA0))
      return 0;
    i += k + 1;
  }
  return 1;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char *lurl_redact(const char *url) {
  const char *q = strchr(url, '?');
  if (!q) return fx_strdup(url);
  return fx_asprintf("%.*s?…", (int)(q - url), url);
}

int lurl_parse(const char *line, size_t len, lurl_t *out, char *errbuf) {
  const char *p = line, *end = line + len, *u, *ue, *auth, *ae, *path, *k, *ke;
  size_t i;
  memset(out, 0, sizeof(*out));
  while (end > p && (end[-1] == '\n' || end[-1] == '\r')) end--;
  while (p < end && blank(*p)) p++;
  if (p == end || *p == '#') return 0;
  if (memchr(p, '\0', (size_t)(end - p))) {
    ferry_seterr(errbuf, FERRY_ERR_PARSE, "a NUL byte in the line");
    return -1;
  }
  u = p;
  while (p < end && !blank(*p)) p++;
  ue = p;
  if ((size_t)(ue - u) > LURL_URL_MAX) {
    ferry_seterr(errbuf, FERRY_ERR_PARSE, "URL longer than %d bytes", LURL_URL_MAX);
    return -1;
  }
  if ((size_t)(ue - u) > 7 && strncasecmp(u, "http://", 7) == 0) auth = u + 7;
  else if ((size_t)(ue - u) > 8 && strncasecmp(u, "https://", 8) == 0) auth = u + 8;
  else {
    ferry_seterr(errbuf, FERRY_ERR_PARSE, "not an http:// or https:// URL");
    return -1;
  }
  for (i = 0; u + i < ue; i++) {
    unsigned char c = (unsigned char)u[i];
    if (c < 0x20 || c == 0x7F) {
      ferry_seterr(errbuf, FERRY_ERR_PARSE, "a control byte in the URL");
      return -1;
    }
    if (c == '#') {
      ferry_seterr(errbuf, FERRY_ERR_PARSE, "a fragment ('#') in the URL: write %%23");
      return -1;
    }
  }
  ae = auth;
  while (ae < ue && *ae != '/' && *ae != '?') ae++;
  if (ae == auth) {
    ferry_seterr(errbuf, FERRY_ERR_PARSE, "no host in the URL");
    return -1;
  }
  if (memchr(auth, '@', (size_t)(ae - auth))) {
    ferry_seterr(errbuf, FERRY_ERR_PARSE, "a user name or password in the URL (put "
                 "credentials in the config, not in the list)");
    return -1;
  }
  for (i = 0; auth + i < ae; i++) {
    char c = auth[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']')) {
      ferry_seterr(errbuf, FERRY_ERR_PARSE, "a bad character in the URL's host");
      return -1;
    }
  }
  if (!text_ok((const unsigned char *)u, (size_t)(ue - u))) {
    ferry_seterr(errbuf, FERRY_ERR_PARSE, "the URL is not valid UTF-8");
    return -1;
  }
  /* The destination key: given, or derived from the path. */
  k = ue;
  while (k < end && blank(*k)) k++;
  ke = end;
  while (ke > k && blank(ke[-1])) ke--;
  if (ke > k) {
    if ((size_t)(ke - k) > LURL_KEY_MAX || !text_ok((const unsigned char *)k, (size_t)(ke - k))) {
      ferry_seterr(errbuf, FERRY_ERR_PARSE, "the destination key is not valid UTF-8 text of "
                   "at most %d bytes", LURL_KEY_MAX);
      return -1;
    }
    out->key = fx_strndup(k, (size_t)(ke - k));
  } else {
    fbuf_t b;
    const char *q;
    path = ae;
    while (path < ue && *path == '/') path++;
    q = path;
    while (q < ue && *q != '?') q++;
    fbuf_init(&b, 0);
    for (; path < q; path++) {
      int h, l;
      if (*path == '%' && q - path >= 3 && (h = hexval(path[1])) >= 0 &&
          (l = hexval(path[2])) >= 0) {
        fbuf_addc(&b, (char)(h * 16 + l));
        path += 2;
      } else {
        fbuf_addc(&b, *path);
      }
    }
    if (b.len == 0 || b.len > LURL_KEY_MAX || memchr(b.p, '\0', b.len) ||
        !text_ok((const unsigned char *)b.p, b.len)) {
      fbuf_release(&b);
      ferry_seterr(errbuf, FERRY_ERR_PARSE, "no destination key: the URL's path is empty, "
                   "too long or not UTF-8 text once decoded; give the key after the URL");
      return -1;
    }
    out->key = fbuf_steal(&b);
    fbuf_release(&b);
  }
  out->url = fx_strndup(u, (size_t)(ue - u));
  return 1;
}

void lurl_release(lurl_t *e) {
  if (!e) return;
  fx_free(e->url);
  fx_free(e->key);
  memset(e, 0, sizeof(*e));
}
