/*
 * config.c: ferry's configuration loader.
 *
 * One table per section (below) lists every key with its type, default,
 * range and doc line. parse_group() walks a libconfig group against its
 * table, the post_*() functions check what involves several keys, and
 * conf_doc_markdown() prints the same tables for docs/config.md. Every problem
 * is appended to the caller's buffer as "FILE:LINE: key.path: message", and
 * loading goes on after an error so that one run reports them all.
 *
 * Secrets: values of secret keys, credential variables and Kafka properties
 * never enter a message; messages name the key or the variable instead.
 */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <libconfig.h>
#include <librdkafka/rdkafka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Tables                                                                     */

typedef enum ktype {
  KT_STR,    /* string */
  KT_SECRET, /* string kept in a secret_t, never printed */
  KT_BOOL,
  KT_INT,     /* integer */
  KT_SIZE,    /* bytes: integer or "64M" */
  KT_DUR_MS,  /* milliseconds: integer or "30s" */
  KT_DUR_S,   /* seconds: integer or "5m" */
  KT_ENUM,    /* one word of a list */
  KT_LOC,     /* "store:bucket/prefix" into a conf_loc_t */
  KT_TIME,    /* ISO date into int64 unix seconds */
  KT_STRLIST, /* list of strings into conf_strv_t */
  KT_KVLIST,  /* list of "name=value" into kvlist_t */
  KT_WINDOWS  /* list of "HH:MM-HH:MM" into conf_windows_t */
} ktype_t;

typedef struct kenum {
  const char *word;
  int value;
} kenum_t;

typedef ferry_err_t (*check_fn)(const char *s, char *errbuf);

enum {
  KF_REQUIRED = 1 << 0,
  KF_ZERO_OK = 1 << 1,    /* 0 is accepted besides [min, max] ("unlimited") */
  KF_NONEMPTY = 1 << 2,   /* "" is an error */
  KF_EMPTY_NULL = 1 << 3, /* "" means unset: stored as NULL */
  KF_KAFKA = 1 << 4,      /* names checked by librdkafka; values may be secrets */
  KF_CLASSMAP = 1 << 5    /* storage class map: both sides non-empty */
};

typedef struct ckey {
  const char *name;
  ktype_t type;
  size_t off, size;     /* where the value goes in the section's struct */
  const char *def;      /* default, written as in the file; NULL = none */
  const char *defdoc;   /* documented default when def does not say it */
  int64_t min, max;     /* integer kinds, in the key's unit */
  const kenum_t *enums; /* KT_ENUM, {NULL} terminated */
  check_fn check;       /* strings and list elements */
  unsigned flags;
  const char *doc;
} ckey_t;

#define AT(st, m) .off = offsetof(st, m), .size = sizeof(((st *)0)->m)
#define KiB (1024LL)
#define MiB (1024LL * 1024)
#define GiB (1024LL * 1024 * 1024)
#define TiB (1024LL * 1024 * 1024 * 1024)

/* What a store section parses into before the cross-key checks. */
typedef struct store_raw {
  store_conf_t c;
  int signature; /* SIGW_* */
  char *access_key_env;
  char *secret_key_env;
  char *session_token_env;
  const config_setting_t *grp;
  uint64_t present; /* bit i: key i of store_keys was in the file */
} store_raw_t;

typedef struct task_raw {
  task_conf_t t;
  const config_setting_t *grp;
  uint64_t present;
} task_raw_t;

enum { SIGW_AUTO = 0, SIGW_V4, SIGW_V1, SIGW_COS, SIGW_NONE };

static const kenum_t log_levels[] = {{"error", FLOG_ERROR}, {"warn", FLOG_WARN},
                                     {"info", FLOG_INFO},   {"debug", FLOG_DEBUG},
                                     {"trace", FLOG_TRACE}, {NULL, 0}};
static const kenum_t store_types[] = {
    {"oss", STORE_OSS}, {"cos", STORE_COS}, {"s3", STORE_S3}, {NULL, 0}};
static const kenum_t signatures[] = {{"auto", SIGW_AUTO}, {"v4", SIGW_V4},
                                     {"v1", SIGW_V1},     {"cos", SIGW_COS},
                                     {"none", SIGW_NONE}, {NULL, 0}};
static const kenum_t list_apis[] = {{"auto", STORE_LIST_AUTO}, {"v1", STORE_LIST_V1},
                                    {"v2", STORE_LIST_V2}, {NULL, 0}};
static const kenum_t policies[] = {{"overwrite", POLICY_OVERWRITE},
                                   {"skip", POLICY_SKIP},
                                   {"skip-if-same", POLICY_SKIP_IF_SAME},
                                   {NULL, 0}};

static ferry_err_t check_name(const char *s, char *errbuf);
static ferry_err_t check_endpoint(const char *s, char *errbuf);
static ferry_err_t check_hostport(const char *s, char *errbuf);
static ferry_err_t check_listen(const char *s, char *errbuf);
static ferry_err_t check_envname(const char *s, char *errbuf);
static ferry_err_t check_brokers(const char *s, char *errbuf);
static ferry_err_t check_topic_prefix(const char *s, char *errbuf);
static ferry_err_t check_word(const char *s, char *errbuf);
static ferry_err_t check_nonempty(const char *s, char *errbuf);

static const ckey_t root_keys[] = {
    {.name = "log_level",
     .type = KT_ENUM,
     AT(ferry_conf_t, log_level),
     .def = "info",
     .enums = log_levels,
     .doc = "Log verbosity of the service: lines at this level and more severe are "
            "written to stderr."},
};

static const ckey_t kafka_keys[] = {
    {.name = "brokers",
     .type = KT_STR,
     AT(conf_kafka_t, brokers),
     .def = "",
     .check = check_brokers,
     .doc = "Kafka bootstrap servers, \"host:port,host:port\". Empty: read them from "
            "`bootstrap_file`, which `ferry-devbroker` writes when it starts."},
    {.name = "bootstrap_file",
     .type = KT_STR,
     AT(conf_kafka_t, bootstrap_file),
     .def = "/tmp/ferry-devbroker.bootstrap",
     .doc = "File whose first line holds the bootstrap servers, used when `brokers` is "
            "empty. The dev broker writes it; one machine, one dev broker."},
    {.name = "topic_prefix",
     .type = KT_STR,
     AT(conf_kafka_t, topic_prefix),
     .def = "ferry.",
     .check = check_topic_prefix,
     .doc = "Prefix of every topic name (`ferry.tasks`, `ferry.segments`, ...). Letters, "
            "digits, `.`, `_`, `-`; lets several fleets share one cluster."},
    {.name = "segments_partitions",
     .type = KT_INT,
     AT(conf_kafka_t, segments_partitions),
     .def = "64",
     .min = 1,
     .max = 10000,
     .doc = "Partitions of the segments topic when ferry creates it: the most workers "
            "that can share one task's segments."},
    {.name = "replication_factor",
     .type = KT_INT,
     AT(conf_kafka_t, replication_factor),
     .def = "1",
     .min = 1,
     .max = 32,
     .doc = "Replication factor of topics ferry creates. Use 3 on a production cluster."},
    {.name = "properties",
     .type = KT_KVLIST,
     AT(conf_kafka_t, properties),
     .flags = KF_KAFKA,
     .doc = "librdkafka properties for every client, \"name=value\" (e.g. "
            "\"security.protocol=SASL_SSL\"). A value written \"${VAR}\" is read from "
            "environment variable VAR. Names are checked against librdkafka."},
    {.name = "producer_properties",
     .type = KT_KVLIST,
     AT(conf_kafka_t, producer_properties),
     .flags = KF_KAFKA,
     .doc = "librdkafka properties for producers only, applied after `properties`."},
    {.name = "consumer_properties",
     .type = KT_KVLIST,
     AT(conf_kafka_t, consumer_properties),
     .flags = KF_KAFKA,
     .doc = "librdkafka properties for consumers only, applied after `properties`."},
    {.name = "group_id",
     .type = KT_STR,
     AT(conf_kafka_t, group_id),
     .def = "ferry-workers",
     .flags = KF_NONEMPTY,
     .doc = "Consumer group of the workers on the segments topic; every worker of one "
            "fleet must share it."},
    {.name = "delivery_timeout_ms",
     .type = KT_DUR_MS,
     AT(conf_kafka_t, delivery_timeout_ms),
     .def = "300000",
     .min = 1000,
     .max = INT_MAX,
     .doc = "How long a produced message may wait for the broker's acknowledgement "
            "before the send fails (librdkafka `delivery.timeout.ms`)."},
};

static const ckey_t store_keys[] = {
    {.name = "name",
     .type = KT_STR,
     AT(store_raw_t, c.name),
     .flags = KF_REQUIRED | KF_NONEMPTY,
     .check = check_name,
     .doc = "Name that tasks and messages use for this store: letters, digits, `.`, "
            "`_`, `-`, at most 64 characters; unique. `urls` is reserved."},
    {.name = "type",
     .type = KT_ENUM,
     AT(store_raw_t, c.type),
     .flags = KF_REQUIRED,
     .enums = store_types,
     .doc = "Service dialect: `oss` (Alibaba Cloud OSS), `cos` (Tencent Cloud COS) or "
            "`s3` (any S3-compatible store)."},
    {.name = "endpoint",
     .type = KT_STR,
     AT(store_raw_t, c.endpoint),
     .flags = KF_REQUIRED | KF_NONEMPTY,
     .check = check_endpoint,
     .doc = "Service endpoint without bucket: \"https://oss-cn-hangzhou.aliyuncs.com\", "
            "\"cos.ap-guangzhou.myqcloud.com\", \"http://127.0.0.1:9000\". No scheme "
            "means https."},
    {.name = "region",
     .type = KT_STR,
     AT(store_raw_t, c.region),
     .defdoc = "from endpoint",
     .flags = KF_EMPTY_NULL,
     .check = check_word,
     .doc = "Signing region (\"cn-hangzhou\", \"ap-guangzhou\", \"us-east-1\"). When "
            "unset: taken from an `oss-REGION.aliyuncs.com` or `cos.REGION.*` endpoint; "
            "`us-east-1` for s3."},
    {.name = "path_style",
     .type = KT_BOOL,
     AT(store_raw_t, c.path_style),
     .def = "false",
     .doc = "true: `endpoint/bucket/key` URLs (local S3 servers, MinIO); false: "
            "`bucket.endpoint/key` (OSS and COS require it)."},
    {.name = "connect_to",
     .type = KT_STR,
     AT(store_raw_t, c.connect_to),
     .flags = KF_EMPTY_NULL,
     .check = check_hostport,
     .doc = "\"ADDR:PORT\" to connect to whatever the URL's host is (like curl "
            "`--connect-to`): private lines, tests. Unset: normal DNS."},
    {.name = "signature",
     .type = KT_ENUM,
     AT(store_raw_t, signature),
     .def = "auto",
     .enums = signatures,
     .doc = "Request signing: `auto` (s3: AWS v4, oss: OSS v4, cos: COS), `v4` (s3 and "
            "cos: AWS v4; oss: OSS v4), `v1` (oss only), `cos` (cos only), `none` "
            "(anonymous)."},
    {.name = "access_key",
     .type = KT_STR,
     AT(store_raw_t, c.access_key),
     .flags = KF_EMPTY_NULL,
     .doc = "Access key id, inline. Prefer `access_key_env` or the default variable."},
    {.name = "access_key_env",
     .type = KT_STR,
     AT(store_raw_t, access_key_env),
     .flags = KF_EMPTY_NULL,
     .check = check_envname,
     .doc = "Environment variable holding the access key id."},
    {.name = "secret_key",
     .type = KT_SECRET,
     AT(store_raw_t, c.secret_key),
     .doc = "Secret key, inline. Warned about when the file is readable by group or "
            "others; prefer `secret_key_env`."},
    {.name = "secret_key_env",
     .type = KT_STR,
     AT(store_raw_t, secret_key_env),
     .flags = KF_EMPTY_NULL,
     .check = check_envname,
     .doc = "Environment variable holding the secret key."},
    {.name = "session_token",
     .type = KT_SECRET,
     AT(store_raw_t, c.session_token),
     .doc = "STS / temporary session token, inline (optional)."},
    {.name = "session_token_env",
     .type = KT_STR,
     AT(store_raw_t, session_token_env),
     .flags = KF_EMPTY_NULL,
     .check = check_envname,
     .doc = "Environment variable holding the session token."},
    {.name = "insecure",
     .type = KT_BOOL,
     AT(store_raw_t, c.insecure),
     .def = "false",
     .doc = "true: do not verify the server's TLS certificate. Warned about; for tests "
            "only."},
    {.name = "ca_file",
     .type = KT_STR,
     AT(store_raw_t, c.ca_file),
     .flags = KF_EMPTY_NULL,
     .doc = "PEM bundle of private certificate authorities to trust (must be "
            "readable). Unset: the system bundle."},
    {.name = "connect_timeout_ms",
     .type = KT_DUR_MS,
     AT(store_raw_t, c.connect_timeout_ms),
     .def = "10000",
     .min = 100,
     .max = 600000,
     .doc = "Time allowed to open a connection (TCP and TLS)."},
    {.name = "max_host_conns",
     .type = KT_INT,
     AT(store_raw_t, c.max_host_conns),
     .defdoc = "`worker.max_host_conns`",
     .min = 1,
     .max = 10000,
     .doc = "Most connections one process opens to this store's hosts."},
    {.name = "list_api",
     .type = KT_ENUM,
     AT(store_raw_t, c.list_api),
     .def = "auto",
     .enums = list_apis,
     .doc = "How the lister lists this store: `v2` (ListObjectsV2: continuation "
            "token, start-after), `v1` (ListObjects: marker, for stores without V2), "
            "`auto` (V2, and V1 for the rest of a listing when a V2 page does not "
            "advance). A page that does not advance is an error naming the store."},
};

