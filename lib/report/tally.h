/*
 * tally.h: the reporter's state — per-task and per-run status built from the
 * tasks, results and failed topics — in memory, with the failed keys in an
 * on-disk index (failidx.h).
 *
 * Records may arrive in any order across the three topics, more than once
 * (at-least-once delivery, a replay from the beginning after a restart), and
 * after compaction of the tasks topic. The tally counts every segment result
 * once, by (task, segment id, run); the first result of a key counts. The
 * rules (base run, retries, what is kept per key) are in docs/reporter.md.
 *
 * Memory grows with the number of segments (one id per counted result),
 * never with the number of failed objects nor of objects copied or skipped:
 * per key, the outcomes of keys that failed in a run that still matters and
 * the retry outcomes of those keys are kept on disk (failidx.h) in a
 * directory of their own under tally_opts_t.state_dir, and the counters the
 * retries change are summed in memory as keys change.
 *
 * Time is always passed in (now_ms, Unix ms), so every figure is a function
 * of the records and the clock given: unit-testable without sleeping.
 *
 * Not thread-safe: one owner.
 */
#ifndef FERRY_BUS_TALLY_H
#define FERRY_BUS_TALLY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "bus/msg.h"
#include "core/buf.h"
#include "core/ferry.h"

/* State of a task or of one run. */
typedef enum tally_state {
  TALLY_PENDING = 0,          /* nothing received yet */
  TALLY_LISTING,              /* the listing is not finished */
  TALLY_RUNNING,              /* listed; segments still without a result */
  TALLY_COMPLETED,            /* every object copied or skipped */
  TALLY_COMPLETED_FAILURES,   /* every object done, some failed */
  TALLY_LISTING_FAILED,       /* the lister gave up (task record "failed") */
  TALLY_STATE__COUNT
} tally_state_t;

/* "pending", "listing", "running", "completed", "completed-with-failures",
 * "listing-failed"; static. */
const char *tally_state_str(tally_state_t s);

/* What a run is (msg_task_t.retry_of), as known or inferred. */
typedef enum tally_kind {
  TALLY_KIND_UNKNOWN = 0,     /* no record of this run or a later one yet */
  TALLY_KIND_FULL,
  TALLY_KIND_RETRY
} tally_kind_t;

const char *tally_kind_str(tally_kind_t k);   /* "unknown", "full", "retry" */

/* The failure label of an outcome: "changed" and "vanished" for those
 * statuses, else the reason ("integrity", "access-denied", ...), else
 * "failed". For skips: the reason, else "skipped". Static or borrowed from o. */
const char *tally_outcome_label(const msg_outcome_t *o);

typedef struct tally_opts {
  int64_t rate_window_ms;     /* window of the rates; default 30000 */
  const char *state_dir;      /* where the key index's directory is made
                                 (reporter.state_dir); NULL: $TMPDIR or /tmp */
} tally_opts_t;

typedef struct tally tally_t;

/* New, empty tally; opts may be NULL (defaults). NULL when its key index
 * cannot be made (errbuf says why). */
tally_t *tally_open(const tally_opts_t *opts, char *errbuf);
/* The same, aborting on failure: for tests. */
tally_t *tally_new(const tally_opts_t *opts);
void tally_destroy(tally_t *t);

/*
 * Adding records. Each copies what it keeps; the message stays the caller's.
 * FERRY_OK: applied, or recognized as a duplicate (*dup = 1 when dup is not
 * NULL). FERRY_ERR_INVALID: the record is inconsistent (errbuf names the
 * field); nothing was changed, so a valid redelivery still counts later.
 */
ferry_err_t tally_add_task(tally_t *t, const msg_task_t *m, char *errbuf);
ferry_err_t tally_add_result(tally_t *t, const msg_result_t *m, int *dup,
                             char *errbuf);
ferry_err_t tally_add_failed(tally_t *t, const msg_failed_t *m, char *errbuf);

/* Which topic a raw record comes from. */
typedef enum tally_src { TALLY_SRC_TASKS = 0, TALLY_SRC_RESULTS, TALLY_SRC_FAILED } tally_src_t;

/*
 * Decodes a raw record value from topic src and adds it. FERRY_ERR_PARSE
 * (decoder's message) or FERRY_ERR_INVALID: rejected, counted in
 * tally_rejected(), state unchanged. A NULL value (tombstone) is ignored.
 */
ferry_err_t tally_feed(tally_t *t, tally_src_t src, const void *value,
                       size_t len, int *dup, char *errbuf);

/* Records rejected by tally_feed, and duplicates recognized, so far. */
uint64_t tally_rejected(const tally_t *t);
uint64_t tally_duplicates(const tally_t *t);

/* Keys held for task (failed keys and their retry outcomes): what the
 * tally's memory grows with, besides segment ids. 0 for an unknown task. */
size_t tally_tracked_keys(const tally_t *t, const char *task);

/* Task names known, sorted (bytewise). *names is a new array of borrowed
 * strings (valid until the next add); free the array with fx_free. */
