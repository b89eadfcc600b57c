/*
 * bus.h: ferry's Kafka layer over librdkafka — topic names, an idempotent
 * producer with per-message delivery reports, a consumer-group consumer with
 * explicit per-partition commits and rebalance events, topic creation, and
 * the dead-letter helper.
 *
 * Guarantees the services build on (every object is accounted for, so
 * nothing may be lost on the way; docs/architecture.md):
 *   - the producer is idempotent (enable.idempotence=true: acks=all, no
 *     duplicates or reordering from retries); every send gets exactly one
 *     delivery report, delivered or failed, through the caller's callback;
 *   - the consumer never commits by itself (enable.auto.commit=false,
 *     enable.auto.offset.store=false); a new group starts at the earliest
 *     offset (auto.offset.reset=earliest, overridable);
 *   - segments are compressed with zstd (a topic-level setting on the
 *     producer's segments topic handle; other topics use the producer's
 *     compression.type, none by default).
 *
 * librdkafka's own log lines go to core/log.h with facility "kafka".
 * Property values are never logged nor put in error text when they may be
 * secrets (sasl.*, ssl.*, *password*, *secret*).
 *
 * Thread-safety: a producer or consumer has one owner thread; callbacks run
 * on that thread, inside bus_producer_poll/flush/send/destroy or
 * bus_consumer_poll/destroy.
 */
#ifndef FERRY_BUS_H
#define FERRY_BUS_H

#include <stddef.h>
#include <stdint.h>

#include "bus/topiccfg.h"
#include "core/ferry.h"
#include "core/kv.h"

/* The nine topics; names are topic_prefix + suffix ("ferry.segments"). */
typedef enum bus_topic {
  BUS_TASKS = 0,     /* compacted (cleanup.policy=compact), key: task name */
  BUS_SEGMENTS,      /* key: segment id; zstd; segments_partitions partitions */
  BUS_RESULTS,       /* key: task name */
  BUS_FAILED,        /* key: task name */
  BUS_DLQ,           /* key: the original key */
  BUS_WORKERS,       /* worker heartbeats, key: worker id; kept 1 hour */
  BUS_AUDIT,         /* what workers wrote, for tasks with audit on; key: "TASK/SEGMENT" */
  BUS_CONTROL,       /* the console's commands and the master's acks, key: task name */
  BUS_TASKSTATE,     /* the master's table of tasks, compacted, key: task name */
  BUS_TOPIC__COUNT
} bus_topic_t;

/* Partition counts of the topics other than segments. tasks has one so that
 * compaction and ordering are simple; the others are read by one reporter. */
#define BUS_TASKS_PARTITIONS 1
#define BUS_RESULTS_PARTITIONS 4
#define BUS_FAILED_PARTITIONS 4
#define BUS_DLQ_PARTITIONS 1
#define BUS_WORKERS_PARTITIONS 1
#define BUS_AUDIT_PARTITIONS 8
/* One partition each: every reader sees the commands and states in one order. */
#define BUS_CONTROL_PARTITIONS 1
#define BUS_TASKSTATE_PARTITIONS 1
/* Heartbeats are only of use for seconds: the workers topic keeps an hour. */
#define BUS_WORKERS_RETENTION_MS "3600000"
#define BUS_DEFAULT_SEGMENTS_PARTITIONS 64

typedef struct bus_conf {
  char *brokers;              /* bootstrap.servers, "host:port,..." */
  char *topic_prefix;         /* default "ferry." */
  kvlist_t properties;        /* librdkafka properties for every client */
  kvlist_t producer;          /* ... for producers only (applied after) */
  kvlist_t consumer;          /* ... for consumers only (applied after) */
  char *group_id;             /* consumer group (required by consumers) */
  int segments_partitions;    /* default 64 */
  int replication_factor;     /* -1 = broker default */
  int delivery_timeout_ms;    /* 0 = librdkafka default (300000) */
  int64_t topic_max[BUS_TOPIC__COUNT];  /* each topic's max.message.bytes as
                                 read by bus_topics_check; 0 = unknown */
} bus_conf_t;

/* Fills defaults; every string owned by the conf (fx_strdup'ed). */
void bus_conf_init(bus_conf_t *c);
void bus_conf_release(bus_conf_t *c);
/* From the config file's kafka section: bus_conf_from_kafka (conf/busconf.h). */
/* Checks the numbers and names; FERRY_ERR_CONFIG naming the field. */
ferry_err_t bus_conf_check(const bus_conf_t *c, char *errbuf);