static const ckey_t worker_keys[] = {
    {.name = "id",
     .type = KT_STR,
     AT(conf_worker_t, id),
     .defdoc = "HOSTNAME-PID",
     .flags = KF_EMPTY_NULL,
     .check = check_word,
     .doc = "Worker id written into results; must be unique in the fleet. Letters, "
            "digits, `.`, `_`, `-`, `:`."},
    {.name = "concurrency",
     .type = KT_INT,
     AT(conf_worker_t, concurrency),
     .def = "32",
     .min = 1,
     .max = 4096,
     .doc = "Requests a worker runs at once; a streamed copy (object or part) holds two, "
            "its GET's and its PUT's. Memory is about concurrency / 2 x buffer_size "
            "(docs/worker.md, \"Memory\")."},
    {.name = "max_host_conns",
     .type = KT_INT,
     AT(conf_worker_t, max_host_conns),
     .def = "64",
     .min = 1,
     .max = 10000,
     .doc = "Most connections per store host, for stores that do not set their own."},
    {.name = "buffer_size",
     .type = KT_SIZE,
     AT(conf_worker_t, buffer_size),
     .def = "1M",
     .min = 64 * KiB,
     .max = 64 * MiB,
     .doc = "Buffer between one transfer's GET and PUT. 1M holds ~10 ms at 100 MB/s, "
            "enough to decouple the two connections, while 32 transfers stay at 32M."},
    {.name = "small_object_threshold",
     .type = KT_SIZE,
     AT(conf_worker_t, small_object_threshold),
     .def = "256K",
     .min = 0,
     .max = 64 * MiB,
     .doc = "Objects up to this size are read whole before their PUT (one request "
            "each way, checksum known up front). At most buffer_size."},
    {.name = "multipart_threshold",
     .type = KT_SIZE,
     AT(conf_worker_t, multipart_threshold),
     .def = "64M",
     .min = 1 * MiB,
     .max = 5 * GiB,
     .doc = "Objects of this size and above are copied as multipart uploads. At least "
            "part_size; a single PUT is limited to 5G."},
    {.name = "part_size",
     .type = KT_SIZE,
     AT(conf_worker_t, part_size),
     .def = "16M",
     .min = 100 * KiB,
     .max = 5 * GiB,
     .doc = "Multipart part size. Raised per object when 10000 parts would not cover "
            "it; checked against the destination's minimum (S3 5M, COS 1M, OSS 100K)."},
    {.name = "max_attempts",
     .type = KT_INT,
     AT(conf_worker_t, max_attempts),
     .def = "5",
     .min = 1,
     .max = 100,
     .doc = "Tries per request before the object is reported failed (retryable errors "
            "only)."},
    {.name = "backoff_base_ms",
     .type = KT_DUR_MS,
     AT(conf_worker_t, backoff_base_ms),
     .def = "200",
     .min = 1,
     .max = 600000,
     .doc = "First retry delay; doubles per attempt, with jitter."},
    {.name = "backoff_max_ms",
     .type = KT_DUR_MS,
     AT(conf_worker_t, backoff_max_ms),
     .def = "30000",
     .min = 1,
     .max = 3600000,
     .doc = "Longest retry delay (a server's Retry-After may ask for more). At least "
            "backoff_base_ms."},
    {.name = "stall_timeout_s",
     .type = KT_DUR_S,
     AT(conf_worker_t, stall_timeout_s),
     .def = "60",
     .min = 1,
     .max = 3600,
     .doc = "A transfer that moves no byte for this long is aborted and retried. Time a "
            "transfer spends paused by ferry (flow control between its GET and PUT, "
            "bandwidth_limit) is not counted."},
    {.name = "request_timeout_s",
     .type = KT_DUR_S,
     AT(conf_worker_t, request_timeout_s),
     .def = "30",
     .min = 1,
     .max = 3600,
     .doc = "Total time allowed to requests without a body (HEAD, list, initiate, "
            "abort). Data transfers are bounded by stall_timeout_s only, never by their "
            "total time."},
    {.name = "complete_timeout_s",
     .type = KT_DUR_S,
     AT(conf_worker_t, complete_timeout_s),
     .def = "600",
     .min = 1,
     .max = 3600,
     .doc = "CompleteMultipartUpload is cut and retried after this long without a byte "
            "from the store (merging a large upload can take minutes; the whitespace S3 "
            "sends meanwhile counts as a byte)."},
    {.name = "qps_limit",
     .type = KT_INT,
     AT(conf_worker_t, qps_limit),
     .def = "0",
     .min = 1,
     .max = 1000000,
     .flags = KF_ZERO_OK,
     .doc = "Requests per second of this worker over all tasks (to the source and the "
            "destination together); 0 = unlimited. Each task's own limits apply on top, "
            "to that task only."},
    {.name = "bandwidth_limit",
     .type = KT_SIZE,
     AT(conf_worker_t, bandwidth_limit),
     .def = "0",
     .min = 1 * KiB,
     .max = 1024 * GiB,
     .flags = KF_ZERO_OK,
     .doc = "Bytes per second this worker writes over all tasks (\"100M\" = 100 MiB/s); "
            "0 = unlimited."},
    {.name = "segments_in_flight",
     .type = KT_INT,
     AT(conf_worker_t, segments_in_flight),
     .def = "4",
     .min = 1,
     .max = 1024,
     .doc = "Segments a worker works on at once; their objects share `concurrency`."},
    {.name = "shutdown_timeout_s",
     .type = KT_DUR_S,
     AT(conf_worker_t, shutdown_timeout_s),
     .def = "30",
     .min = 0,
     .max = 3600,
     .doc = "On SIGTERM, time to finish running transfers before cutting them (their "
            "segments are redelivered; a multipart upload with parts is left open and "
            "continued by the next copy of its object)."},
    {.name = "windows",
     .type = KT_WINDOWS,
     AT(conf_worker_t, windows),
     .doc = "Daily windows, local time, when workers copy, e.g. [\"22:00-06:00\"]; "
            "outside them they pause. Empty: always."},
    {.name = "storage_class_map",
     .type = KT_KVLIST,
     AT(conf_worker_t, storage_class_map),
     .flags = KF_CLASSMAP,
     .doc = "\"SRC=DST\": objects of source class SRC are written with class DST "
            "(names as the stores spell them, matched case-insensitively; \"*=DST\" for "
            "classes not listed; \"SRC=\" writes no class). Classes not listed follow "
            "ferry's tier mapping (standard, IA, archive, ...)."},
    {.name = "record_source_etag",
     .type = KT_BOOL,
     AT(conf_worker_t, record_source_etag),
     .def = "false",
     .doc = "Write the source ETag into destination user metadata (`ferry-src-etag`) "
            "so later runs can compare multipart objects."},
    {.name = "metrics_listen",
     .type = KT_STR,
     AT(conf_worker_t, metrics_listen),
     .def = "",
     .flags = KF_EMPTY_NULL,
     .check = check_listen,
     .doc = "\"ADDR:PORT\" of the worker's own Prometheus /metrics (\":PORT\" = 127.0.0.1; "
            "port 0 = any free port, logged); \"\" = none. Several workers on one host "
            "need one port each."},
};

static const ckey_t lister_keys[] = {
    {.name = "page_size",
     .type = KT_INT,
     AT(conf_lister_t, page_size),
     .def = "1000",
     .min = 1,
     .max = 1000,
     .doc = "Keys asked for per list request (max-keys)."},
    {.name = "segment_max_objects",
     .type = KT_INT,
     AT(conf_lister_t, segment_max_objects),
     .def = "1000",
     .min = 1,
     .max = 100000,
     .doc = "Most objects in one segment."},
    {.name = "segment_max_bytes",
     .type = KT_SIZE,
     AT(conf_lister_t, segment_max_bytes),
     .def = "32M",
     .min = 1 * MiB,
     .max = 1 * TiB,
     .doc = "A segment is closed once its objects add up to this size; a segment is one "
            "worker's work, so this bounds how long one host holds it."},
    {.name = "checkpoint_pages",
     .type = KT_INT,
     AT(conf_lister_t, checkpoint_pages),
     .def = "10",
     .min = 1,
     .max = 1000000,
     .doc = "Listing pages between checkpoints in the tasks topic; a restarted lister "
            "resumes from the last one."},
    {.name = "shards",
     .type = KT_INT,
     AT(conf_lister_t, shards),
     .def = "1",
     .min = 1,
     .max = 256,
     .doc = "Listings run in parallel per task, each over a key range found by a delimited "
            "listing at the task prefix (docs/lister.md, \"Sharded listing\"). Fixed for a run "
            "when it starts; a resumed run keeps its ranges."},
    {.name = "fanout_threshold",
     .type = KT_SIZE,
     AT(conf_lister_t, fanout_threshold),
     .def = "4G",
     .min = 1 * MiB,
     .max = 1024 * TiB,
     .flags = KF_ZERO_OK,
     .doc = "Objects of this size and above are split into part-range segments that "
            "several workers copy; 0 = never. At least worker.multipart_threshold."},
};

static const ckey_t reporter_keys[] = {
    {.name = "listen",
     .type = KT_STR,
     AT(conf_reporter_t, listen),
     .def = "127.0.0.1:8080",
     .flags = KF_EMPTY_NULL,
     .check = check_listen,
     .doc = "\"ADDR:PORT\" of the status HTTP server (\":PORT\" = 127.0.0.1; port 0 = any "
            "free port, logged); \"\" = none."},
    {.name = "refresh_s",
     .type = KT_DUR_S,
     AT(conf_reporter_t, refresh_s),
     .def = "5",
     .min = 1,
     .max = 3600,
     .doc = "Seconds between status summaries."},
};

static const ckey_t task_keys[] = {
    {.name = "name",
     .type = KT_STR,
     AT(task_raw_t, t.name),
     .flags = KF_REQUIRED | KF_NONEMPTY,
     .check = check_name,
     .doc = "Task name, the key of its Kafka records: letters, digits, `.`, `_`, `-`, "
            "at most 64 characters; unique."},
    {.name = "source",
     .type = KT_LOC,
     AT(task_raw_t, t.src),
     .flags = KF_REQUIRED,
     .doc = "\"STORE:BUCKET/PREFIX\" (prefix optional) or \"urls:/path/to/list\" (one "
            "URL per line)."},
    {.name = "destination",
     .type = KT_LOC,
     AT(task_raw_t, t.dst),
     .flags = KF_REQUIRED,
     .doc = "\"STORE:BUCKET/PREFIX\"; a key's part after the source prefix is appended "
            "to PREFIX."},
    {.name = "same_name",
     .type = KT_ENUM,
     AT(task_raw_t, t.same_name),
     .def = "skip-if-same",
     .enums = policies,
     .doc = "When the destination already has the key: `overwrite`, `skip`, or "
            "`skip-if-same` (skip when size and CRC64, or single-part ETag, match)."},
    {.name = "qps_limit",
     .type = KT_INT,
     AT(task_raw_t, t.qps_limit),
     .def = "0",
     .min = 1,
     .max = 1000000,
     .flags = KF_ZERO_OK,
     .doc = "Requests per second of this task over the whole fleet, to the source and "
            "the destination together (retries included); 0 = unlimited. Other tasks are "
            "not affected. Written into the task's segments by the lister: workers need "
            "not know the task."},
    {.name = "bandwidth_limit",
     .type = KT_SIZE,
     AT(task_raw_t, t.bandwidth_limit),
     .def = "0",
     .min = 1 * KiB,
     .max = 1024 * GiB,
     .flags = KF_ZERO_OK,
     .doc = "Bytes per second of this task over the whole fleet (bytes read from the "
            "source, the same as written); 0 = unlimited. Other tasks are not affected. "
            "Written into the task's segments by the lister."},
    {.name = "storage_class_map",
     .type = KT_KVLIST,
     AT(task_raw_t, t.storage_class_map),
     .defdoc = "`worker.storage_class_map`",
     .flags = KF_CLASSMAP,
     .doc = "Replaces worker.storage_class_map for this task (an empty list: the tier "
            "mapping only)."},
    {.name = "include",
     .type = KT_STRLIST,
     AT(task_raw_t, t.include),
     .check = check_nonempty,
     .doc = "Globs (`*`, `?`, `[...]`; `*` crosses `/`) on the key after the source "
            "prefix; when given, only matching keys are copied."},
    {.name = "exclude",
     .type = KT_STRLIST,
     AT(task_raw_t, t.exclude),
     .check = check_nonempty,
     .doc = "Globs of keys not to copy; wins over include."},
    {.name = "min_size",
     .type = KT_SIZE,
     AT(task_raw_t, t.min_size),
     .def = "0",
     .min = 0,
     .max = INT64_MAX,
     .doc = "Copy only objects of at least this size."},
    {.name = "max_size",
     .type = KT_SIZE,
     AT(task_raw_t, t.max_size),
     .def = "0",
     .min = 0,
     .max = INT64_MAX,
     .doc = "Copy only objects of at most this size; 0 = no bound."},
    {.name = "modified_after",
     .type = KT_TIME,
     AT(task_raw_t, t.modified_after),
     .doc = "Copy only objects modified at or after this time: \"2024-01-15\" (UTC) or "
            "\"2024-01-15T08:00:00+08:00\"."},
    {.name = "modified_before",
     .type = KT_TIME,
     AT(task_raw_t, t.modified_before),
     .doc = "Copy only objects modified before this time (same forms)."},
    {.name = "record_source_etag",
     .type = KT_BOOL,
     AT(task_raw_t, t.record_source_etag),
     .defdoc = "`worker.record_source_etag`",
     .doc = "Overrides worker.record_source_etag for this task."},
};

typedef struct section {
  const char *name; /* NULL: the top level */
  int is_list;      /* a list of groups */
  const ckey_t *keys;
  size_t n_keys;
  size_t off; /* groups: offset of the struct in ferry_conf_t */
  const char *doc;
} section_t;

#define KEYS(t) t, FERRY_ARRAY_LEN(t)

static const section_t sections[] = {
    {NULL, 0, KEYS(root_keys), 0, "Settings outside any group."},
    {"kafka", 0, KEYS(kafka_keys), offsetof(ferry_conf_t, kafka),
     "`kafka = { ... };` How every service reaches Kafka."},
    {"stores", 1, KEYS(store_keys), 0,
     "`stores = ( { ... }, ... );` Every object store a task may name; workers know "
     "them all. Credentials: see below."},
    {"worker", 0, KEYS(worker_keys), offsetof(ferry_conf_t, worker),
     "`worker = { ... };` How a worker copies."},
    {"lister", 0, KEYS(lister_keys), offsetof(ferry_conf_t, lister),
     "`lister = { ... };` How the lister enumerates and cuts segments."},
    {"reporter", 0, KEYS(reporter_keys), offsetof(ferry_conf_t, reporter),
     "`reporter = { ... };` The status service."},
    {"tasks", 1, KEYS(task_keys), 0,
     "`tasks = ( { ... }, ... );` The migrations; unset keys take the worker's value "
     "where one exists."},
};

