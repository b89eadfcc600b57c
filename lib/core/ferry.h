/*
 * ferry.h: the library-wide error type and allocation policy.
 *
 * Every libferry function that can fail returns ferry_err_t (0 = FERRY_OK) and,
 * where detail helps, writes a one-line message into a caller's errbuf of
 * FERRY_ERRLEN bytes. Nothing is kept in globals. Thread-safe.
 */
#ifndef FERRY_H
#define FERRY_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#define FERRY_ERRLEN 512

typedef enum ferry_err {
  FERRY_OK = 0,
  FERRY_ERR_NOMEM,      /* allocation failed */
  FERRY_ERR_INVALID,    /* bad argument or input */
  FERRY_ERR_PARSE,      /* malformed document (XML, JSON, config) */
  FERRY_ERR_CONFIG,     /* configuration rejected */
  FERRY_ERR_IO,         /* local file or socket error */
  FERRY_ERR_HTTP,       /* transport-level HTTP failure (reset, timeout, DNS) */
  FERRY_ERR_STORE,      /* the object store answered with an error */
  FERRY_ERR_KAFKA,      /* broker or client error */
  FERRY_ERR_TIMEOUT,    /* an operation ran out of time */
  FERRY_ERR_INTEGRITY,  /* checksum or size mismatch */
  FERRY_ERR_NOTFOUND,   /* a named thing does not exist */
  FERRY_ERR__COUNT
} ferry_err_t;

/* The release, "X.Y.Z" (CMake's project version). */
const char *ferry_version(void);

/* Static string naming err; never NULL. */
const char *ferry_err_str(ferry_err_t err);

/*
 * Allocation: out of memory is fatal (a message and abort). All of libferry
 * allocates through these, so tests can swap the hook to inject failures.
 */
void *fx_malloc(size_t n);
void *fx_calloc(size_t n, size_t sz);
void *fx_realloc(void *p, size_t n);
char *fx_strdup(const char *s);            /* NULL in, NULL out */
char *fx_strndup(const char *s, size_t n);
char *fx_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fx_free(void *p);

/* Test hook: when set, called before each allocation; returning non-zero
 * makes that allocation fail (and so abort). NULL restores the default. */
void fx_set_alloc_hook(int (*hook)(size_t n));

/* snprintf into errbuf (may be NULL); returns err for one-line returns:
 *   return ferry_seterr(errbuf, FERRY_ERR_PARSE, "line %d: ...", n); */
ferry_err_t ferry_seterr(char *errbuf, ferry_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define FERRY_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* Each argument may be evaluated twice: pass values, never calls (a clock
 * read twice made a zero wait -1 = forever; see ms_left in lib/bus/bus.c). */
#define FERRY_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FERRY_MAX(a, b) ((a) > (b) ? (a) : (b))

/* The clocks: monotonic (intervals, deadlines) in microseconds and in
 * milliseconds; wall clock (timestamps in messages and logs) in seconds and
 * in milliseconds since the epoch. */
int64_t ferry_now_us(void);
int64_t ferry_mono_ms(void);
int64_t ferry_wall_s(void);
int64_t ferry_wall_ms(void);

#endif