size_t tally_task_names(const tally_t *t, const char ***names);

/* ---------- views (snapshots) ---------- */

typedef struct tally_reason {
  char *reason;               /* owned by the view */
  uint64_t n;
} tally_reason_t;

/* Figures of one run, or of the task (base run + its retries). */
typedef struct tally_figures {
  tally_state_t state;
  int totals_known;           /* listing done: total_* are final */
  int totals_inferred;        /* ... taken from the results (record compacted) */
  uint64_t total_objects, total_bytes;
  uint64_t listed_objects, listed_bytes;  /* so far (= totals when known) */
  uint64_t segments_total;    /* published so far (final when totals_known) */
  uint64_t segments_done;     /* distinct segment results counted */
  uint64_t done_objects, done_bytes;      /* copied + skipped + failed; never
                                             more than total_objects */
  uint64_t overcount;         /* objects in counted results beyond the listing's
                                 total (results of segments it did not publish:
                                 the run is then not done); 0 normally */
  uint64_t copied, skipped, failed;
  uint64_t bytes_copied;
  tally_reason_t *skipped_by; /* owned, sorted by reason */
  size_t n_skipped_by;
  tally_reason_t *failed_by;  /* owned, sorted by reason */
  size_t n_failed_by;
  uint64_t remaining_objects, remaining_bytes;  /* 0 when totals unknown */
  double objects_per_s;       /* objects done per second over the window */
  double bytes_per_s;         /* bytes copied per second over the window */
  double done_bytes_per_s;    /* bytes done (incl. skipped/failed sizes) per s */
  int64_t eta_s;              /* -1 unknown (still listing, no rate), 0 done */
  int64_t first_ms;           /* earliest started_ms of a counted result, 0 none */
  int64_t last_ms;            /* latest finished_ms of a counted result, 0 none */
  int64_t start_ms;           /* the run's first task record (its listing began), 0 none */
  size_t workers;             /* workers with a counted result in the run */
  int64_t busy_ms;            /* sum over those workers of first start .. last
                                 finish of their results: the worker-time a
                                 trial's per-worker rate is measured over */
} tally_figures_t;

typedef struct tally_run_view {
  int run;
  tally_kind_t kind;
  int retry_of;               /* for retries: the full run; else 0 */
  int has_record;             /* a task record of this run was seen */
  tally_figures_t f;
} tally_run_view_t;

typedef struct tally_view {
  char *task;                 /* owned */
  int latest_run;             /* highest run seen in any record */
  int base_run;               /* the latest full run */
  int has_def;                /* src/dst/policy known (from a task record) */
  msg_loc_t src, dst;         /* owned copies when has_def */
  msg_policy_t policy;
  int64_t updated_ms;         /* newest record time seen (record or result) */
  int64_t now_ms;             /* the clock the view was made with */
  int64_t rate_window_ms;
  tally_figures_t f;          /* the task: base run + its retries */
  tally_run_view_t *runs;     /* owned, by run ascending */
  size_t n_runs;
  char *incomplete;           /* owned: why the figures may miss records (the
                                 broker deleted some), NULL when complete */
  const char *ctl_state;      /* the console's state of the task (taskstate
                                 topic, report/console.h), static; NULL when
                                 none. The tally leaves it NULL: the
                                 reporter sets it for the page */
} tally_view_t;

/* Fills *out (uninitialized on entry) with task's status at now_ms.
 * FERRY_ERR_NOTFOUND when no record names the task; *out is then a
 * TALLY_PENDING view of that name, to be released like any other. */
ferry_err_t tally_view(const tally_t *t, const char *task, int64_t now_ms,
                       tally_view_t *out);
void tally_view_release(tally_view_t *v);

/* Marks every task's figures incomplete: records the reporter needed were
 * deleted by the broker (retention) before it read them. The first reason
 * is kept (copied); views carry it. */
void tally_set_incomplete(tally_t *t, const char *why);

/* ETA in seconds to finish remaining objects / bytes at the given rates:
 * the larger of the two estimates that can be made (a zero remaining needs
 * no rate); -1 when something remains and no rate covers it. Pure. */
int64_t tally_eta_s(uint64_t remaining_objects, uint64_t remaining_bytes,
                    double objects_per_s, double bytes_per_s);

/* ---------- rendering ---------- */

/* The view as JSON (the reporter's --json and HTTP API); new reference. */
json_t *tally_view_json(const tally_view_t *v);

/* Multi-line human status of one task (--once --task, --watch). */
void tally_view_text(const tally_view_t *v, fbuf_t *out);
/* Header and one row per view: the every-task table. */
void tally_table_text(const tally_view_t *views, size_t n, fbuf_t *out);
/* One progress line, like `rclone -P`'s summary, without newline. */
void tally_view_line(const tally_view_t *v, fbuf_t *out);

/* "1.5 GiB", "512 B"; "3h2m1s", "45s", "-" for negative. */
void tally_fmt_bytes(fbuf_t *out, double bytes);
void tally_fmt_duration(fbuf_t *out, int64_t s);