/* Checks librdkafka property names and values without a client (the config
 * loader's check of kafka.*properties). One checker remembers what it was
 * given, as one client conf would. bus_prop_check returns BUS_PROP_OK,
 * BUS_PROP_UNKNOWN (not a librdkafka property) or BUS_PROP_INVALID (errbuf,
 * n bytes, says why; it may quote the value). */
typedef struct bus_propcheck bus_propcheck_t;
enum { BUS_PROP_OK = 0, BUS_PROP_UNKNOWN, BUS_PROP_INVALID };
bus_propcheck_t *bus_propcheck_new(void);
int bus_prop_check(bus_propcheck_t *pc, const char *name, const char *value, char *errbuf,
                   size_t n);
void bus_propcheck_free(bus_propcheck_t *pc);

/* "tasks", "segments", ...; static. */
const char *bus_topic_suffix(bus_topic_t t);
/* topic_prefix + suffix; new string (fx_free). */
char *bus_topic_name(const bus_conf_t *c, bus_topic_t t);
/* Configured partition count of t. */
int bus_topic_partitions(const bus_conf_t *c, bus_topic_t t);

/*
 * Creates the nine topics with their partition counts (tasks compacted,
 * workers kept BUS_WORKERS_RETENTION_MS)
 * through the Admin API. Topics that already exist count as success (their
 * partition count is left alone; a mismatch is logged). Only missing topics
 * are created, so a broker without CreateTopics (librdkafka's mock cluster,
 * where ferry-devbroker creates them) is fine once they exist.
 * Blocks up to about 30 s.
 */
ferry_err_t bus_topics_create(const bus_conf_t *c, char *errbuf);

/*
 * Asks the broker (DescribeConfigs) for the settings of the topics:
 * out[t].state says whether each was read, denied or is unsupported (the
 * mock cluster of ferry-devbroker has no DescribeConfigs). FERRY_ERR_KAFKA
 * only when no client could be made or the brokers did not answer at all.
 * Blocks up to about 15 s.
 */
ferry_err_t bus_topics_describe(const bus_conf_t *c, topiccfg_t out[BUS_TOPIC__COUNT],
                                char *errbuf);
/*
 * The start-up check every service runs (docs/deploy.md, "Retention"):
 * FERRY_ERR_CONFIG naming the topic and the setting when a topic's
 * retention.ms, retention.bytes or cleanup.policy (its own or the broker
 * default it inherits) lets the broker delete records a migration still
 * needs; a warning naming the settings to check when they cannot be read.
 * Topics that do not exist yet are skipped. Records each topic's
 * max.message.bytes in c->topic_max for the producers made from c later.
 * Blocks: up to about 10 s when no broker answers.
 */
ferry_err_t bus_topics_check(bus_conf_t *c, char *errbuf);

/* ---------- a segments topic per task ---------- */

/*
 * Each task's segments go to a topic of their own, <prefix>segments.<task>
 * (docs/architecture.md, "Tasks side by side"): a partition is a FIFO with
 * in-order commits, so a small task's segments behind a big task's backlog
 * in shared partitions would wait for it. Workers read every such topic
 * (the consumer's regex) and the legacy <prefix>segments (segments of older
 * listers), taking from every topic in turn.
 */
/* 1 when task is a task name (letters, digits, '.', '_', '-'; 1 to 64
 * characters): then <prefix>segments.<task> is a valid topic name. */
int bus_task_name_ok(const char *task);
/* "<prefix>segments.<task>"; new string (fx_free); NULL when the task name
 * is not valid. */
char *bus_segments_topic(const bus_conf_t *c, const char *task);
/* The task of a per-task segments topic name (borrowed from topic), or NULL
 * when topic is not one (the legacy segments topic included). */
const char *bus_segments_topic_task(const char *prefix, const char *topic);
/* The regex matching every per-task segments topic, "^<prefix>segments\..+$"
 * with the prefix's dots escaped; new string (fx_free). */
char *bus_segments_regex(const bus_conf_t *c);
/*
 * Makes sure the task's segments topic exists as the segments topic does:
 * bus.segments_partitions partitions, nothing deleted (retention.ms -1,
 * retention.bytes -1, cleanup.policy delete), then runs the retention check
 * of bus_topics_check on it. A broker without the Admin API (ferry-devbroker:
 * librdkafka's mock cluster) creates the topic itself on first use, with its
 * default partition count: logged, not an error. FERRY_ERR_CONFIG when the
 * topic's settings would delete records, FERRY_ERR_KAFKA when it cannot be
 * created, FERRY_ERR_INVALID for a bad task name. Blocks up to about 30 s.
 */