enum {
  SEC_ROOT = 0,
  SEC_KAFKA,
  SEC_STORES,
  SEC_WORKER,
  SEC_LISTER,
  SEC_REPORTER,
  SEC_TASKS
};

/* ------------------------------------------------------------------------ */
/* Loader context and messages                                               */

typedef struct srcfile {
  char *name;
  char *text; /* NULL when unreadable */
} srcfile_t;

typedef struct inline_secret {
  char *file;
  int line;
  char *path;
  const char *hint;
} inline_secret_t;

/* One message, kept until the end so that all come out sorted by place. */
typedef struct cmsg {
  int warn;
  char *file;
  int line;
  size_t seq;
  char *text; /* "key.path: message" */
} cmsg_t;

typedef struct ctx {
  const char *name; /* the main file, or the name of a string */
  const char *text; /* the string, when loading one */
  unsigned flags;
  fbuf_t *errors;
  fbuf_t *warnings;
  int n_errors;
  srcfile_t *files;
  size_t n_files;
  inline_secret_t *secrets;
  size_t n_secrets;
  rd_kafka_conf_t *rk; /* scratch conf that checks Kafka property names */
  cmsg_t *msgs;
  size_t n_msgs;
  uint64_t failed[7]; /* per group section: bit i = key i was rejected */
} ctx_t;

static const char *src_file(const ctx_t *c, const config_setting_t *s) {
  const char *f = s ? config_setting_source_file(s) : NULL;
  return f ? f : c->name;
}

static void add_msg(ctx_t *c, int warn, const char *file, int line, const char *text) {
  cmsg_t *m;
  c->msgs = fx_realloc(c->msgs, (c->n_msgs + 1) * sizeof(*c->msgs));
  m = &c->msgs[c->n_msgs];
  m->warn = warn;
  m->file = fx_strdup(file);
  m->line = line;
  m->seq = c->n_msgs++;
  m->text = fx_strdup(text);
}

static void vreport(ctx_t *c, int warn, const config_setting_t *s, const char *path,
                    const char *fmt, va_list ap) {
  char msg[1024], text[1400];
  vsnprintf(msg, sizeof(msg), fmt, ap);
  snprintf(text, sizeof(text), "%s%s%s%s", path && *path ? path : "",
           path && *path ? ": " : "", warn ? "warning: " : "", msg);
  add_msg(c, warn, src_file(c, s), s ? (int)config_setting_source_line(s) : 0, text);
}

static int msg_cmp(const void *a, const void *b, void *arg) {
  const cmsg_t *x = a, *y = b;
  const char *main_file = arg;
  int xm = strcmp(x->file, main_file) != 0, ym = strcmp(y->file, main_file) != 0, d;
  if (xm != ym) return xm - ym;
  if ((d = strcmp(x->file, y->file)) != 0) return d;
  if (x->line != y->line) return x->line < y->line ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Appends the messages, sorted by file and line, to the caller's buffers. */
static void flush_msgs(ctx_t *c) {
  size_t i;
  if (!c->n_msgs) return;
  qsort_r(c->msgs, c->n_msgs, sizeof(*c->msgs), msg_cmp, (void *)c->name);
  for (i = 0; i < c->n_msgs; i++) {
    cmsg_t *m = &c->msgs[i];
    fbuf_t *b = m->warn ? c->warnings : c->errors;
    if (b) {
      fbuf_adds(b, m->file);
      if (m->line > 0) fbuf_addf(b, ":%d", m->line);
      fbuf_addf(b, ": %s\n", m->text);
    }
    fx_free(m->file);
    fx_free(m->text);
  }
  fx_free(c->msgs);
  c->msgs = NULL;
  c->n_msgs = 0;
}

static void cerr(ctx_t *c, const config_setting_t *s, const char *path, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));
static void cerr(ctx_t *c, const config_setting_t *s, const char *path, const char *fmt,
                 ...) {
  va_list ap;
  c->n_errors++;
  va_start(ap, fmt);
  vreport(c, 0, s, path, fmt, ap);
  va_end(ap);
}

static void cwarn(ctx_t *c, const config_setting_t *s, const char *path, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));
static void cwarn(ctx_t *c, const config_setting_t *s, const char *path, const char *fmt,
                  ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport(c, 1, s, path, fmt, ap);
  va_end(ap);
}

static void note_secret(ctx_t *c, const config_setting_t *s, const char *path,
                        const char *hint) {
  const char *f = s ? config_setting_source_file(s) : NULL;
  inline_secret_t *x;
  if (!f) return; /* a string has no file mode to check */
  c->secrets = fx_realloc(c->secrets, (c->n_secrets + 1) * sizeof(*c->secrets));
  x = &c->secrets[c->n_secrets++];
  x->file = fx_strdup(f);
  x->line = (int)config_setting_source_line(s);
  x->path = fx_strdup(path);
  x->hint = hint;
}

/* The text of a source file, read once (for the integer literal check). */
static const char *file_text(ctx_t *c, const char *file) {
  size_t i;
  FILE *fp;
  fbuf_t b;
  char chunk[4096];
  size_t n;
  if (!file) return c->text;
  for (i = 0; i < c->n_files; i++)
    if (strcmp(c->files[i].name, file) == 0) return c->files[i].text;
  c->files = fx_realloc(c->files, (c->n_files + 1) * sizeof(*c->files));
  c->files[c->n_files].name = fx_strdup(file);
  c->files[c->n_files].text = NULL;
  fp = fopen(file, "r");
  if (fp) {
    fbuf_init(&b, 64 * MiB);
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
      if (fbuf_add(&b, chunk, n) != FERRY_OK) break;
    fclose(fp);
    c->files[c->n_files].text = fbuf_steal(&b);
  }
  return c->files[c->n_files++].text;
}

/*
 * libconfig 1.5 silently truncates an integer literal that does not fit in 32
 * bits unless it carries an L suffix (5000000000 reads as 705032704). We find
 * the literal on the setting's line and compare. Returns 0 when it was cut.
 */
static int literal_fits(ctx_t *c, const config_setting_t *s) {
  const char *text, *p, *end, *name;
  size_t nlen;
  int line, l;
  if (config_setting_type(s) != CONFIG_TYPE_INT) return 1;
  name = config_setting_name(s);
  line = (int)config_setting_source_line(s);
  text = file_text(c, config_setting_source_file(s));
  if (!text || !name || line <= 0) return 1;
  for (p = text, l = 1; *p && l < line; p++)
    if (*p == '\n') l++;
  end = strchr(p, '\n');
  if (!end) end = p + strlen(p);
  nlen = strlen(name);
  for (; p + nlen <= end; p++) {
    const char *q;
    char *e;
    long long v;
    if (strncmp(p, name, nlen) != 0) continue;
    if (p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '-'))
      continue;
    q = p + nlen;
    while (q < end && (*q == ' ' || *q == '\t')) q++;
    if (q >= end || (*q != '=' && *q != ':')) continue;
    q++;
    while (q < end && (*q == ' ' || *q == '\t')) q++;
    errno = 0;
    v = strtoll(q, &e, 0);
    if (e == q) return 1;
    if (errno == ERANGE) return 0;
    return v == (long long)config_setting_get_int64(s);
  }
  return 1;
}

/* ------------------------------------------------------------------------ */
/* Small helpers                                                              */

/* Edit distance where swapping two neighbours counts as one edit ("scr" vs
 * "src"), case-insensitive (optimal string alignment). */
static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b), i, j;
  static const size_t W = 65;
  size_t d[65 * 65];
  if (la > 64 || lb > 64) return 99;
  for (i = 0; i <= la; i++) d[i * W] = i;
  for (j = 0; j <= lb; j++) d[j] = j;
  for (i = 1; i <= la; i++)
    for (j = 1; j <= lb; j++) {
      int ai = tolower((unsigned char)a[i - 1]), bj = tolower((unsigned char)b[j - 1]);
      size_t v = FERRY_MIN(d[(i - 1) * W + j] + 1, d[i * W + j - 1] + 1);
      v = FERRY_MIN(v, d[(i - 1) * W + j - 1] + (ai != bj));
      if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) &&
          tolower((unsigned char)a[i - 2]) == bj)
        v = FERRY_MIN(v, d[(i - 2) * W + j - 2] + 1);
      d[i * W + j] = v;
    }
  return d[la * W + lb];
}

/* The closest of n names to s when close enough to be a typo, else NULL. */
static const char *closest(const char *s, const char *const *names, size_t n) {
  const char *best = NULL;
  size_t bd = 99, i, d, lim = strlen(s) <= 4 ? 1 : 2;
  for (i = 0; i < n; i++) {
    if (!names[i]) continue;
    d = edit_distance(s, names[i]);
    if (d < bd) {
      bd = d;
      best = names[i];
    }
  }
  return bd <= lim ? best : NULL;
}

static int has_ctl_or_space(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s <= 0x20 || *s == 0x7f) return 1;
  return 0;
}

/* Valid UTF-8 (no overlongs, no surrogates) without ASCII control characters. */
static int utf8_ok(const char *s, const char **bad) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    unsigned c = *p;
    int n, i;
    unsigned cp;
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) goto fail;
      p++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf)
      n = 1, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
      n = 2, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
      n = 3, cp = c & 0x07;
    else
      goto fail;
    for (i = 1; i <= n; i++) {
      if ((p[i] & 0xc0) != 0x80) goto fail;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
      goto fail;
    p += n + 1;
  }
  return 1;
fail:
  if (bad) *bad = (const char *)p;
  return 0;
}

static void human_size(char *out, size_t n, int64_t v) {
  static const char units[] = "KMGTP";
  int u = -1;
  while (v != 0 && v % 1024 == 0 && u < 4) {
    v /= 1024;
    u++;
  }
  if (u < 0)
    snprintf(out, n, "%lld", (long long)v);
  else
    snprintf(out, n, "%lld%c", (long long)v, units[u]);
}

static void fmt_value(char *out, size_t n, const ckey_t *k, int64_t v) {
  if (k->type == KT_SIZE)
    human_size(out, n, v);
  else
    snprintf(out, n, "%lld", (long long)v);
}

static void range_str(char *out, size_t n, const ckey_t *k) {
  char a[32], b[32];
  if (k->type != KT_INT && k->type != KT_SIZE && k->type != KT_DUR_MS &&
      k->type != KT_DUR_S) {
    *out = 0;
    return;
  }
  fmt_value(a, sizeof(a), k, k->min);
  if (k->max == INT64_MAX)
    snprintf(b, sizeof(b), "%s", "");
  else
    fmt_value(b, sizeof(b), k, k->max);
  snprintf(out, n, "%s%s..%s", (k->flags & KF_ZERO_OK) ? "0 or " : "", a, b);
}

static int in_range(const ckey_t *k, int64_t v) {
  if (v == 0 && (k->flags & KF_ZERO_OK)) return 1;
  return v >= k->min && v <= k->max;
}

static void put_int(void *base, const ckey_t *k, int64_t v) {
  char *p = (char *)base + k->off;
  if (k->size == sizeof(int32_t)) {
    int32_t x = (int32_t)v;
    memcpy(p, &x, sizeof(x));
  } else {
    memcpy(p, &v, sizeof(v));
  }
}

static void *field(void *base, const ckey_t *k) {
  return (char *)base + k->off;
}

static void secret_clear(secret_t *s) {
  if (s->v) {
    explicit_bzero(s->v, strlen(s->v));
    fx_free(s->v);
  }
  s->v = NULL;
}

static void strv_release(conf_strv_t *v) {
  size_t i;
  for (i = 0; i < v->n; i++) fx_free(v->v[i]);
  fx_free(v->v);
  v->v = NULL;
  v->n = 0;
}

/* Zeroes the values of a list that may hold secrets, then releases it. */
static void kv_release_wipe(kvlist_t *l) {
  size_t i;
  for (i = 0; i < l->n; i++)
    if (l->v[i].value) explicit_bzero(l->v[i].value, strlen(l->v[i].value));
  kvlist_release(l);
}

/* ------------------------------------------------------------------------ */
/* Value checks (strings)                                                     */

static ferry_err_t check_name(const char *s, char *errbuf) {
  const char *p;
  size_t n = strlen(s);
  if (n == 0) return ferry_seterr(errbuf, FERRY_ERR_INVALID, "must not be empty");
  if (n > 64)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "\"%.64s...\" is longer than 64", s);
  if (!isalnum((unsigned char)s[0]))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "\"%s\" must start with a letter or digit", s);
  for (p = s; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "\"%s\": only letters, digits, '.', '_' and '-' are allowed",
                          s);
  return FERRY_OK;
}

static ferry_err_t check_word(const char *s, char *errbuf) {
  const char *p;
  if (strlen(s) > 128)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "longer than 128 characters");
  for (p = s; *p; p++)
    if (!isalnum((unsigned char)*p) && !strchr("._-:", *p))
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "\"%s\": only letters, digits, '.', '_', '-' and ':' are "
                          "allowed",
                          s);
  return FERRY_OK;
}

static ferry_err_t check_nonempty(const char *s, char *errbuf) {
  if (!*s) return ferry_seterr(errbuf, FERRY_ERR_INVALID, "must not be empty");
  return FERRY_OK;
}

static ferry_err_t check_envname(const char *s, char *errbuf) {
  const char *p;
  if (!isalpha((unsigned char)s[0]) && s[0] != '_') goto bad;
  for (p = s; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '_') goto bad;
  return FERRY_OK;
bad:
  return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                      "\"%s\" is not an environment variable name (A-Z, 0-9, _)", s);
}

static ferry_err_t check_port(const char *p, const char *whole, char *errbuf) {
  char *e;
  long v;
  if (!*p || !isdigit((unsigned char)*p)) goto bad;
  errno = 0;
  v = strtol(p, &e, 10);
  if (*e || errno || v < 1 || v > 65535) goto bad;
  return FERRY_OK;
bad:
  return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                      "\"%s\": expected ADDR:PORT with a port 1..65535", whole);
}

