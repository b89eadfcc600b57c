/*
 * keys.c: the key tables of the configuration file: each key's type,
 * default, range, check and doc line, per section. The loader (config.c)
 * parses and validates by them and the reference (doc.c) is generated
 * from them, so the two cannot drift. A new key goes here.
 */
#include "conf/confint.h"
#include "core/units.h"

#include <limits.h>
#include <stddef.h>

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
     .check = conf_check_brokers,
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
     .check = conf_check_topic_prefix,
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
     .check = conf_check_name,
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
     .check = conf_check_endpoint,
     .doc = "Service endpoint without bucket: \"https://oss-cn-hangzhou.aliyuncs.com\", "
            "\"cos.ap-guangzhou.myqcloud.com\", \"http://127.0.0.1:9000\". No scheme "
            "means https."},
    {.name = "region",
     .type = KT_STR,
     AT(store_raw_t, c.region),
     .defdoc = "from endpoint",
     .flags = KF_EMPTY_NULL,
     .check = conf_check_word,
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
     .check = conf_check_hostport,
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
     .check = conf_check_envname,
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
     .check = conf_check_envname,
     .doc = "Environment variable holding the secret key."},
    {.name = "session_token",
     .type = KT_SECRET,
     AT(store_raw_t, c.session_token),
     .doc = "STS / temporary session token, inline (optional)."},
    {.name = "session_token_env",
     .type = KT_STR,
     AT(store_raw_t, session_token_env),
     .flags = KF_EMPTY_NULL,
     .check = conf_check_envname,
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
     .check = conf_check_word,
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
    {.name = "concurrency_max",
     .type = KT_INT,
     AT(conf_worker_t, concurrency_max),
     .def = "0",
     .min = 1,
     .max = 4096,
     .flags = KF_ZERO_OK,
     .doc = "Above concurrency: the requests at once adapt between 2 and this, starting at "
            "concurrency: grown while completions/s rise, halved on 503/SlowDown and "
            "errors, within the memory of concurrency (docs/worker.md, \"Adaptive "
            "concurrency\"). 0 (or at most concurrency): fixed at concurrency."},
    {.name = "store_down_max_s",
     .type = KT_DUR_S,
     AT(conf_worker_t, store_down_max_s),
     .def = "3600",
     .min = 1,
     .max = 604800,
     .flags = KF_ZERO_OK,
     .doc = "A store that fails every request is marked down and probed until it answers; "
            "objects waiting for it keep their attempts. Down for longer than this, they "
            "fail (reason store-down). 0 = wait for ever (docs/worker.md, \"Stores "
            "down\")."},
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
     .check = conf_check_listen,
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
     .check = conf_check_listen,
     .doc = "\"ADDR:PORT\" of the status HTTP server (\":PORT\" = 127.0.0.1; port 0 = any "
            "free port, logged); \"\" = none."},
    {.name = "refresh_s",
     .type = KT_DUR_S,
     AT(conf_reporter_t, refresh_s),
     .def = "5",
     .min = 1,
     .max = 3600,
     .doc = "Seconds between status summaries."},
    {.name = "state_dir",
     .type = KT_STR,
     AT(conf_reporter_t, state_dir),
     .def = "",
     .flags = KF_EMPTY_NULL,
     .doc = "Directory in which the reporter makes its on-disk index of failed keys (a "
            "directory of its own, removed at exit; rebuilt from the topics at every start); "
            "\"\" = $TMPDIR, else /tmp. Disk: about 300 MB per million failed keys "
            "(docs/reporter.md, \"Memory\")."},
    {.name = "tokens_env",
     .type = KT_STR,
     AT(conf_reporter_t, tokens_env),
     .def = "",
     .flags = KF_EMPTY_NULL,
     .check = conf_check_envname,
     .doc = "Environment variable holding the console's access tokens, "
            "\"NAME:ROLE:SECRET,...\" (ROLE viewer or operator; SECRET at least 16 "
            "characters). Viewing from another host then needs a token, and every action an "
            "operator's (docs/security.md, \"The status page and its actions\"). Logs name "
            "a token, never its secret."},
    {.name = "tokens_file",
     .type = KT_STR,
     AT(conf_reporter_t, tokens_file),
     .def = "",
     .flags = KF_EMPTY_NULL,
     .doc = "File of access tokens, NAME:ROLE:SECRET one a line (# comments), beside or "
            "instead of `tokens_env`; read at start. Warned about when readable by group or "
            "others."},
    {.name = "tls_cert",
     .type = KT_STR,
     AT(conf_reporter_t, tls_cert),
     .def = "",
     .flags = KF_EMPTY_NULL,
     .doc = "PEM certificate (with its chain) file: the status server speaks HTTPS only. "
            "Goes with `tls_key`."},
    {.name = "tls_key",
     .type = KT_STR,
     AT(conf_reporter_t, tls_key),
     .def = "",
     .flags = KF_EMPTY_NULL,
     .doc = "PEM private key file of `tls_cert`. Warned about when readable by group or "
            "others (a container's secret may have to be)."},
    {.name = "behind_proxy",
     .type = KT_BOOL,
     AT(conf_reporter_t, behind_proxy),
     .def = "false",
     .doc = "true: a TLS-terminating reverse proxy forwards to `listen` (it must pass the "
            "Host header). No client then counts as local: with tokens, every view needs "
            "one. A `listen` address other than loopback needs this or `tls_cert`."},
};

