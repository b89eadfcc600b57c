/*
 * lease.h: one actor at a time — a lease held through Kafka's group
 * membership, the single-actor mechanism of ferry (docs/lister.md, "One
 * lister per task"): a run number is taken by one lister only, and the
 * console's master will hold its lease the same way.
 *
 * The lease named G is partition 0 of the tasks topic (one partition) as
 * assigned within consumer group G, with the cooperative-sticky assignor: the
 * group coordinator gives it to exactly one member; a member joining later
 * gets nothing while the holder lives (sticky), and the holder keeps it
 * through the rebalance (cooperative: nothing is revoked from it). The
 * holder leaving (bus_lease_release, or its process ending) hands it over at
 * once; a holder that dies silently loses it after the session timeout
 * (6 s, the brokers' default minimum). A member joining a group with a
 * holder learns it is not the holder once the rebalance is over: about a
 * second on a real cluster; the mock cluster waits a session timeout first.
 * Nothing is consumed or committed: the assignment is the lease.
 *
 * Why not a transactional producer fencing by transactional.id: the mock
 * cluster of librdkafka 2.0.2 (ferry-devbroker) does not fence — a producer
 * whose transactional.id was taken over still commits, and read_committed
 * readers see its records (checked) — and fencing lets the *newest* lister
 * win, killing a running listing when a cron job starts; a lease lets the
 * first one keep the task.
 *
 * A background thread serves the group (heartbeats, rebalances); the owner
 * only asks bus_lease_held(). Thread-safe: held may be asked from any
 * thread; acquire/release by the owner.
 */
#ifndef FERRY_BUS_LEASE_H
#define FERRY_BUS_LEASE_H

#include "bus/bus.h"
#include "core/ferry.h"

typedef struct bus_lease bus_lease_t;

/*
 * Joins group (the lease's name; copied) on c's brokers (which must answer
 * within connect_ms) and waits up to wait_ms for the coordinator's answer
 * (<= 0: 30 s and 45 s). FERRY_OK and *out (new; release it) when this
 * process holds the lease; FERRY_OK and *out NULL when another member holds
 * it. Errors: FERRY_ERR_CONFIG (a bad property), FERRY_ERR_KAFKA (brokers
 * unreachable, client error), FERRY_ERR_NOTFOUND (no tasks topic yet: create
 * the topics and call again), FERRY_ERR_TIMEOUT (no answer within wait_ms).
 */
ferry_err_t bus_lease_acquire(const bus_conf_t *c, const char *group, int connect_ms,
                              int wait_ms, bus_lease_t **out, char *errbuf);

/* As bus_lease_acquire, but a member that does not get the lease stays in
 * the group as a standby: *out is set either way, and bus_lease_held turns
 * 1 once the group hands the lease over (the holder left, or died a session
 * timeout ago). The console's master waits so. */
ferry_err_t bus_lease_join(const bus_conf_t *c, const char *group, int connect_ms,
                           int wait_ms, bus_lease_t **out, char *errbuf);

/* 1 while held; 0 once lost (the group gave the partition to another member,
 * e.g. after this process could not reach the coordinator for a session). */
int bus_lease_held(bus_lease_t *l);

/* Leaves the group (the next member gets the lease at once) and frees l.
 * NULL is fine. */
void bus_lease_release(bus_lease_t *l);

#endif
