/*
 * config.c: ferry's configuration loader.
 *
 * One table per section (below) lists every key with its type, default,
 * range and doc line. parse_group() walks a libconfig group against its
 * table, the post_*() functions check what involves several keys, and
 * conf_doc_markdown() prints the same tables for docs/config.md. Every problem
 * is appended to the caller's buffer as "FILE:LINE: key.path: message", and
 * loading goes on after an error so that one run reports them all.
 *
 * Secrets: values of secret keys, credential variables and Kafka properties
 * never enter a message; messages name the key or the variable instead.
 */
#include "conf/config.h"
#include "conf/confint.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <libconfig.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/enc.h"

#include "bus/bus.h"
#include "policy/policy.h"

/* ------------------------------------------------------------------------ */
/* Loader context and messages                                               */

typedef struct srcfile {
  char *name;
  char *text; /* NULL when unreadable */
} srcfile_t;

typedef struct inline_secret {
  char *file;
  int line;
  char *path;
  const char *hint;
} inline_secret_t;

/* One message, kept until the end so that all come out sorted by place. */
typedef struct cmsg {
  int warn;
  char *file;
  int line;
  size_t seq;
  char *text; /* "key.path: message" */
} cmsg_t;

typedef struct ctx {
  const char *name; /* the main file, or the name of a string */
  const char *text; /* the string, when loading one */
  unsigned flags;
  fbuf_t *errors;
  fbuf_t *warnings;
  int n_errors;
  srcfile_t *files;
  size_t n_files;
  inline_secret_t *secrets;
  size_t n_secrets;
  bus_propcheck_t *rk; /* checks Kafka property names and values */
  cmsg_t *msgs;
  size_t n_msgs;
  uint64_t failed[7]; /* per group section: bit i = key i was rejected */
} ctx_t;

static const char *src_file(const ctx_t *c, const config_setting_t *s) {
  const char *f = s ? config_setting_source_file(s) : NULL;
  return f ? f : c->name;
}

static void add_msg(ctx_t *c, int warn, const char *file, int line, const char *text) {
  cmsg_t *m;
  c->msgs = fx_realloc(c->msgs, (c->n_msgs + 1) * sizeof(*c->msgs));
  m = &c->msgs[c->n_msgs];
  m->warn = warn;
  m->file = fx_strdup(file);
  m->line = line;
  m->seq = c->n_msgs++;
  m->text = fx_strdup(text);
}

static void vreport(ctx_t *c, int warn, const config_setting_t *s, const char *path,
                    const char *fmt, va_list ap) {
  char msg[1024], text[1400];
  vsnprintf(msg, sizeof(msg), fmt, ap);
  snprintf(text, sizeof(text), "%s%s%s%s", path && *path ? path : "",
           path && *path ? ": " : "", warn ? "warning: " : "", msg);
  add_msg(c, warn, src_file(c, s), s ? (int)config_setting_source_line(s) : 0, text);
}

static int msg_cmp(const void *a, const void *b, void *arg) {
  const cmsg_t *x = a, *y = b;
  const char *main_file = arg;
  int xm = strcmp(x->file, main_file) != 0, ym = strcmp(y->file, main_file) != 0, d;
  if (xm != ym) return xm - ym;
  if ((d = strcmp(x->file, y->file)) != 0) return d;
  if (x->line != y->line) return x->line < y->line ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Appends the messages, sorted by file and line, to the caller's buffers. */
static void flush_msgs(ctx_t *c) {
  size_t i;
  if (!c->n_msgs) return;
  qsort_r(c->msgs, c->n_msgs, sizeof(*c->msgs), msg_cmp, (void *)c->name);
  for (i = 0; i < c->n_msgs; i++) {
    cmsg_t *m = &c->msgs[i];
    fbuf_t *b = m->warn ? c->warnings : c->errors;
    if (b) {
      fbuf_adds(b, m->file);
      if (m->line > 0) fbuf_addf(b, ":%d", m->line);
      fbuf_addf(b, ": %s\n", m->text);
    }
    fx_free(m->file);
    fx_free(m->text);
  }
  fx_free(c->msgs);
  c->msgs = NULL;
  c->n_msgs = 0;
}

static void cerr(ctx_t *c, const config_setting_t *s, const char *path, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));
static void cerr(ctx_t *c, const config_setting_t *s, const char *path, const char *fmt,
                 ...) {
  va_list ap;
  c->n_errors++;
  va_start(ap, fmt);
  vreport(c, 0, s, path, fmt, ap);
  va_end(ap);
}

static void cwarn(ctx_t *c, const config_setting_t *s, const char *path, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));
static void cwarn(ctx_t *c, const config_setting_t *s, const char *path, const char *fmt,
                  ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport(c, 1, s, path, fmt, ap);
  va_end(ap);
}

static void note_secret(ctx_t *c, const config_setting_t *s, const char *path,
                        const char *hint) {
  const char *f = s ? config_setting_source_file(s) : NULL;
  inline_secret_t *x;
  if (!f) return; /* a string has no file mode to check */
  c->secrets = fx_realloc(c->secrets, (c->n_secrets + 1) * sizeof(*c->secrets));
  x = &c->secrets[c->n_secrets++];
  x->file = fx_strdup(f);
  x->line = (int)config_setting_source_line(s);
  x->path = fx_strdup(path);
  x->hint = hint;
}

/* The text of a source file, read once (for the integer literal check). */
static const char *file_text(ctx_t *c, const char *file) {
  size_t i;
  FILE *fp;
  fbuf_t b;
  char chunk[4096];
  size_t n;
  if (!file) return c->text;
  for (i = 0; i < c->n_files; i++)
    if (strcmp(c->files[i].name, file) == 0) return c->files[i].text;
  c->files = fx_realloc(c->files, (c->n_files + 1) * sizeof(*c->files));
  c->files[c->n_files].name = fx_strdup(file);
  c->files[c->n_files].text = NULL;
  fp = fopen(file, "r");
  if (fp) {
    fbuf_init(&b, 64 * MiB);
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
      if (fbuf_add(&b, chunk, n) != FERRY_OK) break;
    fclose(fp);
    c->files[c->n_files].text = fbuf_steal(&b);
  }
  return c->files[c->n_files++].text;
}

/*
 * libconfig 1.5 silently truncates an integer literal that does not fit in 32
 * bits unless it carries an L suffix (5000000000 reads as 705032704). We find
 * the literal on the setting's line and compare. Returns 0 when it was cut.
 */
static int literal_fits(ctx_t *c, const config_setting_t *s) {
  const char *text, *p, *end, *name;
  size_t nlen;
  int line, l;
  if (config_setting_type(s) != CONFIG_TYPE_INT) return 1;
  name = config_setting_name(s);
  line = (int)config_setting_source_line(s);
  text = file_text(c, config_setting_source_file(s));
  if (!text || !name || line <= 0) return 1;
  for (p = text, l = 1; *p && l < line; p++)
    if (*p == '\n') l++;
  end = strchr(p, '\n');
  if (!end) end = p + strlen(p);
  nlen = strlen(name);
  for (; p + nlen <= end; p++) {
    const char *q;
    char *e;
    long long v;
    if (strncmp(p, name, nlen) != 0) continue;
    if (p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '-'))
      continue;
    q = p + nlen;
    while (q < end && (*q == ' ' || *q == '\t')) q++;
    if (q >= end || (*q != '=' && *q != ':')) continue;
    q++;
    while (q < end && (*q == ' ' || *q == '\t')) q++;
    errno = 0;
    v = strtoll(q, &e, 0);
    if (e == q) return 1;
    if (errno == ERANGE) return 0;
    return v == (long long)config_setting_get_int64(s);
  }
  return 1;
}

/* ------------------------------------------------------------------------ */
/* Small helpers                                                              */

/* Edit distance where swapping two neighbours counts as one edit ("scr" vs
 * "src"), case-insensitive (optimal string alignment). */
static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b), i, j;
  static const size_t W = 65;
  size_t d[65 * 65];
  if (la > 64 || lb > 64) return 99;
  for (i = 0; i <= la; i++) d[i * W] = i;
  for (j = 0; j <= lb; j++) d[j] = j;
  for (i = 1; i <= la; i++)
    for (j = 1; j <= lb; j++) {
      int ai = tolower((unsigned char)a[i - 1]), bj = tolower((unsigned char)b[j - 1]);
      size_t v = FERRY_MIN(d[(i - 1) * W + j] + 1, d[i * W + j - 1] + 1);
      v = FERRY_MIN(v, d[(i - 1) * W + j - 1] + (ai != bj));
      if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) &&
          tolower((unsigned char)a[i - 2]) == bj)
        v = FERRY_MIN(v, d[(i - 2) * W + j - 2] + 1);
      d[i * W + j] = v;
    }
  return d[la * W + lb];
}

