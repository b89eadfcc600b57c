/*
 * auth.c: see auth.h.
 */
#include "web/auth.h"

#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

const char *auth_role_str(auth_role_t r) {
  return r == AUTH_OPERATOR ? "operator" : r == AUTH_VIEWER ? "viewer" : "none";
}

/* ---------- tokens ---------- */

static int name_ok(const char *s, size_t n) {
  size_t i;
  if (n == 0 || n >= AUTH_NAME_MAX) return 0;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!isalnum(c) && c != '.' && c != '_' && c != '@' && c != '-') return 0;
  }
  return 1;
}

static void wipe(char *s) {
  volatile char *p = s;
  while (p && *p) *p++ = '\0';
}

int auth_str_eq(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b), i;
  unsigned char d = (unsigned char)(la != lb);
  /* Every byte of b is looked at whatever a holds: the time says nothing
   * of where they differ. */
  for (i = 0; i < lb; i++) d |= (unsigned char)(b[i] ^ (i < la ? a[i] : 0));
  return d == 0;
}

/* One entry e[0..n) (trimmed), number k, added to ts. */
static ferry_err_t add_entry(auth_tokens_t *ts, const char *e, size_t n, const char *what,
                             size_t k, char *errbuf) {
  const char *c1 = memchr(e, ':', n), *c2;
  auth_role_t role;
  char *secret;
  size_t i, rl, sl;
  if (!c1) goto shape;
  c2 = memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - e));
  if (!c2) goto shape;
  if (!name_ok(e, (size_t)(c1 - e)))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "%s: entry %zu: the name must be 1-%d of A-Z a-z 0-9 . _ @ -", what,
                        k, AUTH_NAME_MAX - 1);
  rl = (size_t)(c2 - c1 - 1);
  if (rl == 6 && memcmp(c1 + 1, "viewer", 6) == 0)
    role = AUTH_VIEWER;
  else if (rl == 8 && memcmp(c1 + 1, "operator", 8) == 0)
    role = AUTH_OPERATOR;
  else
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "%s: entry %zu (token \"%.*s\"): the role must be viewer or operator",
                        what, k, (int)(c1 - e), e);
  sl = n - (size_t)(c2 + 1 - e);
  for (i = 0; i < sl; i++)
    if (!isgraph((unsigned char)c2[1 + i])) break;
  if (sl < AUTH_SECRET_MIN || i < sl)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "%s: entry %zu (token \"%.*s\"): the secret must be at least %d "
                        "printable characters without spaces",
                        what, k, (int)(c1 - e), e, AUTH_SECRET_MIN);
  secret = fx_strndup(c2 + 1, sl);
  for (i = 0; i < ts->n; i++) {
    int same_name = strlen(ts->v[i].name) == (size_t)(c1 - e) &&
                    memcmp(ts->v[i].name, e, (size_t)(c1 - e)) == 0;
    if (same_name || auth_str_eq(secret, ts->v[i].secret)) {
      wipe(secret);
      fx_free(secret);
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          same_name ? "%s: entry %zu: token \"%.*s\" is given twice"
                                    : "%s: entry %zu (token \"%.*s\"): the same secret "
                                      "as another token",
                          what, k, (int)(c1 - e), e);
    }
  }
  ts->v = fx_realloc(ts->v, (ts->n + 1) * sizeof(*ts->v));
  memset(&ts->v[ts->n], 0, sizeof(ts->v[ts->n]));
  memcpy(ts->v[ts->n].name, e, (size_t)(c1 - e));
  ts->v[ts->n].role = role;
  ts->v[ts->n].secret = secret;
  ts->n++;
  return FERRY_OK;
shape:
  return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                      "%s: entry %zu: expected NAME:ROLE:SECRET", what, k);
}

ferry_err_t auth_tokens_parse(auth_tokens_t *ts, const char *text, const char *what,
                              char *errbuf) {
  const char *p = text;
  size_t k = 0;
  int line_start = 1;
  while (p && *p) {
    const char *e = p, *end;
    size_t n;
    ferry_err_t err;
    if (line_start && *p == '#') {   /* a comment line */
      while (*p && *p != '\n') p++;
      continue;
    }
    end = e + strcspn(e, ",\n");
    line_start = *end == '\n';
    p = *end ? end + 1 : end;
    while (e < end && isspace((unsigned char)*e)) e++;
    n = (size_t)(end - e);
    while (n && isspace((unsigned char)e[n - 1])) n--;
    if (!n) {
      if (*end == '\n' || !*end) line_start = 1;
      continue;
    }
    k++;
    if ((err = add_entry(ts, e, n, what, k, errbuf))) return err;
  }
  return FERRY_OK;
}

void auth_tokens_release(auth_tokens_t *ts) {
  size_t i;
  for (i = 0; i < ts->n; i++) {
    wipe(ts->v[i].secret);
    fx_free(ts->v[i].secret);
  }
  fx_free(ts->v);
  ts->v = NULL;
  ts->n = 0;
}