/* ---------- still-failed objects ---------- */

/* One still-failed object: its key and its latest outcome. Strings are
 * owned by the array (tally_failed_rows_free). */
typedef struct tally_failed_row {
  const char *key;
  uint64_t size;
  msg_status_t status;
  const char *label;          /* tally_outcome_label of the outcome */
  const char *reason, *code, *message, *segment, *etag;   /* may be NULL */
  int run;                    /* the run of that outcome */
  int attempts, http_status;
  int64_t at_ms;              /* last attempt, 0 unknown */
  int permanent;              /* tally_label_permanent(label) */
} tally_failed_row_t;

/*
 * THE still-failed set of task, shared by the view's `failed`, the export
 * and ferry-lister --retry-failed: every key of the base run (the latest
 * full run) whose latest outcome over the base run and the retries of it
 * before run upto_run is a failure (docs/reporter.md). upto_run <= 0: every
 * run. *rows is a new array sorted by key (tally_failed_rows_free; NULL
 * when none); returns its length. Memory: the rows (one pass over the
 * task's keys on disk).
 */
size_t tally_still_failed(const tally_t *t, const char *task, int upto_run,
                          tally_failed_row_t **rows);
/* The same set in chunks, for a reader that must not hold it all: the rows
 * with keys after `after` (NULL: from the first), at most max of them. The
 * next chunk starts after the last row's key; 0 rows: the end. */
size_t tally_still_failed_from(const tally_t *t, const char *task, int upto_run,
                               const char *after, size_t max, tally_failed_row_t **rows);
void tally_failed_rows_free(tally_failed_row_t *rows, size_t n);

/* 1 when a failure labelled so will fail again however often it is
 * retried, until someone fixes its cause: "vanished" (source deleted),
 * "access-denied", "no-such-bucket", "credentials", "signature", "http-403",
 * "http-404". Everything else (5xx, timeouts, "changed", "integrity", ...)
 * may succeed on a retry. */
int tally_label_permanent(const char *label);

/* ---------- export of still-failed objects ---------- */

typedef enum tally_export_fmt { TALLY_EXPORT_CSV = 0, TALLY_EXPORT_JSONL } tally_export_fmt_t;

/* Parses "csv" / "jsonl"; -1 when unknown. */
int tally_export_fmt_parse(const char *s, tally_export_fmt_t *out);

/*
 * Appends to out the objects of task that are still failed
 * (tally_still_failed: exactly those the task view counts in `failed`),
 * sorted by key. CSV: a header row, then
 * key,size,status,reason,http_status,code,message,attempts,last_attempt,
 * run,segment,etag (RFC 4180 quoting). JSONL: one object per line with the
 * same members (last_attempt_ms too). *n_rows gets the number of objects.
 * An unknown task gives an empty export (CSV: the header only).
 */
void tally_export_failed(const tally_t *t, const char *task,
                         tally_export_fmt_t fmt, fbuf_t *out, size_t *n_rows);

/*
 * The same export in chunks, for a server that must not hold the tally's
 * lock, nor the whole list in memory, while a client reads it: a cursor
 * (the last key written) that each call moves on. The caller holds whatever
 * guards t during each call only; between calls t may change. Every key is
 * written at most once and in key order, with its outcome as of the call
 * that writes it; a key that fails after the cursor passed it is not
 * written. Memory O(max_rows); a call walks the key index from the cursor
 * to its last row (keys no longer failed in between included).
 */
typedef struct tally_export tally_export_t;
tally_export_t *tally_export_new(const char *task, tally_export_fmt_t fmt);
void tally_export_free(tally_export_t *x);
/* Appends the next chunk (the CSV header first): up to max_rows rows, and
 * no more once the chunk has reached max_bytes (at least one row). Returns
 * 1 when it appended something or may still, 0 once the export is complete
 * (nothing appended). */
int tally_export_next(tally_export_t *x, const tally_t *t, size_t max_rows,
                      size_t max_bytes, fbuf_t *out);
/* Rows written so far. */
size_t tally_export_rows(const tally_export_t *x);

/* One CSV field, RFC 4180: quoted when it holds a comma, a quote, CR or LF,
 * or starts or ends with a space; quotes doubled. A value that begins with
 * '=', '+', '-', '@', TAB or CR (a formula to a spreadsheet: OWASP's "CSV
 * injection") or with a single quote is written quoted with a single quote
 * before it ("'=1+2"), so that a reader (listfile.h) removes exactly one
 * leading quote to get it back. NULL writes nothing. */
void tally_csv_field(fbuf_t *out, const char *s);
/* Whether tally_csv_field marks s with a leading single quote. */
int tally_csv_neutralised(const char *s);

/* "2024-01-15T08:30:19.870Z"; empty for ms <= 0. buf >= 32 bytes. */
void tally_fmt_time_ms(char *buf, size_t n, int64_t ms);

#endif
