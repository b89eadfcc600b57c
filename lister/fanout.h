/*
 * fanout.h (lister): preparing the fan-out of a huge object across workers
 * (docs/fanout.md). For an object of lister.fanout_threshold bytes or more
 * the lister HEADs the source (the object's current version and metadata),
 * applies the same-name policy at the destination, and initiates the
 * multipart upload once, with the metadata mapped as the engine maps it.
 * The lister then publishes the part ranges (lister.c). This is the only
 * lister path that uses the destination store's credentials besides
 * --cleanup.
 *
 * One thread, like the lister.
 */
#ifndef FERRY_LISTER_FANOUT_H
#define FERRY_LISTER_FANOUT_H

#include "conf/config.h"
#include "lister/out.h"
#include "store/client.h"
#include "plan/fanplan.h"

typedef struct lfan lfan_t;

/* src: the lister's source store (borrowed); out: for waiting between
 * retries (borrowed; NULL in a shard thread: it sleeps). The destination
 * store is opened on first use. One lfan_t per thread. */
lfan_t *lfan_new(const ferry_conf_t *conf, const task_conf_t *t, store_t *src, lout_t *out);
void lfan_destroy(lfan_t *f);

/* Prepares the fan-out of o (updated in place from the source HEAD: etag,
 * size, mtime, crc64). *upload_id receives the new upload (new string) and
 * *plan its parts and ranges; *upload_id stays NULL when the object should
 * travel whole instead (a worker then copies or reports it alone): it
 * vanished or fell below the threshold, the policy skips it, the source
 * HEAD or the initiate failed (warned on stderr), or it is too large.
 * Errors: only a failure to wait (the Kafka output failed). */
ferry_err_t lfan_prepare(lfan_t *f, const msg_loc_t *src, const msg_loc_t *dst,
                         msg_policy_t policy, msg_obj_t *o, char **upload_id,
                         fanout_plan_t *plan, char *errbuf);

/* Uploads initiated so far, and objects sent whole although above the
 * threshold. */
uint64_t lfan_uploads(const lfan_t *f);
uint64_t lfan_whole(const lfan_t *f);

#endif
