/* log.c: key=value line logging to stderr. */
#include "core/log.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/enc.h"

int flog_level_cur = FLOG_INFO;
static const char *service = "ferry";

static const char *names[] = {"error", "warn", "info", "debug", "trace"};

void flog_set_level(flog_level_t lvl) { flog_level_cur = (int)lvl; }

int flog_set_level_str(const char *name) {
  size_t i;
  for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    if (strcasecmp(name, names[i]) == 0) {
      flog_level_cur = (int)i;
      return 0;
    }
  }
  return -1;
}

void flog_set_service(const char *name) { service = name; }

/* The escape of byte c (a control character or a byte of invalid UTF-8)
 * into e[5]; returns its length. */
static size_t esc_byte(unsigned char c, char e[5]) {
  static const char hex[] = "0123456789abcdef";
  e[0] = '\\';
  switch (c) {
    case '\n':
      e[1] = 'n';
      return 2;
    case '\r':
      e[1] = 'r';
      return 2;
    case '\t':
      e[1] = 't';
      return 2;
    default:
      e[1] = 'x';
      e[2] = hex[c >> 4];
      e[3] = hex[c & 15];
      return 4;
  }
}

static int bare_ok(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  if (!*p) return 0;
  for (; *p; p++)
    if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '=' || *p == '\\') return 0;
  return 1;
}

static const char *quote(char *out, size_t n, const char *s, int always) {
  const unsigned char *p;
  size_t o = 0, u;
  char e[5];
  if (n < 8) {
    if (n) out[0] = '\0';
    return out;
  }
  if (!s) s = "-";
  if (!always && bare_ok(s)) {
    snprintf(out, n, "%s", s);
    if (strlen(s) >= n) memcpy(out + n - 4, "...", 4);
    return out;
  }
  out[o++] = '"';
  for (p = (const unsigned char *)s; *p; p += u) {
    const char *src = e;
    size_t len;
    u = 1;
    if (*p == '"' || *p == '\\') {
      e[0] = '\\';
      e[1] = (char)*p;
      len = 2;
    } else if (*p < 0x20 || *p == 0x7f) {
      len = esc_byte(*p, e);
    } else if (*p < 0x80) {
      src = (const char *)p;
      len = 1;
    } else if ((u = enc_utf8_char((const char *)p, 4)) != 0) { /* the NUL ends a cut one */
      src = (const char *)p;
      len = u;
    } else {
      u = 1;
      len = esc_byte(*p, e);
    }
    /* Keep room for the closing quote and the NUL, and for "..." before
     * them unless this is the last unit. */
    if (o + len + (p[u] ? 5 : 2) > n) {
      memcpy(out + o, "...", 3);
      o += 3;
      break;
    }
    memcpy(out + o, src, len);
    o += len;
  }
  out[o++] = '"';
  out[o] = '\0';
  return out;
}

const char *flog_value(char *out, size_t n, const char *s) {
  return quote(out, n, s, 0);
}
const char *flog_quoted(char *out, size_t n, const char *s) {
  return quote(out, n, s, 1);
}

/* msg into out[n] with a '\n': control characters and invalid UTF-8
 * escaped, so one event is one line; cut at a whole unit (never inside an
 * escape), an open quote closed and " truncated=1" appended when it does not
 * fit or `cut` says the message was already cut. */
static size_t fmt_line(char *out, size_t n, const char *msg, int cut) {
  static const char tail[] = " truncated=1";
  const unsigned char *p = (const unsigned char *)msg;
  size_t o = 0, room;
  int in_q = 0;
  char e[5];
  if (n < 32) {
    if (n) out[0] = '\0';
    return 0;
  }
  /* The closing quote, the tail, '\n' and NUL always fit. */
  room = n - (sizeof(tail) - 1) - 3;
  while (*p) {
    const char *src = (const char *)p;
    size_t len, adv;
    if (*p < 0x20 || *p == 0x7f) {
      len = esc_byte(*p, e);
      src = e;
      adv = 1;
    } else if (*p >= 0x80) {
      adv = enc_utf8_char((const char *)p, 4);
      if (adv) {
        len = adv;
      } else {
        len = esc_byte(*p, e);
        src = e;
        adv = 1;
      }
    } else if (in_q && *p == '\\' && p[1] >= 0x20 && p[1] < 0x7f) {
      /* An escape made by flog_value: kept whole. */
      len = adv = (p[1] == 'x' && isxdigit(p[2]) && isxdigit(p[3])) ? 4 : 2;
    } else {
      if (*p == '"') in_q = !in_q;
      len = adv = 1;
    }
    if (o + len > room) {
      cut = 1;
      if (*p == '"' && len == 1) in_q = !in_q; /* not copied after all */
      break;
    }
    memcpy(out + o, src, len);
    o += len;
    p += adv;
  }
  if (cut) {
    if (in_q) out[o++] = '"';
    while (o > 0 && out[o - 1] == ' ') o--;
    memcpy(out + o, tail, sizeof(tail) - 1);
    o += sizeof(tail) - 1;
  }
  out[o++] = '\n';
  out[o] = '\0';
  return o;
}

size_t flog_format(char *out, size_t n, const char *msg) {
  return fmt_line(out, n, msg, 0);
}

void flog_vwrite(flog_level_t lvl, const char *fac, const char *fmt, va_list ap) {
  char line[4096], msg[4096];
  int64_t now = ferry_wall_ms();
  time_t sec = (time_t)(now / 1000);
  struct tm tm;
  int n, m;
  gmtime_r(&sec, &tm);
  n = snprintf(line, sizeof(line),
               "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s %s[%d] %s: ",
               tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
               tm.tm_min, tm.tm_sec, (int)(now % 1000),
               names[lvl <= FLOG_TRACE ? lvl : FLOG_TRACE], service,
               (int)getpid(), fac);
  if (n < 0 || n > 512) return;
  m = vsnprintf(msg, sizeof(msg), fmt, ap);
  if (m < 0) {
    msg[0] = '\0';
    m = 0;
  }
  n += (int)fmt_line(line + n, sizeof(line) - (size_t)n, msg, m >= (int)sizeof(msg));
  /* One write(2) per line keeps lines whole across threads and processes. */
  if (write(STDERR_FILENO, line, (size_t)n) < 0) {
    /* Nothing sensible to do when stderr is gone. */
  }
}

void flog_write(flog_level_t lvl, const char *fac, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  flog_vwrite(lvl, fac, fmt, ap);
  va_end(ap);
}
