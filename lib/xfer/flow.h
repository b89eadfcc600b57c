/*
 * flow.h: when a pair's source GET stops and goes on (flow control).
 *
 * The GET writes into the pair's ring; the PUT reads from it. libcurl hands
 * the GET's bytes over in chunks of up to `chunk` bytes (CURLOPT_BUFFERSIZE).
 * A chunk that does not fit is refused with CURL_WRITEFUNC_PAUSE, and
 * libcurl then keeps a malloc'd copy of it until the transfer is resumed:
 * when the PUT is the slower side that happened for nearly every chunk (one
 * malloc, copy and free per 64 KiB, and glibc trimming its heap each time).
 * So the engine pauses the GET itself, before a chunk can fail to fit:
 * as soon as the ring has less room than one chunk, and resumes it once a
 * quarter of the ring (at least a chunk) is free again, so a GET pauses
 * about once per quarter ring rather than once per chunk.
 *
 * Pure functions of the ring's state.
 */
#ifndef FERRY_XFER_FLOW_H
#define FERRY_XFER_FLOW_H

#include <stddef.h>
#include <stdint.h>

/* 1 when the GET should be paused: the ring (cap bytes, fill used) has less
 * room than the next chunk can bring, which is `chunk` or the `left` bytes
 * the GET still has to deliver, whichever is less. 0 when left is 0. */
int flow_should_pause(size_t cap, size_t fill, uint64_t left, size_t chunk);

/* 1 when a paused GET may go on: the ring has room for a quarter of its
 * capacity (at least one chunk), or for all that is left. */
int flow_should_resume(size_t cap, size_t fill, uint64_t left, size_t chunk);

#endif
