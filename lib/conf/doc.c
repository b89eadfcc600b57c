/*
 * doc.c: the config reference generated from the key tables (key paths
 * and the markdown docs/config.md carries between its GENERATED markers).
 */
#include "conf/confint.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

static void key_prefix(const section_t *sec, char *out, size_t n) {
  if (!sec->name)
    *out = 0;
  else
    snprintf(out, n, "%s%s.", sec->name, sec->is_list ? "[]" : "");
}

size_t conf_key_count(void) {
  size_t i, n = 0;
  for (i = 0; i < FERRY_ARRAY_LEN(conf_sections); i++) n += conf_sections[i].n_keys;
  return n;
}

int conf_key_path(size_t idx, char *out, size_t n) {
  size_t i;
  char pfx[32];
  for (i = 0; i < FERRY_ARRAY_LEN(conf_sections); i++) {
    if (idx < conf_sections[i].n_keys) {
      key_prefix(&conf_sections[i], pfx, sizeof(pfx));
      snprintf(out, n, "%s%s", pfx, conf_sections[i].keys[idx].name);
      return 0;
    }
    idx -= conf_sections[i].n_keys;
  }
  return -1;
}

static const char *type_doc(const ckey_t *k, char *buf, size_t n) {
  const kenum_t *e;
  size_t len = 0;
  switch (k->type) {
    case KT_STR:
      return "string";
    case KT_SECRET:
      return "string (secret)";
    case KT_BOOL:
      return "bool";
    case KT_INT:
      return "integer";
    case KT_SIZE:
      return "size";
    case KT_DUR_MS:
      return "duration (ms)";
    case KT_DUR_S:
      return "duration (s)";
    case KT_LOC:
      return "location";
    case KT_TIME:
      return "date";
    case KT_STRLIST:
      return "list of strings";
    case KT_KVLIST:
      return "list of \"k=v\"";
    case KT_WINDOWS:
      return "list of \"HH:MM-HH:MM\"";
    case KT_ENUM:
      for (e = k->enums; e->word; e++) {
        int w = snprintf(buf + len, n - len, "%s`%s`", len ? ", " : "", e->word);
        if (w < 0 || (size_t)w >= n - len) break;
        len += (size_t)w;
      }
      return buf;
  }
  return "?";
}

void conf_doc_markdown(fbuf_t *out) {
  size_t i, j;
  for (i = 0; i < FERRY_ARRAY_LEN(conf_sections); i++) {
    const section_t *sec = &conf_sections[i];
    char pfx[32];
    key_prefix(sec, pfx, sizeof(pfx));
    fbuf_addf(out, "### %s\n\n%s\n\n", sec->name ? sec->name : "Top level", sec->doc);
    fbuf_adds(out, "| key | type | default | range | meaning |\n");
    fbuf_adds(out, "|---|---|---|---|---|\n");
    for (j = 0; j < sec->n_keys; j++) {
      const ckey_t *k = &sec->keys[j];
      char tb[256], def[128], range[80];
      if (k->flags & KF_REQUIRED)
        snprintf(def, sizeof(def), "required");
      else if (k->def && (k->type == KT_STR || k->type == KT_ENUM ||
                          (k->type == KT_SIZE &&
                           !isdigit((unsigned char)k->def[strlen(k->def) - 1]))))
        snprintf(def, sizeof(def), "`\"%s\"`", k->def);
      else if (k->def)
        snprintf(def, sizeof(def), "`%s`", k->def);
      else if (k->defdoc)
        snprintf(def, sizeof(def), "%s", k->defdoc);
      else if (k->type == KT_STRLIST || k->type == KT_KVLIST || k->type == KT_WINDOWS)
        snprintf(def, sizeof(def), "`[]`");
      else
        snprintf(def, sizeof(def), "unset");
      conf_range_str(range, sizeof(range), k);
      fbuf_addf(out, "| `%s%s` | %s | %s | %s | %s |\n", pfx, k->name,
                type_doc(k, tb, sizeof(tb)), def, range, k->doc);
    }
    fbuf_adds(out, "\n");
  }
}
