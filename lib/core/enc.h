/*
 * enc.h: encodings and digests over memory (pure, thread-safe).
 * Percent-encoding, hex, base64, SHA-1/SHA-256/MD5, HMACs, and the date
 * formats the signing dialects need. Output goes to an fbuf (appended).
 */
#ifndef FERRY_ENC_H
#define FERRY_ENC_H

#include <time.h>

#include "core/buf.h"

/* Percent-encode every byte except A-Z a-z 0-9 - . _ ~ (and '/' when
 * keep_slash), upper-case hex, space as %20. */
void enc_pct(fbuf_t *out, const char *s, size_t n, int keep_slash);
/* Decode %XX (and '+' as space when plus_space). Returns FERRY_ERR_PARSE on a
 * malformed escape; out then holds a prefix. */
ferry_err_t enc_pct_decode(fbuf_t *out, const char *s, size_t n, int plus_space);

void enc_hex(fbuf_t *out, const unsigned char *p, size_t n);  /* lower case */
void enc_b64(fbuf_t *out, const unsigned char *p, size_t n);
/* Returns decoded length or -1 on bad input; out must hold n*3/4+3 bytes. */
long enc_b64_decode(unsigned char *out, const char *s, size_t n);

void enc_sha1(unsigned char out[20], const void *p, size_t n);
void enc_sha256(unsigned char out[32], const void *p, size_t n);
void enc_md5(unsigned char out[16], const void *p, size_t n);
void enc_hmac_sha1(unsigned char out[20], const void *key, size_t klen,
                   const void *msg, size_t mlen);
void enc_hmac_sha256(unsigned char out[32], const void *key, size_t klen,
                     const void *msg, size_t mlen);

/* UTC formats: "20130524T000000Z", "20130524", "Fri, 24 May 2013 00:00:00 GMT". */
void enc_time_iso8601_basic(char out[17], time_t t);
void enc_time_ymd(char out[9], time_t t);
void enc_time_rfc1123(char out[30], time_t t);
/* Parses "2024-01-15T08:30:00.000Z" (fraction optional) or RFC 1123; -1 on error. */
time_t enc_time_parse(const char *s);

/* UTF-8 as JSON and the stores require it: no overlong forms, no surrogates,
 * nothing above U+10FFFF. enc_utf8_char: the length (1-4) of the valid
 * character at s (n bytes left, n > 0), or 0 when none starts there.
 * enc_utf8_repair appends s with each byte that starts no valid character
 * replaced by U+FFFD (for diagnostic text from servers, never for keys). */
size_t enc_utf8_char(const char *s, size_t n);
int enc_utf8_valid(const char *s, size_t n);
void enc_utf8_repair(fbuf_t *out, const char *s, size_t n);

#endif