ferry_err_t bus_segments_topic_ensure(const bus_conf_t *c, const char *task, char *errbuf);

/* ---------- producer ---------- */

typedef struct bus_producer bus_producer_t;

/* One delivery report; every pointer borrowed for the callback's duration. */
typedef struct bus_delivery {
  void *opaque;          /* as given to send */
  ferry_err_t err;       /* FERRY_OK = stored by the broker (acks=all) */
  int refused;           /* err set because the broker refused this message
                            itself (too large, invalid record, policy):
                            sending it again cannot succeed, unlike a
                            broker-wide failure (down, authorization) */
  const char *error;     /* librdkafka's reason when err != FERRY_OK, else "" */
  const char *topic;
  int32_t partition;     /* -1 when unknown */
  int64_t offset;        /* -1 when unknown */
} bus_delivery_t;

typedef void bus_delivery_cb(const bus_delivery_t *d, void *ctx);

/* New producer or NULL with errbuf. cb may be NULL (reports then only
 * logged on failure); ctx borrowed and must outlive the producer. Each
 * topic's size limit is topiccfg_limit of c->topic_max (filled by
 * bus_topics_check, else Kafka's default assumed) and the producer's
 * message.max.bytes; batch.size is kept within the smallest. FERRY_ERR_CONFIG
 * when a limit is below TOPICCFG_MIN_LIMIT. Does not wait for the brokers. */
bus_producer_t *bus_producer_new(const bus_conf_t *c, bus_delivery_cb *cb,
                                 void *ctx, char *errbuf);
/* Purges what is still queued (those reports arrive as failed, err
 * FERRY_ERR_KAFKA) and destroys. Call bus_producer_flush first to wait. */
void bus_producer_destroy(bus_producer_t *p);

/*
 * Queues value (copied) under key (NUL-terminated, may be NULL) for topic.
 * On FERRY_OK the callback later reports this send exactly once with
 * opaque. When librdkafka's queue is full, send serves delivery reports
 * (calling the callback) and retries for up to delivery_timeout_ms.
 * Errors: FERRY_ERR_INVALID (the message exceeds the topic's limit:
 * bus_producer_max_value), FERRY_ERR_KAFKA (fatal producer error, ...),
 * FERRY_ERR_TIMEOUT (queue stayed full); no callback comes for them.
 */
ferry_err_t bus_producer_send(bus_producer_t *p, bus_topic_t topic,
                              const char *key, const void *value, size_t len,
                              void *opaque, char *errbuf);
/*
 * bus_producer_send to the task's own segments topic (bus_segments_topic),
 * zstd-compressed and placed by the segment partitioner (bus/segplace.h),
 * as on the segments topic. The topic's size limit is the segments topic's.
 * FERRY_ERR_INVALID also for a bad task name.
 */
ferry_err_t bus_producer_send_segment(bus_producer_t *p, const char *task, const char *key,
                                      const void *value, size_t len, void *opaque,
                                      char *errbuf);
/* The largest value a send to topic with a key of key_len bytes may carry
 * (the topic's limit less key and TOPICCFG_OVERHEAD). */
size_t bus_producer_max_value(const bus_producer_t *p, bus_topic_t topic, size_t key_len);

/* Serves delivery reports for up to timeout_ms; returns the number served. */
int bus_producer_poll(bus_producer_t *p, int timeout_ms);
/* Waits until every queued send is reported; FERRY_ERR_TIMEOUT if some are
 * still outstanding after timeout_ms. */
ferry_err_t bus_producer_flush(bus_producer_t *p, int timeout_ms, char *errbuf);
/* Sends not yet reported (queued, in flight, or reports not yet served). */
int bus_producer_outstanding(const bus_producer_t *p);

/*
 * Dead-letters a message that cannot be decoded or is invalid: the original
 * key and value go unchanged to the dlq topic, with headers
 * ferry-dlq-topic/-partition/-offset/-reason/-at-ms (docs/messages.md).
 * A value too large for the dlq topic is cut to what fits, and header
 * ferry-dlq-truncated gives its full length. Reported through the delivery
 * callback like any send.
 */
ferry_err_t bus_dlq_send(bus_producer_t *p, const char *orig_topic,
                         int32_t partition, int64_t offset, const void *key,
                         size_t key_len, const void *value, size_t len,
                         const char *reason, void *opaque, char *errbuf);

