/* fleetshare.c: a task's fleet-wide limit split among the workers on it. */
#include "xfer/fleetshare.h"

#include <string.h>

#include "core/ferry.h"

void fs_init(fleetshare_t *fs) { memset(fs, 0, sizeof(*fs)); }

static void peer_clear(fs_peer_t *p) {
  size_t i;
  for (i = 0; i < p->n_tasks; i++) fx_free(p->tasks[i]);
  fx_free(p->tasks);
  p->tasks = NULL;
  p->n_tasks = 0;
}

void fs_release(fleetshare_t *fs) {
  size_t i;
  for (i = 0; i < fs->n; i++) {
    peer_clear(&fs->v[i]);
    fx_free(fs->v[i].worker);
  }
  fx_free(fs->v);
  fs_init(fs);
}

/* Drops expired peers (and the one named drop, may be NULL). */
static void prune(fleetshare_t *fs, int64_t now_ms, const char *drop) {
  size_t i, k = 0;
  for (i = 0; i < fs->n; i++) {
    fs_peer_t *p = &fs->v[i];
    if (now_ms >= p->expires_ms || (drop && strcmp(p->worker, drop) == 0)) {
      peer_clear(p);
      fx_free(p->worker);
      continue;
    }
    fs->v[k++] = *p;
  }
  fs->n = k;
}

void fs_heard(fleetshare_t *fs, const char *worker, int64_t now_ms, int64_t every_ms,
              const char *const *tasks, size_t n, int leaving) {
  fs_peer_t *p;
  size_t i;
  prune(fs, now_ms, worker);
  if (leaving) return;
  fs->v = fx_realloc(fs->v, (fs->n + 1) * sizeof(*fs->v));
  p = &fs->v[fs->n++];
  p->worker = fx_strdup(worker);
  p->expires_ms = now_ms + (every_ms > 0 ? every_ms : FS_EVERY_MS) * FS_MISSED;
  p->tasks = fx_calloc(n + 1, sizeof(*p->tasks));
  p->n_tasks = n;
  for (i = 0; i < n; i++) p->tasks[i] = fx_strdup(tasks[i]);
}

size_t fs_peers_on(const fleetshare_t *fs, const char *self, const char *task,
                   int64_t now_ms, size_t *rank) {
  size_t i, k, count = 0;
  if (rank) *rank = 0;
  for (i = 0; i < fs->n; i++) {
    const fs_peer_t *p = &fs->v[i];
    if (now_ms >= p->expires_ms || (self && strcmp(p->worker, self) == 0)) continue;
    for (k = 0; k < p->n_tasks; k++)
      if (strcmp(p->tasks[k], task) == 0) {
        count++;
        if (rank && self && strcmp(p->worker, self) < 0) (*rank)++;
        break;
      }
  }
  return count;
}

uint64_t fs_share(uint64_t fleet_rate, size_t peers, size_t rank, int warming,
                  int group_estimate) {
  uint64_t n = (uint64_t)peers + 1, share;
  if (fleet_rate == 0) return 0;
  if (warming && group_estimate > 0 && (uint64_t)group_estimate > n) {
    n = (uint64_t)group_estimate;
    rank = (size_t)n; /* no remainder */
  }
  share = fleet_rate / n + ((uint64_t)rank < fleet_rate % n ? 1 : 0);
  return share ? share : 1;
}

int fs_group_estimate(int assigned, int total) {
  if (assigned <= 0 || total <= 0) return 1;
  if (assigned >= total) return 1;
  return (total + assigned - 1) / assigned;
}
