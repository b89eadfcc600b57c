/*
 * audit.h: the audit message (topic `audit`, key: task name) and its JSON
 * codec: what a worker wrote at the destination, one record per object it
 * copied, for a task whose `audit` switch is on (docs/messages.md, "audit").
 * A segment's records go in one message, or in parts of at most the topic's
 * limit each, as results do. Pure, thread-safe; decoders never crash on any
 * input and name the field in their errors.
 */
#ifndef FERRY_BUS_AUDIT_H
#define FERRY_BUS_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "bus/msg.h"
#include "core/ferry.h"

/* Whether the destination had the key before the copy: known from the HEAD
 * the skip and skip-if-same policies make; the overwrite policy makes none,
 * so it is unknown then (never guessed). */
typedef enum msg_overwrote {
  OVERWROTE_UNKNOWN = 0, /* "unknown": no HEAD was made */
  OVERWROTE_NO,          /* "no": the key was absent (HEAD 404) */
  OVERWROTE_YES          /* "yes": the key existed and was replaced */
} msg_overwrote_t;

const char *msg_overwrote_str(msg_overwrote_t o);   /* "unknown", "no", "yes" */
int msg_overwrote_parse(const char *s, msg_overwrote_t *out);

/* One object written. */
typedef struct msg_audit_rec {
  char *key;             /* source key */
  char *dst_key;         /* the key written at the destination */
  uint64_t size;         /* bytes written */
  int has_crc64;
  uint64_t crc64;        /* CRC-64/XZ of the bytes, as verified by the worker */
  char *src_etag;        /* source ETag, may be NULL */
  char *dst_etag;        /* the destination's ETag for what was written, may be NULL */
  msg_overwrote_t overwrote;
  int64_t at_ms;         /* when the write was verified (unix ms) */
} msg_audit_rec_t;

/* ferry.audit value: the records of one segment (or a part of them). */
typedef struct msg_audit {
  char *task;
  char *segment;
  int run;
  char *worker;
  msg_loc_t dst;         /* the destination (store, bucket, prefix) */
  msg_audit_rec_t *recs; /* owned */
  size_t n_recs;
  int part, parts;       /* split over several messages: part of 1..parts;
                            0, 0: all the segment's records in one */
} msg_audit_t;

void msg_audit_rec_release(msg_audit_rec_t *r);
void msg_audit_release(msg_audit_t *a);

/* A new compact JSON string, or NULL when a required string is NULL, a string
 * is not valid UTF-8 or a value is out of range. */
char *msg_audit_encode(const msg_audit_t *a);

/*
 * Encodes a as messages of at most max_len bytes each: one (a as
 * msg_audit_encode writes it) when it fits, else parts 1..n, each with a's
 * other fields and a consecutive slice of its records, in order. a's own
 * part/parts are ignored. On FERRY_OK *out is a new array of *n strings
 * (msg_parts_free); *n is 0 when a has no records (nothing to send).
 * FERRY_ERR_INVALID when a cannot be encoded or one record alone with the
 * other fields is longer than max_len (naming its key).
 */
ferry_err_t msg_audit_encode_parts(const msg_audit_t *a, size_t max_len, char ***out,
                                   size_t *n, char *errbuf);

/* out is uninitialized on entry; release it on success only. Errors name the
 * field: "audit.records[2].overwrote: unknown value \"maybe\"". */
ferry_err_t msg_audit_decode(const char *buf, size_t len, msg_audit_t *out, char *errbuf);

#endif