static ferry_err_t check_hostport(const char *s, char *errbuf) {
  const char *colon;
  if (has_ctl_or_space(s))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "\"%s\" contains a space", s);
  if (s[0] == '[') {
    const char *rb = strchr(s, ']');
    if (!rb || rb == s + 1 || rb[1] != ':')
      return ferry_seterr(errbuf, FERRY_ERR_INVALID, "\"%s\": expected [IPV6]:PORT", s);
    return check_port(rb + 2, s, errbuf);
  }
  colon = strrchr(s, ':');
  if (!colon || colon == s || memchr(s, ':', (size_t)(colon - s)))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "\"%s\": expected ADDR:PORT (IPv6 as [ADDR]:PORT)", s);
  return check_port(colon + 1, s, errbuf);
}

/* A listen address: ADDR:PORT as check_hostport, and also ":PORT" (the
 * loopback address) and port 0 (any free port; the server logs it). */
static ferry_err_t check_listen(const char *s, char *errbuf) {
  size_t n = strlen(s);
  int any_port = n >= 2 && strcmp(s + n - 2, ":0") == 0;
  char *t = fx_asprintf("%s%.*s%s", s[0] == ':' ? "127.0.0.1" : "",
                        (int)(any_port ? n - 2 : n), s, any_port ? ":1" : "");
  ferry_err_t e = check_hostport(t, NULL);
  fx_free(t);
  if (e)
    return ferry_seterr(errbuf, e,
                        "\"%s\": expected ADDR:PORT, :PORT or [IPV6]:PORT with a port "
                        "0..65535",
                        s);
  return FERRY_OK;
}

static ferry_err_t check_endpoint(const char *s, char *errbuf) {
  const char *h = s, *sep, *p;
  if (!*s) return ferry_seterr(errbuf, FERRY_ERR_INVALID, "must not be empty");
  if (has_ctl_or_space(s))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "\"%s\" contains a space", s);
  sep = strstr(s, "://");
  if (sep) {
    if (!((sep - s == 4 && strncasecmp(s, "http", 4) == 0) ||
          (sep - s == 5 && strncasecmp(s, "https", 5) == 0)))
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "\"%s\": the scheme must be http:// or https://", s);
    h = sep + 3;
  }
  if (!*h || *h == '/' || *h == ':')
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "\"%s\" has no host", s);
  for (p = h; *p; p++) {
    if (*p == '@' || *p == '?' || *p == '#')
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "\"%s\": an endpoint is scheme://host[:port] only (no user, "
                          "query or fragment)",
                          s);
    if (*p == '/' && p[1])
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "\"%s\": an endpoint has no path; buckets go in tasks", s);
  }
  return FERRY_OK;
}

static ferry_err_t check_brokers(const char *s, char *errbuf) {
  const char *p = s, *q;
  if (!*s) return FERRY_OK;
  if (has_ctl_or_space(s))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "\"%s\" contains a space", s);
  for (;;) {
    q = strchr(p, ',');
    if ((q ? q : p + strlen(p)) == p)
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "\"%s\": empty entry in the comma-separated list", s);
    if (!q) break;
    p = q + 1;
  }
  return FERRY_OK;
}

static ferry_err_t check_topic_prefix(const char *s, char *errbuf) {
  const char *p;
  if (strlen(s) > 200)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "longer than 200 characters");
  for (p = s; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "\"%s\": Kafka topic names allow letters, digits, '.', '_' "
                          "and '-'",
                          s);
  return FERRY_OK;
}

/* ------------------------------------------------------------------------ */
/* Public parsers                                                             */

ferry_err_t conf_parse_size(const char *s, uint64_t *out, char *errbuf) {
  const char *p = s;
  uint64_t v = 0, mul = 1;
  int digits = 0;
  while (*p == ' ') p++;
  if (*p == '-')
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "\"%s\": a size cannot be negative",
                        s);
  while (isdigit((unsigned char)*p)) {
    if (v > (UINT64_MAX - 9) / 10) goto overflow;
    v = v * 10 + (uint64_t)(*p - '0');
    p++;
    digits++;
  }
  if (!digits)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "\"%s\" is not a size (bytes, or a number with K, M, G, T, P)",
                        s);
  if (*p == '.' || *p == ',')
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "\"%s\": write a whole number (e.g. 1536M, not 1.5G)", s);
  while (*p == ' ') p++;
  if (*p) {
    const char *u = strchr("kmgtp", tolower((unsigned char)*p));
    if (u) {
      int i, e = (int)(u - "kmgtp") + 1;
      for (i = 0; i < e; i++) mul *= 1024;
      p++;
      if (*p == 'i' || *p == 'I') p++;
      if (*p == 'B' || *p == 'b') p++;
    } else if (*p == 'B' || *p == 'b') {
      p++;
    }
    while (*p == ' ') p++;
    if (*p)
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "\"%s\": unknown size suffix (use K, M, G, T or P; all are "
                          "powers of 1024)",
                          s);
  }
  if (v != 0 && mul > UINT64_MAX / v) goto overflow;
  *out = v * mul;
  return FERRY_OK;
overflow:
  return ferry_seterr(errbuf, FERRY_ERR_INVALID, "\"%s\" is too large", s);
}

ferry_err_t conf_parse_duration(const char *s, int64_t bare_unit_ms, int64_t *out_ms,
                                char *errbuf) {
  static const struct {
    const char *u;
    int64_t ms;
  } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
  const char *p = s;
  int64_t v = 0, mul = bare_unit_ms;
  int digits = 0;
  size_t i;
  while (*p == ' ') p++;
  while (isdigit((unsigned char)*p)) {
    if (v > (INT64_MAX - 9) / 10) goto overflow;
    v = v * 10 + (*p - '0');
    p++;
    digits++;
  }
  if (!digits)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "\"%s\" is not a duration (a whole number, optionally with ms, "
                        "s, m, h or d)",
                        s);
  while (*p == ' ') p++;
  if (*p) {
    size_t n = strlen(p);
    while (n > 0 && p[n - 1] == ' ') n--;
    for (i = 0; i < FERRY_ARRAY_LEN(units); i++)
      if (strlen(units[i].u) == n && strncasecmp(p, units[i].u, n) == 0) break;
    if (i == FERRY_ARRAY_LEN(units))
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "\"%s\": unknown unit (use ms, s, m, h or d)", s);
    mul = units[i].ms;
  }
  if (v != 0 && mul > INT64_MAX / v) goto overflow;
  *out_ms = v * mul;
  return FERRY_OK;
overflow:
  return ferry_seterr(errbuf, FERRY_ERR_INVALID, "\"%s\" is too large", s);
}

/* Reads exactly n digits. */
static int digits_n(const char **p, int n, int *out) {
  int v = 0, i;
  for (i = 0; i < n; i++) {
    if (!isdigit((unsigned char)(*p)[i])) return -1;
    v = v * 10 + ((*p)[i] - '0');
  }
  *p += n;
  *out = v;
  return 0;
}

ferry_err_t conf_parse_time(const char *s, int64_t *out, char *errbuf) {
  const char *p = s;
  struct tm tm, chk;
  int y, mo, d, h = 0, mi = 0, sec = 0, off = 0;
  time_t t;
  memset(&tm, 0, sizeof(tm));
  if (digits_n(&p, 4, &y) || *p++ != '-' || digits_n(&p, 2, &mo) || *p++ != '-' ||
      digits_n(&p, 2, &d))
    goto bad;
  if (*p == 'T' || *p == 't' || *p == ' ') {
    p++;
    if (digits_n(&p, 2, &h) || *p++ != ':' || digits_n(&p, 2, &mi)) goto bad;
    if (*p == ':') {
      p++;
      if (digits_n(&p, 2, &sec)) goto bad;
      if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++) {
        }
    }
    if (*p == 'Z' || *p == 'z') {
      p++;
    } else if (*p == '+' || *p == '-') {
      int sign = *p == '-' ? -1 : 1, oh, om;
      p++;
      if (digits_n(&p, 2, &oh)) goto bad;
      if (*p == ':') p++;
      if (digits_n(&p, 2, &om) || oh > 14 || om > 59) goto bad;
      off = sign * (oh * 3600 + om * 60);
    }
  }
  if (*p) goto bad;
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
    goto bad;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  t = timegm(&tm);
  /* timegm normalizes Feb 30 into March; a round trip catches it. */
  if (!gmtime_r(&t, &chk) || chk.tm_mday != d || chk.tm_mon != mo - 1) goto bad;
  if ((int64_t)t - off <= 0)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "\"%s\" is not after 1970-01-01", s);
  *out = (int64_t)t - off;
  return FERRY_OK;
bad:
  return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                      "\"%s\" is not a date: use \"YYYY-MM-DD\" or "
                      "\"YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM]\"",
                      s);
}

ferry_err_t conf_parse_window(const char *s, conf_window_t *out, char *errbuf) {
  const char *p = s;
  int h1, m1, h2, m2;
  if (digits_n(&p, 2, &h1) || *p++ != ':' || digits_n(&p, 2, &m1) || *p++ != '-' ||
      digits_n(&p, 2, &h2) || *p++ != ':' || digits_n(&p, 2, &m2) || *p)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "\"%s\": expected \"HH:MM-HH:MM\" (e.g. \"22:00-06:00\")", s);
  if (h1 > 23 || m1 > 59 || m2 > 59 || h2 > 24 || (h2 == 24 && m2 != 0))
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "\"%s\": hours are 00..23 (24:00 only as an end), minutes "
                        "00..59",
                        s);
  if (h1 * 60 + m1 == h2 * 60 + m2)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "\"%s\" is empty (start equals end); for all day write "
                        "\"00:00-24:00\"",
                        s);
  out->start_min = h1 * 60 + m1;
  out->end_min = h2 * 60 + m2;
  return FERRY_OK;
}

int conf_windows_allow(const conf_windows_t *w, int minute_of_day) {
  size_t i;
  if (!w || w->n == 0) return 1;
  for (i = 0; i < w->n; i++) {
    const conf_window_t *x = &w->v[i];
    if (x->start_min < x->end_min) {
      if (minute_of_day >= x->start_min && minute_of_day < x->end_min) return 1;
    } else if (minute_of_day >= x->start_min || minute_of_day < x->end_min) {
      return 1;
    }
  }
  return 0;
}

void conf_loc_release(conf_loc_t *l) {
  if (!l) return;
  fx_free(l->store);
  fx_free(l->bucket);
  fx_free(l->prefix);
  fx_free(l->path);
  memset(l, 0, sizeof(*l));
}

ferry_err_t conf_parse_location(const char *s, conf_loc_t *out, char *errbuf) {
  const char *colon, *slash, *p, *bad = NULL, *prefix;
  char eb[FERRY_ERRLEN];
  char *store;
  size_t blen;
  if (!s || !*s)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "empty location: expected \"STORE:BUCKET/PREFIX\"");
  if (strncmp(s, "urls:", 5) == 0) {
    if (!s[5])
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "\"%s\": urls: needs the path of a URL list file", s);
    if (!utf8_ok(s + 5, NULL))
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "\"%s\": the path is not valid UTF-8 or has a control "
                          "character",
                          s);
    memset(out, 0, sizeof(*out));
    out->kind = CONF_LOC_URLS;
    out->path = fx_strdup(s + 5);
    return FERRY_OK;
  }
  colon = strchr(s, ':');
  if (!colon)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "\"%s\": expected \"STORE:BUCKET/PREFIX\" (or \"urls:/path\")",
                        s);
  store = fx_strndup(s, (size_t)(colon - s));
  if (check_name(store, eb) != FERRY_OK) {
    ferry_seterr(errbuf, FERRY_ERR_INVALID, "\"%s\": store name %s", s, eb);
    fx_free(store);
    return FERRY_ERR_INVALID;
  }
  slash = strchr(colon + 1, '/');
  blen = slash ? (size_t)(slash - colon - 1) : strlen(colon + 1);
  prefix = slash ? slash + 1 : "";
  if (blen == 0) {
    fx_free(store);
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "\"%s\": missing bucket (expected \"STORE:BUCKET/PREFIX\")", s);
  }
  if (blen > 255) {
    fx_free(store);
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "\"%s\": bucket name too long", s);
  }
  for (p = colon + 1; p < colon + 1 + blen; p++)
    if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_') {
      fx_free(store);
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "\"%s\": bucket name has an invalid character '%c' (letters, "
                          "digits, '.', '-', '_')",
                          s, isprint((unsigned char)*p) ? *p : '?');
    }
  if (!utf8_ok(prefix, &bad)) {
    fx_free(store);
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "the prefix is not valid UTF-8 or has a control character (at "
                        "byte %zu of the location)",
                        (size_t)(bad - s));
  }
  memset(out, 0, sizeof(*out));
  out->kind = CONF_LOC_STORE;
  out->store = store;
  out->bucket = fx_strndup(colon + 1, blen);
  out->prefix = fx_strdup(prefix);
  return FERRY_OK;
}

