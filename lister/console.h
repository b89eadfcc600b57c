/*
 * console.h: the console's master (master.c, ferry-lister --serve) and the
 * CLI's commands to it (console.c, --submit, --start, ...): docs/lister.md,
 * "Master".
 */
#ifndef FERRY_LISTER_CONSOLE_H
#define FERRY_LISTER_CONSOLE_H

#include "bus/control.h"
#include "conf/config.h"

/* Exit statuses of the commands. */
enum {
  CONSOLE_EXIT_OK = 0,      /* the master applied the command */
  CONSOLE_EXIT_NOACK = 1,   /* no ack within the wait (no master?), or a broker error */
  CONSOLE_EXIT_REFUSED = 2  /* the master refused it (the ack says why); also bad arguments */
};

/* Runs the master until SIGTERM/SIGINT; a lister exit status. */
int lister_master(const ferry_conf_t *conf);

typedef struct console_cmd {
  ctl_cmd_t cmd;
  const char *task;      /* NULL for create: the spec's name */
  const char *spec_file; /* create: the spec, "-" = stdin */
  ctl_limits_t limits;   /* limits (borrowed) */
  int wait_s;            /* for the ack; 0 = 30 */
} console_cmd_t;

/* Produces the command, waits for its ack and prints it. */
int lister_command(const ferry_conf_t *conf, const console_cmd_t *c);

#endif
