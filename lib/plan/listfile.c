/* listfile.c: streaming reader of failed-object lists (CSV with header, JSONL). */
#include "plan/listfile.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"

/* A field longer than this is refused: exports hold keys (<= 1 KiB) and
 * one-line messages, nothing near it. */
#define LF_FIELD_MAX (1u << 20)

struct listfile {
  FILE *f;
  int own;             /* fclose at the end */
  char *name;
  int jsonl;
  long line;           /* current line (1-based) */
  long entry_line;     /* where the last entry began */
  /* CSV */
  int col_key, col_size, col_etag;
  fbuf_t *fields;
  size_t nf, capf;
  /* JSONL */
  char *lbuf;
  size_t lcap;
};

static void obj_zero(msg_obj_t *o) {
  memset(o, 0, sizeof(*o));
  o->mtime = -1;
}

/* ---------- CSV ---------- */

static fbuf_t *field_new(listfile_t *lf) {
  if (lf->nf == lf->capf) {
    size_t i, cap = lf->capf ? lf->capf * 2 : 16;
    lf->fields = fx_realloc(lf->fields, cap * sizeof(*lf->fields));
    for (i = lf->capf; i < cap; i++) fbuf_init(&lf->fields[i], LF_FIELD_MAX);
    lf->capf = cap;
  }
  fbuf_reset(&lf->fields[lf->nf]);
  return &lf->fields[lf->nf++];
}

/* Skips to the end of the current physical line (after a syntax error). */
static void skip_line(listfile_t *lf) {
  int c;
  while ((c = getc(lf->f)) != EOF && c != '\n') {
  }
  if (c == '\n') lf->line++;
}

/*
 * Reads one CSV record into lf->fields[0..nf). Returns FERRY_OK with *eof set
 * at the end of the file, FERRY_ERR_PARSE for a malformed record (the rest
 * of its line skipped), FERRY_ERR_IO on a read error.
 */
static ferry_err_t csv_record(listfile_t *lf, int *eof, char *errbuf) {
  enum { START, PLAIN, QUOTED, QUOTE_SEEN } st = START;
  fbuf_t *fld;
  int c, any = 0;
  *eof = 0;
  lf->nf = 0;
  lf->entry_line = lf->line;
  fld = field_new(lf);
  for (;;) {
    c = getc(lf->f);
    if (c == EOF) {
      if (ferror(lf->f))
        return ferry_seterr(errbuf, FERRY_ERR_IO, "%s:%ld: read error: %s", lf->name,
                            lf->line, strerror(errno));
      if (st == QUOTED)
        return ferry_seterr(errbuf, FERRY_ERR_PARSE,
                            "%s:%ld: unterminated quoted field", lf->name, lf->entry_line);
      if (!any) *eof = 1;
      return FERRY_OK;
    }
    any = 1;
    if (c == '\r') {
      /* CR LF ends a record like LF; a lone CR is kept as data. */
      int d = getc(lf->f);
      if (d == '\n') {
        c = '\n';
      } else {
        if (d != EOF) ungetc(d, lf->f);
      }
    }
    switch (st) {
    case START:
    case PLAIN:
      if (c == ',') {
        fld = field_new(lf);
        st = START;
      } else if (c == '\n') {
        lf->line++;
        return FERRY_OK;
      } else if (c == '"' && st == START) {
        st = QUOTED;
      } else {
        if (fbuf_addc(fld, (char)c)) goto toolong;
        st = PLAIN;
      }
      break;
    case QUOTED:
      if (c == '"') {
        st = QUOTE_SEEN;
      } else {
        if (c == '\n') lf->line++;
        if (fbuf_addc(fld, (char)c)) goto toolong;
      }
      break;
    case QUOTE_SEEN:
      if (c == '"') {
        if (fbuf_addc(fld, '"')) goto toolong;
        st = QUOTED;
      } else if (c == ',') {
        fld = field_new(lf);
        st = START;
      } else if (c == '\n') {
        lf->line++;
        return FERRY_OK;
      } else {
        skip_line(lf);
        return ferry_seterr(errbuf, FERRY_ERR_PARSE,
                            "%s:%ld: character after a closing quote", lf->name,
                            lf->entry_line);
      }
      break;
    }
  }
toolong:
  skip_line(lf);
  return ferry_seterr(errbuf, FERRY_ERR_PARSE, "%s:%ld: field longer than %u bytes",
                      lf->name, lf->entry_line, LF_FIELD_MAX);
}

static void trim_copy(char *out, size_t n, const char *s) {
  size_t len;
  while (*s == ' ' || *s == '\t') s++;
  len = strlen(s);
  while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
  if (len >= n) len = n - 1;
  memcpy(out, s, len);
  out[len] = '\0';
}

