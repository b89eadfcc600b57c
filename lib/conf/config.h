/*
 * config.h: ferry's configuration file (libconfig syntax), loaded into plain
 * structs that every service reads.
 *
 * One table per section (in keys.c) gives each key's type, default, range
 * and doc line; the same tables drive parsing, validation and the reference
 * in docs/config.md (conf_doc_markdown), so the three cannot drift.
 *
 * Loading collects EVERY problem, one line each, as
 *   FILE:LINE: key.path: message
 * (libconfig syntax errors included), and never prints a secret: credentials
 * live in secret_t (store.h), and error text names keys and environment
 * variables, never values.
 *
 * A loaded ferry_conf_t is plain data, read-only and thread-safe to read.
 * Its strings and arrays are owned by it and freed by conf_destroy().
 */
#ifndef FERRY_CONFIG_H
#define FERRY_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "core/buf.h"
#include "core/ferry.h"
#include "core/kv.h"
#include "core/log.h"
#include "core/units.h"
#include "store/store.h"

/* A list of strings (globs). */
typedef struct conf_strv {
  char **v; /* owned */
  size_t n;
} conf_strv_t;

/* A task location: "store:bucket/prefix" or "urls:/path/to/list". */
typedef enum conf_loc_kind { CONF_LOC_STORE = 0, CONF_LOC_URLS } conf_loc_kind_t;

typedef struct conf_loc {
  conf_loc_kind_t kind;
  char *store;  /* CONF_LOC_STORE: store name; NULL for URLS */
  char *bucket; /* CONF_LOC_STORE: never empty; NULL for URLS */
  char *prefix; /* CONF_LOC_STORE: "" when none; NULL for URLS */
  char *path;   /* CONF_LOC_URLS: the URL list file; NULL for STORE */
} conf_loc_t;

typedef struct conf_kafka {
  char *brokers; /* "host:port,..."; "" = read bootstrap_file (dev broker) */
  char *bootstrap_file;
  char *topic_prefix; /* "ferry." */
  long segments_partitions;
  long replication_factor;
  kvlist_t properties;          /* librdkafka properties for every client; values
                                   may be secrets (sasl.password): never print them */
  kvlist_t producer_properties; /* applied after properties, producers only */
  kvlist_t consumer_properties; /* applied after properties, consumers only */
  char *group_id;
  long delivery_timeout_ms;
} conf_kafka_t;

typedef struct conf_worker {
  char *id; /* resolved: configured, else "hostname-pid" */
  long concurrency;
  long concurrency_max;     /* > concurrency: adaptive up to this; 0 = fixed */
  long store_down_max_s;    /* a store down this long fails its objects; 0 = never */
  long max_host_conns;
  uint64_t buffer_size;
  uint64_t small_object_threshold;
  uint64_t multipart_threshold;
  uint64_t part_size;
  long max_attempts;
  long backoff_base_ms;
  long backoff_max_ms;
  long stall_timeout_s;
  long request_timeout_s;
  long complete_timeout_s;  /* CompleteMultipartUpload: no byte from the store for this long */
  uint64_t qps_limit;       /* requests/s of this worker, 0 = unlimited */
  uint64_t bandwidth_limit; /* bytes/s of this worker, 0 = unlimited */
  long segments_in_flight;
  long shutdown_timeout_s;
  conf_windows_t windows;
  kvlist_t storage_class_map; /* "SRC=DST" pairs as policy_class_map_parse takes them;
                                 pass to policy_class_map (policy/policy.h) */
  int record_source_etag;
  char *metrics_listen; /* "host:port" of the worker's /metrics; NULL = none */
} conf_worker_t;

typedef struct conf_lister {
  long page_size;
  long segment_max_objects;
  uint64_t segment_max_bytes;
  long checkpoint_pages;
  long shards;
  uint64_t fanout_threshold; /* 0 = never fan out */
} conf_lister_t;

typedef struct conf_reporter {
  char *listen; /* "host:port"; NULL = no HTTP server */
  long refresh_s;
  char *state_dir; /* parent of the key index's directory; NULL = $TMPDIR or /tmp */
  char *tokens_env;  /* variable holding "name:role:secret,..."; NULL = none */
  char *tokens_file; /* file of such entries (one a line); NULL = none */
  char *tls_cert;    /* PEM certificate (chain) file: HTTPS; NULL = HTTP */
  char *tls_key;     /* its PEM private key file */
  int behind_proxy;  /* a TLS-terminating reverse proxy forwards to listen */
} conf_reporter_t;

/* One task (`tasks = ( { name = ...; ... } )`). Values are effective: where the
 * task leaves a key out, the worker's value is filled in. */
typedef struct task_conf {
  char *name;
  conf_loc_t src;
  conf_loc_t dst; /* always CONF_LOC_STORE */
  msg_policy_t same_name;
  uint64_t qps_limit;         /* fleet-wide requests/s, 0 = unlimited */
  uint64_t bandwidth_limit;   /* fleet-wide bytes/s, 0 = unlimited */
  conf_strv_t bandwidth_schedule; /* "HH:MM-HH:MM=SIZE": the bandwidth by local time */
  kvlist_t storage_class_map; /* the task's own, else a copy of the worker's */
  conf_strv_t include;        /* globs on the key relative to the source prefix */
  conf_strv_t exclude;
  uint64_t min_size;
  uint64_t max_size;       /* 0 = no bound */
  int64_t modified_after;  /* unix seconds, inclusive; 0 = no bound */
  int64_t modified_before; /* unix seconds, exclusive; 0 = no bound */
  int record_source_etag;
  int audit;               /* publish what workers write (audit topic) */
} task_conf_t;

