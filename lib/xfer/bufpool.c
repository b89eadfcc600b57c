/* bufpool.c: see bufpool.h. */
#include "xfer/bufpool.h"

#include "core/ferry.h"

void bufpool_init(bufpool_t *bp, size_t size, size_t max_cached) {
  bp->size = size ? size : 1;
  bp->max_cached = max_cached;
  bp->cached = max_cached ? fx_calloc(max_cached, sizeof(*bp->cached)) : NULL;
  bp->n_cached = 0;
  bp->live = bp->peak_live = 0;
  bp->allocs = 0;
}

char *bufpool_get(bufpool_t *bp) {
  char *b;
  if (bp->n_cached > 0) {
    b = bp->cached[--bp->n_cached];
  } else {
    b = fx_malloc(bp->size);
    bp->allocs++;
  }
  bp->live++;
  if (bp->live > bp->peak_live) bp->peak_live = bp->live;
  return b;
}

void bufpool_put(bufpool_t *bp, char *buf) {
  if (!buf) return;
  if (bp->live > 0) bp->live--;
  if (bp->n_cached < bp->max_cached) {
    bp->cached[bp->n_cached++] = buf;
    return;
  }
  fx_free(buf);
}

void bufpool_trim(bufpool_t *bp) {
  while (bp->n_cached > 0) fx_free(bp->cached[--bp->n_cached]);
}

void bufpool_release(bufpool_t *bp) {
  if (!bp) return;
  bufpool_trim(bp);
  fx_free(bp->cached);
  bp->cached = NULL;
  bp->max_cached = 0;
}

size_t bufpool_bytes(const bufpool_t *bp) { return (bp->live + bp->n_cached) * bp->size; }