/* ---------- consumer ---------- */

typedef struct bus_consumer bus_consumer_t;

/* A consumed message; fields borrowed from the message. */
typedef struct bus_msg {
  const char *topic;
  int32_t partition;
  int64_t offset;
  const void *key;       /* NULL when the message has no key */
  size_t key_len;
  const void *value;     /* NULL for a tombstone */
  size_t len;
  int64_t timestamp_ms;  /* -1 when unavailable */
  void *rkm_;            /* internal: the rd_kafka_message_t */
} bus_msg_t;

void bus_msg_destroy(bus_msg_t *m);   /* accepts NULL */
/* The last header called name: 0 with *value borrowed from m (not
 * NUL-terminated, NULL for a null header), -1 when absent. */
int bus_msg_header(const bus_msg_t *m, const char *name, const void **value,
                   size_t *len);

typedef enum bus_rebalance {
  BUS_ASSIGNED = 0,  /* parts were added to this consumer */
  BUS_REVOKED,       /* parts are being taken away: stop work on them; the
                        callback may still commit their offsets */
  BUS_LOST           /* parts were lost (session timeout): another consumer
                        may already own them; commits would fail */
} bus_rebalance_t;

typedef struct bus_part {
  const char *topic;     /* borrowed for the callback's duration */
  int32_t partition;
} bus_part_t;

typedef void bus_rebalance_cb(bus_rebalance_t ev, const bus_part_t *parts,
                              size_t n, void *ctx);

/*
 * New consumer in group c->group_id, subscribed to topics[0..n). With
 * BUS_SEGMENTS among them it is also subscribed to every task's segments
 * topic (bus_segments_regex), and refreshes its metadata every few seconds
 * (topic.metadata.refresh.interval.ms 3000, overridable) so that a task's
 * new topic is read soon after its lister created it. The
 * assignment strategy is roundrobin (the eager protocol: every rebalance
 * revokes the whole assignment first) unless partition.assignment.strategy
 * says otherwise; the cooperative protocol is handled too, but librdkafka
 * 2.0's cooperative-sticky has known faults with manual commits. cb may be NULL; ctx borrowed, must outlive the
 * consumer. NULL with errbuf on error (unknown property, no group id).
 */
bus_consumer_t *bus_consumer_new(const bus_conf_t *c, const bus_topic_t *topics,
                                 size_t n, bus_rebalance_cb *cb, void *ctx,
                                 char *errbuf);
/*
 * Options of bus_consumer_new_ex. BUS_CONSUMER_HELD: flow control without
 * pausing. Each assigned partition's fetched messages wait in its own queue
 * inside librdkafka (whose read-ahead is then kept to a few messages per
 * partition) until bus_consumer_poll_ex asks for one with want = 1; polls
 * with want = 0 serve only the group (rebalances, errors, commits). The
 * worker uses it: librdkafka's pause/resume of partitions races with
 * rebalances (a partition can stay paused for good), and a worker would
 * pause and resume all the time.
 */
#define BUS_CONSUMER_HELD 0x1u
bus_consumer_t *bus_consumer_new_ex(const bus_conf_t *c, const bus_topic_t *topics,
                                    size_t n, bus_rebalance_cb *cb, void *ctx,
                                    unsigned flags, char *errbuf);
/*
 * BUS_CONSUMER_HELD: on = 1 holds every partition of topic (assigned now or
 * later): bus_consumer_poll_ex takes none of its messages, which wait in
 * librdkafka's queues and in Kafka (a paused task); on = 0 reads it again.
 * A held consumer reads round robin over its topics first, then over each
 * topic's partitions, so that every task's segments are taken in turn.
 */
void bus_consumer_hold_topic(bus_consumer_t *c, const char *topic, int on);
/* Leaves the group (the callback sees BUS_REVOKED for what is left, and may
 * commit), then destroys. Accepts NULL. */
void bus_consumer_destroy(bus_consumer_t *c);

/*
 * Waits up to timeout_ms for a message. FERRY_OK: *out is new (destroy with
 * bus_msg_destroy). FERRY_ERR_TIMEOUT: nothing arrived. Transient consumer
 * errors are logged and waited through; FERRY_ERR_KAFKA only for a fatal
 * one (the consumer is then unusable). Rebalance callbacks run in here.
 */
ferry_err_t bus_consumer_poll(bus_consumer_t *c, int timeout_ms, bus_msg_t **out,
                              char *errbuf);