/* The closest of n names to s when close enough to be a typo, else NULL. */
static const char *closest(const char *s, const char *const *names, size_t n) {
  const char *best = NULL;
  size_t bd = 99, i, d, lim = strlen(s) <= 4 ? 1 : 2;
  for (i = 0; i < n; i++) {
    if (!names[i]) continue;
    d = edit_distance(s, names[i]);
    if (d < bd) {
      bd = d;
      best = names[i];
    }
  }
  return bd <= lim ? best : NULL;
}

/* Valid UTF-8 (no overlongs, no surrogates) without ASCII control characters. */
static int utf8_ok(const char *s, const char **bad) {
  size_t n = strlen(s), i, k;
  for (i = 0; i < n; i += k) {
    unsigned char c = (unsigned char)s[i];
    k = c < 0x20 || c == 0x7f ? 0 : enc_utf8_char(s + i, n - i);
    if (!k) {
      if (bad) *bad = s + i;
      return 0;
    }
  }
  return 1;
}

static void human_size(char *out, size_t n, int64_t v) {
  static const char units[] = "KMGTP";
  int u = -1;
  while (v != 0 && v % 1024 == 0 && u < 4) {
    v /= 1024;
    u++;
  }
  if (u < 0)
    snprintf(out, n, "%lld", (long long)v);
  else
    snprintf(out, n, "%lld%c", (long long)v, units[u]);
}

static void fmt_value(char *out, size_t n, const ckey_t *k, int64_t v) {
  if (k->type == KT_SIZE)
    human_size(out, n, v);
  else
    snprintf(out, n, "%lld", (long long)v);
}

void conf_range_str(char *out, size_t n, const ckey_t *k) {
  char a[32], b[32];
  if (k->type != KT_INT && k->type != KT_SIZE && k->type != KT_DUR_MS &&
      k->type != KT_DUR_S) {
    *out = 0;
    return;
  }
  fmt_value(a, sizeof(a), k, k->min);
  if (k->max == INT64_MAX)
    snprintf(b, sizeof(b), "%s", "");
  else
    fmt_value(b, sizeof(b), k, k->max);
  snprintf(out, n, "%s%s..%s", (k->flags & KF_ZERO_OK) ? "0 or " : "", a, b);
}

static int in_range(const ckey_t *k, int64_t v) {
  if (v == 0 && (k->flags & KF_ZERO_OK)) return 1;
  return v >= k->min && v <= k->max;
}

static void put_int(void *base, const ckey_t *k, int64_t v) {
  char *p = (char *)base + k->off;
  if (k->size == sizeof(int32_t)) {
    int32_t x = (int32_t)v;
    memcpy(p, &x, sizeof(x));
  } else {
    memcpy(p, &v, sizeof(v));
  }
}

static void *field(void *base, const ckey_t *k) {
  return (char *)base + k->off;
}

static void secret_clear(secret_t *s) {
  if (s->v) {
    explicit_bzero(s->v, strlen(s->v));
    fx_free(s->v);
  }
  s->v = NULL;
}

static void strv_release(conf_strv_t *v) {
  size_t i;
  for (i = 0; i < v->n; i++) fx_free(v->v[i]);
  fx_free(v->v);
  v->v = NULL;
  v->n = 0;
}

/* Zeroes the values of a list that may hold secrets, then releases it. */
static void kv_release_wipe(kvlist_t *l) {
  size_t i;
  for (i = 0; i < l->n; i++)
    if (l->v[i].value) explicit_bzero(l->v[i].value, strlen(l->v[i].value));
  kvlist_release(l);
}

/* ------------------------------------------------------------------------ */
/* Public parsers                                                             */

void conf_loc_release(conf_loc_t *l) {
  if (!l) return;
  fx_free(l->store);
  fx_free(l->bucket);
  fx_free(l->prefix);
  fx_free(l->path);
  memset(l, 0, sizeof(*l));
}

ferry_err_t conf_parse_location(const char *s, conf_loc_t *out, char *errbuf) {
  const char *colon, *slash, *p, *bad = NULL, *prefix;
  char eb[FERRY_ERRLEN];
  char *store;
  size_t blen;
  if (!s || !*s)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "empty location: expected \"STORE:BUCKET/PREFIX\"");
  if (strncmp(s, "urls:", 5) == 0) {
    if (!s[5])
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "\"%s\": urls: needs the path of a URL list file", s);
    if (!utf8_ok(s + 5, NULL))
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "\"%s\": the path is not valid UTF-8 or has a control "
                          "character",
                          s);
    memset(out, 0, sizeof(*out));
    out->kind = CONF_LOC_URLS;
    out->path = fx_strdup(s + 5);
    return FERRY_OK;
  }
  colon = strchr(s, ':');
  if (!colon)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "\"%s\": expected \"STORE:BUCKET/PREFIX\" (or \"urls:/path\")",
                        s);
  store = fx_strndup(s, (size_t)(colon - s));
  if (conf_check_name(store, eb) != FERRY_OK) {
    ferry_seterr(errbuf, FERRY_ERR_INVALID, "\"%s\": store name %s", s, eb);
    fx_free(store);
    return FERRY_ERR_INVALID;
  }
  slash = strchr(colon + 1, '/');
  blen = slash ? (size_t)(slash - colon - 1) : strlen(colon + 1);
  prefix = slash ? slash + 1 : "";
  if (blen == 0) {
    fx_free(store);
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "\"%s\": missing bucket (expected \"STORE:BUCKET/PREFIX\")", s);
  }
  if (blen > 255) {
    fx_free(store);
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "\"%s\": bucket name too long", s);
  }
  for (p = colon + 1; p < colon + 1 + blen; p++)
    if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_') {
      fx_free(store);
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "\"%s\": bucket name has an invalid character '%c' (letters, "
                          "digits, '.', '-', '_')",
                          s, isprint((unsigned char)*p) ? *p : '?');
    }
  if (!utf8_ok(prefix, &bad)) {
    fx_free(store);
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "the prefix is not valid UTF-8 or has a control character (at "
                        "byte %zu of the location)",
                        (size_t)(bad - s));
  }
  memset(out, 0, sizeof(*out));
  out->kind = CONF_LOC_STORE;
  out->store = store;
  out->bucket = fx_strndup(colon + 1, blen);
  out->prefix = fx_strdup(prefix);
  return FERRY_OK;
}