/* A bandwidth_schedule entry: "HH:MM-HH:MM=SIZE" (conf_parse_bwsched). */
static ferry_err_t check_bwsched(const char *s, char *errbuf) {
  conf_window_t win;
  uint64_t bw;
  return conf_parse_bwsched(s, &win, &bw, errbuf);
}

static const ckey_t task_keys[] = {
    {.name = "name",
     .type = KT_STR,
     AT(task_raw_t, t.name),
     .flags = KF_REQUIRED | KF_NONEMPTY,
     .check = conf_check_name,
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
    {.name = "bandwidth_schedule",
     .type = KT_STRLIST,
     AT(task_raw_t, t.bandwidth_schedule),
     .check = check_bwsched,
     .doc = "Bandwidth of this task over the fleet by local time of the worker host, "
            "e.g. [\"08:00-19:00=10M\", \"19:00-08:00=0\"]: the first window holding "
            "the time gives the bytes per second (0 = unlimited); outside every window, "
            "bandwidth_limit. Written into the task's segments by the lister "
            "(limits.schedule); workers evaluate it every minute."},
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
     .check = conf_check_nonempty,
     .doc = "Globs (`*`, `?`, `[...]`; `*` crosses `/`) on the key after the source "
            "prefix; when given, only matching keys are copied."},
    {.name = "exclude",
     .type = KT_STRLIST,
     AT(task_raw_t, t.exclude),
     .check = conf_check_nonempty,
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
     .doc = "Overrides worker.record_source_etag for this task. Written into the task's "
            "segments by the lister, with storage_class_map: workers need no entry for the "
            "task."},
    {.name = "audit",
     .type = KT_BOOL,
     AT(task_raw_t, t.audit),
     .def = "false",
     .doc = "Keep an audit trail: workers publish a record of every object they write "
            "for this task (key, size, CRC-64, ETags, whether it replaced an existing "
            "object) to the audit topic; `ferry-reporter --export-audit` writes it out. "
            "Written into the task's segments by the lister."},
};

#define KEYS(t) t, FERRY_ARRAY_LEN(t)

const section_t conf_sections[SEC__COUNT] = {
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

_Static_assert(FERRY_ARRAY_LEN(root_keys) <= CONF_ROOT_KEYS_MAX, "CONF_ROOT_KEYS_MAX");