static ferry_err_t csv_header(listfile_t *lf, char *errbuf) {
  int eof;
  size_t i;
  ferry_err_t e;
  /* Skip blank lines before the header. */
  do {
    e = csv_record(lf, &eof, errbuf);
    if (e) return e;
    if (eof)
      return ferry_seterr(errbuf, FERRY_ERR_PARSE, "%s: empty file (no CSV header row)",
                          lf->name);
  } while (lf->nf == 1 && lf->fields[0].len == 0);
  lf->col_key = lf->col_size = lf->col_etag = -1;
  for (i = 0; i < lf->nf; i++) {
    char name[64];
    trim_copy(name, sizeof(name), fbuf_str(&lf->fields[i]));
    if (strcasecmp(name, "key") == 0 && lf->col_key < 0) lf->col_key = (int)i;
    else if (strcasecmp(name, "size") == 0 && lf->col_size < 0) lf->col_size = (int)i;
    else if (strcasecmp(name, "etag") == 0 && lf->col_etag < 0) lf->col_etag = (int)i;
  }
  if (lf->col_key < 0)
    return ferry_seterr(errbuf, FERRY_ERR_PARSE,
                        "%s:%ld: the CSV header row has no \"key\" column", lf->name,
                        lf->entry_line);
  return FERRY_OK;
}

static int parse_u64(const char *s, uint64_t *out) {
  uint64_t v = 0;
  if (!*s) return -1;
  for (; *s; s++) {
    if (!isdigit((unsigned char)*s)) return -1;
    if (v > (UINT64_MAX - 9) / 10) return -1;
    v = v * 10 + (uint64_t)(*s - '0');
  }
  *out = v;
  return 0;
}

/* ETags may come quoted ("\"abc\""); keep them bare like listings do. */
static char *bare_etag(const char *s) {
  size_t n = strlen(s);
  if (n >= 2 && s[0] == '"' && s[n - 1] == '"') return fx_strndup(s + 1, n - 2);
  return n ? fx_strdup(s) : NULL;
}

/* The export (tally_csv_field) writes a value beginning with a formula
 * character or a single quote with one more single quote before it, so
 * that a spreadsheet shows it as text: one leading quote is taken off. */
static const char *unmark(const char *s) { return *s == '\'' ? s + 1 : s; }

static ferry_err_t csv_next(listfile_t *lf, msg_obj_t *out, int *eof, char *errbuf) {
  ferry_err_t e;
  const char *key;
  for (;;) {
    e = csv_record(lf, eof, errbuf);
    if (e || *eof) return e;
    if (lf->nf == 1 && lf->fields[0].len == 0) continue;  /* blank line */
    break;
  }
  if ((size_t)lf->col_key >= lf->nf)
    return ferry_seterr(errbuf, FERRY_ERR_PARSE, "%s:%ld: row has %zu field(s), no key",
                        lf->name, lf->entry_line, lf->nf);
  key = unmark(fbuf_str(&lf->fields[lf->col_key]));
  if (!*key)
    return ferry_seterr(errbuf, FERRY_ERR_PARSE, "%s:%ld: empty key", lf->name,
                        lf->entry_line);
  if (memchr(fbuf_str(&lf->fields[lf->col_key]), 0, lf->fields[lf->col_key].len))
    return ferry_seterr(errbuf, FERRY_ERR_PARSE, "%s:%ld: key holds a NUL byte", lf->name,
                        lf->entry_line);
  if (lf->col_size >= 0 && (size_t)lf->col_size < lf->nf) {
    const char *s = fbuf_str(&lf->fields[lf->col_size]);
    if (*s && parse_u64(s, &out->size))
      return ferry_seterr(errbuf, FERRY_ERR_PARSE,
                          "%s:%ld: size \"%.40s\" is not a non-negative integer", lf->name,
                          lf->entry_line, s);
  }
  if (lf->col_etag >= 0 && (size_t)lf->col_etag < lf->nf)
    out->etag = bare_etag(unmark(fbuf_str(&lf->fields[lf->col_etag])));
  out->key = fx_strdup(key);
  return FERRY_OK;
}

/* ---------- JSON lines ---------- */

static int blank(const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (!isspace((unsigned char)s[i])) return 0;
  return 1;
}

