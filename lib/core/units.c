/*
 * units.c: sizes, durations and times in text (units.h). Pure.
 */
#include "core/units.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

ferry_err_t conf_parse_size(const char *s, uint64_t *out, char *errbuf) {
  const char *p = s;
  uint64_t v = 0, mul = 1;
  int digits = 0;
  while (*p == ' ') p++;
  if (*p == '-')
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "\"%s\": a size cannot be negative",
                        s);
  while (isdigit((unsigned char)*p)) {
    if (v > (UINT64_MAX - 9) / 10) goto overflow;
    v = v * 10 + (uint64_t)(*p - '0');
    p++;
    digits++;
  }
  if (!digits)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "\"%s\" is not a size (bytes, or a number with K, M, G, T, P)",
                        s);
  if (*p == '.' || *p == ',')
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "\"%s\": write a whole number (e.g. 1536M, not 1.5G)", s);
  while (*p == ' ') p++;
  if (*p) {
    const char *u = strchr("kmgtp", tolower((unsigned char)*p));
    if (u) {
      int i, e = (int)(u - "kmgtp") + 1;
      for (i = 0; i < e; i++) mul *= 1024;
      p++;
      if (*p == 'i' || *p == 'I') p++;
      if (*p == 'B' || *p == 'b') p++;
    } else if (*p == 'B' || *p == 'b') {
      p++;
    }
    while (*p == ' ') p++;
    if (*p)
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "\"%s\": unknown size suffix (use K, M, G, T or P; all are "
                          "powers of 1024)",
                          s);
  }
  if (v != 0 && mul > UINT64_MAX / v) goto overflow;
  *out = v * mul;
  return FERRY_OK;
overflow:
  return ferry_seterr(errbuf, FERRY_ERR_INVALID, "\"%s\" is too large", s);
}

ferry_err_t conf_parse_duration(const char *s, int64_t bare_unit_ms, int64_t *out_ms,
                                char *errbuf) {
  static const struct {
    const char *u;
    int64_t ms;
  } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
  const char *p = s;
  int64_t v = 0, mul = bare_unit_ms;
  int digits = 0;
  size_t i;
  while (*p == ' ') p++;
  while (isdigit((unsigned char)*p)) {
    if (v > (INT64_MAX - 9) / 10) goto overflow;
    v = v * 10 + (*p - '0');
    p++;
    digits++;
  }
  if (!digits)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "\"%s\" is not a duration (a whole number, optionally with ms, "
                        "s, m, h or d)",
                        s);
  while (*p == ' ') p++;
  if (*p) {
    size_t n = strlen(p);
    while (n > 0 && p[n - 1] == ' ') n--;
    for (i = 0; i < FERRY_ARRAY_LEN(units); i++)
      if (strlen(units[i].u) == n && strncasecmp(p, units[i].u, n) == 0) break;
    if (i == FERRY_ARRAY_LEN(units))
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "\"%s\": unknown unit (use ms, s, m, h or d)", s);
    mul = units[i].ms;
  }
  if (v != 0 && mul > INT64_MAX / v) goto overflow;
  *out_ms = v * mul;
  return FERRY_OK;
overflow:
  return ferry_seterr(errbuf, FERRY_ERR_INVALID, "\"%s\" is too large", s);
}

/* Reads exactly n digits. */
static int digits_n(const char **p, int n, int *out) {
  int v = 0, i;
  for (i = 0; i < n; i++) {
    if (!isdigit((unsigned char)(*p)[i])) return -1;
    v = v * 10 + ((*p)[i] - '0');
  }
  *p += n;
  *out = v;
  return 0;
}

