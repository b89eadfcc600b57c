/*
 * crc64.c: CRC-64/XZ over ISA-L, and combine by GF(2) matrices.
 *
 * ISA-L's crc64_ecma_refl(seed, buf, len) inverts the seed on entry and the
 * register on exit, so with a finished CRC as seed it continues that CRC:
 * crc64_ecma_refl(0, "123456789", 9) is the CRC-64/XZ check value
 * 0x995DC9BBDF1939FA and crc64_ecma_refl(crc("AAAAA"), "BBBBBBB", 7) is
 * crc("AAAAABBBBBBB"). That is exactly crc64_update's contract, so no
 * conversion is needed (the unit tests pin both facts).
 *
 * Combine: crc(A || B) = Z(len B)(crc(A)) ^ crc(B), where Z(n) feeds n zero
 * bytes through the raw register (no pre- or post-inversion; the init and
 * xorout terms cancel). Z(n) is linear over GF(2), so it is a 64x64 bit
 * matrix. We keep the matrices of Z(2^k) for k = 0..63, built once by
 * repeated squaring, and apply those of the bits set in n: at most 64
 * matrix-vector products per combine.
 */
#include "core/crc64.h"

#include <pthread.h>

#include <isa-l/crc64.h>

/* The ECMA-182 polynomial 0x42F0E1EBA9EA3693, bit-reversed for the
 * LSB-first register. */
#define CRC64_POLY_REFL 0xC96C5795D7870F42ULL

/* A 64x64 GF(2) matrix stored by columns: m[i] is the image of bit i. */
typedef struct gf2_mat {
  uint64_t col[64];
} gf2_mat_t;

static gf2_mat_t zero_bytes_pow2[64]; /* Z(2^k), k = 0..63 */
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static uint64_t gf2_apply(const gf2_mat_t *m, uint64_t v) {
  uint64_t sum = 0;
  int i = 0;
  while (v) {
    if (v & 1) sum ^= m->col[i];
    v >>= 1;
    i++;
  }
  return sum;
}

/* out = m * m (out must not alias m). */
static void gf2_square(gf2_mat_t *out, const gf2_mat_t *m) {
  int i;
  for (i = 0; i < 64; i++) out->col[i] = gf2_apply(m, m->col[i]);
}

static void build_tables(void) {
  gf2_mat_t bit, two, four;
  int i;
  /* One zero bit shifts the reflected register right by one and, when the
   * bit shifted out was set, xors in the polynomial: bit 0 maps to the
   * polynomial, bit i (i >= 1) to bit i-1. */
  bit.col[0] = CRC64_POLY_REFL;
  for (i = 1; i < 64; i++) bit.col[i] = 1ULL << (i - 1);
  gf2_square(&two, &bit);                 /* 2 zero bits */
  gf2_square(&four, &two);                /* 4 zero bits */
  gf2_square(&zero_bytes_pow2[0], &four); /* 8 bits = 1 zero byte */
  for (i = 1; i < 64; i++) gf2_square(&zero_bytes_pow2[i], &zero_bytes_pow2[i - 1]);
}

uint64_t crc64_update(uint64_t crc, const void *buf, size_t n) {
  if (n == 0) return crc;
  return crc64_ecma_refl(crc, (const unsigned char *)buf, (uint64_t)n);
}

uint64_t crc64_combine(uint64_t crc1, uint64_t crc2, uint64_t len2) {
  int k = 0;
  if (len2 == 0) return crc1;
  pthread_once(&tables_once, build_tables);
  while (len2) {
    if (len2 & 1) crc1 = gf2_apply(&zero_bytes_pow2[k], crc1);
    len2 >>= 1;
    k++;
  }
  return crc1 ^ crc2;
}

int crc64_parse(const char *s, uint64_t *out) {
  uint64_t v = 0;
  if (!s || !*s) return -1;
  for (; *s; s++) {
    unsigned d;
    if (*s < '0' || *s > '9') return -1;
    d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10) return -1;
    v = v * 10 + d;
  }
  if (out) *out = v;
  return 0;
}
