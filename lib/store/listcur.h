/*
 * listcur.h: where a listing goes next, and whether the store moved on.
 *
 * A ListObjects walk asks page after page; after a truncated page it goes on
 * with the page's continuation token (V2), or, when the store gives none,
 * after the page's last key (start-after for V2, marker for V1; V1's
 * NextMarker when given). A store that ignores those (ListObjectsV2 not
 * supported, start-after ignored) answers page one again and again: a walk
 * that does not check would re-publish it for ever.
 *
 * The cursor checks each page against the one before: a page that does not
 * advance (it starts where the previous one started, or at the key it was
 * asked to start after, or ends where the previous one ended) is an error
 * naming the store — or, with list_api = auto while on V2, the cursor falls
 * back to V1 (marker) from where the walk stood, and the page is discarded.
 *
 * Pure: no I/O (the caller fetches with store_list_ex). Not thread-safe: one
 * cursor per walk.
 */
#ifndef FERRY_STORE_LISTCUR_H
#define FERRY_STORE_LISTCUR_H

#include <stdint.h>

#include "core/ferry.h"
#include "store/store.h"
#include "store/xml.h"

typedef struct store_listcur {
  store_list_api_t mode;  /* as configured */
  store_list_api_t api;   /* in use: STORE_LIST_V2 or STORE_LIST_V1 */
  char *token;            /* V2 continuation token for the next page, or NULL */
  char *after;            /* start-after (V2) / marker (V1) for the next page, or NULL */
  char *first, *last;     /* first and last key of the previous page taken */
  uint64_t pages;         /* pages taken */
  int done;               /* the last page was not truncated */
  char *what;             /* "store:bucket[/prefix]" for messages */
} store_listcur_t;

/* mode: the store's list_api; start_after (may be NULL) the key to start
 * after (a resumed listing); what: names the listing in errors (copied). */
void store_listcur_init(store_listcur_t *c, store_list_api_t mode, const char *start_after,
                        const char *what);
void store_listcur_release(store_listcur_t *c);

/* The next page's parameters: for V2 the token when there is one (then no
 * start-after), else start-after; for V1 the marker. */
const char *store_listcur_token(const store_listcur_t *c);
const char *store_listcur_after(const store_listcur_t *c);

/* Takes a fetched page. Returns 1: use the page (the cursor has moved past
 * it; c->done when it was the last); 0: discard it and fetch again (auto
 * fell back to V1, logged); -1: the listing cannot go on, errbuf says why
 * and names the store (a page that does not advance, a truncated page with
 * nothing to go on from). */
int store_listcur_take(store_listcur_t *c, const store_list_page_t *p, char errbuf[FERRY_ERRLEN]);

#endif
