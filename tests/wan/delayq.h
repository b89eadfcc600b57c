/* The WAN bed's delay line (tests/wan/wanfwd.c), pure logic: a FIFO of
 * packets, each released at arrival + one-way delay + jitter, never before
 * the packet ahead of it (a link does not reorder). No I/O, no clock: the
 * caller passes the time and the random draw (tests/unit/test_wandelay.c).
 */
#ifndef FERRY_WAN_DELAYQ_H
#define FERRY_WAN_DELAYQ_H

#include <stddef.h>
#include <stdint.h>

#define DELAYQ_MTU 2048

typedef struct dq_pkt {
  struct dq_pkt *next;
  uint64_t release_ns;
  size_t len;
  unsigned char data[DELAYQ_MTU];
} dq_pkt;

typedef struct {
  dq_pkt *head, *tail;
  dq_pkt *free_list;
  size_t n, cap;        /* packets queued; most allowed (more are dropped) */
  uint64_t last_release_ns;
  uint64_t delay_ns, jitter_ns;
  uint64_t in, out, dropped; /* counters */
} delayq;

/* delayq_release_ns: when a packet that arrives at now_ns leaves: now +
 * delay + a jitter of (2u-1)*jitter (u uniform in [0,1)), not before now and
 * not before last (FIFO). */
uint64_t delayq_release_ns(uint64_t now_ns, uint64_t delay_ns, uint64_t jitter_ns,
                           double u, uint64_t last_ns);

void delayq_init(delayq *q, size_t cap, uint64_t delay_ns, uint64_t jitter_ns);
void delayq_free(delayq *q);
/* A buffer for the next packet (from the free list or malloc); NULL when the
 * queue is full (the caller drops the packet and counts it) or out of memory. */
dq_pkt *delayq_slot(delayq *q);
/* Queues a filled slot, arrived at now_ns, with random draw u in [0,1). */
void delayq_push(delayq *q, dq_pkt *p, uint64_t now_ns, double u);
/* The head if its release time has come, else NULL (it stays queued). */
dq_pkt *delayq_due(const delayq *q, uint64_t now_ns);
/* Removes the head and puts it on the free list. */
void delayq_pop(delayq *q);
/* Release time of the head, or UINT64_MAX when empty. */
uint64_t delayq_next_ns(const delayq *q);
/* Gives back a slot from delayq_slot that was not pushed. */
void delayq_unslot(delayq *q, dq_pkt *p);

#endif
