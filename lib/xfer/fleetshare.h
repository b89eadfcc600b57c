/*
 * fleetshare.h: how the workers share a task's fleet-wide limit without a
 * coordinator.
 *
 * Every worker publishes a heartbeat (msg_heartbeat_t on the workers topic)
 * every FS_EVERY_MS, and at once when the set of tasks it works on changes,
 * naming the tasks it has objects of. Every worker reads them all. A task's
 * fleet-wide rate is split equally among the workers working on it: this
 * worker's share is rate / (1 + the peers heard working on it). Workers
 * without the task's objects take no share, so the split follows where the
 * task's segments are, whatever the partition layout.
 *
 * A peer counts until FS_MISSED of its intervals pass without news of it
 * (a crashed worker), or at once when it says it is leaving or no longer
 * names the task. While a task is new on this worker, peers starting it at
 * the same moment may not have been heard yet: until this worker has read
 * back its own heartbeat naming the task (the topic has one partition, so
 * by then it has read every heartbeat sent before it, and every later one
 * counts this worker), the share is also bounded by the group estimate
 * (members of the consumer group, from the partition counts).
 *
 * Pure logic over the caller's clock (milliseconds); not thread-safe.
 */
#ifndef FERRY_XFER_FLEETSHARE_H
#define FERRY_XFER_FLEETSHARE_H

#include <stddef.h>
#include <stdint.h>

#define FS_EVERY_MS 1000
#define FS_MISSED 3

typedef struct fs_peer {
  char *worker;              /* id + "/" + instance */
  int64_t expires_ms;        /* on the local clock */
  char **tasks;
  size_t n_tasks;
} fs_peer_t;

typedef struct fleetshare {
  fs_peer_t *v;
  size_t n;
} fleetshare_t;

void fs_init(fleetshare_t *fs);
void fs_release(fleetshare_t *fs);

/* A heartbeat from peer `worker` heard at now_ms (local clock), sent every
 * every_ms, naming tasks[0..n): replaces what was known of that peer.
 * leaving forgets it. */
void fs_heard(fleetshare_t *fs, const char *worker, int64_t now_ms, int64_t every_ms,
              const char *const *tasks, size_t n, int leaving);

/* Peers (not self) heard working on task and not expired at now_ms; *rank
 * (may be NULL) gets how many of them sort before self (by id/instance), so
 * that every worker on the task has its own place 0..peers. */
size_t fs_peers_on(const fleetshare_t *fs, const char *self, const char *task,
                   int64_t now_ms, size_t *rank);

/* This worker's share of fleet_rate (0 = unlimited gives 0): fleet_rate /
 * (1 + peers), the remainder going one each to the workers of the lowest
 * ranks, so that the shares add up to fleet_rate exactly. While warming
 * (own heartbeat not read back yet) the divisor is at least group_estimate
 * (and the remainder is not handed out). Never 0 for a limited rate. */
uint64_t fs_share(uint64_t fleet_rate, size_t peers, size_t rank, int warming,
                  int group_estimate);

/* Members of the consumer group, estimated from this worker's share of the
 * partitions (ceil(total / assigned); 1 when unknown). */
int fs_group_estimate(int assigned, int total);

#endif
