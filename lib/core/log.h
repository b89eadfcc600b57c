/*
 * log.h: one line per event, "ts level fac key=value ...", to stderr.
 * The level is checked before any formatting. Thread-safe (one write per line).
 * Secrets never reach a log line: credentials are kept in types that never
 * print (see config.h), and callers log store names, never keys.
 */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include <stdarg.h>

typedef enum flog_level {
  FLOG_ERROR = 0,
  FLOG_WARN = 1,
  FLOG_INFO = 2,
  FLOG_DEBUG = 3,
  FLOG_TRACE = 4
} flog_level_t;

extern int flog_level_cur;

/* Sets the level; returns -1 for an unknown name ("error".."trace"). */
int flog_set_level_str(const char *name);
void flog_set_level(flog_level_t lvl);
void flog_set_service(const char *name);   /* e.g. "worker"; borrowed, static */
void flog_write(flog_level_t lvl, const char *fac, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void flog_vwrite(flog_level_t lvl, const char *fac, const char *fmt, va_list ap);

#define FLOG(lvl, fac, ...)                                                    \
  do {                                                                         \
    if ((int)(lvl) <= flog_level_cur) flog_write((lvl), (fac), __VA_ARGS__);   \
  } while (0)
#define LOG_ERROR(fac, ...) FLOG(FLOG_ERROR, fac, __VA_ARGS__)
#define LOG_WARN(fac, ...) FLOG(FLOG_WARN, fac, __VA_ARGS__)
#define LOG_INFO(fac, ...) FLOG(FLOG_INFO, fac, __VA_ARGS__)
#define LOG_DEBUG(fac, ...) FLOG(FLOG_DEBUG, fac, __VA_ARGS__)
#define LOG_TRACE(fac, ...) FLOG(FLOG_TRACE, fac, __VA_ARGS__)

#endif
