/* segplace.c: round-robin placement of segments over partitions. */
#include "bus/segplace.h"

/* FNV-1a, 64 bits: stable across builds and hosts. */
static uint64_t fnv1a(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  size_t i;
  for (i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ull;
  }
  return h;
}

int32_t segplace_partition(const char *key, size_t key_len, int32_t n) {
  size_t end, dash, i;
  uint64_t seq = 0;
  if (n < 1 || !key || key_len == 0) return 0;
  /* The id proper ends before the first '.' after the last '-' (the
   * suffixes of split halves). */
  for (dash = key_len; dash > 0 && key[dash - 1] != '-'; dash--) {
  }
  if (dash == 0) return (int32_t)(fnv1a(key, key_len) % (uint64_t)n);
  for (end = dash; end < key_len && key[end] != '.'; end++) {
  }
  if (end == dash || end - dash > 19) return (int32_t)(fnv1a(key, key_len) % (uint64_t)n);
  for (i = dash; i < end; i++) {
    if (key[i] < '0' || key[i] > '9') return (int32_t)(fnv1a(key, key_len) % (uint64_t)n);
    seq = seq * 10 + (uint64_t)(key[i] - '0');
  }
  /* Both terms reduced first: the sum cannot wrap. */
  return (int32_t)((fnv1a(key, dash) % (uint64_t)n + seq % (uint64_t)n) % (uint64_t)n);
}
