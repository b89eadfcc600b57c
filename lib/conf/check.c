/*
 * check.c: the config loader's checks of string values (names, endpoints,
 * host:port, broker lists, topic prefixes), which the key tables name.
 */
#include "conf/confint.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int conf_has_ctl_or_space(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s <= 0x20 || *s == 0x7f) return 1;
  return 0;
}

ferry_err_t conf_check_name(const char *s, char *errbuf) {
  const char *p;
  size_t n = strlen(s);
  if (n == 0) return ferry_seterr(errbuf, FERRY_ERR_INVALID, "must not be empty");
  if (n > 64)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "\"%.64s...\" is longer than 64", s);
  if (!isalnum((unsigned char)s[0]))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "\"%s\" must start with a letter or digit", s);
  for (p = s; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "\"%s\": only letters, digits, '.', '_' and '-' are allowed",
                          s);
  return FERRY_OK;
}

ferry_err_t conf_check_word(const char *s, char *errbuf) {
  const char *p;
  if (strlen(s) > 128)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "longer than 128 characters");
  for (p = s; *p; p++)
    if (!isalnum((unsigned char)*p) && !strchr("._-:", *p))
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "\"%s\": only letters, digits, '.', '_', '-' and ':' are "
                          "allowed",
                          s);
  return FERRY_OK;
}

ferry_err_t conf_check_nonempty(const char *s, char *errbuf) {
  if (!*s) return ferry_seterr(errbuf, FERRY_ERR_INVALID, "must not be empty");
  return FERRY_OK;
}

ferry_err_t conf_check_envname(const char *s, char *errbuf) {
  const char *p;
  if (!isalpha((unsigned char)s[0]) && s[0] != '_') goto bad;
  for (p = s; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '_') goto bad;
  return FERRY_OK;
bad:
  return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                      "\"%s\" is not an environment variable name (A-Z, 0-9, _)", s);
}

static ferry_err_t check_port(const char *p, const char *whole, char *errbuf) {
  char *e;
  long v;
  if (!*p || !isdigit((unsigned char)*p)) goto bad;
  errno = 0;
  v = strtol(p, &e, 10);
  if (*e || errno || v < 1 || v > 65535) goto bad;
  return FERRY_OK;
bad:
  return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                      "\"%s\": expected ADDR:PORT with a port 1..65535", whole);
}

ferry_err_t conf_check_hostport(const char *s, char *errbuf) {
  const char *colon;
  if (conf_has_ctl_or_space(s))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "\"%s\" contains a space", s);
  if (s[0] == '[') {
    const char *rb = strchr(s, ']');
    if (!rb || rb == s + 1 || rb[1] != ':')
      return ferry_seterr(errbuf, FERRY_ERR_INVALID, "\"%s\": expected [IPV6]:PORT", s);
    return check_port(rb + 2, s, errbuf);
  }
  colon = strrchr(s, ':');
  if (!colon || colon == s || memchr(s, ':', (size_t)(colon - s)))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "\"%s\": expected ADDR:PORT (IPv6 as [ADDR]:PORT)", s);
  return check_port(colon + 1, s, errbuf);
}

/* A listen address: ADDR:PORT as conf_check_hostport, and also ":PORT" (the
 * loopback address) and port 0 (any free port; the server logs it). */
ferry_err_t conf_check_listen(const char *s, char *errbuf) {
  size_t n = strlen(s);
  int any_port = n >= 2 && strcmp(s + n - 2, ":0") == 0;
  char *t = fx_asprintf("%s%.*s%s", s[0] == ':' ? "127.0.0.1" : "",
                        (int)(any_port ? n - 2 : n), s, any_port ? ":1" : "");
  ferry_err_t e = conf_check_hostport(t, NULL);
  fx_free(t);
  if (e)
    return ferry_seterr(errbuf, e,
                        "\"%s\": expected ADDR:PORT, :PORT or [IPV6]:PORT with a port "
                        "0..65535",
                        s);
  return FERRY_OK;
}

ferry_err_t conf_check_endpoint(const char *s, char *errbuf) {
  const char *h = s, *sep, *p;
  if (!*s) return ferry_seterr(errbuf, FERRY_ERR_INVALID, "must not be empty");
  if (conf_has_ctl_or_space(s))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "\"%s\" contains a space", s);
  sep = strstr(s, "://");
  if (sep) {
    if (!((sep - s == 4 && strncasecmp(s, "http", 4) == 0) ||
          (sep - s == 5 && strncasecmp(s, "https", 5) == 0)))
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "\"%s\": the scheme must be http:// or https://", s);
    h = sep + 3;
  }
  if (!*h || *h == '/' || *h == ':')
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "\"%s\" has no host", s);
  for (p = h; *p; p++) {
    if (*p == '@' || *p == '?' || *p == '#')
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "\"%s\": an endpoint is scheme://host[:port] only (no user, "
                          "query or fragment)",
                          s);
    if (*p == '/' && p[1])
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "\"%s\": an endpoint has no path; buckets go in tasks", s);
  }
  return FERRY_OK;
}

ferry_err_t conf_check_brokers(const char *s, char *errbuf) {
  const char *p = s, *q;
  if (!*s) return FERRY_OK;
  if (conf_has_ctl_or_space(s))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "\"%s\" contains a space", s);
  for (;;) {
    q = strchr(p, ',');
    if ((q ? q : p + strlen(p)) == p)
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "\"%s\": empty entry in the comma-separated list", s);
    if (!q) break;
    p = q + 1;
  }
  return FERRY_OK;
}

ferry_err_t conf_check_topic_prefix(const char *s, char *errbuf) {
  const char *p;
  if (strlen(s) > 200)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "longer than 200 characters");
  for (p = s; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "\"%s\": Kafka topic names allow letters, digits, '.', '_' "
                          "and '-'",
                          s);
  return FERRY_OK;
}

