/*
 * audit_export.h: --export-audit: a task's audit records (bus/audit.h), read
 * from the audit topic from the beginning to its end as of the start, one
 * row per object written, streamed to a file: memory does not grow with the
 * number of records. docs/reporter.md, "Exporting the audit trail".
 */
#ifndef FERRY_REPORTER_AUDIT_EXPORT_H
#define FERRY_REPORTER_AUDIT_EXPORT_H

#include <stdio.h>

#include "bus/audit.h"
#include "bus/bus.h"
#include "report/tally.h"
#include "core/buf.h"

/* The rows of one audit message of task a->task, into out; CSV fields are
 * neutralised as the failed export's (tally_csv_field). */
void audit_rows(const msg_audit_t *a, tally_export_fmt_t fmt, fbuf_t *out);
/* The CSV header line. */
const char *audit_csv_header(void);

typedef struct audit_export_stats {
  size_t rows;           /* records written */
  size_t messages;       /* audit messages of the task */
  size_t bad;            /* messages of the task that did not decode (logged, skipped) */
} audit_export_stats_t;

/* Scans the audit topic of c, writing task's rows to f. timeout_ms bounds
 * every wait on the brokers. FERRY_ERR_NOTFOUND: no audit topic. */
ferry_err_t audit_export(const bus_conf_t *c, const char *task, tally_export_fmt_t fmt,
                         FILE *f, int timeout_ms, audit_export_stats_t *st, char *errbuf);

#endif
