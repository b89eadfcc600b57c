/* tests/wan/delayq.c: see delayq.h. */
#include "delayq.h"

#include <stdlib.h>

uint64_t delayq_release_ns(uint64_t now_ns, uint64_t delay_ns, uint64_t jitter_ns,
                           double u, uint64_t last_ns) {
  double j = (2.0 * u - 1.0) * (double)jitter_ns;
  double d = (double)delay_ns + j;
  uint64_t r = now_ns + (d > 0 ? (uint64_t)d : 0);
  return r < last_ns ? last_ns : r;
}

void delayq_init(delayq *q, size_t cap, uint64_t delay_ns, uint64_t jitter_ns) {
  *q = (delayq){.cap = cap, .delay_ns = delay_ns, .jitter_ns = jitter_ns};
}

static void free_chain(dq_pkt *p) {
  while (p) {
    dq_pkt *n = p->next;
    free(p);
    p = n;
  }
}

void delayq_free(delayq *q) {
  free_chain(q->head);
  free_chain(q->free_list);
  q->head = q->tail = q->free_list = NULL;
  q->n = 0;
}

dq_pkt *delayq_slot(delayq *q) {
  if (q->n >= q->cap) return NULL;
  dq_pkt *p = q->free_list;
  if (p) {
    q->free_list = p->next;
    return p;
  }
  return malloc(sizeof *p);
}

void delayq_unslot(delayq *q, dq_pkt *p) {
  p->next = q->free_list;
  q->free_list = p;
}

void delayq_push(delayq *q, dq_pkt *p, uint64_t now_ns, double u) {
  p->release_ns = delayq_release_ns(now_ns, q->delay_ns, q->jitter_ns, u, q->last_release_ns);
  q->last_release_ns = p->release_ns;
  p->next = NULL;
  if (q->tail) q->tail->next = p;
  else q->head = p;
  q->tail = p;
  q->n++;
  q->in++;
}

dq_pkt *delayq_due(const delayq *q, uint64_t now_ns) {
  return q->head && q->head->release_ns <= now_ns ? q->head : NULL;
}

void delayq_pop(delayq *q) {
  dq_pkt *p = q->head;
  if (!p) return;
  q->head = p->next;
  if (!q->head) q->tail = NULL;
  q->n--;
  q->out++;
  delayq_unslot(q, p);
}

uint64_t delayq_next_ns(const delayq *q) { return q->head ? q->head->release_ns : UINT64_MAX; }
