/*
 * xconf.h: the copy engine's settings from a loaded config (worker section).
 */
#ifndef FERRY_XFER_XCONF_H
#define FERRY_XFER_XCONF_H

#include "conf/config.h"
#include "xfer/engine.h"

/* Fills x from c->worker; x borrows c's storage class map (c must outlive
 * the engine's creation, which copies it). */
void xfer_conf_from_config(xfer_conf_t *x, const ferry_conf_t *c);

#endif
