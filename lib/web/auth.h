/*
 * auth.h: who may look at and act on a service's HTTP endpoints — access
 * tokens with a role (viewer or operator), login sessions, and the checks a
 * request passes (role, same origin, CSRF), as pure functions the server
 * (reporter/http.c) calls and the unit tests drive (tests/unit/test_auth.c).
 * docs/security.md, "The status page and its actions".
 *
 * A token's secret is never logged nor put in an error message: messages
 * name the token (its `name`) or the entry's position only.
 *
 * Thread-safety: tokens are read-only once parsed. A session table is used
 * by one thread at a time (the server's; libmicrohttpd's internal thread
 * answers one request at a time).
 */
#ifndef FERRY_WEB_AUTH_H
#define FERRY_WEB_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/ferry.h"

typedef enum auth_role { AUTH_NONE = 0, AUTH_VIEWER = 1, AUTH_OPERATOR = 2 } auth_role_t;

/* "viewer", "operator" ("none" for AUTH_NONE). Static. */
const char *auth_role_str(auth_role_t r);

#define AUTH_NAME_MAX 64       /* a token's name, with its NUL */
#define AUTH_SECRET_MIN 16     /* shorter secrets are refused: guessable */

typedef struct auth_token {
  char name[AUTH_NAME_MAX];
  auth_role_t role;
  char *secret;
} auth_token_t;

typedef struct auth_tokens {
  auth_token_t *v;
  size_t n;
} auth_tokens_t;

/*
 * Adds the tokens of text to ts: entries "NAME:ROLE:SECRET" separated by
 * commas or newlines; blank entries and lines starting with '#' are skipped.
 * NAME is 1..63 of A-Z a-z 0-9 . _ @ -; ROLE viewer or operator; SECRET at
 * least AUTH_SECRET_MIN bytes, printable, no space (it may hold ':').
 * A name or a secret given twice (in this text or before) is an error.
 * FERRY_ERR_INVALID with errbuf "WHAT: entry N: ..." (never the secret);
 * ts keeps the entries added before the bad one.
 */
ferry_err_t auth_tokens_parse(auth_tokens_t *ts, const char *text, const char *what,
                              char *errbuf);
/* Frees every secret (wiped first). Accepts an empty set. */
void auth_tokens_release(auth_tokens_t *ts);
/* The token whose secret is secret (every secret is compared, each in
 * constant time), or NULL. */
const auth_token_t *auth_tokens_find(const auth_tokens_t *ts, const char *secret);

/* The credentials of "Authorization: Bearer X" (scheme case-insensitive),
 * or NULL when the header is absent or of another scheme. */
const char *auth_bearer(const char *authorization);

/* The value of cookie name in a Cookie header, copied into out (at most
 * outsz - 1 bytes; longer is "absent"). 1 found, 0 not. */
int auth_cookie_get(const char *cookie, const char *name, char *out, size_t outsz);

/*
 * Whether an Origin header (or, is_referer, a Referer) names this server:
 * its scheme is scheme ("http" or "https") and its host[:port] is host (the
 * request's Host header; case-insensitive, the default port of the scheme
 * may be left out on either side). A Referer may have a path. "null" and
 * anything else do not.
 */
int auth_same_origin(const char *value, int is_referer, const char *scheme, const char *host);

/* 1 when sa is an IPv4 127.0.0.0/8 or IPv6 ::1 (or ::ffff:127.x) address. */
int auth_is_loopback(const struct sockaddr *sa);

/* ---------- the decision on one request ---------- */

typedef struct auth_req {
  int action;              /* a POST: it changes something */
  int loopback;            /* the client is on loopback (never behind a proxy) */
  int have_tokens;         /* tokens are configured */
  const char *bearer;      /* Authorization: Bearer's secret, or NULL */
  const auth_token_t *bearer_tok;   /* what it matched, or NULL */
  const char *session_name;         /* a valid session cookie's token name, or NULL */
  auth_role_t session_role;
  int csrf_ok;             /* the session's CSRF token came with the request */
  const char *origin;      /* Origin header or NULL */
  const char *referer;     /* Referer header or NULL */
  const char *scheme;      /* "http" or "https" as the client sees the server */
  const char *host;        /* Host header or NULL */
} auth_req_t;

typedef struct auth_result {
  unsigned status;         /* 0 allowed, else 401 or 403 */
  auth_role_t role;        /* who is acting (AUTH_NONE: anonymous loopback viewer) */
  const char *name;        /* the token's name, or NULL */
  char msg[200];           /* why not, for the JSON error (never a secret) */
} auth_result_t;

/*
 * Decides a request (docs/security.md):
 *  - a Bearer secret that matches no token: 401;
 *  - viewing (not action): open on loopback or when no token is configured;
 *    otherwise a viewer or operator token (Bearer or session), else 401;
 *  - an action: an operator's token (Bearer or session): none 401, a
 *    viewer's 403; an Origin (other than "null") or, without one, a Referer
 *    that is not this server: 403; with a session cookie (no Bearer) also
 *    the session's CSRF token, else 403.
 */
void auth_decide(const auth_req_t *r, auth_result_t *out);

/* ---------- sessions (the login form) ---------- */

#define AUTH_ID_LEN 32           /* hex characters of a session id / CSRF token */

typedef struct auth_sessions auth_sessions_t;

/* At most max sessions (the oldest goes first), each valid ttl_ms. */
auth_sessions_t *auth_sessions_new(size_t max, int64_t ttl_ms);
void auth_sessions_free(auth_sessions_t *s);
/* A new session for tok: id and csrf get AUTH_ID_LEN random hex characters
 * and a NUL. FERRY_ERR_IO when the system has no randomness to give. */
ferry_err_t auth_session_new(auth_sessions_t *s, const auth_token_t *tok, int64_t now_ms,
                             char id[AUTH_ID_LEN + 1], char csrf[AUTH_ID_LEN + 1]);
/* The live session id: 1 with its token's name, role and CSRF token copied
 * out (any may be NULL), else 0. */
int auth_session_get(const auth_sessions_t *s, const char *id, int64_t now_ms,
                     char name[AUTH_NAME_MAX], auth_role_t *role,
                     char csrf[AUTH_ID_LEN + 1]);
/* Ends session id (unknown: nothing). */
void auth_session_end(auth_sessions_t *s, const char *id);
/* The value of field name in an application/x-www-form-urlencoded body
 * ('+' and %XX decoded) into out (at most outsz - 1 bytes): 1 found, 0 not
 * (or too long, or a bad escape, or one that decodes to NUL). */
int auth_form_get(const char *body, const char *name, char *out, size_t outsz);

/* Constant-time comparison of two NUL-terminated strings: 1 equal. */
int auth_str_eq(const char *a, const char *b);

#endif
