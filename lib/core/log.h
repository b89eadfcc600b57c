/*
 * log.h: one line per event, "ts level fac key=value ...", to stderr.
 * The level is checked before any formatting. Thread-safe (one write per line).
 * Secrets never reach a log line: credentials are kept in types that never
 * print (see config.h), and callers log store names, never keys.
 *
 * One event is always one line that splits into fields: a value that comes
 * from outside ferry (a key, a task or store name, an error text) goes
 * through FLOG_V or FLOG_Q, which quote and escape it; and flog_vwrite
 * escapes any control character left in the line (\n, \r, \t, \xHH), so
 * nothing a caller passes can start a new line. A value is either a bare
 * token (printable ASCII without space, '"', '=' or '\') or a double-quoted
 * string with the escapes \" \\ \n \r \t \xHH; bytes of valid UTF-8 stay
 * as they are. A line cut at the size limit (4 KiB) has its open quote
 * closed and ends with " truncated=1".
 */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include <stdarg.h>
#include <stddef.h>

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

/* Room for any object key (at most 1023 bytes) quoted whole, each byte
 * escaped as \xHH: 4 * 1023 + 2 quotes + NUL. */
#define FLOG_QMAX 4096

/* flog_value: s as a log value in out[n] (n >= 8): bare when it is a safe
 * token, else quoted and escaped; NULL prints as "-", "" as "". A value
 * that does not fit ends with "..." inside its quotes. Returns out.
 * flog_quoted: the same, always quoted (for fields that read as text).
 * Thread-safe (no state). */
const char *flog_value(char *out, size_t n, const char *s);
const char *flog_quoted(char *out, size_t n, const char *s);
/* For a "%s" argument of one log call: the buffer lives for the call. */
#define FLOG_V(s) flog_value((char[FLOG_QMAX]){0}, FLOG_QMAX, (s))
#define FLOG_Q(s) flog_quoted((char[FLOG_QMAX]){0}, FLOG_QMAX, (s))

/* flog_format: the line flog_vwrite writes (without the time and level
 * prefix): msg escaped as above into out[n] (n >= 32), with "\n". Returns
 * its length. For tests. */
size_t flog_format(char *out, size_t n, const char *msg);

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
