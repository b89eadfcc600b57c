/*
 * bufpool.h: a pool of equal-sized buffers, the copy engine's ring buffers.
 *
 * A streamed pair takes its ring when it starts and gives it back when it
 * ends (or before it waits for a retry), so the engine holds at most one ring
 * per running pair, never one per queued part. Given-back buffers are kept
 * for reuse, up to max_cached, so a steady stream of pairs does not churn
 * malloc (whose freed 1 MiB blocks fragment the heap and stay resident);
 * bufpool_trim() hands the kept ones back, e.g. when the engine goes idle.
 *
 * Pure bookkeeping over fx_malloc/fx_free. Not thread-safe: one pool per
 * event loop. The caller owns the buffers it got until it puts them back.
 */
#ifndef FERRY_XFER_BUFPOOL_H
#define FERRY_XFER_BUFPOOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct bufpool {
  size_t size;        /* bytes per buffer (> 0) */
  size_t max_cached;  /* free buffers kept for reuse */
  char **cached;      /* the kept buffers */
  size_t n_cached;
  size_t live;        /* handed out and not yet given back */
  size_t peak_live;   /* most ever handed out at once */
  uint64_t allocs;    /* buffers allocated (cache misses) */
} bufpool_t;

/* An empty pool of `size`-byte buffers keeping up to max_cached for reuse. */
void bufpool_init(bufpool_t *bp, size_t size, size_t max_cached);

/* A buffer of bp->size bytes (contents undefined): a kept one if any. */
char *bufpool_get(bufpool_t *bp);

/* Gives buf (from bufpool_get of this pool; NULL is ignored) back: kept for
 * reuse while fewer than max_cached are kept, freed otherwise. */
void bufpool_put(bufpool_t *bp, char *buf);

/* Frees every kept buffer (handed-out ones are not affected). */
void bufpool_trim(bufpool_t *bp);

/* Frees the kept buffers and the pool's own memory. Buffers still handed out
 * remain the caller's to free with fx_free. */
void bufpool_release(bufpool_t *bp);

/* Bytes of buffers the pool holds: handed out plus kept. */
size_t bufpool_bytes(const bufpool_t *bp);

#endif
