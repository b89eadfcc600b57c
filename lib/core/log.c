/* log.c: key=value line logging to stderr. */
#include "core/log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

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

void flog_vwrite(flog_level_t lvl, const char *fac, const char *fmt, va_list ap) {
  char line[4096];
  struct timeval tv;
  struct tm tm;
  int n, m;
  gettimeofday(&tv, NULL);
  gmtime_r(&tv.tv_sec, &tm);
  n = snprintf(line, sizeof(line),
               "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s %s[%d] %s: ",
               tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
               tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000),
               names[lvl <= FLOG_TRACE ? lvl : FLOG_TRACE], service,
               (int)getpid(), fac);
  if (n < 0) return;
  m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
  if (m < 0) m = 0;
  n += m;
  if (n > (int)sizeof(line) - 2) n = (int)sizeof(line) - 2;
  line[n++] = '\n';
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
