/* buf.c: growing byte buffer. */
#include "core/buf.h"

#include <stdio.h>
#include <string.h>

void fbuf_init(fbuf_t *b, size_t max) {
  b->p = NULL;
  b->len = b->cap = 0;
  b->max = max;
}

void fbuf_release(fbuf_t *b) {
  fx_free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

void fbuf_reset(fbuf_t *b) {
  b->len = 0;
  if (b->p) b->p[0] = '\0';
}

static ferry_err_t grow(fbuf_t *b, size_t extra) {
  size_t need = b->len + extra + 1;
  size_t cap;
  if (b->max && b->len + extra > b->max) return FERRY_ERR_INVALID;
  if (need <= b->cap) return FERRY_OK;
  cap = b->cap ? b->cap : 64;
  while (cap < need) cap *= 2;
  b->p = fx_realloc(b->p, cap);
  b->cap = cap;
  return FERRY_OK;
}

ferry_err_t fbuf_add(fbuf_t *b, const void *p, size_t n) {
  ferry_err_t err = grow(b, n);
  if (err) return err;
  if (n) memcpy(b->p + b->len, p, n);
  b->len += n;
  b->p[b->len] = '\0';
  return FERRY_OK;
}

ferry_err_t fbuf_adds(fbuf_t *b, const char *s) { return fbuf_add(b, s, strlen(s)); }

ferry_err_t fbuf_addc(fbuf_t *b, char c) { return fbuf_add(b, &c, 1); }

ferry_err_t fbuf_addf(fbuf_t *b, const char *fmt, ...) {
  va_list ap;
  int n;
  ferry_err_t err;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return FERRY_ERR_INVALID;
  if ((err = grow(b, (size_t)n))) return err;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return FERRY_OK;
}

const char *fbuf_str(const fbuf_t *b) { return b->p ? b->p : ""; }

char *fbuf_steal(fbuf_t *b) {
  char *p = b->p ? b->p : fx_strdup("");
  b->p = NULL;
  b->len = b->cap = 0;
  return p;
}
