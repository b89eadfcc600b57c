/* offtrack.c: commit points per topic and partition. */
#include "bus/offtrack.h"

#include <string.h>

#include "core/ferry.h"

void offtrack_init(offtrack_t *t) { memset(t, 0, sizeof(*t)); }

static void part_release(offtrack_part_t *p) {
  fx_free(p->topic);
  fx_free(p->offs);
  fx_free(p->done);
}

void offtrack_release(offtrack_t *t) {
  size_t i;
  for (i = 0; i < t->n; i++) part_release(&t->parts[i]);
  fx_free(t->parts);
  memset(t, 0, sizeof(*t));
}

static int same(const offtrack_part_t *p, const char *topic, int32_t partition) {
  return p->partition == partition && strcmp(p->topic, topic ? topic : "") == 0;
}

static offtrack_part_t *find(offtrack_t *t, const char *topic, int32_t partition, int create) {
  size_t i;
  offtrack_part_t *p;
  for (i = 0; i < t->n; i++)
    if (same(&t->parts[i], topic, partition)) return &t->parts[i];
  if (!create) return NULL;
  if (t->n == t->cap) {
    t->cap = t->cap ? t->cap * 2 : 8;
    t->parts = fx_realloc(t->parts, t->cap * sizeof(*t->parts));
  }
  p = &t->parts[t->n++];
  memset(p, 0, sizeof(*p));
  p->topic = fx_strdup(topic ? topic : "");
  p->partition = partition;
  p->committable = -1;
  p->committed = -1;
  p->last_added = -1;
  return p;
}

#define AT(p, k) (((p)->head + (k)) % (p)->cap)

void offtrack_add(offtrack_t *t, const char *topic, int32_t partition, int64_t offset) {
  offtrack_part_t *p = find(t, topic, partition, 1);
  if (p->n && offset <= p->offs[AT(p, p->n - 1)]) {
    /* Rewound (redelivery after a rebalance): start over. */
    p->n = 0;
    p->head = 0;
    p->committable = -1;
  }
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 16, k;
    int64_t *offs = fx_malloc(cap * sizeof(*offs));
    unsigned char *done = fx_malloc(cap);
    for (k = 0; k < p->n; k++) {
      offs[k] = p->offs[AT(p, k)];
      done[k] = p->done[AT(p, k)];
    }
    fx_free(p->offs);
    fx_free(p->done);
    p->offs = offs;
    p->done = done;
    p->cap = cap;
    p->head = 0;
  }
  p->offs[AT(p, p->n)] = offset;
  p->done[AT(p, p->n)] = 0;
  p->n++;
  p->last_added = offset;
}

void offtrack_done(offtrack_t *t, const char *topic, int32_t partition, int64_t offset) {
  offtrack_part_t *p = find(t, topic, partition, 0);
  size_t k;
  if (!p) return;
  for (k = 0; k < p->n; k++) {
    if (p->offs[AT(p, k)] == offset) {
      p->done[AT(p, k)] = 1;
      break;
    }
  }
  /* Pop the finished prefix. */
  while (p->n && p->done[p->head]) {
    p->committable = p->offs[p->head] + 1;
    p->head = (p->head + 1) % p->cap;
    p->n--;
  }
}

void offtrack_drop(offtrack_t *t, const char *topic, int32_t partition) {
  size_t i;
  for (i = 0; i < t->n; i++) {
    if (same(&t->parts[i], topic, partition)) {
      part_release(&t->parts[i]);
      t->parts[i] = t->parts[t->n - 1];
      t->n--;
      return;
    }
  }
}

int offtrack_next_commit(offtrack_t *t, size_t i, const char **topic, int32_t *partition,
                         int64_t *next_offset) {
  offtrack_part_t *p;
  if (i >= t->n) return 0;
  p = &t->parts[i];
  if (p->parked || p->committable < 0 || p->committable == p->committed) return 0;
  *topic = p->topic;
  *partition = p->partition;
  *next_offset = p->committable;
  return 1;
}

void offtrack_committed(offtrack_t *t, const char *topic, int32_t partition,
                        int64_t next_offset) {
  offtrack_part_t *p = find(t, topic, partition, 0);
  if (p) p->committed = next_offset;
}

void offtrack_park(offtrack_t *t, const char *topic, int32_t partition) {
  offtrack_part_t *p = find(t, topic, partition, 0);
  if (p) p->parked = 1;
}

int offtrack_unpark(offtrack_t *t, const char *topic, int32_t partition) {
  offtrack_part_t *p = find(t, topic, partition, 0);
  if (!p || !p->parked) return 0;
  p->parked = 0;
  return 1;
}

size_t offtrack_drop_parked(offtrack_t *t, void (*cb)(const char *topic, int32_t partition,
                                                       void *ctx), void *ctx) {
  size_t i = 0, n = 0;
  while (i < t->n) {
    if (!t->parts[i].parked) {
      i++;
      continue;
    }
    if (cb) cb(t->parts[i].topic, t->parts[i].partition, ctx);
    part_release(&t->parts[i]);
    t->parts[i] = t->parts[t->n - 1];
    t->n--;
    n++;
  }
  return n;
}

int offtrack_taken(const offtrack_t *t, const char *topic, int32_t partition, int64_t offset) {
  size_t i;
  for (i = 0; i < t->n; i++)
    if (same(&t->parts[i], topic, partition))
      return !t->parts[i].parked && t->parts[i].last_added >= 0 &&
             offset <= t->parts[i].last_added;
  return 0;
}

size_t offtrack_inflight(const offtrack_t *t) {
  size_t i, n = 0;
  for (i = 0; i < t->n; i++) {
    size_t k;
    for (k = 0; k < t->parts[i].n; k++)
      if (!t->parts[i].done[AT(&t->parts[i], k)]) n++;
  }
  return n;
}