char *conf_env_name(const char *store_name, const char *what) {
  fbuf_t b;
  const char *p;
  fbuf_init(&b, 0);
  fbuf_adds(&b, "FERRY_");
  for (p = store_name; *p; p++)
    fbuf_addc(&b, isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_');
  fbuf_addc(&b, '_');
  fbuf_adds(&b, what);
  return fbuf_steal(&b);
}

/* ------------------------------------------------------------------------ */
/* Parsing one group against a table                                          */

static const char *enum_words(const kenum_t *e, char *out, size_t n) {
  size_t len = 0;
  out[0] = 0;
  for (; e->word; e++) {
    int w = snprintf(out + len, n - len, "%s\"%s\"", len ? ", " : "", e->word);
    if (w < 0 || (size_t)w >= n - len) break;
    len += (size_t)w;
  }
  return out;
}

static void path_join(char *out, size_t n, const char *pfx, const char *name) {
  if (pfx && *pfx)
    snprintf(out, n, "%s.%s", pfx, name);
  else
    snprintf(out, n, "%s", name);
}

static int set_int(ctx_t *c, const ckey_t *k, const config_setting_t *s, const char *path,
                   void *base, int64_t v) {
  char r[80];
  if (!in_range(k, v)) {
    char vs[32];
    range_str(r, sizeof(r), k);
    fmt_value(vs, sizeof(vs), k, v);
    cerr(c, s, path, "%s is out of range %s", vs, r);
    return -1;
  }
  put_int(base, k, v);
  return 0;
}

static int class_name_ok(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-') return 0;
  return 1;
}

/* Sensitive Kafka property names: their values are never printed. */
static int kafka_secret_name(const char *name) {
  return strstr(name, "password") || strstr(name, "secret") ||
         strcmp(name, "sasl.jaas.config") == 0 || strcmp(name, "ssl.key.pem") == 0 ||
         strcmp(name, "sasl.oauthbearer.config") == 0;
}

/* One element of a KT_KVLIST. */
static void add_kv(ctx_t *c, const ckey_t *k, const config_setting_t *s, const char *path,
                   kvlist_t *l, const char *v) {
  const char *eq = strchr(v, '=');
  char *name;
  const char *val;
  char *envval = NULL;
  size_t i;
  if (!eq || eq == v) {
    /* The element may be a mistyped secret: do not echo it. */
    cerr(c, s, path, "expected \"name=value\"");
    return;
  }
  name = fx_strndup(v, (size_t)(eq - v));
  val = eq + 1;
  if (has_ctl_or_space(name)) {
    cerr(c, s, path, "the name before '=' contains a space");
    goto out;
  }
  for (i = 0; i < l->n; i++)
    if ((k->flags & KF_CLASSMAP) ? strcasecmp(l->v[i].name, name) == 0
                                 : strcmp(l->v[i].name, name) == 0) {
      cerr(c, s, path, "\"%s\" is given twice", name);
      goto out;
    }
  if (k->flags & KF_CLASSMAP) {
    /* The rule of policy_class_map_parse (xfer/policy.h), which the worker
     * applies to this list: DST may be empty (omit the class header). */
    if (!(strcmp(name, "*") == 0 || class_name_ok(name)) ||
        (*val && !class_name_ok(val))) {
      cerr(c, s, path,
           "\"%s\": expected \"SRC=DST\" with class names of letters, digits, '_' "
           "and '-' (SRC may be \"*\", DST empty)",
           v);
      goto out;
    }
  }
  if (k->flags & KF_KAFKA) {
    size_t vl = strlen(val);
    char errstr[512];
    if (vl > 3 && val[0] == '$' && val[1] == '{' && val[vl - 1] == '}') {
      char *var = fx_strndup(val + 2, vl - 3);
      char eb[FERRY_ERRLEN];
      const char *e;
      if (check_envname(var, eb) != FERRY_OK) {
        cerr(c, s, path, "%s: %s", name, eb);
        fx_free(var);
        goto out;
      }
      e = getenv(var);
      if (!e) {
        cerr(c, s, path, "%s: environment variable %s is not set", name, var);
        fx_free(var);
        goto out;
      }
      envval = fx_strdup(e);
      val = envval;
      fx_free(var);
    } else if (kafka_secret_name(name)) {
      note_secret(c, s, path, "a \"${VAR}\" value");
    }
    /* plugin.library.paths would load code while we only check names. */
    if (strcmp(name, "plugin.library.paths") != 0) {
      if (!c->rk) c->rk = rd_kafka_conf_new();
      switch (rd_kafka_conf_set(c->rk, name, val, errstr, sizeof(errstr))) {
        case RD_KAFKA_CONF_OK:
          break;
        case RD_KAFKA_CONF_UNKNOWN:
          cerr(c, s, path, "\"%s\" is not a librdkafka property", name);
          goto out;
        default:
          if (kafka_secret_name(name))
            cerr(c, s, path, "%s: invalid value", name);
          else
            cerr(c, s, path, "%s", errstr);
          goto out;
      }
    }
  }
  kvlist_add(l, name, val);
out:
  if (envval) {
    explicit_bzero(envval, strlen(envval));
    fx_free(envval);
  }
  fx_free(name);
}

/* A scalar from a string: the file's value, or the table's default (s NULL). */
static int set_from_string(ctx_t *c, const ckey_t *k, const config_setting_t *s,
                           const char *path, void *base, const char *v) {
  char eb[FERRY_ERRLEN];
  const kenum_t *e;
  switch (k->type) {
    case KT_STR: {
      char **dst = field(base, k);
      if (!*v && (k->flags & KF_NONEMPTY)) {
        cerr(c, s, path, "must not be empty");
        return -1;
      }
      if (*v && k->check && k->check(v, eb) != FERRY_OK) {
        cerr(c, s, path, "%s", eb);
        return -1;
      }
      fx_free(*dst);
      *dst = (!*v && (k->flags & KF_EMPTY_NULL)) ? NULL : fx_strdup(v);
      return 0;
    }
    case KT_SECRET: {
      secret_t *dst = field(base, k);
      if (!*v) {
        cerr(c, s, path, "is empty; leave it out to read the environment instead");
        return -1;
      }
      secret_clear(dst);
      dst->v = fx_strdup(v);
      return 0;
    }
    case KT_BOOL:
      put_int(base, k, strcmp(v, "true") == 0);
      return 0;
    case KT_ENUM:
      for (e = k->enums; e->word; e++)
        if (strcasecmp(v, e->word) == 0) {
          put_int(base, k, e->value);
          return 0;
        }
      {
        char words[256];
        const char *names[16];
        const char *near;
        size_t n = 0;
        for (e = k->enums; e->word && n < 16; e++) names[n++] = e->word;
        near = closest(v, names, n);
        if (near)
          cerr(c, s, path, "\"%s\" is not one of %s; did you mean \"%s\"?", v,
               enum_words(k->enums, words, sizeof(words)), near);
        else
          cerr(c, s, path, "\"%s\" is not one of %s", v,
               enum_words(k->enums, words, sizeof(words)));
      }
      return -1;
    case KT_INT: {
      char *end;
      long long x;
      errno = 0;
      x = strtoll(v, &end, 10);
      if (errno || *end || end == v) {
        cerr(c, s, path, "\"%s\" is not an integer", v);
        return -1;
      }
      return set_int(c, k, s, path, base, x);
    }
    case KT_SIZE: {
      uint64_t x;
      if (conf_parse_size(v, &x, eb) != FERRY_OK) {
        cerr(c, s, path, "%s", eb);
        return -1;
      }
      if (x > INT64_MAX) {
        char r[80];
        range_str(r, sizeof(r), k);
        cerr(c, s, path, "\"%s\" is out of range %s", v, r);
        return -1;
      }
      return set_int(c, k, s, path, base, (int64_t)x);
    }
    case KT_DUR_MS:
    case KT_DUR_S: {
      int64_t ms;
      int64_t unit = k->type == KT_DUR_S ? 1000 : 1;
      if (conf_parse_duration(v, unit, &ms, eb) != FERRY_OK) {
        cerr(c, s, path, "%s", eb);
        return -1;
      }
      if (ms % unit) {
        cerr(c, s, path, "\"%s\" is not a whole number of seconds", v);
        return -1;
      }
      return set_int(c, k, s, path, base, ms / unit);
    }
    case KT_LOC: {
      conf_loc_t *dst = field(base, k);
      conf_loc_t loc;
      if (conf_parse_location(v, &loc, eb) != FERRY_OK) {
        cerr(c, s, path, "%s", eb);
        return -1;
      }
      conf_loc_release(dst);
      *dst = loc;
      return 0;
    }
    case KT_TIME: {
      int64_t t;
      if (conf_parse_time(v, &t, eb) != FERRY_OK) {
        cerr(c, s, path, "%s", eb);
        return -1;
      }
      put_int(base, k, t);
      return 0;
    }
    default:
      break;
  }
  cerr(c, s, path, "internal: no string form for this key");
  return -1;
}

static const char *type_noun(const ckey_t *k) {
  switch (k->type) {
    case KT_BOOL:
      return "true or false";
    case KT_INT:
      return "an integer";
    case KT_SIZE:
      return "a size (an integer, or a string like \"64M\")";
    case KT_DUR_MS:
      return "a duration (milliseconds, or a string like \"30s\")";
    case KT_DUR_S:
      return "a duration (seconds, or a string like \"5m\")";
    case KT_STRLIST:
    case KT_KVLIST:
    case KT_WINDOWS:
      return "a list of strings, [ \"...\", ... ]";
    default:
      return "a string";
  }
}

static const char *setting_noun(const config_setting_t *s) {
  switch (config_setting_type(s)) {
    case CONFIG_TYPE_GROUP:
      return "a group";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
      return "an integer";
    case CONFIG_TYPE_FLOAT:
      return "a float";
    case CONFIG_TYPE_STRING:
      return "a string";
    case CONFIG_TYPE_BOOL:
      return "a boolean";
    case CONFIG_TYPE_ARRAY:
      return "an array";
    case CONFIG_TYPE_LIST:
      return "a list";
    default:
      return "nothing";
  }
}

static int set_value(ctx_t *c, const ckey_t *k, const config_setting_t *s,
                     const char *path, void *base) {
  int t = config_setting_type(s);
  int is_int = t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
  switch (k->type) {
    case KT_BOOL:
      if (t != CONFIG_TYPE_BOOL) break;
      put_int(base, k, config_setting_get_bool(s) ? 1 : 0);
      return 0;
    case KT_INT:
    case KT_SIZE:
    case KT_DUR_MS:
    case KT_DUR_S:
      if (is_int) {
        int64_t v = config_setting_get_int64(s);
        if (!literal_fits(c, s)) {
          cerr(c, s, path,
               "the number does not fit in 32 bits and libconfig would cut it; write "
               "it with an L suffix (5000000000L)%s",
               k->type == KT_SIZE ? " or as a string (\"5G\")" : "");
          return -1;
        }
        if (v < 0 && k->type != KT_INT) {
          cerr(c, s, path, "%lld: cannot be negative", (long long)v);
          return -1;
        }
        if (k->type == KT_DUR_MS || k->type == KT_DUR_S || k->type == KT_SIZE ||
            k->type == KT_INT)
          return set_int(c, k, s, path, base, v);
      }
      if (t == CONFIG_TYPE_STRING && k->type != KT_INT)
        return set_from_string(c, k, s, path, base, config_setting_get_string(s));
      break;
    case KT_STR:
    case KT_SECRET:
    case KT_ENUM:
    case KT_LOC:
    case KT_TIME:
      if (t != CONFIG_TYPE_STRING) break;
      if (k->type == KT_SECRET) note_secret(c, s, path, NULL);
      return set_from_string(c, k, s, path, base, config_setting_get_string(s));
    case KT_STRLIST:
    case KT_KVLIST:
    case KT_WINDOWS: {
      int i, n, rc = 0;
      char ep[256], eb[FERRY_ERRLEN];
      if (t != CONFIG_TYPE_LIST && t != CONFIG_TYPE_ARRAY) break;
      n = config_setting_length(s);
      for (i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *v;
        snprintf(ep, sizeof(ep), "%s[%d]", path, i);
        if (config_setting_type(e) != CONFIG_TYPE_STRING) {
          cerr(c, e, ep, "expected a string, found %s", setting_noun(e));
          rc = -1;
          continue;
        }
        v = config_setting_get_string(e);
        if (k->type == KT_STRLIST) {
          conf_strv_t *dst = field(base, k);
          if (k->check && k->check(v, eb) != FERRY_OK) {
            cerr(c, e, ep, "%s", eb);
            rc = -1;
            continue;
          }
          dst->v = fx_realloc(dst->v, (dst->n + 1) * sizeof(char *));
          dst->v[dst->n++] = fx_strdup(v);
        } else if (k->type == KT_WINDOWS) {
          conf_windows_t *dst = field(base, k);
          conf_window_t w;
          if (conf_parse_window(v, &w, eb) != FERRY_OK) {
            cerr(c, e, ep, "%s", eb);
            rc = -1;
            continue;
          }
          dst->v = fx_realloc(dst->v, (dst->n + 1) * sizeof(*dst->v));
          dst->v[dst->n++] = w;
        } else {
          int before = c->n_errors;
          add_kv(c, k, e, ep, field(base, k), v);
          if (c->n_errors != before) rc = -1;
        }
      }
      return rc;
    }
  }
  cerr(c, s, path, "expected %s, found %s", type_noun(k), setting_noun(s));
  return -1;
}

/* Where an unknown name belongs when it is a key of another section. */
static const char *other_section(const char *name, const section_t *self) {
  size_t i, j;
  for (i = 0; i < FERRY_ARRAY_LEN(sections); i++) {
    if (&sections[i] == self) continue;
    for (j = 0; j < sections[i].n_keys; j++)
      if (strcmp(sections[i].keys[j].name, name) == 0)
        return sections[i].name ? sections[i].name : "the top level";
  }
  return NULL;
}

static void unknown_key(ctx_t *c, const config_setting_t *s, const char *path,
                        const char *name, const char *const *names, size_t n,
                        const section_t *sec) {
  const char *near = closest(name, names, n);
  const char *other = other_section(name, sec);
  if (near)
    cerr(c, s, path, "unknown key \"%s\"; did you mean \"%s\"?", name, near);
  else if (other)
    cerr(c, s, path, "unknown key \"%s\" here; it belongs in %s", name, other);
  else
    cerr(c, s, path, "unknown key \"%s\"", name);
}

/*
 * Parses group grp (NULL: absent, defaults only) against sec's table into
 * base. Sets bit i of *present for each key i found in the file.
 */
static void parse_group(ctx_t *c, const config_setting_t *grp, const char *pfx,
                        const section_t *sec, void *base, uint64_t *present,
                        uint64_t *failed) {
  size_t i;
  char path[256];
  const char *names[64];
  if (present) *present = 0;
  if (failed) *failed = 0;
  for (i = 0; i < sec->n_keys && i < 64; i++) names[i] = sec->keys[i].name;
  if (grp) {
    int n = config_setting_length(grp), j;
    for (j = 0; j < n; j++) {
      const config_setting_t *s = config_setting_get_elem(grp, (unsigned)j);
      const char *name = config_setting_name(s);
      for (i = 0; i < sec->n_keys; i++)
        if (strcmp(sec->keys[i].name, name) == 0) break;
      if (i == sec->n_keys) {
        path_join(path, sizeof(path), pfx, name);
        unknown_key(c, s, path, name, names, sec->n_keys, sec);
      }
    }
  }
  for (i = 0; i < sec->n_keys; i++) {
    const ckey_t *k = &sec->keys[i];
    const config_setting_t *s = grp ? config_setting_get_member(grp, k->name) : NULL;
    path_join(path, sizeof(path), pfx, k->name);
    if (s) {
      if (present && i < 64) *present |= (uint64_t)1 << i;
      if (set_value(c, k, s, path, base) != 0) {
        /* Keep a sane value (no NULL strings) and let cross-key checks skip
         * this key rather than pile a second message on the first. */
        if (failed && i < 64) *failed |= (uint64_t)1 << i;
        if (k->def) set_from_string(c, k, NULL, path, base, k->def);
      }
    } else if (k->flags & KF_REQUIRED) {
      cerr(c, grp, pfx, "missing required key \"%s\"", k->name);
    } else if (k->def) {
      set_from_string(c, k, NULL, path, base, k->def);
    }
  }
}

/* ------------------------------------------------------------------------ */
/* Cross-key checks                                                           */

/* 1 when none of the named keys of group section sec was rejected. */
static int keys_ok(const ctx_t *c, int sec, const char *a, const char *b) {
  size_t i;
  for (i = 0; i < sections[sec].n_keys; i++) {
    const char *n = sections[sec].keys[i].name;
    if ((strcmp(n, a) == 0 || (b && strcmp(n, b) == 0)) && (c->failed[sec] >> i) & 1)
      return 0;
  }
  return 1;
}

static const config_setting_t *member_or(const config_setting_t *grp, const char *name) {
  const config_setting_t *s = grp ? config_setting_get_member(grp, name) : NULL;
  return s ? s : grp;
}

static void post_kafka(ctx_t *c, conf_kafka_t *k, const config_setting_t *grp) {
  if (!keys_ok(c, SEC_KAFKA, "brokers", "bootstrap_file")) return;
  if (!*k->brokers && !*k->bootstrap_file)
    cerr(c, grp, "kafka", "set brokers, or bootstrap_file for the dev broker");
  if (*k->brokers && kvlist_get(&k->properties, "bootstrap.servers"))
    cwarn(c, member_or(grp, "properties"), "kafka.properties",
          "bootstrap.servers overrides kafka.brokers");
}

static void post_worker(ctx_t *c, conf_worker_t *w, const config_setting_t *grp) {
  char b1[32];
  if (!w->id) {
    char host[256];
    if (gethostname(host, sizeof(host)) != 0) snprintf(host, sizeof(host), "worker");
    host[sizeof(host) - 1] = 0;
    w->id = fx_asprintf("%s-%d", host, (int)getpid());
  }
  if (w->small_object_threshold > w->buffer_size &&
      keys_ok(c, SEC_WORKER, "small_object_threshold", "buffer_size")) {
    human_size(b1, sizeof(b1), (int64_t)w->buffer_size);
    cerr(c, member_or(grp, "small_object_threshold"), "worker.small_object_threshold",
         "must not exceed worker.buffer_size (%s), which bounds memory", b1);
  }
  if (w->multipart_threshold < w->part_size &&
      keys_ok(c, SEC_WORKER, "multipart_threshold", "part_size")) {
    human_size(b1, sizeof(b1), (int64_t)w->part_size);
    cerr(c, member_or(grp, "multipart_threshold"), "worker.multipart_threshold",
         "must be at least worker.part_size (%s)", b1);
  }
  if (w->backoff_max_ms < w->backoff_base_ms &&
      keys_ok(c, SEC_WORKER, "backoff_max_ms", "backoff_base_ms"))
    cerr(c, member_or(grp, "backoff_max_ms"), "worker.backoff_max_ms",
         "must be at least worker.backoff_base_ms (%ld)", w->backoff_base_ms);
}

static void post_lister(ctx_t *c, ferry_conf_t *conf, const config_setting_t *grp) {
  char b[32];
  if (conf->lister.fanout_threshold &&
      conf->lister.fanout_threshold < conf->worker.multipart_threshold &&
      keys_ok(c, SEC_LISTER, "fanout_threshold", NULL) &&
      keys_ok(c, SEC_WORKER, "multipart_threshold", NULL)) {
    human_size(b, sizeof(b), (int64_t)conf->worker.multipart_threshold);
    cerr(c, member_or(grp, "fanout_threshold"), "lister.fanout_threshold",
         "must be 0 or at least worker.multipart_threshold (%s)", b);
  }
}

/* The host of an endpoint, lower case, without scheme and port. */
static void endpoint_host(const char *ep, char *out, size_t n) {
  const char *h = strstr(ep, "://");
  size_t i = 0;
  h = h ? h + 3 : ep;
  while (*h && *h != ':' && *h != '/' && i + 1 < n)
    out[i++] = (char)tolower((unsigned char)*h++);
  out[i] = 0;
}

/* The region named by a well-known endpoint host, or NULL. New string. */
static char *region_from_endpoint(store_type_t type, const char *ep) {
  char host[256];
  size_t n;
  endpoint_host(ep, host, sizeof(host));
  n = strlen(host);
  if (type == STORE_OSS) {
    /* oss-cn-hangzhou.aliyuncs.com, oss-cn-hangzhou-internal.aliyuncs.com */
    const char *suf = ".aliyuncs.com";
    size_t sl = strlen(suf), rl;
    if (n <= sl + 4 || strncmp(host, "oss-", 4) != 0 || strcmp(host + n - sl, suf) != 0)
      return NULL;
    rl = n - sl - 4;
    if (rl > 9 && strncmp(host + 4 + rl - 9, "-internal", 9) == 0) rl -= 9;
    if (memchr(host + 4, '.', rl) || rl == 0) return NULL;
    if (strncmp(host + 4, "accelerate", 10) == 0) return NULL;
    return fx_strndup(host + 4, rl);
  }
  if (type == STORE_COS) {
    /* cos.ap-guangzhou.myqcloud.com, cos-internal.ap-guangzhou.tencentcos.cn; not
     * cos.accelerate.myqcloud.com, which names no region */
    const char *p = NULL, *dot;
    if (strncmp(host, "cos.", 4) == 0)
      p = host + 4;
    else if (strncmp(host, "cos-internal.", 13) == 0)
      p = host + 13;
    if (!p) return NULL;
    dot = strchr(p, '.');
    if (!dot || dot == p) return NULL;
    if (strncmp(p, "accelerate.", 11) == 0) return NULL; /* cos.accelerate.myqcloud.com */
    if (strcmp(dot, ".myqcloud.com") != 0 && strcmp(dot, ".tencentcos.cn") != 0)
      return NULL;
    return fx_strndup(p, (size_t)(dot - p));
  }
  return NULL;
}

/* Index of key name in the stores table (for the present mask). */
static int key_index(const section_t *sec, const char *name) {
  size_t i;
  for (i = 0; i < sec->n_keys; i++)
    if (strcmp(sec->keys[i].name, name) == 0) return (int)i;
  return -1;
}

static int was_set(uint64_t present, const section_t *sec, const char *name) {
  int i = key_index(sec, name);
  return i >= 0 && (present >> i) & 1;
}

/*
 * One credential of a store: the inline value (*val set by the table), else
 * the variable named by env_name, else the conventional variable. Reports
 * problems; leaves *val NULL when nothing was found.
 */
static void resolve_cred(ctx_t *c, store_raw_t *r, const char *pfx, const char *key,
                         int has_inline, const char *env_name, const char *what,
                         char **val) {
  char path[256], envkey[64];
  const char *v;
  char *conv = NULL;
  const char *from;
  snprintf(envkey, sizeof(envkey), "%s_env", key);
  path_join(path, sizeof(path), pfx, key);
  if (has_inline && env_name) {
    cerr(c, member_or(r->grp, envkey), path, "set either %s or %s, not both", key,
         envkey);
    return;
  }
  if (has_inline) {
    /* Present but refused by the table (wrong type, empty): already
     * reported, and there is no value to check. */
    if (!*val) return;
    from = key;
    v = *val;
  } else {
    if (c->flags & CONF_SKIP_CREDENTIALS) return;
    if (env_name) {
      char epath[256];
      path_join(epath, sizeof(epath), pfx, envkey);
      v = getenv(env_name);
      if (!v) {
        cerr(c, member_or(r->grp, envkey), epath, "environment variable %s is not set",
             env_name);
        return;
      }
      if (!*v) {
        cerr(c, member_or(r->grp, envkey), epath, "environment variable %s is empty",
             env_name);
        return;
      }
      from = env_name;
    } else {
      conv = conf_env_name(r->c.name ? r->c.name : "", what);
      v = getenv(conv);
      if (!v || !*v) {
        fx_free(conv);
        return;
      }
      from = conv;
    }
  }
  if (has_ctl_or_space(v)) {
    cerr(c, member_or(r->grp, has_inline ? key : envkey), path,
         "the value (from %s) contains whitespace or a control character", from);
    if (!has_inline) {
      fx_free(conv);
      return;
    }
  } else if (!has_inline) {
    *val = fx_strdup(v);
  }
  fx_free(conv);
}

static void post_store(ctx_t *c, ferry_conf_t *conf, store_raw_t *raws, size_t i) {
  const section_t *sec = &sections[SEC_STORES];
  store_raw_t *r = &raws[i];
  store_conf_t *sc = &r->c;
  char pfx[64], path[256];
  size_t j;
  snprintf(pfx, sizeof(pfx), "stores[%zu]", i);
  if (sc->name) {
    if (strcmp(sc->name, "urls") == 0) {
      path_join(path, sizeof(path), pfx, "name");
      cerr(c, member_or(r->grp, "name"), path,
           "\"urls\" is reserved for URL-list sources");
    }
    for (j = 0; j < i; j++) {
      if (!raws[j].c.name) continue;
      path_join(path, sizeof(path), pfx, "name");
      if (strcmp(raws[j].c.name, sc->name) == 0) {
        cerr(c, member_or(r->grp, "name"), path,
             "duplicate store name \"%s\" (also stores[%zu], line %d)", sc->name, j,
             (int)config_setting_source_line(raws[j].grp));
      } else {
        char *a = conf_env_name(sc->name, ""), *b = conf_env_name(raws[j].c.name, "");
        if (strcmp(a, b) == 0)
          cwarn(c, member_or(r->grp, "name"), path,
                "stores \"%s\" and \"%s\" share the default credential variables %s*",
                raws[j].c.name, sc->name, a);
        fx_free(a);
        fx_free(b);
      }
    }
  }

  /* Signature dialect per type. */
  path_join(path, sizeof(path), pfx, "signature");
  switch (r->signature) {
    case SIGW_AUTO:
      sc->sign = SIGN_DEFAULT;
      break;
    case SIGW_NONE:
      sc->sign = SIGN_NONE;
      break;
    case SIGW_V4:
      sc->sign = sc->type == STORE_OSS ? SIGN_OSS_V4 : SIGN_S3V4;
      break;
    case SIGW_V1:
      if (sc->type != STORE_OSS)
        cerr(c, member_or(r->grp, "signature"), path, "\"v1\" is for oss stores only");
      sc->sign = SIGN_OSS_V1;
      break;
    case SIGW_COS:
      if (sc->type != STORE_COS)
        cerr(c, member_or(r->grp, "signature"), path, "\"cos\" is for cos stores only");
      sc->sign = SIGN_COS;
      break;
  }

  /* Region: given, derived from a well-known endpoint, or required. */
  if (!sc->region && sc->endpoint)
    sc->region = region_from_endpoint(sc->type, sc->endpoint);
  if (!sc->region) {
    int needs =
        (sc->type == STORE_OSS && sc->sign != SIGN_OSS_V1 && sc->sign != SIGN_NONE) ||
        (sc->type == STORE_COS && sc->sign == SIGN_S3V4);
    if (sc->type == STORE_S3) {
      sc->region = fx_strdup("us-east-1");
    } else if (needs && sc->endpoint) {
      path_join(path, sizeof(path), pfx, "region");
      cerr(c, r->grp, path,
           "required for %s v4 signing, and endpoint \"%s\" does not name it (e.g. "
           "region = \"%s\";)",
           sc->type == STORE_OSS ? "oss" : "cos", sc->endpoint,
           sc->type == STORE_OSS ? "cn-hangzhou" : "ap-guangzhou");
    }
    if (!sc->region) sc->region = fx_strdup("");
  }

  /* Credentials. */
  resolve_cred(c, r, pfx, "access_key", was_set(r->present, sec, "access_key"),
               r->access_key_env, "ACCESS_KEY", &sc->access_key);
  resolve_cred(c, r, pfx, "secret_key", was_set(r->present, sec, "secret_key"),
               r->secret_key_env, "SECRET_KEY", &sc->secret_key.v);
  resolve_cred(c, r, pfx, "session_token", was_set(r->present, sec, "session_token"),
               r->session_token_env, "SESSION_TOKEN", &sc->session_token.v);
  if (!(c->flags & CONF_SKIP_CREDENTIALS) && sc->sign != SIGN_NONE && sc->name) {
    if (!sc->access_key && !r->access_key_env) {
      char *v = conf_env_name(sc->name, "ACCESS_KEY");
      cerr(c, r->grp, pfx,
           "no access key: set access_key or access_key_env, or export %s", v);
      fx_free(v);
    }
    if (!sc->secret_key.v && !r->secret_key_env) {
      char *v = conf_env_name(sc->name, "SECRET_KEY");
      cerr(c, r->grp, pfx,
           "no secret key: set secret_key_env (or secret_key), or export %s", v);
      fx_free(v);
    }
  }

  if (!was_set(r->present, sec, "max_host_conns"))
    sc->max_host_conns = conf->worker.max_host_conns;
  if (sc->insecure) {
    path_join(path, sizeof(path), pfx, "insecure");
    cwarn(c, member_or(r->grp, "insecure"), path,
          "TLS certificates of store \"%s\" are not verified", sc->name ? sc->name : "?");
  }
  if (sc->ca_file && access(sc->ca_file, R_OK) != 0) {
    path_join(path, sizeof(path), pfx, "ca_file");
    cerr(c, member_or(r->grp, "ca_file"), path, "cannot read \"%s\": %s", sc->ca_file,
         strerror(errno));
  }
}

static const store_raw_t *find_raw(const store_raw_t *raws, size_t n, const char *name) {
  size_t i;
  for (i = 0; i < n; i++)
    if (raws[i].c.name && strcmp(raws[i].c.name, name) == 0) return &raws[i];
  return NULL;
}

static void check_loc_store(ctx_t *c, const task_raw_t *r, const char *path,
                            const char *key, const conf_loc_t *l, const store_raw_t *raws,
                            size_t n) {
  const char *names[64] = {NULL};
  const char *near;
  size_t i;
  fbuf_t known;
  if (l->kind != CONF_LOC_STORE || !l->store || find_raw(raws, n, l->store)) return;
  for (i = 0; i < n && i < 64; i++) names[i] = raws[i].c.name;
  near = closest(l->store, names, FERRY_MIN(n, 64));
  fbuf_init(&known, 0);
  for (i = 0; i < n; i++)
    if (raws[i].c.name && find_raw(raws, i + 1, raws[i].c.name) == &raws[i])
      fbuf_addf(&known, "%s%s", known.len ? ", " : "", raws[i].c.name);
  if (near)
    cerr(c, member_or(r->grp, key), path, "unknown store \"%s\"; did you mean \"%s\"?",
         l->store, near);
  else
    cerr(c, member_or(r->grp, key), path, "unknown store \"%s\" (stores: %s)", l->store,
         n ? fbuf_str(&known) : "none defined");
  fbuf_release(&known);
}

/*
 * What a store location resolves to, for the overlap checks: two store names
 * (say separate read and write keys for one account) may name one bucket.
 * For the public clouds the provider comes from the endpoint's domain, so
 * -internal, accelerate and S3-compatible endpoints of one provider, and an
 * endpoint that already carries the bucket (virtual-host form), are equal;
 * the region counts only where both sides know it (named by the endpoint or
 * set explicitly: an accelerate endpoint names none). Any other server is
 * identified by host and port, whatever the scheme, dialect or path style.
 */
typedef struct bucket_id {
  char provider[280]; /* "oss", "cos", "s3", or "host:port" */
  const char *region; /* NULL: unknown */
  const char *bucket;
} bucket_id_t;

static int host_ends(const char *host, const char *suffix) {
  size_t h = strlen(host), s = strlen(suffix);
  return h >= s && strcmp(host + h - s, suffix) == 0 && (h == s || host[h - s - 1] == '.');
}

static void bucket_id(const store_raw_t *r, const char *bucket, bucket_id_t *out) {
  const store_conf_t *sc = &r->c;
  const char *ep = sc->endpoint ? sc->endpoint : "", *p = strstr(ep, "://"), *port;
  const char *h;
  char host[256];
  char *derived;
  size_t bl = strlen(bucket);
  endpoint_host(ep, host, sizeof(host));
  h = host;
  if (strncmp(h, bucket, bl) == 0 && h[bl] == '.') h += bl + 1; /* bucket.endpoint */
  out->bucket = bucket;
  out->region = was_set(r->present, &sections[SEC_STORES], "region") && sc->region &&
                        *sc->region
                    ? sc->region
                    : NULL;
  derived = region_from_endpoint(sc->type, ep);
  if (derived) { /* the endpoint names it: the same string post_store set */
    if (!out->region) out->region = sc->region;
    fx_free(derived);
  }
  if (host_ends(h, "aliyuncs.com")) {
    snprintf(out->provider, sizeof(out->provider), "oss");
  } else if (host_ends(h, "myqcloud.com") || host_ends(h, "tencentcos.cn")) {
    snprintf(out->provider, sizeof(out->provider), "cos");
  } else if (host_ends(h, "amazonaws.com") || host_ends(h, "amazonaws.com.cn")) {
    snprintf(out->provider, sizeof(out->provider), "s3");
  } else {
    p = p ? p + 3 : ep;
    port = strchr(p, ':');
    if (port && strchr(port, '/')) port = NULL;
    snprintf(out->provider, sizeof(out->provider), "%s:%s", h,
             port ? port + 1
                  : strncmp(ep, "http://", 7) == 0 ? "80" : "443");
    out->region = NULL; /* one server: its region is only a signing parameter */
  }
}

static int same_bucket(const bucket_id_t *a, const bucket_id_t *b) {
  return strcmp(a->provider, b->provider) == 0 && strcmp(a->bucket, b->bucket) == 0 &&
         (!a->region || !b->region || strcmp(a->region, b->region) == 0);
}

/* Listing one prefix lists the other's keys. */
static int prefixes_nest(const char *a, const char *b) {
  return strncmp(a, b, strlen(a)) == 0 || strncmp(b, a, strlen(b)) == 0;
}

/* The bucket a store location resolves to; 0 when it is not a valid location
 * of a known store. */
static int loc_id(const conf_loc_t *l, const store_raw_t *sraws, size_t ns,
                  bucket_id_t *out) {
  const store_raw_t *s;
  if (l->kind != CONF_LOC_STORE || !l->store || !l->bucket || !l->prefix) return 0;
  s = find_raw(sraws, ns, l->store);
  if (!s) return 0;
  bucket_id(s, l->bucket, out);
  return 1;
}

static int ends_slash(const char *prefix) {
  return !*prefix || prefix[strlen(prefix) - 1] == '/';
}

/*
 * A destination that the source lists again (each run would copy its own
 * output one level deeper), a prefix pair that glues keys badly, and two
 * tasks writing one place.
 */
static void check_task_overlaps(ctx_t *c, const task_raw_t *raws, size_t i,
                                const store_raw_t *sraws, size_t ns) {
  const task_raw_t *r = &raws[i];
  const task_conf_t *t = &r->t;
  bucket_id_t src, dst, other;
  char path[256];
  size_t j;
  snprintf(path, sizeof(path), "tasks[%zu].destination", i);
  if (!loc_id(&t->dst, sraws, ns, &dst)) return;
  if (loc_id(&t->src, sraws, ns, &src)) {
    if (same_bucket(&src, &dst) && prefixes_nest(t->src.prefix, t->dst.prefix))
      cerr(c, member_or(r->grp, "destination"), path,
           "overlaps the source: stores \"%s\" and \"%s\" resolve to the same bucket "
           "\"%s\" and the prefixes \"%s\" and \"%s\" nest, so copies would be listed "
           "again",
           t->src.store, t->dst.store, t->dst.bucket, t->src.prefix, t->dst.prefix);
  }
  if (t->src.kind == CONF_LOC_STORE && t->src.prefix && t->dst.prefix &&
      ends_slash(t->src.prefix) != ends_slash(t->dst.prefix))
    cwarn(c, member_or(r->grp, "destination"), path,
          "exactly one of the prefixes \"%s\" (source) and \"%s\" (destination) ends in "
          "'/': a source key \"%s%s\" is written as \"%s%s\"",
          t->src.prefix, t->dst.prefix, t->src.prefix, ends_slash(t->src.prefix) ? "k1" : "/k1",
          t->dst.prefix, ends_slash(t->src.prefix) ? "k1" : "/k1");
  for (j = 0; j < i; j++) {
    if (!loc_id(&raws[j].t.dst, sraws, ns, &other)) continue;
    if (same_bucket(&dst, &other) && prefixes_nest(t->dst.prefix, raws[j].t.dst.prefix)) {
      cwarn(c, member_or(r->grp, "destination"), path,
            "task \"%s\" also writes there (%s:%s/%s, line %d): the two tasks may "
            "overwrite each other's objects",
            raws[j].t.name ? raws[j].t.name : "?", raws[j].t.dst.store,
            raws[j].t.dst.bucket, raws[j].t.dst.prefix,
            (int)config_setting_source_line(raws[j].grp));
      break; /* the first one is enough */
    }
  }
}

static void post_task(ctx_t *c, ferry_conf_t *conf, task_raw_t *raws, size_t i,
                      const store_raw_t *sraws, size_t ns) {
  const section_t *sec = &sections[SEC_TASKS];
  task_raw_t *r = &raws[i];
  task_conf_t *t = &r->t;
  char pfx[64], path[256];
  size_t j;
  snprintf(pfx, sizeof(pfx), "tasks[%zu]", i);
  if (t->name)
    for (j = 0; j < i; j++)
      if (raws[j].t.name && strcmp(raws[j].t.name, t->name) == 0) {
        path_join(path, sizeof(path), pfx, "name");
        cerr(c, member_or(r->grp, "name"), path,
             "duplicate task name \"%s\" (also tasks[%zu], line %d)", t->name, j,
             (int)config_setting_source_line(raws[j].grp));
      }
  path_join(path, sizeof(path), pfx, "source");
  check_loc_store(c, r, path, "source", &t->src, sraws, ns);
  path_join(path, sizeof(path), pfx, "destination");
  if (t->dst.kind == CONF_LOC_URLS)
    cerr(c, member_or(r->grp, "destination"), path,
         "must be a store location \"STORE:BUCKET/PREFIX\", not a URL list");
  check_loc_store(c, r, path, "destination", &t->dst, sraws, ns);
  check_task_overlaps(c, raws, i, sraws, ns);
  if (t->max_size && t->min_size > t->max_size) {
    path_join(path, sizeof(path), pfx, "min_size");
    cerr(c, member_or(r->grp, "min_size"), path, "is larger than max_size");
  }
  if (t->modified_after && t->modified_before &&
      t->modified_after >= t->modified_before) {
    path_join(path, sizeof(path), pfx, "modified_after");
    cerr(c, member_or(r->grp, "modified_after"), path,
         "must be earlier than modified_before");
  }
  if (!was_set(r->present, sec, "storage_class_map"))
    kvlist_copy(&t->storage_class_map, &conf->worker.storage_class_map);
  if (!was_set(r->present, sec, "record_source_etag"))
    t->record_source_etag = conf->worker.record_source_etag;
}

/* Inline secrets in a file that group or others can read. */
static void check_secret_files(ctx_t *c) {
  size_t i, j;
  for (i = 0; i < c->n_secrets; i++) {
    struct stat st;
    inline_secret_t *x = &c->secrets[i];
    int seen = 0;
    for (j = 0; j < i; j++)
      if (strcmp(c->secrets[j].file, x->file) == 0) seen = 1;
    if (seen || stat(x->file, &st) != 0) continue;
    if (st.st_mode & (S_IRGRP | S_IROTH)) {
      char text[1024];
      snprintf(text, sizeof(text),
               "%s: warning: a secret is inline and %s is readable by group or others "
               "(mode %04o): chmod 600 it, or use %s",
               x->path, x->file, (unsigned)(st.st_mode & 07777),
               x->hint ? x->hint : "the *_env key or the environment");
      add_msg(c, 1, x->file, x->line, text);
    }
  }
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                    */

static void task_release(task_conf_t *t) {
  fx_free(t->name);
  conf_loc_release(&t->src);
  conf_loc_release(&t->dst);
  kvlist_release(&t->storage_class_map);
  strv_release(&t->include);
  strv_release(&t->exclude);
  memset(t, 0, sizeof(*t));
}

void conf_destroy(ferry_conf_t *c) {
  size_t i;
  if (!c) return;
  fx_free(c->path);
  fx_free(c->kafka.brokers);
  fx_free(c->kafka.bootstrap_file);
  fx_free(c->kafka.topic_prefix);
  kv_release_wipe(&c->kafka.properties);
  kv_release_wipe(&c->kafka.producer_properties);
  kv_release_wipe(&c->kafka.consumer_properties);
  fx_free(c->kafka.group_id);
  for (i = 0; i < c->n_stores; i++) store_conf_release(&c->stores[i]);
  fx_free(c->stores);
  fx_free(c->worker.id);
  fx_free(c->worker.windows.v);
  kvlist_release(&c->worker.storage_class_map);
  fx_free(c->reporter.listen);
  fx_free(c->worker.metrics_listen);
  for (i = 0; i < c->n_tasks; i++) task_release(&c->tasks[i]);
  fx_free(c->tasks);
  fx_free(c);
}

static const config_setting_t *section_setting(ctx_t *c, const config_setting_t *root,
                                               const section_t *sec) {
  const config_setting_t *s = config_setting_get_member(root, sec->name);
  if (!s) return NULL;
  if (sec->is_list && config_setting_type(s) != CONFIG_TYPE_LIST) {
    cerr(c, s, sec->name, "expected a list of groups: %s = ( { ... }, { ... } );",
         sec->name);
    return NULL;
  }
  if (!sec->is_list && config_setting_type(s) != CONFIG_TYPE_GROUP) {
    cerr(c, s, sec->name, "expected a group: %s = { ... };", sec->name);
    return NULL;
  }
  return s;
}

/* The elements of a list section as raw structs of size sz. */
static void *parse_list(ctx_t *c, const config_setting_t *list, const section_t *sec,
                        size_t sz, size_t *n_out) {
  int n = list ? config_setting_length(list) : 0, i;
  char *raws = fx_calloc((size_t)(n > 0 ? n : 1), sz);
  for (i = 0; i < n; i++) {
    const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
    char pfx[64];
    void *raw = raws + (size_t)i * sz;
    snprintf(pfx, sizeof(pfx), "%s[%d]", sec->name, i);
    if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
      cerr(c, g, pfx, "expected a group { ... }, found %s", setting_noun(g));
      g = NULL;
    }
    if (sec == &sections[SEC_STORES]) {
      store_raw_t *r = raw;
      r->grp = g ? g : list;
      parse_group(c, g, pfx, sec, r, &r->present, NULL);
    } else {
      task_raw_t *r = raw;
      r->grp = g ? g : list;
      r->t.record_source_etag = 0;
      parse_group(c, g, pfx, sec, r, &r->present, NULL);
    }
  }
  *n_out = (size_t)n;
  return raws;
}

static ferry_conf_t *load(ctx_t *c, config_t *cfg, int read_ok) {
  ferry_conf_t *conf;
  const config_setting_t *root, *sgrp[FERRY_ARRAY_LEN(sections)];
  store_raw_t *sraws = NULL;
  task_raw_t *traws = NULL;
  size_t ns = 0, nt = 0, i;
  const char *root_names[FERRY_ARRAY_LEN(root_keys) + FERRY_ARRAY_LEN(sections)];
  size_t n_root = 0;

  if (!read_ok) {
    c->n_errors++;
    if (config_error_type(cfg) == CONFIG_ERR_FILE_IO) {
      FILE *fp = fopen(c->name, "r");
      int e = fp ? 0 : errno;
      char text[512];
      if (fp) fclose(fp);
      snprintf(text, sizeof(text), "cannot read the file: %s",
               e ? strerror(e) : "I/O error");
      add_msg(c, 0, c->name, 0, text);
    } else {
      add_msg(c, 0, config_error_file(cfg) ? config_error_file(cfg) : c->name,
              config_error_line(cfg), config_error_text(cfg));
    }
    flush_msgs(c);
    return NULL;
  }

  conf = fx_calloc(1, sizeof(*conf));
  conf->path = fx_strdup(c->name);
  root = config_root_setting(cfg);

  /* Unknown top-level names: neither a top-level key nor a section. */
  for (i = 0; i < FERRY_ARRAY_LEN(root_keys); i++)
    root_names[n_root++] = root_keys[i].name;
  for (i = 1; i < FERRY_ARRAY_LEN(sections); i++) root_names[n_root++] = sections[i].name;
  for (i = 0; i < (size_t)config_setting_length(root); i++) {
    const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
    const char *name = config_setting_name(s);
    size_t j;
    for (j = 0; j < n_root; j++)
      if (strcmp(root_names[j], name) == 0) break;
    if (j == n_root) unknown_key(c, s, name, name, root_names, n_root, &sections[0]);
  }
  for (i = 0; i < FERRY_ARRAY_LEN(root_keys); i++) {
    const ckey_t *k = &root_keys[i];
    const config_setting_t *s = config_setting_get_member(root, k->name);
    if (s)
      set_value(c, k, s, k->name, conf);
    else
      set_from_string(c, k, NULL, k->name, conf, k->def);
  }

  for (i = 1; i < FERRY_ARRAY_LEN(sections); i++)
    sgrp[i] = section_setting(c, root, &sections[i]);
  for (i = 1; i < FERRY_ARRAY_LEN(sections); i++) {
    const section_t *sec = &sections[i];
    if (sec->is_list) continue;
    parse_group(c, sgrp[i], sec->name, sec, (char *)conf + sec->off, NULL, &c->failed[i]);
  }
  sraws =
      parse_list(c, sgrp[SEC_STORES], &sections[SEC_STORES], sizeof(store_raw_t), &ns);
  traws = parse_list(c, sgrp[SEC_TASKS], &sections[SEC_TASKS], sizeof(task_raw_t), &nt);

  post_kafka(c, &conf->kafka, sgrp[SEC_KAFKA]);
  post_worker(c, &conf->worker, sgrp[SEC_WORKER]);
  post_lister(c, conf, sgrp[SEC_LISTER]);
  for (i = 0; i < ns; i++) post_store(c, conf, sraws, i);
  for (i = 0; i < nt; i++) post_task(c, conf, traws, i, sraws, ns);
  check_secret_files(c);
  flush_msgs(c);

  /* Move the parsed stores and tasks into the result. */
  conf->stores = fx_calloc(ns ? ns : 1, sizeof(store_conf_t));
  for (i = 0; i < ns; i++) {
    conf->stores[i] = sraws[i].c;
    fx_free(sraws[i].access_key_env);
    fx_free(sraws[i].secret_key_env);
    fx_free(sraws[i].session_token_env);
  }
  conf->n_stores = ns;
  conf->tasks = fx_calloc(nt ? nt : 1, sizeof(task_conf_t));
  for (i = 0; i < nt; i++) conf->tasks[i] = traws[i].t;
  conf->n_tasks = nt;
  fx_free(sraws);
  fx_free(traws);

  if (c->n_errors) {
    conf_destroy(conf);
    return NULL;
  }
  return conf;
}

static void ctx_release(ctx_t *c) {
  size_t i;
  for (i = 0; i < c->n_files; i++) {
    fx_free(c->files[i].name);
    fx_free(c->files[i].text);
  }
  fx_free(c->files);
  for (i = 0; i < c->n_secrets; i++) {
    fx_free(c->secrets[i].file);
    fx_free(c->secrets[i].path);
  }
  fx_free(c->secrets);
  if (c->rk) rd_kafka_conf_destroy(c->rk);
  flush_msgs(c);
}

/*
 * CONF_NO_INCLUDE. libconfig 1.5 has no switch for @include, so two locks:
 * the text is scanned for a directive (libconfig's scanner takes one on a
 * line of its own, after blanks, in any case), which gives a clear error;
 * and the include directory is /dev/null, under which no path can open
 * ("/dev/null/../x" is ENOTDIR too), in case the scan missed a form.
 * Returns the 1-based line of the first directive, or 0.
 */
static int find_include(const char *text) {
  const char *p = text;
  int line = 1;
  if (!text) return 0;
  for (;;) {
    const char *q = p;
    while (*q == ' ' || *q == '\t') q++;
    if (strncasecmp(q, "@include", 8) == 0) return line;
    p = strchr(p, '\n');
    if (!p) return 0;
    p++;
    line++;
  }
}

static void no_include(config_t *cfg, unsigned flags) {
  if (flags & CONF_NO_INCLUDE) config_set_include_dir(cfg, "/dev/null");
}

ferry_conf_t *conf_load_ex(const char *path, unsigned flags, fbuf_t *errors,
                           fbuf_t *warnings) {
  ctx_t c;
  config_t cfg;
  ferry_conf_t *conf;
  int ok;
  char *dir, *slash;
  memset(&c, 0, sizeof(c));
  c.name = path ? path : "(null)";
  c.flags = flags;
  c.errors = errors;
  c.warnings = warnings;
  if (!path) {
    c.n_errors++;
    if (errors) fbuf_adds(errors, "no configuration file given\n");
    return NULL;
  }
  config_init(&cfg);
  /* @include paths are relative to the including file's directory. */
  dir = fx_strdup(path);
  slash = strrchr(dir, '/');
  if (slash) {
    *slash = 0;
    config_set_include_dir(&cfg, *dir ? dir : "/");
  }
  no_include(&cfg, flags);
  ok = config_read_file(&cfg, path);
  conf = load(&c, &cfg, ok);
  config_destroy(&cfg);
  fx_free(dir);
  ctx_release(&c);
  return conf;
}

ferry_conf_t *conf_load(const char *path, fbuf_t *errors, fbuf_t *warnings) {
  return conf_load_ex(path, 0, errors, warnings);
}

ferry_conf_t *conf_load_string(const char *text, const char *name, unsigned flags,
                               fbuf_t *errors, fbuf_t *warnings) {
  ctx_t c;
  config_t cfg;
  ferry_conf_t *conf;
  int line;
  memset(&c, 0, sizeof(c));
  c.name = name ? name : "(string)";
  c.text = text;
  c.flags = flags;
  c.errors = errors;
  c.warnings = warnings;
  if ((flags & CONF_NO_INCLUDE) && (line = find_include(text)) > 0) {
    c.n_errors++;
    add_msg(&c, 0, c.name, line, "@include is not allowed here");
    flush_msgs(&c);
    return NULL;
  }
  config_init(&cfg);
  no_include(&cfg, flags);
  conf = load(&c, &cfg, config_read_string(&cfg, text ? text : ""));
  config_destroy(&cfg);
  ctx_release(&c);
  return conf;
}

ferry_conf_t *conf_load_or_exit(const char *path, unsigned flags) {
  fbuf_t errors, warnings;
  ferry_conf_t *conf;
  if (!path) path = getenv("FERRY_CONFIG");
  if (!path || !*path) {
    fprintf(stderr, "ferry: no configuration file: pass one, or set FERRY_CONFIG\n");
    exit(2);
  }
  fbuf_init(&errors, 0);
  fbuf_init(&warnings, 0);
  conf = conf_load_ex(path, flags, &errors, &warnings);
  if (warnings.len) fputs(fbuf_str(&warnings), stderr);
  if (!conf) {
    size_t n = 0;
    const char *p;
    for (p = fbuf_str(&errors); *p; p++) n += *p == '\n';
    fputs(fbuf_str(&errors), stderr);
    fprintf(stderr, "ferry: %zu problem%s in %s; nothing started\n", n, n == 1 ? "" : "s",
            path);
    fbuf_release(&errors);
    fbuf_release(&warnings);
    exit(2);
  }
  fbuf_release(&errors);
  fbuf_release(&warnings);
  flog_set_level(conf->log_level);
  return conf;
}

/* ------------------------------------------------------------------------ */
/* Queries                                                                    */

const store_conf_t *conf_store(const ferry_conf_t *c, const char *name) {
  size_t i;
  if (!c || !name) return NULL;
  for (i = 0; i < c->n_stores; i++)
    if (strcmp(c->stores[i].name, name) == 0) return &c->stores[i];
  return NULL;
}

const task_conf_t *conf_task(const ferry_conf_t *c, const char *name) {
  size_t i;
  if (!c || !name) return NULL;
  for (i = 0; i < c->n_tasks; i++)
    if (strcmp(c->tasks[i].name, name) == 0) return &c->tasks[i];
  return NULL;
}

ferry_err_t conf_kafka_brokers(const conf_kafka_t *k, char **out, char *errbuf) {
  FILE *fp;
  char line[4096];
  size_t n;
  char *p;
  if (k->brokers && *k->brokers) {
    *out = fx_strdup(k->brokers);
    return FERRY_OK;
  }
  fp = fopen(k->bootstrap_file, "r");
  if (!fp)
    return ferry_seterr(errbuf, FERRY_ERR_IO,
                        "kafka.brokers is empty and %s cannot be read (%s): is "
                        "ferry-devbroker running?",
                        k->bootstrap_file, strerror(errno));
  p = fgets(line, sizeof(line), fp);
  fclose(fp);
  if (!p) line[0] = 0;
  n = strlen(line);
  while (n > 0 && isspace((unsigned char)line[n - 1])) line[--n] = 0;
  p = line;
  while (isspace((unsigned char)*p)) p++;
  if (!*p) return ferry_seterr(errbuf, FERRY_ERR_IO, "%s is empty", k->bootstrap_file);
  *out = fx_strdup(p);
  return FERRY_OK;
}

int conf_task_filter(const task_conf_t *t, const char *key_rel, uint64_t size,
                     int64_t mtime) {
  size_t i;
  int inc;
  if (size < t->min_size) return 0;
  if (t->max_size && size > t->max_size) return 0;
  if (mtime >= 0) {
    if (t->modified_after && mtime < t->modified_after) return 0;
    if (t->modified_before && mtime >= t->modified_before) return 0;
  }
  for (i = 0; i < t->exclude.n; i++)
    if (fnmatch(t->exclude.v[i], key_rel, 0) == 0) return 0;
  inc = t->include.n == 0;
  for (i = 0; i < t->include.n && !inc; i++)
    if (fnmatch(t->include.v[i], key_rel, 0) == 0) inc = 1;
  return inc;
}

/* ------------------------------------------------------------------------ */
/* Reference                                                                  */

static void key_prefix(const section_t *sec, char *out, size_t n) {
  if (!sec->name)
    *out = 0;
  else
    snprintf(out, n, "%s%s.", sec->name, sec->is_list ? "[]" : "");
}

size_t conf_key_count(void) {
  size_t i, n = 0;
  for (i = 0; i < FERRY_ARRAY_LEN(sections); i++) n += sections[i].n_keys;
  return n;
}

int conf_key_path(size_t idx, char *out, size_t n) {
  size_t i;
  char pfx[32];
  for (i = 0; i < FERRY_ARRAY_LEN(sections); i++) {
    if (idx < sections[i].n_keys) {
      key_prefix(&sections[i], pfx, sizeof(pfx));
      snprintf(out, n, "%s%s", pfx, sections[i].keys[idx].name);
      return 0;
    }
    idx -= sections[i].n_keys;
  }
  return -1;
}

static const char *type_doc(const ckey_t *k, char *buf, size_t n) {
  const kenum_t *e;
  size_t len = 0;
  switch (k->type) {
    case KT_STR:
      return "string";
    case KT_SECRET:
      return "string (secret)";
    case KT_BOOL:
      return "bool";
    case KT_INT:
      return "integer";
    case KT_SIZE:
      return "size";
    case KT_DUR_MS:
      return "duration (ms)";
    case KT_DUR_S:
      return "duration (s)";
    case KT_LOC:
      return "location";
    case KT_TIME:
      return "date";
    case KT_STRLIST:
      return "list of strings";
    case KT_KVLIST:
      return "list of \"k=v\"";
    case KT_WINDOWS:
      return "list of \"HH:MM-HH:MM\"";
    case KT_ENUM:
      for (e = k->enums; e->word; e++) {
        int w = snprintf(buf + len, n - len, "%s`%s`", len ? ", " : "", e->word);
        if (w < 0 || (size_t)w >= n - len) break;
        len += (size_t)w;
      }
      return buf;
  }
  return "?";
}

void conf_doc_markdown(fbuf_t *out) {
  size_t i, j;
  for (i = 0; i < FERRY_ARRAY_LEN(sections); i++) {
    const section_t *sec = &sections[i];
    char pfx[32];
    key_prefix(sec, pfx, sizeof(pfx));
    fbuf_addf(out, "### %s\n\n%s\n\n", sec->name ? sec->name : "Top level", sec->doc);
    fbuf_adds(out, "| key | type | default | range | meaning |\n");
    fbuf_adds(out, "|---|---|---|---|---|\n");
    for (j = 0; j < sec->n_keys; j++) {
      const ckey_t *k = &sec->keys[j];
      char tb[256], def[128], range[80];
      if (k->flags & KF_REQUIRED)
        snprintf(def, sizeof(def), "required");
      else if (k->def && (k->type == KT_STR || k->type == KT_ENUM ||
                          (k->type == KT_SIZE &&
                           !isdigit((unsigned char)k->def[strlen(k->def) - 1]))))
        snprintf(def, sizeof(def), "`\"%s\"`", k->def);
      else if (k->def)
        snprintf(def, sizeof(def), "`%s`", k->def);
      else if (k->defdoc)
        snprintf(def, sizeof(def), "%s", k->defdoc);
      else if (k->type == KT_STRLIST || k->type == KT_KVLIST || k->type == KT_WINDOWS)
        snprintf(def, sizeof(def), "`[]`");
      else
        snprintf(def, sizeof(def), "unset");
      range_str(range, sizeof(range), k);
      fbuf_addf(out, "| `%s%s` | %s | %s | %s | %s |\n", pfx, k->name,
                type_doc(k, tb, sizeof(tb)), def, range, k->doc);
    }
    fbuf_adds(out, "\n");
  }
}
