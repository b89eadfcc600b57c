/*
 * control.h: the console's messages and their JSON codecs
 * (docs/messages.md, "control" and "taskstate").
 *
 * `control` (key: task name) carries commands — create, start,
 * retry-failed, pause, resume, cancel, limits — from the page and the CLI to
 * the master, and the master's ack of each: the log of who asked what, when,
 * and what came of it. `taskstate` (compacted, key: task name) is the
 * master's table of tasks: each task's spec, its state and its live limits;
 * only the acting master writes it, workers and the reporter read it.
 * Pure, thread-safe; decoders never crash on any input and name the field.
 */
#ifndef FERRY_BUS_CONTROL_H
#define FERRY_BUS_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "core/ferry.h"

typedef enum ctl_cmd {
  CTL_CREATE = 0, /* "create": spec required */
  CTL_START,      /* "start": a full run */
  CTL_RETRY,      /* "retry-failed": the latest run's still-failed objects */
  CTL_PAUSE,      /* "pause" */
  CTL_RESUME,     /* "resume" */
  CTL_CANCEL,     /* "cancel" */
  CTL_LIMITS,     /* "limits": limits required */
  CTL_CMD__COUNT
} ctl_cmd_t;

typedef enum ctl_state {
  CTLS_CREATED = 0, /* "created": known, never started */
  CTLS_RUNNING,     /* "running": started (listing or copying) */
  CTLS_PAUSED,      /* "paused": workers start none of its objects */
  CTLS_CANCELLED,   /* "cancelled": terminal, nothing more is copied */
  CTLS__COUNT
} ctl_state_t;

const char *ctl_cmd_str(ctl_cmd_t c);      /* "retry-failed", ...; "?" if out of range */
int ctl_cmd_parse(const char *s, ctl_cmd_t *out);      /* 0, or -1 unknown */
const char *ctl_state_str(ctl_state_t s);
int ctl_state_parse(const char *s, ctl_state_t *out);

/* A task's live limits. schedule: "HH:MM-HH:MM=SIZE" entries as the config's
 * tasks[].bandwidth_schedule (conf_parse_bwsched checks them; the codec only
 * requires non-empty strings). */
typedef struct ctl_limits {
  uint64_t qps;        /* requests/s over the fleet, 0 = unlimited */
  uint64_t bandwidth;  /* bytes/s over the fleet outside the schedule, 0 = unlimited */
  char **schedule;     /* owned */
  size_t n_schedule;
} ctl_limits_t;

/* One record of the control topic: a command, or (is_ack) the master's
 * answer to the command with the same id. */
typedef struct msg_control {
  int is_ack;          /* "type": "ack" (1) or "command" (0) */
  char *id;            /* 16 lowercase hex digits; an ack repeats its command's */
  ctl_cmd_t cmd;
  char *task;          /* task name */
  char *by;            /* who: "operator:alice", "cli:root@host", "master:host-12"; never a secret */
  int64_t at_ms;       /* Unix ms */
  char *spec;          /* create: the task spec, a JSON object as compact text; else NULL */
  int has_limits;      /* limits: required; else absent */
  ctl_limits_t limits;
  int ok;              /* ack: applied (1) or refused (0) */
  char *error;         /* ack refused: why, in the config loader's words; else NULL */
} msg_control_t;

/* One record of the taskstate topic. */
typedef struct msg_taskstate {
  char *task;
  int console;         /* "origin": "console" (1) or "config" (0) */
  ctl_state_t state;
  int run;             /* latest run started by the master, 0 = none yet */
  char *spec;          /* the task spec, a JSON object as compact text */
  ctl_limits_t limits;
  int64_t updated_ms;
  char *by;            /* who caused this record; may be NULL */
  char *cmd;           /* id of the command applied; may be NULL (config task at start) */
} msg_taskstate_t;

void ctl_limits_release(ctl_limits_t *l);
void ctl_limits_copy(ctl_limits_t *dst, const ctl_limits_t *src);
void msg_control_release(msg_control_t *c);
void msg_taskstate_release(msg_taskstate_t *t);

/* Fills out with 16 random lowercase hex digits and a NUL. */
void ctl_new_id(char out[17]);

/* New compact JSON text, or NULL when a required field is missing (a create
 * without spec, a limits without limits, an ack refused without error) or a
 * string is not valid UTF-8, or spec is not a JSON object. */
char *msg_control_encode(const msg_control_t *c);
char *msg_taskstate_encode(const msg_taskstate_t *t);

/* out is uninitialized on entry; release it on success only. Errors name the
 * field: "control.limits.schedule[1]: not a string". */
ferry_err_t msg_control_decode(const char *buf, size_t len, msg_control_t *out,
                               char *errbuf);
ferry_err_t msg_taskstate_decode(const char *buf, size_t len, msg_taskstate_t *out,
                                 char *errbuf);

#endif