static ferry_err_t jsonl_next(listfile_t *lf, msg_obj_t *out, int *eof, char *errbuf) {
  ssize_t n;
  json_t *root, *k, *v;
  json_error_t je;
  *eof = 0;
  for (;;) {
    errno = 0;
    n = getline(&lf->lbuf, &lf->lcap, lf->f);
    if (n < 0) {
      if (ferror(lf->f))
        return ferry_seterr(errbuf, FERRY_ERR_IO, "%s:%ld: read error: %s", lf->name,
                            lf->line, strerror(errno));
      *eof = 1;
      return FERRY_OK;
    }
    lf->entry_line = lf->line++;
    if (!blank(lf->lbuf, (size_t)n)) break;
  }
  root = json_loadb(lf->lbuf, (size_t)n, JSON_REJECT_DUPLICATES, &je);
  if (!root)
    return ferry_seterr(errbuf, FERRY_ERR_PARSE, "%s:%ld: not JSON: %s", lf->name,
                        lf->entry_line, je.text);
  if (!json_is_object(root)) {
    json_decref(root);
    return ferry_seterr(errbuf, FERRY_ERR_PARSE, "%s:%ld: not a JSON object", lf->name,
                        lf->entry_line);
  }
  k = json_object_get(root, "key");
  if (!json_is_string(k) || json_string_length(k) == 0 ||
      strlen(json_string_value(k)) != json_string_length(k)) {
    json_decref(root);
    return ferry_seterr(errbuf, FERRY_ERR_PARSE,
                        "%s:%ld: \"key\" is missing or not a non-empty string", lf->name,
                        lf->entry_line);
  }
  v = json_object_get(root, "size");
  if (v && !json_is_null(v)) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
      json_decref(root);
      return ferry_seterr(errbuf, FERRY_ERR_PARSE,
                          "%s:%ld: \"size\" is not a non-negative integer", lf->name,
                          lf->entry_line);
    }
    out->size = (uint64_t)json_integer_value(v);
  }
  v = json_object_get(root, "etag");
  if (json_is_string(v)) out->etag = bare_etag(json_string_value(v));
  out->key = fx_strdup(json_string_value(k));
  json_decref(root);
  return FERRY_OK;
}

/* ---------- common ---------- */

listfile_t *listfile_from_stream(FILE *f, const char *name, char *errbuf) {
  listfile_t *lf = fx_calloc(1, sizeof(*lf));
  int c;
  lf->f = f;
  lf->name = fx_strdup(name ? name : "list");
  lf->line = 1;
  /* A UTF-8 BOM (spreadsheet exports) is not part of the first field. */
  c = getc(f);
  if (c == 0xEF) {
    int c2 = getc(f), c3 = getc(f);
    if (!(c2 == 0xBB && c3 == 0xBF)) {
      listfile_close(lf);
      ferry_seterr(errbuf, FERRY_ERR_PARSE, "%s:1: not UTF-8 text", name);
      return NULL;
    }
    c = getc(f);
  }
  /* The format: the first non-blank character. */
  while (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
    if (c == '\n') lf->line++;
    c = getc(f);
  }
  if (c != EOF) ungetc(c, f);
  lf->jsonl = c == '{';
  if (!lf->jsonl && csv_header(lf, errbuf)) {
    listfile_close(lf);
    return NULL;
  }
  return lf;
}

listfile_t *listfile_open(const char *path, char *errbuf) {
  FILE *f;
  listfile_t *lf;
  if (strcmp(path, "-") == 0) return listfile_from_stream(stdin, "stdin", errbuf);
  f = fopen(path, "rb");
  if (!f) {
    ferry_seterr(errbuf, FERRY_ERR_IO, "%s: %s", path, strerror(errno));
    return NULL;
  }
  lf = listfile_from_stream(f, path, errbuf);
  if (!lf) {
    fclose(f);
    return NULL;
  }
  lf->own = 1;
  return lf;
}

void listfile_close(listfile_t *lf) {
  size_t i;
  if (!lf) return;
  if (lf->own && lf->f) fclose(lf->f);
  for (i = 0; i < lf->capf; i++) fbuf_release(&lf->fields[i]);
  fx_free(lf->fields);
  free(lf->lbuf);  /* getline's buffer comes from malloc */
  fx_free(lf->name);
  fx_free(lf);
}

ferry_err_t listfile_next(listfile_t *lf, msg_obj_t *out, int *eof, char *errbuf) {
  ferry_err_t e;
  obj_zero(out);
  *eof = 0;
  e = lf->jsonl ? jsonl_next(lf, out, eof, errbuf) : csv_next(lf, out, eof, errbuf);
  if (e || *eof) {
    msg_obj_release(out);
    obj_zero(out);
  }
  return e;
}

long listfile_line(const listfile_t *lf) {
  return lf->entry_line;
}
