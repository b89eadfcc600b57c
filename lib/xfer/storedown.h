/*
 * storedown.h: noticing that a store is down, and when it is back. Pure
 * logic over one store's recent answers; the engine (engine.c) feeds it
 * every finished request and asks it before starting one.
 *
 * A store is down after SD_FAILURES retryable failures in a row (503,
 * 5xx, 429, refused or reset connections, timeouts) with no answer in
 * between: the failures come from many objects, not one object's retries.
 * While it is down the engine starts no request to it except one probe at a
 * time, every probe_min … probe_max (doubling); the first answer (any
 * status that is not a failure) brings it up. Requests that fail while it
 * is down do not use up their attempts. After max_down_us down, the
 * objects waiting for it fail (reason "store-down"); probing goes on.
 */
#ifndef FERRY_XFER_STOREDOWN_H
#define FERRY_XFER_STOREDOWN_H

#include <stdint.h>

#define SD_FAILURES 8
#define SD_PROBE_MIN_US 1000000
#define SD_PROBE_MAX_US 30000000
/* A probe that ends without a word from the store (its pair's other half
 * failed first) no longer counts as in flight after this long. */
#define SD_PROBE_LOST_US 60000000

typedef enum sd_answer {
  SD_ANSWER,   /* the store answered (2xx, 3xx, a 4xx that is not 408/429) */
  SD_FAILURE,  /* retryable: 5xx, 408, 429, refused, reset, timed out */
  SD_NEUTRAL   /* says nothing of the store: cut by us, a local error */
} sd_answer_t;

typedef struct storedown {
  int down;
  int failures;          /* retryable failures in a row */
  int64_t down_since_us;
  int64_t next_probe_us; /* while down: when a probe may start */
  int64_t probe_delay_us;
  int64_t probe_started_us;  /* 0: no probe in flight */
  int expired_said;      /* the caller logged the expiry of this outage */
} storedown_t;

/* What a finished request says of its store: HTTP status (0: none) and
 * whether the transfer failed in the network (refused, reset, timed out)
 * rather than being cut by the engine. */
sd_answer_t sd_classify(long http_status, int net_failure);

void sd_init(storedown_t *s);

/* A finished request's answer. Returns +1 when the store just went down,
 * -1 when it just came up, else 0. */
int sd_note(storedown_t *s, sd_answer_t a, int64_t now_us);

/* May a request to the store start now? 1: yes (up); 2: yes, as the probe
 * (the caller starts it and calls sd_probe_started); 0: no, wait until
 * *wake_us. */
int sd_may_start(const storedown_t *s, int64_t now_us, int64_t *wake_us);
void sd_probe_started(storedown_t *s, int64_t now_us);

/* Down for longer than max_down_us (> 0)? */
int sd_expired(const storedown_t *s, int64_t now_us, int64_t max_down_us);

#endif
