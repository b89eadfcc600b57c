/*
 * mstate.h: the master's rules for a command on a task (pure; master.c
 * applies them, tests/unit/test_mstate.c checks them; docs/lister.md
 * "Master" has the table).
 */
#ifndef FERRY_LISTER_MSTATE_H
#define FERRY_LISTER_MSTATE_H

#include <stddef.h>

#include "bus/control.h"

/* What the master does for cmd (not create) on task in state s, a listing
 * child at work or not: NULL with *next (== s when nothing changes), or the
 * refusal written into err (n bytes) and returned. */
const char *mstate_apply(ctl_cmd_t cmd, const char *task, ctl_state_t s, int listing,
                         ctl_state_t *next, char *err, size_t n);

/* NULL when l is acceptable live limits, else the refusal written into err:
 * qps 0 or 1..1000000, bandwidth 0 or 1K..1T (the tasks[] keys' ranges),
 * schedule entries as conf_parse_bwsched takes them. */
const char *mstate_check_limits(const ctl_limits_t *l, char *err, size_t n);

#endif