const auth_token_t *auth_tokens_find(const auth_tokens_t *ts, const char *secret) {
  const auth_token_t *hit = NULL;
  size_t i;
  if (!secret) return NULL;
  for (i = 0; i < ts->n; i++)
    if (auth_str_eq(secret, ts->v[i].secret) && !hit) hit = &ts->v[i];
  return hit;
}

/* ---------- headers ---------- */

const char *auth_bearer(const char *h) {
  if (!h || strncasecmp(h, "Bearer ", 7) != 0) return NULL;
  h += 7;
  while (*h == ' ') h++;
  return h;
}

int auth_cookie_get(const char *cookie, const char *name, char *out, size_t outsz) {
  size_t nl = strlen(name);
  const char *p = cookie;
  while (p && *p) {
    const char *end;
    while (*p == ' ' || *p == ';') p++;
    end = p + strcspn(p, ";");
    if ((size_t)(end - p) > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
      size_t vl = (size_t)(end - p - (ptrdiff_t)nl - 1);
      if (vl >= outsz) return 0;
      memcpy(out, p + nl + 1, vl);
      out[vl] = '\0';
      return 1;
    }
    p = end;
  }
  return 0;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int auth_form_get(const char *body, const char *name, char *out, size_t outsz) {
  size_t nl = strlen(name);
  const char *p = body;
  while (p && *p) {
    const char *end = p + strcspn(p, "&");
    if ((size_t)(end - p) >= nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
      const char *v = p + nl + 1;
      size_t o = 0;
      while (v < end) {
        int c = (unsigned char)*v;
        if (c == '+') {
          c = ' ';
          v++;
        } else if (c == '%') {
          if (end - v < 3 || hexval(v[1]) < 0 || hexval(v[2]) < 0) return 0;
          c = hexval(v[1]) * 16 + hexval(v[2]);
          v += 3;
        } else {
          v++;
        }
        if (c == 0 || o + 1 >= outsz) return 0;
        out[o++] = (char)c;
      }
      out[o] = '\0';
      return 1;
    }
    p = *end ? end + 1 : end;
  }
  return 0;
}

/* host[:port] a (len al) against b, the default port dport optional on either. */
static int hostport_eq(const char *a, size_t al, const char *b, const char *dport) {
  size_t bl = strlen(b), dl = strlen(dport);
  if (al == bl && strncasecmp(a, b, al) == 0) return 1;
  /* "h:443" against "h", either way round. */
  if (al == bl + 1 + dl && strncasecmp(a, b, bl) == 0 && a[bl] == ':' &&
      memcmp(a + bl + 1, dport, dl) == 0)
    return 1;
  if (bl == al + 1 + dl && strncasecmp(a, b, al) == 0 && b[al] == ':' &&
      memcmp(b + al + 1, dport, dl) == 0)
    return 1;
  return 0;
}

int auth_same_origin(const char *value, int is_referer, const char *scheme, const char *host) {
  size_t sl;
  const char *h, *end;
  if (!value || !scheme || !host || !*host) return 0;
  sl = strlen(scheme);
  if (strncasecmp(value, scheme, sl) != 0 || strncmp(value + sl, "://", 3) != 0) return 0;
  h = value + sl + 3;
  end = h + strcspn(h, "/?#");
  if (!is_referer && *end) return 0;   /* an Origin has no path */
  if (memchr(h, '@', (size_t)(end - h))) return 0;   /* user@host: not an origin */
  return hostport_eq(h, (size_t)(end - h), host, strcmp(scheme, "https") == 0 ? "443" : "80");
}

int auth_is_loopback(const struct sockaddr *sa) {
  if (!sa) return 0;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
    return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
    if (IN6_IS_ADDR_LOOPBACK(&a->sin6_addr)) return 1;
    return IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && a->sin6_addr.s6_addr[12] == 127;
  }
  return 0;
}

/* ---------- decision ---------- */

static void deny(auth_result_t *o, unsigned status, const char *msg) {
  o->status = status;
  snprintf(o->msg, sizeof(o->msg), "%s", msg);
}