/* bus_consumer_poll with want: for a BUS_CONSUMER_HELD consumer, want = 0
 * serves the group for up to timeout_ms without taking a held message (a
 * message fetched before its partition was held may still be returned:
 * FERRY_OK, and it must be taken). Without HELD, want does not matter. */
ferry_err_t bus_consumer_poll_ex(bus_consumer_t *c, int timeout_ms, int want,
                                 bus_msg_t **out, char *errbuf);

/*
 * Commits next_offset for one partition: the offset of the NEXT message to
 * read, i.e. last processed offset + 1 (Kafka's convention). A consumer that
 * later joins the group starts there. Asynchronous: FERRY_OK means sent; a
 * failure is logged when its answer arrives (served by bus_consumer_poll and
 * bus_consumer_commit_wait). A lost commit only means redone work.
 */
ferry_err_t bus_consumer_commit(bus_consumer_t *c, const char *topic,
                                int32_t partition, int64_t next_offset,
                                char *errbuf);
/* Waits up to timeout_ms for the answers to the commits sent;
 * FERRY_ERR_TIMEOUT if some are still unanswered. */
ferry_err_t bus_consumer_commit_wait(bus_consumer_t *c, int timeout_ms, char *errbuf);
/* Commits m->offset + 1 on m's partition. */
ferry_err_t bus_consumer_commit_msg(bus_consumer_t *c, const bus_msg_t *m,
                                    char *errbuf);
/* Committed offset of a partition for this group (-1 when none). */
ferry_err_t bus_consumer_committed(bus_consumer_t *c, const char *topic,
                                   int32_t partition, int64_t *next_offset,
                                   char *errbuf);
/* Number of partitions of topic from broker metadata (for fleet-wide rate
 * shares: assigned / total). */
ferry_err_t bus_consumer_partition_count(bus_consumer_t *c, bus_topic_t topic,
                                         int *count, char *errbuf);

/* A partition's watermarks as of the latest fetch response (librdkafka's
 * cache: no request, never blocks; thread-safe). FERRY_ERR_NOTFOUND (and
 * -1s) while no fetch has told them yet. For consumer lag: high - next. */
ferry_err_t bus_consumer_watermarks(bus_consumer_t *c, const char *topic,
                                   int32_t partition, int64_t *low, int64_t *high);

/* Times this consumer's position fell below a partition's start (offset out
 * of range: the broker deleted records it had not read yet, librdkafka
 * then resets to the earliest offset). Each is logged as an error,
 * event=records-lost, when it happens. Thread-safe. */
uint64_t bus_consumer_lost(const bus_consumer_t *c);

/* ---------- group-less reader (the reporter) ---------- */

/* Where a partition ended when a reader started. */
typedef struct bus_part_mark {
  bus_topic_t topic;
  int32_t partition;
  int64_t low;           /* earliest offset still in the log */
  int64_t high;          /* offset the next message produced would get */
} bus_part_mark_t;

/*
 * New reader of topics[0..n): every partition the broker's metadata has now
 * is assigned from the earliest offset, without joining a group (a join
 * waits group.initial.rebalance.delay.ms, 3 s by default) and without ever
 * committing. For a service that rebuilds its state from the beginning at
 * each start. c->group_id only names the client (librdkafka's consumer API
 * wants one); no group of that name is joined. Read it with
 * bus_consumer_poll; destroy it with bus_consumer_destroy; the commit
 * functions do not apply. Partitions added later are not read.
 *
 * When marks is not NULL, *marks gets a new array (fx_free) of the assigned
 * partitions with their watermarks, asked before reading starts (a
 * ListOffsets request would otherwise queue behind the reader's long-poll
 * fetches): a reader that has read every partition up to its high mark has
 * seen everything that existed when it started.
 *
 * NULL with errbuf on error; FERRY_ERR_NOTFOUND names a missing topic.
 */
bus_consumer_t *bus_reader_new(const bus_conf_t *c, const bus_topic_t *topics,
                               size_t n, bus_part_mark_t **marks, size_t *n_marks,
                               char *errbuf);

/* A reader of one topic like bus_reader_new, starting at the last `tail`
 * messages of each partition instead of the earliest (the worker reads
 * the fresh heartbeats of the workers topic, not its history). */
bus_consumer_t *bus_reader_new_tail(const bus_conf_t *c, bus_topic_t topic, int64_t tail,
                                    char *errbuf);

#endif
