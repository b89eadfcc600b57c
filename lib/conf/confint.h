/*
 * confint.h: what the parts of the config loader share: the key tables'
 * types (keys.c holds the tables), the value checks (check.c), and the
 * range text the loader's messages and the reference (doc.c) both write.
 * Private to lib/conf.
 */
#ifndef FERRY_CONF_CONFINT_H
#define FERRY_CONF_CONFINT_H

#include <libconfig.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"

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

typedef struct section {
  const char *name; /* NULL: the top level */
  int is_list;      /* a list of groups */
  const ckey_t *keys;
  size_t n_keys;
  size_t off; /* groups: offset of the struct in ferry_conf_t */
  const char *doc;
} section_t;


enum {
  SEC_ROOT = 0,
  SEC_KAFKA,
  SEC_STORES,
  SEC_WORKER,
  SEC_LISTER,
  SEC_REPORTER,
  SEC_TASKS,
  SEC__COUNT
};

/* The sections and their keys, in the file's order (keys.c). */
extern const section_t conf_sections[SEC__COUNT];
/* At most this many keys outside any group (keys.c checks). */
enum { CONF_ROOT_KEYS_MAX = 8 };

/* Value checks of strings and list elements (check.c): FERRY_OK, or
 * FERRY_ERR_INVALID with errbuf saying why. */
ferry_err_t conf_check_name(const char *s, char *errbuf);
/* 1 when s holds a control character or a space. */
int conf_has_ctl_or_space(const char *s);
ferry_err_t conf_check_endpoint(const char *s, char *errbuf);
ferry_err_t conf_check_hostport(const char *s, char *errbuf);
ferry_err_t conf_check_listen(const char *s, char *errbuf);
ferry_err_t conf_check_envname(const char *s, char *errbuf);
ferry_err_t conf_check_brokers(const char *s, char *errbuf);
ferry_err_t conf_check_topic_prefix(const char *s, char *errbuf);
ferry_err_t conf_check_word(const char *s, char *errbuf);
ferry_err_t conf_check_nonempty(const char *s, char *errbuf);

/* A key's range as the messages and the reference write it ("1..64",
 * "at least 1M"); config.c. */
void conf_range_str(char *out, size_t n, const ckey_t *k);

/* Loads an already parsed tree (spec.c builds one around a console task
 * spec): the same checks and messages as conf_load, name standing for the
 * file where a setting has none. */
ferry_conf_t *conf_load_cfg(config_t *cfg, const char *name, unsigned flags,
                            fbuf_t *errors, fbuf_t *warnings);

#endif
