/*
 * segplace.h: which partition of the segments topic a segment goes to.
 *
 * Segments are placed round-robin, not by a hash of their key: a listing of
 * a few segments (a handful of large objects) must reach as many partitions,
 * hence workers, as it has segments, which a hash does not promise (four
 * segments over eight partitions often share some). The segment with id
 * "<id_prefix><run>-<seq>" goes to (hash("<id_prefix><run>-") + seq) mod n:
 * consecutive segments of one run (fan-out ranges included, they take ids
 * from the same sequence) go to consecutive partitions, starting at an
 * offset of their own per run and shard, so that many small runs do not all
 * begin at partition 0. Halves of a split segment ("<id>.1", "<id>.2") go
 * with their segment. A key of another shape falls back to a hash of the
 * whole key. Deterministic: a resumed listing republishes a segment to the
 * partition it went to before. Nothing reads a segment's partition from its
 * key: workers take whatever partitions they are assigned.
 *
 * Pure, no I/O.
 */
#ifndef FERRY_BUS_SEGPLACE_H
#define FERRY_BUS_SEGPLACE_H

#include <stddef.h>
#include <stdint.h>

/* The partition in [0, n) for a segment keyed key (key_len bytes, need not
 * be NUL-terminated; NULL or empty gives 0). n < 1 gives 0. */
int32_t segplace_partition(const char *key, size_t key_len, int32_t n);

#endif
