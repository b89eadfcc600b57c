/*
 * thrd_shim.c: linked into the services of the ThreadSanitizer build only
 * (CMake FERRY_TSAN). librdkafka starts its threads with C11 thrd_create;
 * glibc implements that by calling its internal pthread_create, which
 * TSan's interceptor never sees, so the first allocation in such a thread
 * finds no TSan thread state and crashes (seen: SEGV in the TSan allocator
 * under getaddrinfo on rdk:broker-1). The executable's definitions take the
 * place of libc's for librdkafka too, and go through the intercepted
 * pthread functions.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

typedef struct {
  thrd_start_t fn;
  void *arg;
} shim_start_t;

static void *shim_run(void *p) {
  shim_start_t s = *(shim_start_t *)p;
  free(p);
  return (void *)(intptr_t)s.fn(s.arg);
}

int thrd_create(thrd_t *thr, thrd_start_t func, void *arg) {
  shim_start_t *s = malloc(sizeof(*s));
  int rc;
  if (!s) return thrd_nomem;
  s->fn = func;
  s->arg = arg;
  rc = pthread_create((pthread_t *)thr, NULL, shim_run, s);
  if (rc) free(s);
  return rc == 0 ? thrd_success : rc == EAGAIN || rc == ENOMEM ? thrd_nomem : thrd_error;
}

int thrd_join(thrd_t thr, int *res) {
  void *v = NULL;
  if (pthread_join((pthread_t)thr, &v)) return thrd_error;
  if (res) *res = (int)(intptr_t)v;
  return thrd_success;
}

int thrd_detach(thrd_t thr) {
  return pthread_detach((pthread_t)thr) ? thrd_error : thrd_success;
}
