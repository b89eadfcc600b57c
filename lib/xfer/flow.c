/* flow.c: see flow.h. */
#include "xfer/flow.h"

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

int flow_should_pause(size_t cap, size_t fill, uint64_t left, size_t chunk) {
  size_t room = fill < cap ? cap - fill : 0;
  if (left == 0) return 0;
  return (uint64_t)room < min_u64(chunk, left);
}

int flow_should_resume(size_t cap, size_t fill, uint64_t left, size_t chunk) {
  size_t room = fill < cap ? cap - fill : 0;
  size_t want = cap / 4 > chunk ? cap / 4 : chunk;
  return (uint64_t)room >= min_u64(want, left);
}