typedef struct ferry_conf {
  char *path; /* the file loaded (or the name given to conf_load_string) */
  flog_level_t log_level;
  conf_kafka_t kafka;
  store_conf_t *stores; /* owned array; credentials resolved */
  size_t n_stores;
  conf_worker_t worker;
  conf_lister_t lister;
  conf_reporter_t reporter;
  task_conf_t *tasks; /* owned array */
  size_t n_tasks;
} ferry_conf_t;

/* conf_load_ex flags. */
enum {
  /* Do not read credentials from the environment nor require them: for
   * services that never talk to a store (the reporter). Inline values are
   * still read. */
  CONF_SKIP_CREDENTIALS = 1 << 0,
  /* No @include can open a file; conf_load_string also refuses a directive
   * by line ("@include is not allowed here"). For text from an untrusted
   * source (the config fuzz target). */
  CONF_NO_INCLUDE = 1 << 1
};

/*
 * Loads and validates path. On success returns a new ferry_conf_t. On any
 * error returns NULL and appends every problem to errors (one line each,
 * '\n'-terminated). Warnings (world-readable inline secrets, insecure TLS, ...)
 * go to warnings in both cases. errors and warnings may be NULL.
 */
ferry_conf_t *conf_load(const char *path, fbuf_t *errors, fbuf_t *warnings);
ferry_conf_t *conf_load_ex(const char *path, unsigned flags, fbuf_t *errors,
                           fbuf_t *warnings);
/* The same from a string; name stands for the file in messages. @include
 * paths are relative to the working directory (refused with CONF_NO_INCLUDE). */
ferry_conf_t *conf_load_string(const char *text, const char *name, unsigned flags,
                               fbuf_t *errors, fbuf_t *warnings);
void conf_destroy(ferry_conf_t *c);

/*
 * For services: loads path (NULL = $FERRY_CONFIG), prints warnings to stderr,
 * and on errors prints them all to stderr and exits with status 2. Applies
 * log_level with flog_set_level. Returns a new ferry_conf_t.
 */
ferry_conf_t *conf_load_or_exit(const char *path, unsigned flags);

/* Borrowed lookups by name; NULL when absent. */
const store_conf_t *conf_store(const ferry_conf_t *c, const char *name);
const task_conf_t *conf_task(const ferry_conf_t *c, const char *name);

/*
 * The bootstrap servers to use: kafka.brokers, or else the first line of
 * kafka.bootstrap_file (written by ferry-devbroker). *out is a new string.
 * FERRY_ERR_IO when the file cannot be read (the dev broker may not be up yet).
 */
ferry_err_t conf_kafka_brokers(const conf_kafka_t *k, char **out, char *errbuf);

/* Pure parsers, also used by the loader. out is untouched on error. */

/* "store:bucket/prefix" or "urls:/path". out is uninitialized on entry; on
 * success release it with conf_loc_release. */
ferry_err_t conf_parse_location(const char *s, conf_loc_t *out, char *errbuf);
void conf_loc_release(conf_loc_t *l);
/* conf_parse_size, _duration, _time, _window, conf_windows_allow: core/units.h. */

/* 1 when an object passes the task's filters: key_rel is the key relative to
 * the source prefix; mtime -1 = unknown (passes date bounds). */
int conf_task_filter(const task_conf_t *t, const char *key_rel, uint64_t size,
                     int64_t mtime);

/* The environment variable the default convention reads for a store's
 * credential: FERRY_<NAME>_<WHAT>, NAME upper-cased with every character
 * other than A-Z and 0-9 turned into '_'; what is "ACCESS_KEY", "SECRET_KEY"
 * or "SESSION_TOKEN". Returns a new string. */
char *conf_env_name(const char *store_name, const char *what);

/*
 * Console task specs (spec.c; docs/lister.md "Master"). A spec is a JSON
 * object with the fields of a `tasks` entry, same names and value forms as
 * the file ({"name":"logs","source":"oss:b/p","qps_limit":100,
 * "include":["*.log"]}). It is checked by the loader itself: base's file
 * (base->path) is read again with its `tasks` replaced by the spec alone,
 * so stores, worker defaults and every check are the file's, and the
 * messages are the loader's, for the spec as tasks[0], without the
 * FILE:LINE part ("tasks[0].destination: unknown store \"x\" ...").
 * A spec whose name is a task of base is refused:
 * "task \"X\" is defined in the config file; the config wins".
 *
 * conf_load_spec: a new config whose only task (tasks[0]) is the spec's,
 * or NULL with one line per problem appended to errors. Credentials are
 * not read (CONF_SKIP_CREDENTIALS): base already has them.
 */
ferry_conf_t *conf_load_spec(const ferry_conf_t *base, const char *spec, fbuf_t *errors);
/* Writes base's file with the spec appended to its tasks to path (created
 * 0600, must not exist; the file's @includes expanded, inline secrets
 * included): the config of a listing the master runs for a console task.
 * Validate the spec with conf_load_spec first. */
ferry_err_t conf_write_with_spec(const ferry_conf_t *base, const char *spec,
                                 const char *path, char *errbuf);

/* The spec of config task t, as a create would carry it (new compact JSON
 * text; dates in UTC ISO form). */
char *conf_task_spec(const task_conf_t *t);
/* The spec's bandwidth_schedule entries (*out new, each entry new; NULL
 * when none), unchecked: conf_parse_bwsched checks them. */
size_t conf_spec_schedule(const char *spec, char ***out);

/* The reference tables: every key as a path ("log_level", "kafka.brokers",
 * "stores[].name"), and the generated markdown reference (appended to out)
 * that docs/config.md carries between its GENERATED markers. */
size_t conf_key_count(void);
/* Writes key i's path into out (n bytes); -1 past the end. */
int conf_key_path(size_t i, char *out, size_t n);
void conf_doc_markdown(fbuf_t *out);

#endif
