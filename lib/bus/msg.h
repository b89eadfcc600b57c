/*
 * msg.h: the JSON codecs (Jansson) of ferry's Kafka messages, whose structs
 * are the domain model (model/model.h). Every message has "v": 1. docs/messages.md documents each field with an
 * example. Decoders validate every field and return FERRY_ERR_PARSE with a
 * message naming the field; they never crash on any input (fuzz targets).
 * Encoders return a new NUL-terminated JSON string (compact). Pure,
 * thread-safe.
 */
#ifndef FERRY_BUS_MSG_H
#define FERRY_BUS_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "core/ferry.h"
#include "model/model.h"

#define MSG_VERSION 1

/* Encoders: a new string (free with fx_free), or NULL when the message
 * cannot be represented: a required string is NULL, a string is not valid
 * UTF-8, an enum is out of range, or an unsigned value is >= 2^63. Scalars
 * are always written; optional strings are omitted when NULL. Exception:
 * an outcome's code, request_id and message are diagnostics from servers,
 * written with each invalid UTF-8 byte as U+FFFD rather than refused. */
char *msg_segment_encode(const msg_segment_t *s);
char *msg_result_encode(const msg_result_t *r);
char *msg_failed_encode(const msg_failed_t *f);
char *msg_task_encode(const msg_task_t *t);
char *msg_outcome_encode(const msg_outcome_t *o);   /* the worker's JSON lines */
char *msg_heartbeat_encode(const msg_heartbeat_t *h);

/*
 * Encodes r as messages of at most max_len bytes each: one message (r as
 * msg_result_encode writes it) when it fits, else parts 1..n, each with the
 * whole result's counts and a consecutive slice of its outcomes, in order
 * (deterministic for a given r and max_len). r's own part/parts are ignored.
 * On FERRY_OK *out is a new array of *n new strings (msg_parts_free).
 * FERRY_ERR_INVALID when r cannot be encoded, or when one outcome alone with
 * the result's other fields is longer than max_len (naming its key).
 */
ferry_err_t msg_result_encode_parts(const msg_result_t *r, size_t max_len, char ***out,
                                    size_t *n, char *errbuf);
void msg_parts_free(char **v, size_t n);

/* Decoders: out is uninitialized on entry and must be released on success;
 * on failure nothing is left to release (out is zeroed). Errors name the
 * field: "segment.objs[3].size: not a non-negative integer". Strings holding
 * \u0000 are refused; unknown members are ignored; v must be 1. */
ferry_err_t msg_segment_decode(const char *buf, size_t len, msg_segment_t *out, char *errbuf);
ferry_err_t msg_result_decode(const char *buf, size_t len, msg_result_t *out, char *errbuf);
ferry_err_t msg_failed_decode(const char *buf, size_t len, msg_failed_t *out, char *errbuf);
ferry_err_t msg_task_decode(const char *buf, size_t len, msg_task_t *out, char *errbuf);
ferry_err_t msg_outcome_decode(const char *buf, size_t len, msg_outcome_t *out, char *errbuf);
ferry_err_t msg_heartbeat_decode(const char *buf, size_t len, msg_heartbeat_t *out,
                                 char *errbuf);

#endif
