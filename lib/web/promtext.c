/* promtext.c: see promtext.h. */
#include "web/promtext.h"

#include <inttypes.h>

void prom_label_escape(fbuf_t *out, const char *s) {
  const char *p, *run = s;
  if (!s) return;
  for (p = s; *p; p++) {
    const char *esc;
    switch (*p) {
    case '\\': esc = "\\\\"; break;
    case '"': esc = "\\\""; break;
    case '\n': esc = "\\n"; break;
    default: continue;
    }
    fbuf_add(out, run, (size_t)(p - run));
    fbuf_adds(out, esc);
    run = p + 1;
  }
  fbuf_add(out, run, (size_t)(p - run));
}

void prom_head(fbuf_t *out, const char *name, const char *type, const char *help) {
  fbuf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void name_labels(fbuf_t *out, const char *name, const char *const *labels) {
  fbuf_adds(out, name);
  if (!labels || !labels[0]) return;
  fbuf_addc(out, '{');
  for (const char *const *l = labels; l[0] && l[1]; l += 2) {
    if (l != labels) fbuf_addc(out, ',');
    fbuf_addf(out, "%s=\"", l[0]);
    prom_label_escape(out, l[1]);
    fbuf_addc(out, '"');
  }
  fbuf_addc(out, '}');
}

void prom_u64(fbuf_t *out, const char *name, const char *const *labels, uint64_t v) {
  name_labels(out, name, labels);
  fbuf_addf(out, " %" PRIu64 "\n", v);
}

void prom_f64(fbuf_t *out, const char *name, const char *const *labels, double v) {
  name_labels(out, name, labels);
  fbuf_addf(out, " %.17g\n", v);
}
