/* ferry.c: error strings, allocation wrappers, clocks. */
#include "core/ferry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int (*alloc_hook)(size_t n);

#ifndef FERRY_VERSION
#define FERRY_VERSION "unknown" /* built outside CMake */
#endif

const char *ferry_version(void) { return FERRY_VERSION; }

const char *ferry_err_str(ferry_err_t err) {
  switch (err) {
  case FERRY_OK: return "ok";
  case FERRY_ERR_NOMEM: return "out of memory";
  case FERRY_ERR_INVALID: return "invalid argument";
  case FERRY_ERR_PARSE: return "parse error";
  case FERRY_ERR_CONFIG: return "configuration error";
  case FERRY_ERR_IO: return "I/O error";
  case FERRY_ERR_HTTP: return "HTTP transport error";
  case FERRY_ERR_STORE: return "object store error";
  case FERRY_ERR_KAFKA: return "Kafka error";
  case FERRY_ERR_TIMEOUT: return "timed out";
  case FERRY_ERR_INTEGRITY: return "integrity check failed";
  case FERRY_ERR_NOTFOUND: return "not found";
  case FERRY_ERR__COUNT: break;
  }
  return "unknown error";
}

void fx_set_alloc_hook(int (*hook)(size_t n)) { alloc_hook = hook; }

static void *oom(size_t n) {
  fprintf(stderr, "ferry: out of memory allocating %zu bytes\n", n);
  abort();
}

void *fx_malloc(size_t n) {
  void *p;
  if (alloc_hook && alloc_hook(n)) return oom(n);
  p = malloc(n ? n : 1);
  return p ? p : oom(n);
}

void *fx_calloc(size_t n, size_t sz) {
  void *p;
  if (alloc_hook && alloc_hook(n * sz)) return oom(n * sz);
  p = calloc(n ? n : 1, sz ? sz : 1);
  return p ? p : oom(n * sz);
}

void *fx_realloc(void *p, size_t n) {
  void *q;
  if (alloc_hook && alloc_hook(n)) return oom(n);
  q = realloc(p, n ? n : 1);
  return q ? q : oom(n);
}

char *fx_strdup(const char *s) {
  return s ? fx_strndup(s, strlen(s)) : NULL;
}

char *fx_strndup(const char *s, size_t n) {
  char *p = fx_malloc(n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *fx_asprintf(const char *fmt, ...) {
  va_list ap;
  int n;
  char *p;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  p = fx_malloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

void fx_free(void *p) { free(p); }

ferry_err_t ferry_seterr(char *errbuf, ferry_err_t err, const char *fmt, ...) {
  va_list ap;
  if (!errbuf) return err;
  va_start(ap, fmt);
  vsnprintf(errbuf, FERRY_ERRLEN, fmt, ap);
  va_end(ap);
  return err;
}

int64_t ferry_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t ferry_mono_ms(void) { return ferry_now_us() / 1000; }

int64_t ferry_wall_s(void) { return (int64_t)time(NULL); }

int64_t ferry_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
