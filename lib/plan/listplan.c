/* listplan.c: which run a lister starts, and from where. */
#include "plan/listplan.h"

#include <stdio.h>
#include <string.h>

static const char *const kind_names[] = {"list", "retry", "from-list", "incremental"};

const char *listplan_kind_str(listplan_kind_t k) {
  return (unsigned)k < FERRY_ARRAY_LEN(kind_names) ? kind_names[k] : "?";
}

int listplan_record_kind(const msg_task_t *rec) {
  size_t i;
  if (!rec->kind) return rec->retry_of > 0 ? LISTPLAN_RETRY : LISTPLAN_LIST;
  for (i = 0; i < FERRY_ARRAY_LEN(kind_names); i++)
    if (strcmp(rec->kind, kind_names[i]) == 0) return (int)i;
  return -1;
}

static int streq(const char *a, const char *b) {
  return strcmp(a ? a : "", b ? b : "") == 0;
}

static int same_loc(const msg_loc_t *a, const msg_loc_t *b) {
  return streq(a->store, b->store) && streq(a->bucket, b->bucket) &&
         streq(a->prefix, b->prefix);
}

int listplan_same_definition(const msg_task_t *a, const msg_task_t *b) {
  return same_loc(&a->src, &b->src) && same_loc(&a->dst, &b->dst) &&
         a->policy == b->policy;
}

/* The command that finishes an unfinished run of kind k. */
static const char *finisher(int k) {
  switch (k) {
  case LISTPLAN_LIST: return "a plain re-run (without --retry-failed / --from-list)";
  case LISTPLAN_RETRY: return "--retry-failed";
  case LISTPLAN_FROM_LIST: return "--from-list with the same file";
  case LISTPLAN_INCREMENTAL: return "--incremental";
  default: return "a lister that knows this kind";
  }
}

ferry_err_t listplan_decide(listplan_kind_t kind, const msg_task_t *rec,
                            const msg_task_t *def, listplan_t *out, char *errbuf) {
  int rk;
  memset(out, 0, sizeof(*out));
  if (!rec) {
    if (kind == LISTPLAN_RETRY)
      return ferry_seterr(errbuf, FERRY_ERR_NOTFOUND,
                          "task %s has no run recorded in the tasks topic: nothing "
                          "to retry", def->task);
    out->run = 1;
    return FERRY_OK;
  }
  rk = listplan_record_kind(rec);
  if (rec->state && strcmp(rec->state, "listed") == 0) {
    if (rec->run == INT32_MAX)
      return ferry_seterr(errbuf, FERRY_ERR_INVALID, "task %s: run %d is the last "
                          "possible run", def->task, rec->run);
    out->run = rec->run + 1;
    if (kind == LISTPLAN_RETRY) out->base_run = rec->run;
    if (kind == LISTPLAN_RETRY || kind == LISTPLAN_FROM_LIST)
      out->retry_of = rec->retry_of > 0 ? rec->retry_of : rec->run;
    if (!listplan_same_definition(rec, def))
      snprintf(out->note, sizeof(out->note),
               "the task's source, destination or policy changed since run %d",
               rec->run);
    return FERRY_OK;
  }
  /* Unfinished ("listing" or "failed"). */
  if (rk != (int)kind) {
    char label[96];
    if (rk >= 0) snprintf(label, sizeof(label), "%s", kind_names[rk]);
    else snprintf(label, sizeof(label), "kind \"%.80s\"", rec->kind);
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "task %s: run %d (%s) is unfinished (state %s); finish it "
                        "first with %s", def->task, rec->run, label,
                        rec->state ? rec->state : "?", finisher(rk));
  }
  if (kind == LISTPLAN_INCREMENTAL) {
    /* Its selection depends on the destination, which changed meanwhile:
     * not resumable, not redone with the same segment ids. */
    if (rec->run == INT32_MAX)
      return ferry_seterr(errbuf, FERRY_ERR_INVALID, "task %s: run %d is the last "
                          "possible run", def->task, rec->run);
    out->run = rec->run + 1;
    snprintf(out->note, sizeof(out->note),
             "incremental run %d was not finished; run %d compares the listings afresh",
             rec->run, out->run);
    return FERRY_OK;
  }
  if (kind == LISTPLAN_LIST && !listplan_same_definition(rec, def)) {
    out->run = rec->run + 1;
    snprintf(out->note, sizeof(out->note),
             "run %d was not finished, but the task's source, destination or "
             "policy changed since: starting run %d from the beginning",
             rec->run, out->run);
    return FERRY_OK;
  }
  out->run = rec->run;
  out->retry_of = rec->retry_of;
  if (kind == LISTPLAN_LIST) {
    out->resume = 1;
    out->start_after = rec->checkpoint;
    out->segments = rec->segments;
    out->objects = rec->listed_objects;
    out->bytes = rec->listed_bytes;
    /* A checkpoint without segments (or segments without a checkpoint)
     * cannot come from this lister: start the run over rather than skip. */
    if (!rec->checkpoint || !*rec->checkpoint || rec->segments == 0) {
      out->start_after = NULL;
      out->segments = out->objects = out->bytes = 0;
    }
  } else if (kind == LISTPLAN_RETRY) {
    out->base_run = rec->run - 1;
    if (out->base_run < 1)
      return ferry_seterr(errbuf, FERRY_ERR_NOTFOUND,
                          "task %s: run %d is a retry without an earlier run",
                          def->task, rec->run);
  }
  return FERRY_OK;
}
