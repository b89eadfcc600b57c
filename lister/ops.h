/*
 * ops.h: the lister's modes that publish nothing (docs/lister.md):
 *
 *   --estimate            count, bytes, size histogram, estimated duration
 *   --dry-run             the objects a run would copy, as CSV
 *   --verify              source and destination compared by listing; CSV
 *                         report of the differences; exit 0 / 3
 *
 * --estimate and --dry-run combine with --incremental (then they cover only
 * what an incremental run would copy). Output on stdout (or --out), summary
 * and errors on stderr. One thread.
 */
#ifndef FERRY_LISTER_OPS_H
#define FERRY_LISTER_OPS_H

#include "conf/config.h"
#include "lister/lister.h"

/* Exit status of --verify when the destination is not in step. */
#define LISTER_EXIT_DIFF 3

/* Runs o's mode for task t (both borrowed). Returns an exit status. */
int lops_run(const ferry_conf_t *conf, const task_conf_t *t, const lister_opts_t *o);

#endif
