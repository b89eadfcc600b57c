/*
 * units.h: the value parsers of sizes, durations, times and daily time
 * windows that the config loader and the services' options share. Pure, thread-safe; out is
 * untouched on error, errbuf (FERRY_ERRLEN) says why.
 */
#ifndef FERRY_CORE_UNITS_H
#define FERRY_CORE_UNITS_H

#include <stdint.h>

#include "core/ferry.h"

/* Bytes: "1048576", "64M", "64MiB", "64 MB", "1G". Suffixes K M G T P are
 * binary (1K = 1024), case-insensitive, optionally followed by "iB" or "B". */
ferry_err_t conf_parse_size(const char *s, uint64_t *out, char *errbuf);
/* A duration: "250ms", "30s", "5m", "2h", "1d"; a bare number counts in
 * bare_unit_ms (1 for *_ms keys, 1000 for *_s keys). Result in ms. */
ferry_err_t conf_parse_duration(const char *s, int64_t bare_unit_ms, int64_t *out_ms,
                                char *errbuf);
/* "YYYY-MM-DD" (UTC midnight) or "YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM|-HH:MM]"
 * (no zone = UTC). Unix seconds. */
ferry_err_t conf_parse_time(const char *s, int64_t *out, char *errbuf);

/* A daily time window, local time, in minutes after midnight: [start, end).
 * end < start wraps past midnight ("22:00-06:00"); end may be 1440 ("24:00"). */
typedef struct conf_window {
  int start_min;
  int end_min;
} conf_window_t;

typedef struct conf_windows {
  conf_window_t *v; /* owned */
  size_t n;         /* 0 = always allowed */
} conf_windows_t;

/* "HH:MM-HH:MM". */
ferry_err_t conf_parse_window(const char *s, conf_window_t *out, char *errbuf);

/* 1 when minute_of_day (0..1439) falls inside one of the windows, or when
 * there are none. */
int conf_windows_allow(const conf_windows_t *w, int minute_of_day);

/* A bandwidth schedule entry, "HH:MM-HH:MM=SIZE" (SIZE as conf_parse_size;
 * 0 = unlimited), as a task's bandwidth_schedule lists them. */
ferry_err_t conf_parse_bwsched(const char *s, conf_window_t *win, uint64_t *bw, char *errbuf);
/* The bandwidth a schedule gives at minute_of_day: the first entry whose
 * window holds it (invalid entries are passed over), else otherwise. */
uint64_t conf_bwsched_at(const char *const *sched, size_t n, int minute_of_day,
                         uint64_t otherwise);

#endif
