/* run_kafka.c: the consumer-group driver (issue 4). */
#include <stdio.h>

#include "worker/worker.h"

int worker_run_kafka(const ferry_conf_t *conf) {
  (void)conf;
  fprintf(stderr, "ferry-worker: Kafka mode is not built yet; use --segments-from\n");
  return 1;
}