char *conf_env_name(const char *store_name, const char *what) {
  fbuf_t b;
  const char *p;
  fbuf_init(&b, 0);
  fbuf_adds(&b, "FERRY_");
  for (p = store_name; *p; p++)
    fbuf_addc(&b, isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_');
  fbuf_addc(&b, '_');
  fbuf_adds(&b, what);
  return fbuf_steal(&b);
}

/* ------------------------------------------------------------------------ */
/* Parsing one group against a table                                          */

static const char *enum_words(const kenum_t *e, char *out, size_t n) {
  size_t len = 0;
  out[0] = 0;
  for (; e->word; e++) {
    int w = snprintf(out + len, n - len, "%s\"%s\"", len ? ", " : "", e->word);
    if (w < 0 || (size_t)w >= n - len) break;
    len += (size_t)w;
  }
  return out;
}

static void path_join(char *out, size_t n, const char *pfx, const char *name) {
  if (pfx && *pfx)
    snprintf(out, n, "%s.%s", pfx, name);
  else
    snprintf(out, n, "%s", name);
}

static int set_int(ctx_t *c, const ckey_t *k, const config_setting_t *s, const char *path,
                   void *base, int64_t v) {
  char r[80];
  if (!in_range(k, v)) {
    char vs[32];
    conf_range_str(r, sizeof(r), k);
    fmt_value(vs, sizeof(vs), k, v);
    cerr(c, s, path, "%s is out of range %s", vs, r);
    return -1;
  }
  put_int(base, k, v);
  return 0;
}

/* Sensitive Kafka property names: their values are never printed. */
static int kafka_secret_name(const char *name) {
  return strstr(name, "password") || strstr(name, "secret") ||
         strcmp(name, "sasl.jaas.config") == 0 || strcmp(name, "ssl.key.pem") == 0 ||
         strcmp(name, "sasl.oauthbearer.config") == 0;
}

/* One element of a KT_KVLIST. */
static void add_kv(ctx_t *c, const ckey_t *k, const config_setting_t *s, const char *path,
                   kvlist_t *l, const char *v) {
  const char *eq = strchr(v, '=');
  char *name;
  const char *val;
  char *envval = NULL;
  size_t i;
  if (!eq || eq == v) {
    /* The element may be a mistyped secret: do not echo it. */
    cerr(c, s, path, "expected \"name=value\"");
    return;
  }
  name = fx_strndup(v, (size_t)(eq - v));
  val = eq + 1;
  if (conf_has_ctl_or_space(name)) {
    cerr(c, s, path, "the name before '=' contains a space");
    goto out;
  }
  for (i = 0; i < l->n; i++)
    if ((k->flags & KF_CLASSMAP) ? strcasecmp(l->v[i].name, name) == 0
                                 : strcmp(l->v[i].name, name) == 0) {
      cerr(c, s, path, "\"%s\" is given twice", name);
      goto out;
    }
  if (k->flags & KF_CLASSMAP) {
    /* The rule of policy_class_map_parse (policy/policy.h), which the worker
     * applies to this list: DST may be empty (omit the class header). */
    if (!policy_class_name_ok(name, 1) || (*val && !policy_class_name_ok(val, 0))) {
      cerr(c, s, path,
           "\"%s\": expected \"SRC=DST\" with class names of letters, digits, '_' "
           "and '-' (SRC may be \"*\", DST empty)",
           v);
      goto out;
    }
  }
  if (k->flags & KF_KAFKA) {
    size_t vl = strlen(val);
    char errstr[512];
    if (vl > 3 && val[0] == '$' && val[1] == '{' && val[vl - 1] == '}') {
      char *var = fx_strndup(val + 2, vl - 3);
      char eb[FERRY_ERRLEN];
      const char *e;
      if (conf_check_envname(var, eb) != FERRY_OK) {
        cerr(c, s, path, "%s: %s", name, eb);
        fx_free(var);
        goto out;
      }
      e = getenv(var);
      if (!e) {
        cerr(c, s, path, "%s: environment variable %s is not set", name, var);
        fx_free(var);
        goto out;
      }
      envval = fx_strdup(e);
      val = envval;
      fx_free(var);
    } else if (kafka_secret_name(name)) {
      note_secret(c, s, path, "a \"${VAR}\" value");
    }
    /* plugin.library.paths would load code while we only check names. */
    if (strcmp(name, "plugin.library.paths") != 0) {
      if (!c->rk) c->rk = bus_propcheck_new();
      switch (bus_prop_check(c->rk, name, val, errstr, sizeof(errstr))) {
        case BUS_PROP_OK:
          break;
        case BUS_PROP_UNKNOWN:
          cerr(c, s, path, "\"%s\" is not a librdkafka property", name);
          goto out;
        default:
          if (kafka_secret_name(name))
            cerr(c, s, path, "%s: invalid value", name);
          else
            cerr(c, s, path, "%s", errstr);
          goto out;
      }
    }
  }
  kvlist_add(l, name, val);
out:
  if (envval) {
    explicit_bzero(envval, strlen(envval));
    fx_free(envval);
  }
  fx_free(name);
}

/* A scalar from a string: the file's value, or the table's default (s NULL). */
static int set_from_string(ctx_t *c, const ckey_t *k, const config_setting_t *s,
                           const char *path, void *base, const char *v) {
  char eb[FERRY_ERRLEN];
  const kenum_t *e;
  switch (k->type) {
    case KT_STR: {
      char **dst = field(base, k);
      if (!*v && (k->flags & KF_NONEMPTY)) {
        cerr(c, s, path, "must not be empty");
        return -1;
      }
      if (*v && k->check && k->check(v, eb) != FERRY_OK) {
        cerr(c, s, path, "%s", eb);
        return -1;
      }
      fx_free(*dst);
      *dst = (!*v && (k->flags & KF_EMPTY_NULL)) ? NULL : fx_strdup(v);
      return 0;
    }
    case KT_SECRET: {
      secret_t *dst = field(base, k);
      if (!*v) {
        cerr(c, s, path, "is empty; leave it out to read the environment instead");
        return -1;
      }
      secret_clear(dst);
      dst->v = fx_strdup(v);
      return 0;
    }
    case KT_BOOL:
      put_int(base, k, strcmp(v, "true") == 0);
      return 0;
    case KT_ENUM:
      for (e = k->enums; e->word; e++)
        if (strcasecmp(v, e->word) == 0) {
          put_int(base, k, e->value);
          return 0;
        }
      {
        char words[256];
        const char *names[16];
        const char *near;
        size_t n = 0;
        for (e = k->enums; e->word && n < 16; e++) names[n++] = e->word;
        near = closest(v, names, n);
        if (near)
          cerr(c, s, path, "\"%s\" is not one of %s; did you mean \"%s\"?", v,
               enum_words(k->enums, words, sizeof(words)), near);
        else
          cerr(c, s, path, "\"%s\" is not one of %s", v,
               enum_words(k->enums, words, sizeof(words)));
      }
      return -1;
    case KT_INT: {
      char *end;
      long long x;
      errno = 0;
      x = strtoll(v, &end, 10);
      if (errno || *end || end == v) {
        cerr(c, s, path, "\"%s\" is not an integer", v);
        return -1;
      }
      return set_int(c, k, s, path, base, x);
    }
    case KT_SIZE: {
      uint64_t x;
      if (conf_parse_size(v, &x, eb) != FERRY_OK) {
        cerr(c, s, path, "%s", eb);
        return -1;
      }
      if (x > INT64_MAX) {
        char r[80];
        conf_range_str(r, sizeof(r), k);
        cerr(c, s, path, "\"%s\" is out of range %s", v, r);
        return -1;
      }
      return set_int(c, k, s, path, base, (int64_t)x);
    }
    case KT_DUR_MS:
    case KT_DUR_S: {
      int64_t ms;
      int64_t unit = k->type == KT_DUR_S ? 1000 : 1;
      if (conf_parse_duration(v, unit, &ms, eb) != FERRY_OK) {
        cerr(c, s, path, "%s", eb);
        return -1;
      }
      if (ms % unit) {
        cerr(c, s, path, "\"%s\" is not a whole number of seconds", v);
        return -1;
      }
      return set_int(c, k, s, path, base, ms / unit);
    }
    case KT_LOC: {
      conf_loc_t *dst = field(base, k);
      conf_loc_t loc;
      if (conf_parse_location(v, &loc, eb) != FERRY_OK) {
        cerr(c, s, path, "%s", eb);
        return -1;
      }
      conf_loc_release(dst);
      *dst = loc;
      return 0;
    }
    case KT_TIME: {
      int64_t t;
      if (conf_parse_time(v, &t, eb) != FERRY_OK) {
        cerr(c, s, path, "%s", eb);
        return -1;
      }
      put_int(base, k, t);
      return 0;
    }
    default:
      break;
  }
  cerr(c, s, path, "internal: no string form for this key");
  return -1;
}

static const char *type_noun(const ckey_t *k) {
  switch (k->type) {
    case KT_BOOL:
      return "true or false";
    case KT_INT:
      return "an integer";
    case KT_SIZE:
      return "a size (an integer, or a string like \"64M\")";
    case KT_DUR_MS:
      return "a duration (milliseconds, or a string like \"30s\")";
    case KT_DUR_S:
      return "a duration (seconds, or a string like \"5m\")";
    case KT_STRLIST:
    case KT_KVLIST:
    case KT_WINDOWS:
      return "a list of strings, [ \"...\", ... ]";
    default:
      return "a string";
  }
}

static const char *setting_noun(const config_setting_t *s) {
  switch (config_setting_type(s)) {
    case CONFIG_TYPE_GROUP:
      return "a group";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
      return "an integer";
    case CONFIG_TYPE_FLOAT:
      return "a float";
    case CONFIG_TYPE_STRING:
      return "a string";
    case CONFIG_TYPE_BOOL:
      return "a boolean";
    case CONFIG_TYPE_ARRAY:
      return "an array";
    case CONFIG_TYPE_LIST:
      return "a list";
    default:
      return "nothing";
  }
}

static int set_value(ctx_t *c, const ckey_t *k, const config_setting_t *s,
                     const char *path, void *base) {
  int t = config_setting_type(s);
  int is_int = t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
  switch (k->type) {
    case KT_BOOL:
      if (t != CONFIG_TYPE_BOOL) break;
      put_int(base, k, config_setting_get_bool(s) ? 1 : 0);
      return 0;
    case KT_INT:
    case KT_SIZE:
    case KT_DUR_MS:
    case KT_DUR_S:
      if (is_int) {
        int64_t v = config_setting_get_int64(s);
        if (!literal_fits(c, s)) {
          cerr(c, s, path,
               "the number does not fit in 32 bits and libconfig would cut it; write "
               "it with an L suffix (5000000000L)%s",
               k->type == KT_SIZE ? " or as a string (\"5G\")" : "");
          return -1;
        }
        if (v < 0 && k->type != KT_INT) {
          cerr(c, s, path, "%lld: cannot be negative", (long long)v);
          return -1;
        }
        if (k->type == KT_DUR_MS || k->type == KT_DUR_S || k->type == KT_SIZE ||
            k->type == KT_INT)
          return set_int(c, k, s, path, base, v);
      }
      if (t == CONFIG_TYPE_STRING && k->type != KT_INT)
        return set_from_string(c, k, s, path, base, config_setting_get_string(s));
      break;
    case KT_STR:
    case KT_SECRET:
    case KT_ENUM:
    case KT_LOC:
    case KT_TIME:
      if (t != CONFIG_TYPE_STRING) break;
      if (k->type == KT_SECRET) note_secret(c, s, path, NULL);
      return set_from_string(c, k, s, path, base, config_setting_get_string(s));
    case KT_STRLIST:
    case KT_KVLIST:
    case KT_WINDOWS: {
      int i, n, rc = 0;
      char ep[256], eb[FERRY_ERRLEN];
      if (t != CONFIG_TYPE_LIST && t != CONFIG_TYPE_ARRAY) break;
      n = config_setting_length(s);
      for (i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *v;
        snprintf(ep, sizeof(ep), "%s[%d]", path, i);
        if (config_setting_type(e) != CONFIG_TYPE_STRING) {
          cerr(c, e, ep, "expected a string, found %s", setting_noun(e));
          rc = -1;
          continue;
        }
        v = config_setting_get_string(e);
        if (k->type == KT_STRLIST) {
          conf_strv_t *dst = field(base, k);
          if (k->check && k->check(v, eb) != FERRY_OK) {
            cerr(c, e, ep, "%s", eb);
            rc = -1;
            continue;
          }
          dst->v = fx_realloc(dst->v, (dst->n + 1) * sizeof(char *));
          dst->v[dst->n++] = fx_strdup(v);
        } else if (k->type == KT_WINDOWS) {
          conf_windows_t *dst = field(base, k);
          conf_window_t w;
          if (conf_parse_window(v, &w, eb) != FERRY_OK) {
            cerr(c, e, ep, "%s", eb);
            rc = -1;
            continue;
          }
          dst->v = fx_realloc(dst->v, (dst->n + 1) * sizeof(*dst->v));
          dst->v[dst->n++] = w;
        } else {
          int before = c->n_errors;
          add_kv(c, k, e, ep, field(base, k), v);
          if (c->n_errors != before) rc = -1;
        }
      }
      return rc;
    }
  }
  cerr(c, s, path, "expected %s, found %s", type_noun(k), setting_noun(s));
  return -1;
}

/* Where an unknown name belongs when it is a key of another section. */
static const char *other_section(const char *name, const section_t *self) {
  size_t i, j;
  for (i = 0; i < FERRY_ARRAY_LEN(conf_sections); i++) {
    if (&conf_sections[i] == self) continue;
    for (j = 0; j < conf_sections[i].n_keys; j++)
      if (strcmp(conf_sections[i].keys[j].name, name) == 0)
        return conf_sections[i].name ? conf_sections[i].name : "the top level";
  }
  return NULL;
}

static void unknown_key(ctx_t *c, const config_setting_t *s, const char *path,
                        const char *name, const char *const *names, size_t n,
                        const section_t *sec) {
  const char *near = closest(name, names, n);
  const char *other = other_section(name, sec);
  if (near)
    cerr(c, s, path, "unknown key \"%s\"; did you mean \"%s\"?", name, near);
  else if (other)
    cerr(c, s, path, "unknown key \"%s\" here; it belongs in %s", name, other);
  else
    cerr(c, s, path, "unknown key \"%s\"", name);
}

/*
 * Parses group grp (NULL: absent, defaults only) against sec's table into
 * base. Sets bit i of *present for each key i found in the file.
 */
static void parse_group(ctx_t *c, const config_setting_t *grp, const char *pfx,
                        const section_t *sec, void *base, uint64_t *present,
                        uint64_t *failed) {
  size_t i;
  char path[256];
  const char *names[64];
  if (present) *present = 0;
  if (failed) *failed = 0;
  for (i = 0; i < sec->n_keys && i < 64; i++) names[i] = sec->keys[i].name;
  if (grp) {
    int n = config_setting_length(grp), j;
    for (j = 0; j < n; j++) {
      const config_setting_t *s = config_setting_get_elem(grp, (unsigned)j);
      const char *name = config_setting_name(s);
      for (i = 0; i < sec->n_keys; i++)
        if (strcmp(sec->keys[i].name, name) == 0) break;
      if (i == sec->n_keys) {
        path_join(path, sizeof(path), pfx, name);
        unknown_key(c, s, path, name, names, sec->n_keys, sec);
      }
    }
  }
  for (i = 0; i < sec->n_keys; i++) {
    const ckey_t *k = &sec->keys[i];
    const config_setting_t *s = grp ? config_setting_get_member(grp, k->name) : NULL;
    path_join(path, sizeof(path), pfx, k->name);
    if (s) {
      if (present && i < 64) *present |= (uint64_t)1 << i;
      if (set_value(c, k, s, path, base) != 0) {
        /* Keep a sane value (no NULL strings) and let cross-key checks skip
         * this key rather than pile a second message on the first. */
        if (failed && i < 64) *failed |= (uint64_t)1 << i;
        if (k->def) set_from_string(c, k, NULL, path, base, k->def);
      }
    } else if (k->flags & KF_REQUIRED) {
      cerr(c, grp, pfx, "missing required key \"%s\"", k->name);
    } else if (k->def) {
      set_from_string(c, k, NULL, path, base, k->def);
    }
  }
}

/* ------------------------------------------------------------------------ */
/* Cross-key checks                                                           */

/* 1 when none of the named keys of group section sec was rejected. */
static int keys_ok(const ctx_t *c, int sec, const char *a, const char *b) {
  size_t i;
  for (i = 0; i < conf_sections[sec].n_keys; i++) {
    const char *n = conf_sections[sec].keys[i].name;
    if ((strcmp(n, a) == 0 || (b && strcmp(n, b) == 0)) && (c->failed[sec] >> i) & 1)
      return 0;
  }
  return 1;
}

static const config_setting_t *member_or(const config_setting_t *grp, const char *name) {
  const config_setting_t *s = grp ? config_setting_get_member(grp, name) : NULL;
  return s ? s : grp;
}

static void post_kafka(ctx_t *c, conf_kafka_t *k, const config_setting_t *grp) {
  if (!keys_ok(c, SEC_KAFKA, "brokers", "bootstrap_file")) return;
  if (!*k->brokers && !*k->bootstrap_file)
    cerr(c, grp, "kafka", "set brokers, or bootstrap_file for the dev broker");
  if (*k->brokers && kvlist_get(&k->properties, "bootstrap.servers"))
    cwarn(c, member_or(grp, "properties"), "kafka.properties",
          "bootstrap.servers overrides kafka.brokers");
}

static void post_worker(ctx_t *c, conf_worker_t *w, const config_setting_t *grp) {
  char b1[32];
  if (!w->id) {
    char host[256];
    if (gethostname(host, sizeof(host)) != 0) snprintf(host, sizeof(host), "worker");
    host[sizeof(host) - 1] = 0;
    w->id = fx_asprintf("%s-%d", host, (int)getpid());
  }
  if (w->small_object_threshold > w->buffer_size &&
      keys_ok(c, SEC_WORKER, "small_object_threshold", "buffer_size")) {
    human_size(b1, sizeof(b1), (int64_t)w->buffer_size);
    cerr(c, member_or(grp, "small_object_threshold"), "worker.small_object_threshold",
         "must not exceed worker.buffer_size (%s), which bounds memory", b1);
  }
  if (w->multipart_threshold < w->part_size &&
      keys_ok(c, SEC_WORKER, "multipart_threshold", "part_size")) {
    human_size(b1, sizeof(b1), (int64_t)w->part_size);
    cerr(c, member_or(grp, "multipart_threshold"), "worker.multipart_threshold",
         "must be at least worker.part_size (%s)", b1);
  }
  if (w->backoff_max_ms < w->backoff_base_ms &&
      keys_ok(c, SEC_WORKER, "backoff_max_ms", "backoff_base_ms"))
    cerr(c, member_or(grp, "backoff_max_ms"), "worker.backoff_max_ms",
         "must be at least worker.backoff_base_ms (%ld)", w->backoff_base_ms);
}

static void post_lister(ctx_t *c, ferry_conf_t *conf, const config_setting_t *grp) {
  char b[32];
  if (conf->lister.fanout_threshold &&
      conf->lister.fanout_threshold < conf->worker.multipart_threshold &&
      keys_ok(c, SEC_LISTER, "fanout_threshold", NULL) &&
      keys_ok(c, SEC_WORKER, "multipart_threshold", NULL)) {
    human_size(b, sizeof(b), (int64_t)conf->worker.multipart_threshold);
    cerr(c, member_or(grp, "fanout_threshold"), "lister.fanout_threshold",
         "must be 0 or at least worker.multipart_threshold (%s)", b);
  }
}

/* Index of key name in the stores table (for the present mask). */
static int key_index(const section_t *sec, const char *name) {
  size_t i;
  for (i = 0; i < sec->n_keys; i++)
    if (strcmp(sec->keys[i].name, name) == 0) return (int)i;
  return -1;
}

static int was_set(uint64_t present, const section_t *sec, const char *name) {
  int i = key_index(sec, name);
  return i >= 0 && (present >> i) & 1;
}

/*
 * One credential of a store: the inline value (*val set by the table), else
 * the variable named by env_name, else the conventional variable. Reports
 * problems; leaves *val NULL when nothing was found.
 */
static void resolve_cred(ctx_t *c, store_raw_t *r, const char *pfx, const char *key,
                         int has_inline, const char *env_name, const char *what,
                         char **val) {
  char path[256], envkey[64];
  const char *v;
  char *conv = NULL;
  const char *from;
  snprintf(envkey, sizeof(envkey), "%s_env", key);
  path_join(path, sizeof(path), pfx, key);
  if (has_inline && env_name) {
    cerr(c, member_or(r->grp, envkey), path, "set either %s or %s, not both", key,
         envkey);
    return;
  }
  if (has_inline) {
    /* Present but refused by the table (wrong type, empty): already
     * reported, and there is no value to check. */
    if (!*val) return;
    from = key;
    v = *val;
  } else {
    if (c->flags & CONF_SKIP_CREDENTIALS) return;
    if (env_name) {
      char epath[256];
      path_join(epath, sizeof(epath), pfx, envkey);
      v = getenv(env_name);
      if (!v) {
        cerr(c, member_or(r->grp, envkey), epath, "environment variable %s is not set",
             env_name);
        return;
      }
      if (!*v) {
        cerr(c, member_or(r->grp, envkey), epath, "environment variable %s is empty",
             env_name);
        return;
      }
      from = env_name;
    } else {
      conv = conf_env_name(r->c.name ? r->c.name : "", what);
      v = getenv(conv);
      if (!v || !*v) {
        fx_free(conv);
        return;
      }
      from = conv;
    }
  }
  if (conf_has_ctl_or_space(v)) {
    cerr(c, member_or(r->grp, has_inline ? key : envkey), path,
         "the value (from %s) contains whitespace or a control character", from);
    if (!has_inline) {
      fx_free(conv);
      return;
    }
  } else if (!has_inline) {
    *val = fx_strdup(v);
  }
  fx_free(conv);
}

static void post_store(ctx_t *c, ferry_conf_t *conf, store_raw_t *raws, size_t i) {
  const section_t *sec = &conf_sections[SEC_STORES];
  store_raw_t *r = &raws[i];
  store_conf_t *sc = &r->c;
  char pfx[64], path[256];
  size_t j;
  snprintf(pfx, sizeof(pfx), "stores[%zu]", i);
  if (sc->name) {
    if (strcmp(sc->name, "urls") == 0) {
      path_join(path, sizeof(path), pfx, "name");
      cerr(c, member_or(r->grp, "name"), path,
           "\"urls\" is reserved for URL-list sources");
    }
    for (j = 0; j < i; j++) {
      if (!raws[j].c.name) continue;
      path_join(path, sizeof(path), pfx, "name");
      if (strcmp(raws[j].c.name, sc->name) == 0) {
        cerr(c, member_or(r->grp, "name"), path,
             "duplicate store name \"%s\" (also stores[%zu], line %d)", sc->name, j,
             (int)config_setting_source_line(raws[j].grp));
      } else {
        char *a = conf_env_name(sc->name, ""), *b = conf_env_name(raws[j].c.name, "");
        if (strcmp(a, b) == 0)
          cwarn(c, member_or(r->grp, "name"), path,
                "stores \"%s\" and \"%s\" share the default credential variables %s*",
                raws[j].c.name, sc->name, a);
        fx_free(a);
        fx_free(b);
      }
    }
  }

  /* Signature dialect per type. */
  path_join(path, sizeof(path), pfx, "signature");
  switch (r->signature) {
    case SIGW_AUTO:
      sc->sign = SIGN_DEFAULT;
      break;
    case SIGW_NONE:
      sc->sign = SIGN_NONE;
      break;
    case SIGW_V4:
      sc->sign = sc->type == STORE_OSS ? SIGN_OSS_V4 : SIGN_S3V4;
      break;
    case SIGW_V1:
      if (sc->type != STORE_OSS)
        cerr(c, member_or(r->grp, "signature"), path, "\"v1\" is for oss stores only");
      sc->sign = SIGN_OSS_V1;
      break;
    case SIGW_COS:
      if (sc->type != STORE_COS)
        cerr(c, member_or(r->grp, "signature"), path, "\"cos\" is for cos stores only");
      sc->sign = SIGN_COS;
      break;
  }

  /* Region: given, derived from a well-known endpoint, or required. */
  if (!sc->region && sc->endpoint)
    sc->region = store_region_from_endpoint(sc->type, sc->endpoint);
  if (!sc->region) {
    int needs =
        (sc->type == STORE_OSS && sc->sign != SIGN_OSS_V1 && sc->sign != SIGN_NONE) ||
        (sc->type == STORE_COS && sc->sign == SIGN_S3V4);
    if (sc->type == STORE_S3) {
      sc->region = fx_strdup("us-east-1");
    } else if (needs && sc->endpoint) {
      path_join(path, sizeof(path), pfx, "region");
      cerr(c, r->grp, path,
           "required for %s v4 signing, and endpoint \"%s\" does not name it (e.g. "
           "region = \"%s\";)",
           sc->type == STORE_OSS ? "oss" : "cos", sc->endpoint,
           sc->type == STORE_OSS ? "cn-hangzhou" : "ap-guangzhou");
    }
    if (!sc->region) sc->region = fx_strdup("");
  }

  /* Credentials. */
  resolve_cred(c, r, pfx, "access_key", was_set(r->present, sec, "access_key"),
               r->access_key_env, "ACCESS_KEY", &sc->access_key);
  resolve_cred(c, r, pfx, "secret_key", was_set(r->present, sec, "secret_key"),
               r->secret_key_env, "SECRET_KEY", &sc->secret_key.v);
  resolve_cred(c, r, pfx, "session_token", was_set(r->present, sec, "session_token"),
               r->session_token_env, "SESSION_TOKEN", &sc->session_token.v);
  if (!(c->flags & CONF_SKIP_CREDENTIALS) && sc->sign != SIGN_NONE && sc->name) {
    if (!sc->access_key && !r->access_key_env) {
      char *v = conf_env_name(sc->name, "ACCESS_KEY");
      cerr(c, r->grp, pfx,
           "no access key: set access_key or access_key_env, or export %s", v);
      fx_free(v);
    }
    if (!sc->secret_key.v && !r->secret_key_env) {
      char *v = conf_env_name(sc->name, "SECRET_KEY");
      cerr(c, r->grp, pfx,
           "no secret key: set secret_key_env (or secret_key), or export %s", v);
      fx_free(v);
    }
  }

  if (!was_set(r->present, sec, "max_host_conns"))
    sc->max_host_conns = conf->worker.max_host_conns;
  if (sc->insecure) {
    path_join(path, sizeof(path), pfx, "insecure");
    cwarn(c, member_or(r->grp, "insecure"), path,
          "TLS certificates of store \"%s\" are not verified", sc->name ? sc->name : "?");
  }
  if (sc->ca_file && access(sc->ca_file, R_OK) != 0) {
    path_join(path, sizeof(path), pfx, "ca_file");
    cerr(c, member_or(r->grp, "ca_file"), path, "cannot read \"%s\": %s", sc->ca_file,
         strerror(errno));
  }
}

static const store_raw_t *find_raw(const store_raw_t *raws, size_t n, const char *name) {
  size_t i;
  for (i = 0; i < n; i++)
    if (raws[i].c.name && strcmp(raws[i].c.name, name) == 0) return &raws[i];
  return NULL;
}

static void check_loc_store(ctx_t *c, const task_raw_t *r, const char *path,
                            const char *key, const conf_loc_t *l, const store_raw_t *raws,
                            size_t n) {
  const char *names[64] = {NULL};
  const char *near;
  size_t i;
  fbuf_t known;
  if (l->kind != CONF_LOC_STORE || !l->store || find_raw(raws, n, l->store)) return;
  for (i = 0; i < n && i < 64; i++) names[i] = raws[i].c.name;
  near = closest(l->store, names, FERRY_MIN(n, 64));
  fbuf_init(&known, 0);
  for (i = 0; i < n; i++)
    if (raws[i].c.name && find_raw(raws, i + 1, raws[i].c.name) == &raws[i])
      fbuf_addf(&known, "%s%s", known.len ? ", " : "", raws[i].c.name);
  if (near)
    cerr(c, member_or(r->grp, key), path, "unknown store \"%s\"; did you mean \"%s\"?",
         l->store, near);
  else
    cerr(c, member_or(r->grp, key), path, "unknown store \"%s\" (stores: %s)", l->store,
         n ? fbuf_str(&known) : "none defined");
  fbuf_release(&known);
}

/*
 * What a store location resolves to, for the overlap checks: two store names
 * (say separate read and write keys for one account) may name one bucket.
 * For the public clouds the provider comes from the endpoint's domain, so
 * -internal, accelerate and S3-compatible endpoints of one provider, and an
 * endpoint that already carries the bucket (virtual-host form), are equal;
 * the region counts only where both sides know it (named by the endpoint or
 * set explicitly: an accelerate endpoint names none). Any other server is
 * identified by host and port, whatever the scheme, dialect or path style.
 */
typedef struct bucket_id {
  char provider[280]; /* "oss", "cos", "s3", or "host:port" */
  const char *region; /* NULL: unknown */
  const char *bucket;
} bucket_id_t;

static int host_ends(const char *host, const char *suffix) {
  size_t h = strlen(host), s = strlen(suffix);
  return h >= s && strcmp(host + h - s, suffix) == 0 && (h == s || host[h - s - 1] == '.');
}

static void bucket_id(const store_raw_t *r, const char *bucket, bucket_id_t *out) {
  const store_conf_t *sc = &r->c;
  const char *ep = sc->endpoint ? sc->endpoint : "", *p = strstr(ep, "://"), *port;
  const char *h;
  char host[256];
  char *derived;
  size_t bl = strlen(bucket);
  store_endpoint_host(ep, host, sizeof(host));
  h = host;
  if (strncmp(h, bucket, bl) == 0 && h[bl] == '.') h += bl + 1; /* bucket.endpoint */
  out->bucket = bucket;
  out->region = was_set(r->present, &conf_sections[SEC_STORES], "region") && sc->region &&
                        *sc->region
                    ? sc->region
                    : NULL;
  derived = store_region_from_endpoint(sc->type, ep);
  if (derived) { /* the endpoint names it: the same string post_store set */
    if (!out->region) out->region = sc->region;
    fx_free(derived);
  }
  if (host_ends(h, "aliyuncs.com")) {
    snprintf(out->provider, sizeof(out->provider), "oss");
  } else if (host_ends(h, "myqcloud.com") || host_ends(h, "tencentcos.cn")) {
    snprintf(out->provider, sizeof(out->provider), "cos");
  } else if (host_ends(h, "amazonaws.com") || host_ends(h, "amazonaws.com.cn")) {
    snprintf(out->provider, sizeof(out->provider), "s3");
  } else {
    p = p ? p + 3 : ep;
    port = strchr(p, ':');
    if (port && strchr(port, '/')) port = NULL;
    snprintf(out->provider, sizeof(out->provider), "%s:%s", h,
             port ? port + 1
                  : strncmp(ep, "http://", 7) == 0 ? "80" : "443");
    out->region = NULL; /* one server: its region is only a signing parameter */
  }
}

static int same_bucket(const bucket_id_t *a, const bucket_id_t *b) {
  return strcmp(a->provider, b->provider) == 0 && strcmp(a->bucket, b->bucket) == 0 &&
         (!a->region || !b->region || strcmp(a->region, b->region) == 0);
}

/* Listing one prefix lists the other's keys. */
static int prefixes_nest(const char *a, const char *b) {
  return strncmp(a, b, strlen(a)) == 0 || strncmp(b, a, strlen(b)) == 0;
}

/* The bucket a store location resolves to; 0 when it is not a valid location
 * of a known store. */
static int loc_id(const conf_loc_t *l, const store_raw_t *sraws, size_t ns,
                  bucket_id_t *out) {
  const store_raw_t *s;
  if (l->kind != CONF_LOC_STORE || !l->store || !l->bucket || !l->prefix) return 0;
  s = find_raw(sraws, ns, l->store);
  if (!s) return 0;
  bucket_id(s, l->bucket, out);
  return 1;
}

static int ends_slash(const char *prefix) {
  return !*prefix || prefix[strlen(prefix) - 1] == '/';
}

/*
 * A destination that the source lists again (each run would copy its own
 * output one level deeper), a prefix pair that glues keys badly, and two
 * tasks writing one place.
 */
static void check_task_overlaps(ctx_t *c, const task_raw_t *raws, size_t i,
                                const store_raw_t *sraws, size_t ns) {
  const task_raw_t *r = &raws[i];
  const task_conf_t *t = &r->t;
  bucket_id_t src, dst, other;
  char path[256];
  size_t j;
  snprintf(path, sizeof(path), "tasks[%zu].destination", i);
  if (!loc_id(&t->dst, sraws, ns, &dst)) return;
  if (loc_id(&t->src, sraws, ns, &src)) {
    if (same_bucket(&src, &dst) && prefixes_nest(t->src.prefix, t->dst.prefix))
      cerr(c, member_or(r->grp, "destination"), path,
           "overlaps the source: stores \"%s\" and \"%s\" resolve to the same bucket "
           "\"%s\" and the prefixes \"%s\" and \"%s\" nest, so copies would be listed "
           "again",
           t->src.store, t->dst.store, t->dst.bucket, t->src.prefix, t->dst.prefix);
  }
  if (t->src.kind == CONF_LOC_STORE && t->src.prefix && t->dst.prefix &&
      ends_slash(t->src.prefix) != ends_slash(t->dst.prefix))
    cwarn(c, member_or(r->grp, "destination"), path,
          "exactly one of the prefixes \"%s\" (source) and \"%s\" (destination) ends in "
          "'/': a source key \"%s%s\" is written as \"%s%s\"",
          t->src.prefix, t->dst.prefix, t->src.prefix, ends_slash(t->src.prefix) ? "k1" : "/k1",
          t->dst.prefix, ends_slash(t->src.prefix) ? "k1" : "/k1");
  for (j = 0; j < i; j++) {
    if (!loc_id(&raws[j].t.dst, sraws, ns, &other)) continue;
    if (same_bucket(&dst, &other) && prefixes_nest(t->dst.prefix, raws[j].t.dst.prefix)) {
      cwarn(c, member_or(r->grp, "destination"), path,
            "task \"%s\" also writes there (%s:%s/%s, line %d): the two tasks may "
            "overwrite each other's objects",
            raws[j].t.name ? raws[j].t.name : "?", raws[j].t.dst.store,
            raws[j].t.dst.bucket, raws[j].t.dst.prefix,
            (int)config_setting_source_line(raws[j].grp));
      break; /* the first one is enough */
    }
  }
}

static void post_task(ctx_t *c, ferry_conf_t *conf, task_raw_t *raws, size_t i,
                      const store_raw_t *sraws, size_t ns) {
  const section_t *sec = &conf_sections[SEC_TASKS];
  task_raw_t *r = &raws[i];
  task_conf_t *t = &r->t;
  char pfx[64], path[256];
  size_t j;
  snprintf(pfx, sizeof(pfx), "tasks[%zu]", i);
  if (t->name)
    for (j = 0; j < i; j++)
      if (raws[j].t.name && strcmp(raws[j].t.name, t->name) == 0) {
        path_join(path, sizeof(path), pfx, "name");
        cerr(c, member_or(r->grp, "name"), path,
             "duplicate task name \"%s\" (also tasks[%zu], line %d)", t->name, j,
             (int)config_setting_source_line(raws[j].grp));
      }
  path_join(path, sizeof(path), pfx, "source");
  check_loc_store(c, r, path, "source", &t->src, sraws, ns);
  path_join(path, sizeof(path), pfx, "destination");
  if (t->dst.kind == CONF_LOC_URLS)
    cerr(c, member_or(r->grp, "destination"), path,
         "must be a store location \"STORE:BUCKET/PREFIX\", not a URL list");
  check_loc_store(c, r, path, "destination", &t->dst, sraws, ns);
  check_task_overlaps(c, raws, i, sraws, ns);
  if (t->max_size && t->min_size > t->max_size) {
    path_join(path, sizeof(path), pfx, "min_size");
    cerr(c, member_or(r->grp, "min_size"), path, "is larger than max_size");
  }
  if (t->modified_after && t->modified_before &&
      t->modified_after >= t->modified_before) {
    path_join(path, sizeof(path), pfx, "modified_after");
    cerr(c, member_or(r->grp, "modified_after"), path,
         "must be earlier than modified_before");
  }
  if (!was_set(r->present, sec, "storage_class_map"))
    kvlist_copy(&t->storage_class_map, &conf->worker.storage_class_map);
  if (!was_set(r->present, sec, "record_source_etag"))
    t->record_source_etag = conf->worker.record_source_etag;
}

/* Inline secrets in a file that group or others can read. */
static void check_secret_files(ctx_t *c) {
  size_t i, j;
  for (i = 0; i < c->n_secrets; i++) {
    struct stat st;
    inline_secret_t *x = &c->secrets[i];
    int seen = 0;
    for (j = 0; j < i; j++)
      if (strcmp(c->secrets[j].file, x->file) == 0) seen = 1;
    if (seen || stat(x->file, &st) != 0) continue;
    if (st.st_mode & (S_IRGRP | S_IROTH)) {
      char text[1024];
      snprintf(text, sizeof(text),
               "%s: warning: a secret is inline and %s is readable by group or others "
               "(mode %04o): chmod 600 it, or use %s",
               x->path, x->file, (unsigned)(st.st_mode & 07777),
               x->hint ? x->hint : "the *_env key or the environment");
      add_msg(c, 1, x->file, x->line, text);
    }
  }
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                    */

static void task_release(task_conf_t *t) {
  fx_free(t->name);
  conf_loc_release(&t->src);
  conf_loc_release(&t->dst);
  kvlist_release(&t->storage_class_map);
  strv_release(&t->include);
  strv_release(&t->exclude);
  strv_release(&t->bandwidth_schedule);
  memset(t, 0, sizeof(*t));
}

void conf_destroy(ferry_conf_t *c) {
  size_t i;
  if (!c) return;
  fx_free(c->path);
  fx_free(c->kafka.brokers);
  fx_free(c->kafka.bootstrap_file);
  fx_free(c->kafka.topic_prefix);
  kv_release_wipe(&c->kafka.properties);
  kv_release_wipe(&c->kafka.producer_properties);
  kv_release_wipe(&c->kafka.consumer_properties);
  fx_free(c->kafka.group_id);
  for (i = 0; i < c->n_stores; i++) store_conf_release(&c->stores[i]);
  fx_free(c->stores);
  fx_free(c->worker.id);
  fx_free(c->worker.windows.v);
  kvlist_release(&c->worker.storage_class_map);
  fx_free(c->reporter.listen);
  fx_free(c->reporter.state_dir);
  fx_free(c->reporter.tokens_env);
  fx_free(c->reporter.tokens_file);
  fx_free(c->reporter.tls_cert);
  fx_free(c->reporter.tls_key);
  fx_free(c->worker.metrics_listen);
  for (i = 0; i < c->n_tasks; i++) task_release(&c->tasks[i]);
  fx_free(c->tasks);
  fx_free(c);
}

static const config_setting_t *section_setting(ctx_t *c, const config_setting_t *root,
                                               const section_t *sec) {
  const config_setting_t *s = config_setting_get_member(root, sec->name);
  if (!s) return NULL;
  if (sec->is_list && config_setting_type(s) != CONFIG_TYPE_LIST) {
    cerr(c, s, sec->name, "expected a list of groups: %s = ( { ... }, { ... } );",
         sec->name);
    return NULL;
  }
  if (!sec->is_list && config_setting_type(s) != CONFIG_TYPE_GROUP) {
    cerr(c, s, sec->name, "expected a group: %s = { ... };", sec->name);
    return NULL;
  }
  return s;
}

/* The elements of a list section as raw structs of size sz. */
static void *parse_list(ctx_t *c, const config_setting_t *list, const section_t *sec,
                        size_t sz, size_t *n_out) {
  int n = list ? config_setting_length(list) : 0, i;
  char *raws = fx_calloc((size_t)(n > 0 ? n : 1), sz);
  for (i = 0; i < n; i++) {
    const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
    char pfx[64];
    void *raw = raws + (size_t)i * sz;
    snprintf(pfx, sizeof(pfx), "%s[%d]", sec->name, i);
    if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
      cerr(c, g, pfx, "expected a group { ... }, found %s", setting_noun(g));
      g = NULL;
    }
    if (sec == &conf_sections[SEC_STORES]) {
      store_raw_t *r = raw;
      r->grp = g ? g : list;
      parse_group(c, g, pfx, sec, r, &r->present, NULL);
    } else {
      task_raw_t *r = raw;
      r->grp = g ? g : list;
      r->t.record_source_etag = 0;
      parse_group(c, g, pfx, sec, r, &r->present, NULL);
    }
  }
  *n_out = (size_t)n;
  return raws;
}

static ferry_conf_t *load(ctx_t *c, config_t *cfg, int read_ok) {
  ferry_conf_t *conf;
  const config_setting_t *root, *sgrp[FERRY_ARRAY_LEN(conf_sections)];
  store_raw_t *sraws = NULL;
  task_raw_t *traws = NULL;
  size_t ns = 0, nt = 0, i;
  const char *root_names[CONF_ROOT_KEYS_MAX + FERRY_ARRAY_LEN(conf_sections)];
  size_t n_root = 0;

  if (!read_ok) {
    c->n_errors++;
    if (config_error_type(cfg) == CONFIG_ERR_FILE_IO) {
      FILE *fp = fopen(c->name, "r");
      int e = fp ? 0 : errno;
      char text[512];
      if (fp) fclose(fp);
      snprintf(text, sizeof(text), "cannot read the file: %s",
               e ? strerror(e) : "I/O error");
      add_msg(c, 0, c->name, 0, text);
    } else {
      add_msg(c, 0, config_error_file(cfg) ? config_error_file(cfg) : c->name,
              config_error_line(cfg), config_error_text(cfg));
    }
    flush_msgs(c);
    return NULL;
  }

  conf = fx_calloc(1, sizeof(*conf));
  conf->path = fx_strdup(c->name);
  root = config_root_setting(cfg);

  /* Unknown top-level names: neither a top-level key nor a section. */
  for (i = 0; i < conf_sections[SEC_ROOT].n_keys; i++)
    root_names[n_root++] = conf_sections[SEC_ROOT].keys[i].name;
  for (i = 1; i < FERRY_ARRAY_LEN(conf_sections); i++) root_names[n_root++] = conf_sections[i].name;
  for (i = 0; i < (size_t)config_setting_length(root); i++) {
    const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
    const char *name = config_setting_name(s);
    size_t j;
    for (j = 0; j < n_root; j++)
      if (strcmp(root_names[j], name) == 0) break;
    if (j == n_root) unknown_key(c, s, name, name, root_names, n_root, &conf_sections[0]);
  }
  for (i = 0; i < conf_sections[SEC_ROOT].n_keys; i++) {
    const ckey_t *k = &conf_sections[SEC_ROOT].keys[i];
    const config_setting_t *s = config_setting_get_member(root, k->name);
    if (s)
      set_value(c, k, s, k->name, conf);
    else
      set_from_string(c, k, NULL, k->name, conf, k->def);
  }

  for (i = 1; i < FERRY_ARRAY_LEN(conf_sections); i++)
    sgrp[i] = section_setting(c, root, &conf_sections[i]);
  for (i = 1; i < FERRY_ARRAY_LEN(conf_sections); i++) {
    const section_t *sec = &conf_sections[i];
    if (sec->is_list) continue;
    parse_group(c, sgrp[i], sec->name, sec, (char *)conf + sec->off, NULL, &c->failed[i]);
  }
  sraws =
      parse_list(c, sgrp[SEC_STORES], &conf_sections[SEC_STORES], sizeof(store_raw_t), &ns);
  traws = parse_list(c, sgrp[SEC_TASKS], &conf_sections[SEC_TASKS], sizeof(task_raw_t), &nt);

  post_kafka(c, &conf->kafka, sgrp[SEC_KAFKA]);
  post_worker(c, &conf->worker, sgrp[SEC_WORKER]);
  post_lister(c, conf, sgrp[SEC_LISTER]);
  for (i = 0; i < ns; i++) post_store(c, conf, sraws, i);
  for (i = 0; i < nt; i++) post_task(c, conf, traws, i, sraws, ns);
  check_secret_files(c);
  flush_msgs(c);

  /* Move the parsed stores and tasks into the result. */
  conf->stores = fx_calloc(ns ? ns : 1, sizeof(store_conf_t));
  for (i = 0; i < ns; i++) {
    conf->stores[i] = sraws[i].c;
    fx_free(sraws[i].access_key_env);
    fx_free(sraws[i].secret_key_env);
    fx_free(sraws[i].session_token_env);
  }
  conf->n_stores = ns;
  conf->tasks = fx_calloc(nt ? nt : 1, sizeof(task_conf_t));
  for (i = 0; i < nt; i++) conf->tasks[i] = traws[i].t;
  conf->n_tasks = nt;
  fx_free(sraws);
  fx_free(traws);

  if (c->n_errors) {
    conf_destroy(conf);
    return NULL;
  }
  return conf;
}

static void ctx_release(ctx_t *c) {
  size_t i;
  for (i = 0; i < c->n_files; i++) {
    fx_free(c->files[i].name);
    fx_free(c->files[i].text);
  }
  fx_free(c->files);
  for (i = 0; i < c->n_secrets; i++) {
    fx_free(c->secrets[i].file);
    fx_free(c->secrets[i].path);
  }
  fx_free(c->secrets);
  bus_propcheck_free(c->rk);
  flush_msgs(c);
}

/*
 * CONF_NO_INCLUDE. libconfig 1.5 has no switch for @include, so two locks:
 * the text is scanned for a directive (libconfig's scanner takes one on a
 * line of its own, after blanks, in any case), which gives a clear error;
 * and the include directory is /dev/null, under which no path can open
 * ("/dev/null/../x" is ENOTDIR too), in case the scan missed a form.
 * Returns the 1-based line of the first directive, or 0.
 */
static int find_include(const char *text) {
  const char *p = text;
  int line = 1;
  if (!text) return 0;
  for (;;) {
    const char *q = p;
    while (*q == ' ' || *q == '\t') q++;
    if (strncasecmp(q, "@include", 8) == 0) return line;
    p = strchr(p, '\n');
    if (!p) return 0;
    p++;
    line++;
  }
}

static void no_include(config_t *cfg, unsigned flags) {
  if (flags & CONF_NO_INCLUDE) config_set_include_dir(cfg, "/dev/null");
}

ferry_conf_t *conf_load_ex(const char *path, unsigned flags, fbuf_t *errors,
                           fbuf_t *warnings) {
  ctx_t c;
  config_t cfg;
  ferry_conf_t *conf;
  int ok;
  char *dir, *slash;
  memset(&c, 0, sizeof(c));
  c.name = path ? path : "(null)";
  c.flags = flags;
  c.errors = errors;
  c.warnings = warnings;
  if (!path) {
    c.n_errors++;
    if (errors) fbuf_adds(errors, "no configuration file given\n");
    return NULL;
  }
  config_init(&cfg);
  /* @include paths are relative to the including file's directory. */
  dir = fx_strdup(path);
  slash = strrchr(dir, '/');
  if (slash) {
    *slash = 0;
    config_set_include_dir(&cfg, *dir ? dir : "/");
  }
  no_include(&cfg, flags);
  ok = config_read_file(&cfg, path);
  conf = load(&c, &cfg, ok);
  config_destroy(&cfg);
  fx_free(dir);
  ctx_release(&c);
  return conf;
}

ferry_conf_t *conf_load_cfg(config_t *cfg, const char *name, unsigned flags,
                            fbuf_t *errors, fbuf_t *warnings) {
  ctx_t c;
  ferry_conf_t *conf;
  memset(&c, 0, sizeof(c));
  c.name = name;
  c.flags = flags;
  c.errors = errors;
  c.warnings = warnings;
  conf = load(&c, cfg, 1);
  ctx_release(&c);
  return conf;
}

ferry_conf_t *conf_load(const char *path, fbuf_t *errors, fbuf_t *warnings) {
  return conf_load_ex(path, 0, errors, warnings);
}

ferry_conf_t *conf_load_string(const char *text, const char *name, unsigned flags,
                               fbuf_t *errors, fbuf_t *warnings) {
  ctx_t c;
  config_t cfg;
  ferry_conf_t *conf;
  int line;
  memset(&c, 0, sizeof(c));
  c.name = name ? name : "(string)";
  c.text = text;
  c.flags = flags;
  c.errors = errors;
  c.warnings = warnings;
  if ((flags & CONF_NO_INCLUDE) && (line = find_include(text)) > 0) {
    c.n_errors++;
    add_msg(&c, 0, c.name, line, "@include is not allowed here");
    flush_msgs(&c);
    return NULL;
  }
  config_init(&cfg);
  no_include(&cfg, flags);
  conf = load(&c, &cfg, config_read_string(&cfg, text ? text : ""));
  config_destroy(&cfg);
  ctx_release(&c);
  return conf;
}

ferry_conf_t *conf_load_or_exit(const char *path, unsigned flags) {
  fbuf_t errors, warnings;
  ferry_conf_t *conf;
  if (!path) path = getenv("FERRY_CONFIG");
  if (!path || !*path) {
    fprintf(stderr, "ferry: no configuration file: pass one, or set FERRY_CONFIG\n");
    exit(2);
  }
  fbuf_init(&errors, 0);
  fbuf_init(&warnings, 0);
  conf = conf_load_ex(path, flags, &errors, &warnings);
  if (warnings.len) fputs(fbuf_str(&warnings), stderr);
  if (!conf) {
    size_t n = 0;
    const char *p;
    for (p = fbuf_str(&errors); *p; p++) n += *p == '\n';
    fputs(fbuf_str(&errors), stderr);
    fprintf(stderr, "ferry: %zu problem%s in %s; nothing started\n", n, n == 1 ? "" : "s",
            path);
    fbuf_release(&errors);
    fbuf_release(&warnings);
    exit(2);
  }
  fbuf_release(&errors);
  fbuf_release(&warnings);
  flog_set_level(conf->log_level);
  return conf;
}

/* ------------------------------------------------------------------------ */
/* Queries                                                                    */

const store_conf_t *conf_store(const ferry_conf_t *c, const char *name) {
  size_t i;
  if (!c || !name) return NULL;
  for (i = 0; i < c->n_stores; i++)
    if (strcmp(c->stores[i].name, name) == 0) return &c->stores[i];
  return NULL;
}

const task_conf_t *conf_task(const ferry_conf_t *c, const char *name) {
  size_t i;
  if (!c || !name) return NULL;
  for (i = 0; i < c->n_tasks; i++)
    if (strcmp(c->tasks[i].name, name) == 0) return &c->tasks[i];
  return NULL;
}

ferry_err_t conf_kafka_brokers(const conf_kafka_t *k, char **out, char *errbuf) {
  FILE *fp;
  char line[4096];
  size_t n;
  char *p;
  if (k->brokers && *k->brokers) {
    *out = fx_strdup(k->brokers);
    return FERRY_OK;
  }
  fp = fopen(k->bootstrap_file, "r");
  if (!fp)
    return ferry_seterr(errbuf, FERRY_ERR_IO,
                        "kafka.brokers is empty and %s cannot be read (%s): is "
                        "ferry-devbroker running?",
                        k->bootstrap_file, strerror(errno));
  p = fgets(line, sizeof(line), fp);
  fclose(fp);
  if (!p) line[0] = 0;
  n = strlen(line);
  while (n > 0 && isspace((unsigned char)line[n - 1])) line[--n] = 0;
  p = line;
  while (isspace((unsigned char)*p)) p++;
  if (!*p) return ferry_seterr(errbuf, FERRY_ERR_IO, "%s is empty", k->bootstrap_file);
  *out = fx_strdup(p);
  return FERRY_OK;
}

int conf_task_filter(const task_conf_t *t, const char *key_rel, uint64_t size,
                     int64_t mtime) {
  size_t i;
  int inc;
  if (size < t->min_size) return 0;
  if (t->max_size && size > t->max_size) return 0;
  if (mtime >= 0) {
    if (t->modified_after && mtime < t->modified_after) return 0;
    if (t->modified_before && mtime >= t->modified_before) return 0;
  }
  for (i = 0; i < t->exclude.n; i++)
    if (fnmatch(t->exclude.v[i], key_rel, 0) == 0) return 0;
  inc = t->include.n == 0;
  for (i = 0; i < t->include.n && !inc; i++)
    if (fnmatch(t->include.v[i], key_rel, 0) == 0) inc = 1;
  return inc;
}
