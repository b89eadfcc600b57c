/*
 * promtext.h: writing the Prometheus text exposition format (0.0.4), for the
 * reporter's and the workers' /metrics.
 */
#ifndef FERRY_WEB_PROMTEXT_H
#define FERRY_WEB_PROMTEXT_H

#include <stdint.h>

#include "core/buf.h"

/* A label value: backslash, double quote and newline escaped. */
void prom_label_escape(fbuf_t *out, const char *s);

/* "# HELP name help\n# TYPE name type\n" */
void prom_head(fbuf_t *out, const char *name, const char *type, const char *help);

/* name{l1="v1",l2="v2"} value\n — labels as a NULL-terminated name, value
 * list (NULL or empty: no braces); values escaped. */
void prom_u64(fbuf_t *out, const char *name, const char *const *labels, uint64_t v);
void prom_f64(fbuf_t *out, const char *name, const char *const *labels, double v);

#endif
