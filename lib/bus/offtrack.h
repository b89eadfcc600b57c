/*
 * offtrack.h: which offsets of which partitions are safe to commit.
 *
 * A worker takes messages in offset order per partition but finishes them in
 * any order. Kafka commits one number per partition (the next offset to
 * read), so only the prefix of finished messages may be committed: a crash
 * then redoes the unfinished ones, never skips them. A partition is named by
 * its topic and number (a worker reads a segments topic per task). Pure,
 * single-threaded.
 */
#ifndef FERRY_BUS_OFFTRACK_H
#define FERRY_BUS_OFFTRACK_H

#include <stddef.h>
#include <stdint.h>

typedef struct offtrack_part {
  char *topic;         /* owned */
  int32_t partition;
  int64_t *offs;       /* in-flight offsets, ascending */
  unsigned char *done;
  size_t head, n, cap; /* ring of n entries starting at head */
  int64_t committable; /* next offset to commit, -1 = nothing yet */
  int64_t committed;   /* last committed next-offset, -1 = none */
  int64_t last_added;  /* highest offset taken, -1 = none */
  int parked;          /* revoked, maybe assigned back (offtrack_park) */
} offtrack_part_t;

typedef struct offtrack {
  offtrack_part_t *parts;
  size_t n, cap;
} offtrack_t;

void offtrack_init(offtrack_t *t);
void offtrack_release(offtrack_t *t);
/* A message was taken. Offsets of a partition must come in ascending order;
 * a lower or equal offset (a rewind after a rebalance) restarts the
 * partition's tracking. */
void offtrack_add(offtrack_t *t, const char *topic, int32_t partition, int64_t offset);
/* A message is finished (its results are delivered). Unknown offsets are
 * ignored (the partition may have been revoked meanwhile). */
void offtrack_done(offtrack_t *t, const char *topic, int32_t partition, int64_t offset);
/* Forgets a partition (revoked or lost): nothing of it will be committed. */
void offtrack_drop(offtrack_t *t, const char *topic, int32_t partition);
/*
 * A rebalance revoked the partition, and may give it back at once (the
 * eager protocol revokes everything, and a new task's topic rebalances the
 * group): it is kept, nothing of it committed (offtrack_next_commit says 0),
 * its messages still finish. offtrack_unpark when it is assigned back:
 * 1 if it was parked (the consumer then re-reads from the committed offset,
 * and offtrack_taken tells the messages already taken). Those not assigned
 * back are dropped with offtrack_drop_parked, which returns how many.
 */
void offtrack_park(offtrack_t *t, const char *topic, int32_t partition);
int offtrack_unpark(offtrack_t *t, const char *topic, int32_t partition);
/* Calls cb for every parked partition, then drops them all. */
size_t offtrack_drop_parked(offtrack_t *t, void (*cb)(const char *topic, int32_t partition,
                                                       void *ctx), void *ctx);
/* 1 when the message at offset was taken already (its partition was
 * assigned back after a rebalance and the consumer reads it again). */
int offtrack_taken(const offtrack_t *t, const char *topic, int32_t partition, int64_t offset);
/* The next commit for the i-th partition tracked, when it advanced past
 * what was last marked committed: returns 1 and sets *topic (borrowed from
 * t, valid until the partition is dropped), *partition and *next_offset,
 * else 0. */
int offtrack_next_commit(offtrack_t *t, size_t i, const char **topic, int32_t *partition,
                         int64_t *next_offset);
/* Records that next_offset of partition was committed. */
void offtrack_committed(offtrack_t *t, const char *topic, int32_t partition,
                        int64_t next_offset);
/* Messages taken and not yet finished, over all partitions. */
size_t offtrack_inflight(const offtrack_t *t);

#endif
