/*
 * crc64.h: CRC-64/XZ (ECMA-182 polynomial, reflected, init and xorout all
 * ones), the x-oss-hash-crc64ecma / x-cos-hash-crc64ecma function.
 * ISA-L's crc64_ecma_refl does the bytes; combine is our own GF(2) matrix
 * method. Pure and thread-safe.
 */
#ifndef FERRY_CRC64_H
#define FERRY_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* crc of (A || buf) given crc = crc(A); crc64_update(0, p, n) = crc(p). */
uint64_t crc64_update(uint64_t crc, const void *buf, size_t n);
/* crc(A || B) from crc(A), crc(B) and len(B). combine(c1, c2, 0) == c1. */
uint64_t crc64_combine(uint64_t crc1, uint64_t crc2, uint64_t len2);
/* Parses a decimal header value; 0 on success, -1 when not a uint64. */
int crc64_parse(const char *s, uint64_t *out);

#endif