void auth_decide(const auth_req_t *r, auth_result_t *o) {
  memset(o, 0, sizeof(*o));
  if (r->bearer && !r->bearer_tok) {
    deny(o, 401, "unknown token");
    return;
  }
  if (r->bearer_tok) {
    o->role = r->bearer_tok->role;
    o->name = r->bearer_tok->name;
  } else if (r->session_name) {
    o->role = r->session_role;
    o->name = r->session_name;
  }
  if (!r->action) {
    if (o->name || r->loopback || !r->have_tokens) return;
    deny(o, 401, "viewing from another host needs a viewer or operator token "
                 "(Authorization: Bearer, or log in)");
    return;
  }
  if (!r->have_tokens) {
    deny(o, 401, "actions need an operator token, and none is configured "
                 "(reporter.tokens_env, reporter.tokens_file)");
    return;
  }
  if (!o->name) {
    deny(o, 401, "actions need an operator token (Authorization: Bearer, or log in)");
    return;
  }
  if (o->role != AUTH_OPERATOR) {
    deny(o, 403, "this token is a viewer's: actions need an operator token");
    return;
  }
  /* A browser sends Origin with every POST ("null" under the page's
   * no-referrer policy); another site's page cannot forge it. */
  if (r->origin && strcmp(r->origin, "null") != 0) {
    if (!auth_same_origin(r->origin, 0, r->scheme, r->host)) {
      deny(o, 403, "cross-site request refused: the Origin is not this server");
      return;
    }
  } else if (r->referer && !auth_same_origin(r->referer, 1, r->scheme, r->host)) {
    deny(o, 403, "cross-site request refused: the Referer is not this server");
    return;
  }
  /* A cookie goes with any site's request: a session also needs the
   * CSRF token, which only this server's pages know. */
  if (!r->bearer_tok && !r->csrf_ok) {
    deny(o, 403, "missing or wrong CSRF token (X-CSRF-Token) for this session");
    return;
  }
}

/* ---------- sessions ---------- */

typedef struct sess {
  char id[AUTH_ID_LEN + 1];
  char csrf[AUTH_ID_LEN + 1];
  char name[AUTH_NAME_MAX];
  auth_role_t role;
  int64_t expires_ms;
} sess_t;

struct auth_sessions {
  sess_t *v;
  size_t n, max;
  int64_t ttl_ms;
};

auth_sessions_t *auth_sessions_new(size_t max, int64_t ttl_ms) {
  auth_sessions_t *s = fx_calloc(1, sizeof(*s));
  s->max = max ? max : 1;
  s->v = fx_calloc(s->max, sizeof(*s->v));
  s->ttl_ms = ttl_ms;
  return s;
}

void auth_sessions_free(auth_sessions_t *s) {
  if (!s) return;
  memset(s->v, 0, s->max * sizeof(*s->v));
  fx_free(s->v);
  fx_free(s);
}

static ferry_err_t random_hex(char *out, size_t nhex) {
  unsigned char raw[AUTH_ID_LEN / 2];
  size_t got = 0, i;
  static const char hx[] = "0123456789abcdef";
  while (got < nhex / 2) {
    ssize_t r = getrandom(raw + got, nhex / 2 - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return FERRY_ERR_IO;
    got += (size_t)r;
  }
  for (i = 0; i < nhex / 2; i++) {
    out[2 * i] = hx[raw[i] >> 4];
    out[2 * i + 1] = hx[raw[i] & 15];
  }
  out[nhex] = '\0';
  memset(raw, 0, sizeof(raw));
  return FERRY_OK;
}

ferry_err_t auth_session_new(auth_sessions_t *s, const auth_token_t *tok, int64_t now_ms,
                             char id[AUTH_ID_LEN + 1], char csrf[AUTH_ID_LEN + 1]) {
  size_t i, slot = 0;
  /* An expired slot, else the one that expires first (the oldest). */
  for (i = 0; i < s->max; i++) {
    if (s->v[i].expires_ms <= now_ms) {
      slot = i;
      break;
    }
    if (s->v[i].expires_ms < s->v[slot].expires_ms) slot = i;
  }
  if (random_hex(id, AUTH_ID_LEN) || random_hex(csrf, AUTH_ID_LEN)) return FERRY_ERR_IO;
  memset(&s->v[slot], 0, sizeof(s->v[slot]));
  memcpy(s->v[slot].id, id, AUTH_ID_LEN + 1);
  memcpy(s->v[slot].csrf, csrf, AUTH_ID_LEN + 1);
  snprintf(s->v[slot].name, sizeof(s->v[slot].name), "%s", tok->name);
  s->v[slot].role = tok->role;
  s->v[slot].expires_ms = now_ms + s->ttl_ms;
  if (slot >= s->n) s->n = slot + 1;
  return FERRY_OK;
}

static const sess_t *find(const auth_sessions_t *s, const char *id, int64_t now_ms) {
  size_t i;
  const sess_t *hit = NULL;
  if (!id || strlen(id) != AUTH_ID_LEN) return NULL;
  for (i = 0; i < s->n; i++)
    if (s->v[i].expires_ms > now_ms && auth_str_eq(id, s->v[i].id) && !hit) hit = &s->v[i];
  return hit;
}

int auth_session_get(const auth_sessions_t *s, const char *id, int64_t now_ms,
                     char name[AUTH_NAME_MAX], auth_role_t *role,
                     char csrf[AUTH_ID_LEN + 1]) {
  const sess_t *x = find(s, id, now_ms);
  if (!x) return 0;
  if (name) memcpy(name, x->name, AUTH_NAME_MAX);
  if (role) *role = x->role;
  if (csrf) memcpy(csrf, x->csrf, AUTH_ID_LEN + 1);
  return 1;
}

void auth_session_end(auth_sessions_t *s, const char *id) {
  sess_t *x = (sess_t *)find(s, id, INT64_MIN);
  if (x) memset(x, 0, sizeof(*x));
}
