/*
 * run.h: one run of ferry-lister, shared by its parts (internal to lister/):
 * lister.c checks the options, opens what the run needs, dispatches to the
 * listing and prints the summary; shard.c lists in shards (lister.shards >
 * 1); replay.c replays failed objects (--retry-failed, --from-list).
 */
#ifndef FERRY_LISTER_RUN_H
#define FERRY_LISTER_RUN_H

#include <stdint.h>

#include "bus/bus.h"
#include "bus/lease.h"
#include "lister/fanout.h"
#include "lister/lister.h"
#include "lister/out.h"
#include "lister/retry.h"
#include "lister/source.h"
#include "store/client.h"
#include "store/listcur.h"
#include "xfer/backoff.h"
#include "plan/listfile.h"
#include "plan/listplan.h"
#include "plan/segmenter.h"

typedef struct lrun {
  const ferry_conf_t *conf;
  const task_conf_t *t;
  const lister_opts_t *opts;
  listplan_kind_t kind;
  listplan_t plan;
  msg_task_t def;          /* task, src, dst, policy of the current config */
  bus_conf_t bc;
  int have_bc;
  const store_conf_t *sc;  /* the source store's config */
  store_conf_t urls_conf;  /* sc of a URL list (the built-in HTTP store) */
  int have_urls_conf;
  lretry_t rs;             /* --retry-failed: the still-failed set */
  listfile_t *lf;          /* --from-list: the export being replayed */
  store_t *store;
  lout_t *out;
  seg_t *seg;
  uint64_t objects, bytes; /* in the segments handed out (resumed ones included) */
  char *last_key;          /* last key of the last segment handed out */
  char *resume_key;        /* the checkpoint resumed from (plan.start_after) */
  uint64_t cp_segments;    /* segment count at the last checkpoint */
  uint64_t pages, rejected, vanished, stale;
  lsrc_t *stream;          /* --incremental, URL lists: the objects to copy */
  backoff_t bo;
  uint64_t rng;
  int max_attempts;
  lfan_t *fan;             /* fan-out of huge objects, opened on first use */
  bus_lease_t *lease;      /* the task's lease (Kafka only): one lister per task */
  /* A sharded listing (lister.shards > 1; shard.c). */
  struct shard *sh; /* n_sh shards, or NULL */
  size_t n_sh;
  msg_shard_t *resume_sh; /* from the record being resumed, owned */
  size_t n_resume_sh;
  msg_shard_t *rec_sh; /* fill_record's view of sh (strings borrowed) */
} lrun_t;

/* lister.c: what the listings and replays share. */
ferry_err_t lrun_checkpoint(lrun_t *r, char *errbuf);
ferry_err_t lrun_add_obj(lrun_t *r, msg_obj_t *o, char *errbuf);
ferry_err_t lrun_flush(lrun_t *r, char *errbuf);
int lrun_key_ok(lrun_t *r, const char *key);
ferry_err_t lrun_retry_wait(lrun_t *r, const char *what, int attempt,
                            const store_error_t *err, char *errbuf);
int lrun_list_take(store_t *s, store_listcur_t *cur, const char *bucket, const char *prefix,
                   int page_size, store_list_page_t *page, store_error_t *err,
                   ferry_err_t *e, char *errbuf);
char *lrun_list_what(const lrun_t *r);

/* shard.c: the sharded listing. */
uint64_t lrun_total_segments(const lrun_t *r);
void lrun_shard_record(lrun_t *r, msg_task_t *rec);
ferry_err_t lrun_shards_setup(lrun_t *r, const store_conf_t *sc, char *errbuf);
ferry_err_t lrun_list_sharded(lrun_t *r, char *errbuf);
void lrun_shards_free(lrun_t *r);

/* replay.c: --retry-failed and --from-list. */
ferry_err_t lrun_replay_failed(lrun_t *r, lretry_t *rs, char *errbuf);
ferry_err_t lrun_replay_file(lrun_t *r, listfile_t *lf, char *errbuf);

#endif