ferry_err_t conf_parse_time(const char *s, int64_t *out, char *errbuf) {
  const char *p = s;
  struct tm tm, chk;
  int y, mo, d, h = 0, mi = 0, sec = 0, off = 0;
  time_t t;
  memset(&tm, 0, sizeof(tm));
  if (digits_n(&p, 4, &y) || *p++ != '-' || digits_n(&p, 2, &mo) || *p++ != '-' ||
      digits_n(&p, 2, &d))
    goto bad;
  if (*p == 'T' || *p == 't' || *p == ' ') {
    p++;
    if (digits_n(&p, 2, &h) || *p++ != ':' || digits_n(&p, 2, &mi)) goto bad;
    if (*p == ':') {
      p++;
      if (digits_n(&p, 2, &sec)) goto bad;
      if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++) {
        }
    }
    if (*p == 'Z' || *p == 'z') {
      p++;
    } else if (*p == '+' || *p == '-') {
      int sign = *p == '-' ? -1 : 1, oh, om;
      p++;
      if (digits_n(&p, 2, &oh)) goto bad;
      if (*p == ':') p++;
      if (digits_n(&p, 2, &om) || oh > 14 || om > 59) goto bad;
      off = sign * (oh * 3600 + om * 60);
    }
  }
  if (*p) goto bad;
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
    goto bad;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  t = timegm(&tm);
  /* timegm normalizes Feb 30 into March; a round trip catches it. */
  if (!gmtime_r(&t, &chk) || chk.tm_mday != d || chk.tm_mon != mo - 1) goto bad;
  if ((int64_t)t - off <= 0)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "\"%s\" is not after 1970-01-01", s);
  *out = (int64_t)t - off;
  return FERRY_OK;
bad:
  return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                      "\"%s\" is not a date: use \"YYYY-MM-DD\" or "
                      "\"YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM]\"",
                      s);
}

ferry_err_t conf_parse_window(const char *s, conf_window_t *out, char *errbuf) {
  const char *p = s;
  int h1, m1, h2, m2;
  if (digits_n(&p, 2, &h1) || *p++ != ':' || digits_n(&p, 2, &m1) || *p++ != '-' ||
      digits_n(&p, 2, &h2) || *p++ != ':' || digits_n(&p, 2, &m2) || *p)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "\"%s\": expected \"HH:MM-HH:MM\" (e.g. \"22:00-06:00\")", s);
  if (h1 > 23 || m1 > 59 || m2 > 59 || h2 > 24 || (h2 == 24 && m2 != 0))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "\"%s\": hours are 00..23 (24:00 only as an end), minutes "
                        "00..59",
                        s);
  if (h1 * 60 + m1 == h2 * 60 + m2)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "\"%s\" is empty (start equals end); for all day write "
                        "\"00:00-24:00\"",
                        s);
  out->start_min = h1 * 60 + m1;
  out->end_min = h2 * 60 + m2;
  return FERRY_OK;
}

static int window_has(const conf_window_t *x, int minute_of_day) {
  if (x->start_min < x->end_min)
    return minute_of_day >= x->start_min && minute_of_day < x->end_min;
  return minute_of_day >= x->start_min || minute_of_day < x->end_min;
}

int conf_windows_allow(const conf_windows_t *w, int minute_of_day) {
  size_t i;
  if (!w || w->n == 0) return 1;
  for (i = 0; i < w->n; i++)
    if (window_has(&w->v[i], minute_of_day)) return 1;
  return 0;
}

ferry_err_t conf_parse_bwsched(const char *s, conf_window_t *win, uint64_t *bw, char *errbuf) {
  char w[16], eb[FERRY_ERRLEN];
  const char *eq = strchr(s, '=');
  size_t n = eq ? (size_t)(eq - s) : 0;
  if (!eq || n >= sizeof(w))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "\"%.60s\": expected \"HH:MM-HH:MM=SIZE\" (e.g. \"08:00-19:00=10M\", "
                        "0 = unlimited)",
                        s);
  memcpy(w, s, n);
  w[n] = '\0';
  if (conf_parse_window(w, win, eb) != FERRY_OK)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "\"%.60s\": %s", s, eb);
  if (conf_parse_size(eq + 1, bw, eb) != FERRY_OK)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "\"%.60s\": %s", s, eb);
  return FERRY_OK;
}

uint64_t conf_bwsched_at(const char *const *sched, size_t n, int minute_of_day,
                         uint64_t otherwise) {
  size_t i;
  for (i = 0; i < n; i++) {
    conf_window_t w;
    uint64_t bw;
    char eb[FERRY_ERRLEN];
    if (sched[i] && conf_parse_bwsched(sched[i], &w, &bw, eb) == FERRY_OK &&
        window_has(&w, minute_of_day))
      return bw;
  }
  return otherwise;
}
