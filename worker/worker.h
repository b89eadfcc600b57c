/* worker.h: the worker's two drivers over the copy engine. */
#ifndef FERRY_WORKER_H
#define FERRY_WORKER_H

#include "conf/config.h"
#include "xfer/engine.h"

/* Segments as JSON lines from path ("-" = stdin); outcomes as JSON lines on
 * stdout. Returns the exit status (0, 3, 1). */
int worker_run_file(const ferry_conf_t *conf, const char *path);
/* Consumer-group member until SIGTERM/SIGINT. Returns the exit status. */
int worker_run_kafka(const ferry_conf_t *conf);

/* Set by the signal handler; drivers stop taking work when it is set. */
extern volatile int worker_stop;
void worker_install_signals(void);

/* "uploads_resumed=N parts_reused=N uploads_left=N uploads_aborted=N
 * uploads_abort_failed=N" for the summary line (a static buffer). */
const char *worker_uploads_summary(const xfer_stats_t *st);

#endif
