/*
 * libFuzzer target: the configuration loader, conf_load_string(), with
 * CONF_NO_INCLUDE so that no input can make it read a file (@include is
 * refused; lib/conf/config.h). Each input is loaded twice, with and without
 * CONF_SKIP_CREDENTIALS (credentials then come from inline values or the
 * environment, where the fuzzer sets none).
 *
 * Checked: a rejected config says why, one '\n'-terminated line per
 * problem; an accepted one has what docs/config.md promises of every
 * location, and conf_destroy frees it all (LeakSanitizer).
 */
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "fuzz_util.h"

static void load_once(const char *text, unsigned flags) {
  fbuf_t errs, warns;
  ferry_conf_t *c;
  size_t i;
  fbuf_init(&errs, 0);
  fbuf_init(&warns, 0);
  c = conf_load_string(text, "fuzz.conf", flags | CONF_NO_INCLUDE, &errs, &warns);
  if (!c) {
    FUZZ_CHECK(errs.len > 0 && fbuf_str(&errs)[errs.len - 1] == '\n');
  } else {
    FUZZ_CHECK(errs.len == 0);
    for (i = 0; i < c->n_tasks; i++) {
      const task_conf_t *t = &c->tasks[i];
      FUZZ_CHECK(t->name && *t->name);
      FUZZ_CHECK(t->dst.kind == CONF_LOC_STORE && t->dst.bucket && *t->dst.bucket);
      FUZZ_CHECK(t->src.kind == CONF_LOC_URLS ? t->src.path != NULL
                                              : t->src.bucket && *t->src.bucket);
      FUZZ_CHECK(t->src.kind == CONF_LOC_URLS || conf_store(c, t->src.store) != NULL);
      FUZZ_CHECK(conf_store(c, t->dst.store) != NULL);
    }
    for (i = 0; i < c->n_stores; i++) FUZZ_CHECK(c->stores[i].name != NULL);
    conf_destroy(c);
  }
  if (warns.len) FUZZ_CHECK(fbuf_str(&warns)[warns.len - 1] == '\n');
  fbuf_release(&errs);
  fbuf_release(&warns);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* The loader takes a C string: an embedded NUL ends the text. */
  char *text = malloc(size + 1);
  FUZZ_CHECK(text != NULL);
  memcpy(text, data, size);
  text[size] = '\0';
  load_once(text, 0);
  load_once(text, CONF_SKIP_CREDENTIALS);
  free(text);
  return 0;
}
