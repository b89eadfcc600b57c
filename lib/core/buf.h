/*
 * buf.h: a growing byte buffer with an optional size cap (like curl's dynbuf).
 * The content is always NUL-terminated. An append past the cap fails with
 * FERRY_ERR_INVALID and frees nothing: the buffer keeps what it had.
 * Not thread-safe; one owner.
 */
#ifndef FERRY_BUF_H
#define FERRY_BUF_H

#include "core/ferry.h"

typedef struct fbuf {
  char *p;      /* owned; NULL until the first append */
  size_t len;
  size_t cap;
  size_t max;   /* 0 = unlimited */
} fbuf_t;

void fbuf_init(fbuf_t *b, size_t max);
void fbuf_release(fbuf_t *b);                 /* frees p; b reusable after init */
void fbuf_reset(fbuf_t *b);                   /* len = 0, keeps memory */
ferry_err_t fbuf_add(fbuf_t *b, const void *p, size_t n);
ferry_err_t fbuf_adds(fbuf_t *b, const char *s);
ferry_err_t fbuf_addc(fbuf_t *b, char c);
ferry_err_t fbuf_addf(fbuf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *fbuf_str(const fbuf_t *b);        /* borrowed; "" when empty */
char *fbuf_steal(fbuf_t *b);                  /* new string; b emptied */

#endif
