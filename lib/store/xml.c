/*
 * xml.c: streaming expat parsers for store responses (see xml.h).
 *
 * One parser type serves every kind. Elements are matched by local name (a
 * namespace-aware expat strips xmlns URIs, so s3rver's and AWS's default
 * namespace does not matter) and by position: a table maps (kind, parent,
 * name) to a field, and only fields collect text. Results are built as the
 * elements close; URL-decoding waits until finish, because <EncodingType>
 * may come after the keys it applies to (AWS puts it near the end).
 *
 * URL decoding (EncodingType url). Keys, prefixes and markers are decoded
 * as form values: %XX and '+' as space. That is what the official SDKs do
 * with these listings (OSS Go v2 and COS Go use url.QueryUnescape, botocore
 * unquote_plus), which only works because OSS, COS and S3 encode a literal
 * '+' as %2B; and some S3 implementations do encode a space as '+'.
 * Continuation tokens are decoded for %XX only: OSS encodes its tokens, AWS
 * leaves its base64 tokens raw, and a raw base64 '+' must stay '+'. Upload
 * ids are opaque and never decoded. A decoded NUL byte is rejected.
 *
 * Safety: a DOCTYPE is refused (store responses never carry one, and that
 * closes the door on entity expansion), nesting is capped at XML_MAX_DEPTH,
 * the text of a collected element at XML_MAX_TEXT, the whole body at
 * max_bytes. Any failure leaves the parser in a sticky error state.
 */
#include "store/xml.h"

#include <expat.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/enc.h"

#define XML_DEFAULT_MAX ((size_t)16 << 20)
#define XML_MAX_DEPTH 32
#define XML_MAX_TEXT (16 * 1024)
#define XML_KEY_MAX STORE_KEY_MAX /* the dialect's own limit is checked per request */
#define XML_NAME_MAX 48
#define XML_FEED_CHUNK ((size_t)1 << 20)
/* expat reports namespaced names as "URI<sep>local"; '|' cannot occur in
 * an XML name, so the local name is whatever follows the last one. */
#define XML_NS_SEP '|'

typedef enum field {
  F_NONE = 0,
  F_ERR_CODE,
  F_ERR_MESSAGE,
  F_ERR_REQUEST_ID,
  F_ENCODING,
  F_TRUNCATED,
  F_NEXT_TOKEN,
  F_NEXT_MARKER,
  F_OBJ_KEY,
  F_OBJ_SIZE,
  F_OBJ_ETAG,
  F_OBJ_MTIME,
  F_OBJ_CLASS,
  F_PREFIX,
  F_UPLOAD_ID,
  F_ETAG,
  F_PART_NUMBER,
  F_PART_ETAG,
  F_PART_SIZE,
  F_NEXT_PART_MARKER,
  F_UP_KEY,
  F_UP_ID,
  F_UP_INITIATED,
  F_NEXT_KEY_MARKER,
  F_NEXT_UPLOAD_ID_MARKER,
  F__COUNT
} field_t;

/* Which element is which field. parent NULL: a child of the root. kind 0:
 * the children of an <Error> root, whatever kind was expected. */
static const struct {
  xml_kind_t kind;
  const char *parent;
  const char *name;
  field_t field;
} FIELDS[] = {
    {0, NULL, "Code", F_ERR_CODE},
    {0, NULL, "Message", F_ERR_MESSAGE},
    {0, NULL, "RequestId", F_ERR_REQUEST_ID},
    {XML_LIST, NULL, "EncodingType", F_ENCODING},
    {XML_LIST, NULL, "IsTruncated", F_TRUNCATED},
    {XML_LIST, NULL, "NextContinuationToken", F_NEXT_TOKEN},
    {XML_LIST, NULL, "NextMarker", F_NEXT_MARKER},
    {XML_LIST, "Contents", "Key", F_OBJ_KEY},
    {XML_LIST, "Contents", "Size", F_OBJ_SIZE},
    {XML_LIST, "Contents", "ETag", F_OBJ_ETAG},
    {XML_LIST, "Contents", "LastModified", F_OBJ_MTIME},
    {XML_LIST, "Contents", "StorageClass", F_OBJ_CLASS},
    {XML_LIST, "CommonPrefixes", "Prefix", F_PREFIX},
    {XML_INITIATE, NULL, "UploadId", F_UPLOAD_ID},
    {XML_COMPLETE, NULL, "ETag", F_ETAG},
    {XML_LIST_PARTS, NULL, "IsTruncated", F_TRUNCATED},
    {XML_LIST_PARTS, NULL, "NextPartNumberMarker", F_NEXT_PART_MARKER},
    {XML_LIST_PARTS, "Part", "PartNumber", F_PART_NUMBER},
    {XML_LIST_PARTS, "Part", "ETag", F_PART_ETAG},
    {XML_LIST_PARTS, "Part", "Size", F_PART_SIZE},
    {XML_LIST_UPLOADS, NULL, "EncodingType", F_ENCODING},
    {XML_LIST_UPLOADS, NULL, "IsTruncated", F_TRUNCATED},
    {XML_LIST_UPLOADS, NULL, "NextKeyMarker", F_NEXT_KEY_MARKER},
    {XML_LIST_UPLOADS, NULL, "NextUploadIdMarker", F_NEXT_UPLOAD_ID_MARKER},
    {XML_LIST_UPLOADS, "Upload", "Key", F_UP_KEY},
    {XML_LIST_UPLOADS, "Upload", "UploadId", F_UP_ID},
    {XML_LIST_UPLOADS, "Upload", "Initiated", F_UP_INITIATED},
};

/* Repeated items: each opens a scope for duplicate and missing checks. */
typedef enum item { I_NONE = 0, I_CONTENTS, I_PREFIXES, I_PART, I_UPLOAD } item_t;

struct xml_parser {
  xml_kind_t kind;
  XML_Parser xp;
  size_t max_bytes;
  size_t fed;
  int started; /* a non-whitespace byte has reached expat */
  int finished;
  ferry_err_t err;
  char errmsg[FERRY_ERRLEN];

  int depth;
  char path[XML_MAX_DEPTH][XML_NAME_MAX];
  int error_root; /* the root is <Error> */
  item_t item;    /* item open at depth 2, if any */
  field_t field;  /* field open at the current depth, if any */
  int field_depth;
  fbuf_t text;
  uint32_t seen_top;  /* fields seen as children of the root */
  uint32_t seen_item; /* fields seen in the open item */

  store_error_t serr; /* Code, Message, RequestId of an <Error> root */
  int url_encoded;
  int truncated;
  char *str; /* UploadId (initiate) or ETag (complete) */

  store_list_page_t list;
  size_t objects_cap, prefixes_cap;
  store_parts_t parts;
  size_t parts_cap;
  store_uploads_t uploads;
  size_t uploads_cap;
};

/* ---- helpers -------------------------------------------------------- */

static const char *root_name(xml_kind_t kind) {
  switch (kind) {
    case XML_LIST:
      return "ListBucketResult";
    case XML_ERROR:
      return "Error";
    case XML_INITIATE:
      return "InitiateMultipartUploadResult";
    case XML_COMPLETE:
      return "CompleteMultipartUploadResult";
    case XML_LIST_PARTS:
      return "ListPartsResult";
    case XML_LIST_UPLOADS:
      return "ListMultipartUploadsResult";
  }
  return "?";
}

static int is_ws(int c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A printable excerpt of s for error messages: at most 60 bytes, control
 * bytes shown as '?'. */
static const char *snip(const char *s, char out[72]) {
  size_t i, n = strlen(s);
  size_t m = n > 60 ? 60 : n;
  /* Cut between UTF-8 characters, so that the message stays text. */
  while (m < n && m > 0 && ((unsigned char)s[m] & 0xC0) == 0x80) m--;
  for (i = 0; i < m; i++) {
    unsigned char c = (unsigned char)s[i];
    out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
  }
  if (n > m) {
    memcpy(out + m, "...", 4);
  } else {
    out[m] = '\0';
  }
  return out;
}

/* "ListBucketResult/Contents[3]/Size": the open element, with the index of
 * the open item. */
static void where(const xml_parser_t *p, char *out, size_t n) {
  size_t len = 0;
  int i;
  out[0] = '\0';
  for (i = 0; i < p->depth && len < n; i++) {
    int w = snprintf(out + len, n - len, "%s%s", i ? "/" : "", p->path[i]);
    if (w < 0) break;
    len += (size_t)w;
    if (i == 1 && p->item != I_NONE && len < n) {
      size_t idx = 0;
      switch (p->item) {
        case I_CONTENTS:
          idx = p->list.n_objects;
          break;
        case I_PREFIXES:
          idx = p->list.n_prefixes + 1;
          break;
        case I_PART:
          idx = p->parts.n;
          break;
        case I_UPLOAD:
          idx = p->uploads.n;
          break;
        case I_NONE:
          break;
      }
      w = snprintf(out + len, n - len, "[%zu]", idx);
      if (w < 0) break;
      len += (size_t)w;
    }
  }
}

/* Sets the sticky error (the first one wins) and stops expat. */
static void fail(xml_parser_t *p, ferry_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(xml_parser_t *p, ferry_err_t err, const char *fmt, ...) {
  va_list ap;
  if (p->err) return;
  p->err = err;
  va_start(ap, fmt);
  vsnprintf(p->errmsg, sizeof(p->errmsg), fmt, ap);
  va_end(ap);
  if (p->xp) XML_StopParser(p->xp, XML_FALSE);
}

/* fail() prefixed with the open element's path. */
static void fail_here(xml_parser_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fail_here(xml_parser_t *p, const char *fmt, ...) {
  char at[256], msg[FERRY_ERRLEN];
  va_list ap;
  if (p->err) return;
  where(p, at, sizeof(at));
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  fail(p, FERRY_ERR_PARSE, "%s: %s", at, msg);
}

/* Strict decimal: digits only after trimming surrounding whitespace. */
static int parse_u64(const char *s, uint64_t *out) {
  uint64_t v = 0;
  const char *e;
  while (is_ws((unsigned char)*s)) s++;
  e = s + strlen(s);
  while (e > s && is_ws((unsigned char)e[-1])) e--;
  if (e == s) return -1;
  for (; s < e; s++) {
    unsigned d;
    if (*s < '0' || *s > '9') return -1;
    d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10) return -1;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

static int parse_bool(const char *s, int *out) {
  size_t n;
  while (is_ws((unsigned char)*s)) s++;
  n = strlen(s);
  while (n && is_ws((unsigned char)s[n - 1])) n--;
  if (n == 4 && strncasecmp(s, "true", 4) == 0) {
    *out = 1;
  } else if (n == 5 && strncasecmp(s, "false", 5) == 0) {
    *out = 0;
  } else {
    return -1;
  }
  return 0;
}

/* ETags arrive quoted ("...", or &quot;...&quot; which expat resolved). */
static char *unquote_etag(const char *s) {
  size_t n = strlen(s);
  while (n && is_ws((unsigned char)*s)) s++, n--;
  while (n && is_ws((unsigned char)s[n - 1])) n--;
  if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
    s++;
    n -= 2;
  }
  return fx_strndup(s, n);
}

static void grow(void **arr, size_t *cap, size_t n, size_t elem) {
  if (n < *cap) return;
  *cap = *cap ? *cap * 2 : 16;
  *arr = fx_realloc(*arr, *cap * elem);
}

/* ---- expat callbacks ------------------------------------------------ */

static field_t field_lookup(const xml_parser_t *p, const char *name) {
  const char *parent;
  size_t i;
  if (p->depth == 2) {
    parent = NULL;
  } else if (p->depth == 3) {
    parent = p->path[1];
  } else {
    return F_NONE;
  }
  for (i = 0; i < FERRY_ARRAY_LEN(FIELDS); i++) {
    if (p->error_root ? FIELDS[i].kind != 0 : FIELDS[i].kind != p->kind) continue;
    if ((FIELDS[i].parent == NULL) != (parent == NULL)) continue;
    if (parent && strcmp(FIELDS[i].parent, parent) != 0) continue;
    if (strcmp(FIELDS[i].name, name) == 0) return FIELDS[i].field;
  }
  return F_NONE;
}

static void item_open(xml_parser_t *p, const char *name) {
  p->item = I_NONE;
  if (p->error_root) return;
  if (p->kind == XML_LIST && strcmp(name, "Contents") == 0) {
    store_object_t *o;
    grow((void **)&p->list.objects, &p->objects_cap, p->list.n_objects, sizeof(*o));
    o = &p->list.objects[p->list.n_objects++];
    memset(o, 0, sizeof(*o));
    o->mtime = -1;
    p->item = I_CONTENTS;
  } else if (p->kind == XML_LIST && strcmp(name, "CommonPrefixes") == 0) {
    p->item = I_PREFIXES;
  } else if (p->kind == XML_LIST_PARTS && strcmp(name, "Part") == 0) {
    store_part_t *pt;
    grow((void **)&p->parts.parts, &p->parts_cap, p->parts.n, sizeof(*pt));
    pt = &p->parts.parts[p->parts.n++];
    memset(pt, 0, sizeof(*pt));
    p->item = I_PART;
  } else if (p->kind == XML_LIST_UPLOADS && strcmp(name, "Upload") == 0) {
    store_upload_t *u;
    grow((void **)&p->uploads.uploads, &p->uploads_cap, p->uploads.n, sizeof(*u));
    u = &p->uploads.uploads[p->uploads.n++];
    memset(u, 0, sizeof(*u));
    u->initiated = -1;
    p->item = I_UPLOAD;
  }
  p->seen_item = 0;
}

/* Checks an item as it closes; the item is still "open" for messages. */
static void item_close(xml_parser_t *p) {
  switch (p->item) {
    case I_CONTENTS:
      if (!(p->seen_item & (1u << F_OBJ_KEY)))
        fail_here(p, "missing Key");
      else if (!(p->seen_item & (1u << F_OBJ_SIZE)))
        fail_here(p, "missing Size");
      break;
    case I_PREFIXES:
      break;
    case I_PART:
      if (!(p->seen_item & (1u << F_PART_NUMBER)))
        fail_here(p, "missing PartNumber");
      else if (!(p->seen_item & (1u << F_PART_ETAG)))
        fail_here(p, "missing ETag");
      break;
    case I_UPLOAD:
      if (!(p->seen_item & (1u << F_UP_KEY)))
        fail_here(p, "missing Key");
      else if (!(p->seen_item & (1u << F_UP_ID)))
        fail_here(p, "missing UploadId");
      break;
    case I_NONE:
      break;
  }
  p->item = I_NONE;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs) {
  xml_parser_t *p = ud;
  const char *local = strrchr(name, XML_NS_SEP);
  (void)attrs;
  if (p->err) return;
  local = local ? local + 1 : name;
  if (p->field != F_NONE) {
    fail_here(p, "unexpected child element <%.64s>", local);
    return;
  }
  if (p->depth >= XML_MAX_DEPTH) {
    fail_here(p, "elements nested deeper than %d", XML_MAX_DEPTH);
    return;
  }
  snprintf(p->path[p->depth], XML_NAME_MAX, "%s", local);
  p->depth++;
  if (p->depth == 1) {
    if (strcmp(local, root_name(p->kind)) == 0) {
      p->error_root = p->kind == XML_ERROR;
    } else if (strcmp(local, "Error") == 0) {
      p->error_root = 1;
    } else {
      fail(p, FERRY_ERR_PARSE, "expected <%s> document, got <%.64s>", root_name(p->kind),
           local);
    }
    return;
  }
  if (p->depth == 2) item_open(p, local);
  p->field = field_lookup(p, local);
  if (p->field != F_NONE) {
    uint32_t *seen = p->depth == 2 ? &p->seen_top : &p->seen_item;
    if (*seen & (1u << p->field)) {
      fail_here(p, "element repeated");
      return;
    }
    *seen |= 1u << p->field;
    p->field_depth = p->depth;
    fbuf_reset(&p->text);
  }
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len) {
  xml_parser_t *p = ud;
  if (p->err || p->field == F_NONE) return;
  if (fbuf_add(&p->text, s, (size_t)len) != FERRY_OK)
    fail_here(p, "text longer than %d bytes", XML_MAX_TEXT);
}

/* Copies text into a fixed field of store_error_t. A cut must fall between
 * characters: the fields end up in logs and in Kafka outcomes, which hold
 * only valid UTF-8 (expat's text is valid UTF-8; half a character is not). */
static void copy_field(char *dst, size_t size, const char *t) {
  size_t n = strlen(t);
  if (n >= size) {
    n = size - 1;
    while (n > 0 && ((unsigned char)t[n] & 0xC0) == 0x80) n--;
  }
  memcpy(dst, t, n);
  dst[n] = '\0';
}

static void set_str(char **dst, fbuf_t *text) {
  fx_free(*dst);
  *dst = fbuf_steal(text);
}

/* Stores the text of the field that just closed. */
static void field_done(xml_parser_t *p) {
  const char *t = fbuf_str(&p->text);
  char sn[72];
  uint64_t v;
  store_object_t *o = p->list.n_objects ? &p->list.objects[p->list.n_objects - 1] : NULL;
  store_part_t *pt = p->parts.n ? &p->parts.parts[p->parts.n - 1] : NULL;
  store_upload_t *u = p->uploads.n ? &p->uploads.uploads[p->uploads.n - 1] : NULL;

  switch (p->field) {
    case F_ERR_CODE:
      copy_field(p->serr.code, sizeof(p->serr.code), t);
      break;
    case F_ERR_MESSAGE:
      copy_field(p->serr.message, sizeof(p->serr.message), t);
      break;
    case F_ERR_REQUEST_ID:
      copy_field(p->serr.request_id, sizeof(p->serr.request_id), t);
      break;
    case F_ENCODING:
      if (strcasecmp(t, "url") == 0) {
        p->url_encoded = 1;
      } else if (*t) {
        fail_here(p, "unsupported encoding '%s'", snip(t, sn));
      }
      break;
    case F_TRUNCATED:
      if (parse_bool(t, &p->truncated) != 0)
        fail_here(p, "not a boolean: '%s'", snip(t, sn));
      break;
    case F_NEXT_TOKEN:
      set_str(&p->list.next_token, &p->text);
      break;
    case F_NEXT_MARKER:
      set_str(&p->list.next_marker, &p->text);
      break;
    case F_OBJ_KEY:
      set_str(&o->key, &p->text);
      break;
    case F_OBJ_SIZE:
      if (parse_u64(t, &o->size) != 0)
        fail_here(p, "not a non-negative integer: '%s'", snip(t, sn));
      break;
    case F_OBJ_ETAG:
      o->etag = unquote_etag(t);
      break;
    case F_OBJ_MTIME:
      /* Unparseable dates are "unknown" rather than fatal: the listing
       * matters more than one timestamp. */
      o->mtime = enc_time_parse(t);
      break;
    case F_OBJ_CLASS:
      set_str(&o->storage_class, &p->text);
      break;
    case F_PREFIX:
      grow((void **)&p->list.prefixes, &p->prefixes_cap, p->list.n_prefixes,
           sizeof(char *));
      p->list.prefixes[p->list.n_prefixes++] = fbuf_steal(&p->text);
      break;
    case F_UPLOAD_ID:
      set_str(&p->str, &p->text);
      break;
    case F_ETAG:
      fx_free(p->str);
      p->str = unquote_etag(t);
      break;
    case F_PART_NUMBER:
      if (parse_u64(t, &v) != 0 || v < 1 || v > INT_MAX)
        fail_here(p, "not a part number: '%s'", snip(t, sn));
      else
        pt->number = (int)v;
      break;
    case F_PART_ETAG:
      pt->etag = unquote_etag(t);
      break;
    case F_PART_SIZE:
      if (parse_u64(t, &pt->size) != 0)
        fail_here(p, "not a non-negative integer: '%s'", snip(t, sn));
      break;
    case F_NEXT_PART_MARKER:
      if (parse_u64(t, &v) != 0 || v > INT_MAX)
        fail_here(p, "not a part number: '%s'", snip(t, sn));
      else
        p->parts.next_marker = (int)v;
      break;
    case F_UP_KEY:
      set_str(&u->key, &p->text);
      break;
    case F_UP_ID:
      set_str(&u->upload_id, &p->text);
      break;
    case F_UP_INITIATED:
      u->initiated = enc_time_parse(t);
      break;
    case F_NEXT_KEY_MARKER:
      set_str(&p->uploads.next_key_marker, &p->text);
      break;
    case F_NEXT_UPLOAD_ID_MARKER:
      set_str(&p->uploads.next_upload_id_marker, &p->text);
      break;
    case F_NONE:
    case F__COUNT:
      break;
  }
}

static void XMLCALL on_end(void *ud, const XML_Char *name) {
  xml_parser_t *p = ud;
  (void)name;
  if (p->err) return;
  if (p->field != F_NONE && p->depth == p->field_depth) {
    field_done(p);
    p->field = F_NONE;
    fbuf_reset(&p->text);
  }
  if (p->depth == 2 && p->item != I_NONE) item_close(p);
  if (p->depth > 0) p->depth--;
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset) {
  xml_parser_t *p = ud;
  (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
  fail(p, FERRY_ERR_PARSE, "DOCTYPE declarations are not accepted in store responses");
}

/* ---- public --------------------------------------------------------- */

xml_parser_t *xml_parser_new(xml_kind_t kind, size_t max_bytes) {
  xml_parser_t *p;
  if (kind < XML_LIST || kind > XML_LIST_UPLOADS) return NULL;
  p = fx_calloc(1, sizeof(*p));
  p->kind = kind;
  p->max_bytes = max_bytes ? max_bytes : XML_DEFAULT_MAX;
  fbuf_init(&p->text, XML_MAX_TEXT);
  p->xp = XML_ParserCreateNS(NULL, XML_NS_SEP);
  if (!p->xp) {
    /* expat allocates with malloc: this is out of memory, which is fatal
     * in libferry (ferry.h). */
    fputs("ferry: out of memory creating an XML parser\n", stderr);
    abort();
  }
  XML_SetUserData(p->xp, p);
  XML_SetElementHandler(p->xp, on_start, on_end);
  XML_SetCharacterDataHandler(p->xp, on_text);
  XML_SetStartDoctypeDeclHandler(p->xp, on_doctype);
  return p;
}

static void results_release(xml_parser_t *p) {
  store_list_page_release(&p->list);
  store_parts_release(&p->parts);
  store_uploads_release(&p->uploads);
  fx_free(p->str);
  p->str = NULL;
  p->objects_cap = p->prefixes_cap = p->parts_cap = p->uploads_cap = 0;
}

void xml_parser_destroy(xml_parser_t *p) {
  if (!p) return;
  if (p->xp) XML_ParserFree(p->xp);
  fbuf_release(&p->text);
  results_release(p);
  fx_free(p);
}

static ferry_err_t sticky(const xml_parser_t *p, char *errbuf) {
  return ferry_seterr(errbuf, p->err, "%s", p->errmsg);
}

/* Turns an expat failure into our sticky error. */
static void expat_failed(xml_parser_t *p) {
  char at[256];
  enum XML_Error code = XML_GetErrorCode(p->xp);
  if (p->err) return; /* a handler stopped the parser and said why */
  where(p, at, sizeof(at));
  fail(p, FERRY_ERR_PARSE, "%s XML at line %lu, column %lu%s%s: %s", root_name(p->kind),
       (unsigned long)XML_GetCurrentLineNumber(p->xp),
       (unsigned long)XML_GetCurrentColumnNumber(p->xp), *at ? " in " : "", at,
       XML_ErrorString(code));
}

ferry_err_t xml_parser_feed(xml_parser_t *p, const char *buf, size_t len, char *errbuf) {
  if (!p) return ferry_seterr(errbuf, FERRY_ERR_INVALID, "xml: no parser");
  if (p->err) return sticky(p, errbuf);
  if (p->finished)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "xml: parser already finished");
  if (len && !buf) return ferry_seterr(errbuf, FERRY_ERR_INVALID, "xml: NULL buffer");
  if (len > p->max_bytes - p->fed) {
    fail(p, FERRY_ERR_PARSE, "%s body larger than %zu bytes", root_name(p->kind),
         p->max_bytes);
    return sticky(p, errbuf);
  }
  p->fed += len;
  /* COS sends whitespace keep-alives before the body of a slow
   * CompleteMultipartUpload, and an XML declaration must come first, so
   * leading whitespace never reaches expat. */
  while (!p->started && len && is_ws((unsigned char)*buf)) buf++, len--;
  if (len) p->started = 1;
  while (len) {
    size_t n = len > XML_FEED_CHUNK ? XML_FEED_CHUNK : len;
    if (XML_Parse(p->xp, buf, (int)n, XML_FALSE) != XML_STATUS_OK) {
      expat_failed(p);
      return sticky(p, errbuf);
    }
    buf += n;
    len -= n;
  }
  return FERRY_OK;
}

/* Decodes *s in place (see the top comment for the rules). The element is
 * named "<root>/<item>[idx]/<name>", or "<root>/<name>" when item is NULL;
 * key_max > 0 also requires a non-empty value of at most key_max bytes. */
static ferry_err_t decode_str(xml_parser_t *p, char **s, int plus_space, const char *item,
                              size_t idx, const char *name, size_t key_max) {
  fbuf_t b;
  char sn[72], at[160];
  if (!*s) return FERRY_OK;
  if (item)
    snprintf(at, sizeof(at), "%s/%s[%zu]/%s", root_name(p->kind), item, idx, name);
  else
    snprintf(at, sizeof(at), "%s/%s", root_name(p->kind), name);
  if (p->url_encoded) {
    fbuf_init(&b, 0);
    if (enc_pct_decode(&b, *s, strlen(*s), plus_space) != FERRY_OK) {
      fbuf_release(&b);
      fail(p, FERRY_ERR_PARSE, "%s: bad URL encoding: '%s'", at, snip(*s, sn));
      return p->err;
    }
    if (memchr(fbuf_str(&b), '\0', b.len)) {
      fbuf_release(&b);
      fail(p, FERRY_ERR_PARSE, "%s: decodes to a NUL byte: '%s'", at, snip(*s, sn));
      return p->err;
    }
    fx_free(*s);
    *s = fbuf_steal(&b);
  }
  if (key_max && strlen(*s) > key_max) {
    fail(p, FERRY_ERR_PARSE, "%s: longer than %zu bytes: '%s'", at, key_max,
         snip(*s, sn));
    return p->err;
  }
  if (key_max && !**s) {
    fail(p, FERRY_ERR_PARSE, "%s: empty", at);
    return p->err;
  }
  return FERRY_OK;
}

static ferry_err_t finish_list(xml_parser_t *p) {
  size_t i;
  if (!(p->seen_top & (1u << F_TRUNCATED))) {
    fail(p, FERRY_ERR_PARSE, "ListBucketResult: missing IsTruncated");
    return p->err;
  }
  p->list.truncated = p->truncated;
  for (i = 0; i < p->list.n_objects; i++)
    if (decode_str(p, &p->list.objects[i].key, 1, "Contents", i + 1, "Key", XML_KEY_MAX))
      return p->err;
  for (i = 0; i < p->list.n_prefixes; i++)
    if (decode_str(p, &p->list.prefixes[i], 1, "CommonPrefixes", i + 1, "Prefix",
                   XML_KEY_MAX))
      return p->err;
  if (decode_str(p, &p->list.next_token, 0, NULL, 0, "NextContinuationToken", 0))
    return p->err;
  if (decode_str(p, &p->list.next_marker, 1, NULL, 0, "NextMarker", 0)) return p->err;
  return FERRY_OK;
}

static ferry_err_t finish_uploads(xml_parser_t *p) {
  size_t i;
  if (!(p->seen_top & (1u << F_TRUNCATED))) {
    fail(p, FERRY_ERR_PARSE, "ListMultipartUploadsResult: missing IsTruncated");
    return p->err;
  }
  p->uploads.truncated = p->truncated;
  for (i = 0; i < p->uploads.n; i++)
    if (decode_str(p, &p->uploads.uploads[i].key, 1, "Upload", i + 1, "Key", XML_KEY_MAX))
      return p->err;
  if (decode_str(p, &p->uploads.next_key_marker, 1, NULL, 0, "NextKeyMarker", 0))
    return p->err;
  return FERRY_OK;
}

static void copy_error_fields(store_error_t *dst, const store_error_t *src) {
  memcpy(dst->code, src->code, sizeof(dst->code));
  memcpy(dst->message, src->message, sizeof(dst->message));
  memcpy(dst->request_id, src->request_id, sizeof(dst->request_id));
}

ferry_err_t xml_parser_finish(xml_parser_t *p, void *out, store_error_t *err,
                              char *errbuf) {
  ferry_err_t rc = FERRY_OK;
  if (!p) return ferry_seterr(errbuf, FERRY_ERR_INVALID, "xml: no parser");
  if (p->finished && !p->err)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "xml: parser already finished");
  if (!out) return ferry_seterr(errbuf, FERRY_ERR_INVALID, "xml: no output");

  /* Outputs start empty, so callers can release them whatever happens. */
  switch (p->kind) {
    case XML_LIST:
      memset(out, 0, sizeof(store_list_page_t));
      break;
    case XML_ERROR:
      copy_error_fields(out, &p->serr);
      break;
    case XML_INITIATE:
    case XML_COMPLETE:
      *(char **)out = NULL;
      break;
    case XML_LIST_PARTS:
      memset(out, 0, sizeof(store_parts_t));
      break;
    case XML_LIST_UPLOADS:
      memset(out, 0, sizeof(store_uploads_t));
      break;
  }

  if (!p->err && !p->finished) {
    p->finished = 1;
    if (!p->started) {
      fail(p, FERRY_ERR_PARSE, "%s: empty body", root_name(p->kind));
    } else if (XML_Parse(p->xp, "", 0, XML_TRUE) != XML_STATUS_OK) {
      expat_failed(p);
    }
  }
  p->finished = 1;

  /* The fields of an <Error> body are worth having even when the body is
   * cut or malformed (s3rver writes HTML entities into error details). */
  if (p->error_root) {
    if (p->kind == XML_ERROR)
      copy_error_fields(out, &p->serr);
    else if (err)
      copy_error_fields(err, &p->serr);
  }
  if (p->err) return sticky(p, errbuf);

  if (p->error_root && p->kind != XML_ERROR) {
    char c[72], m[72];
    return ferry_seterr(errbuf, FERRY_ERR_STORE, "%s: the body is an error: %s: %s",
                        root_name(p->kind), snip(p->serr.code, c),
                        snip(p->serr.message, m));
  }

  switch (p->kind) {
    case XML_LIST:
      rc = finish_list(p);
      if (!rc) {
        *(store_list_page_t *)out = p->list;
        memset(&p->list, 0, sizeof(p->list));
      }
      break;
    case XML_ERROR:
      break;
    case XML_INITIATE:
    case XML_COMPLETE:
      if (!p->str || !*p->str) {
        fail(p, FERRY_ERR_PARSE, "%s: missing %s", root_name(p->kind),
             p->kind == XML_INITIATE ? "UploadId" : "ETag");
        rc = p->err;
      } else {
        *(char **)out = p->str;
        p->str = NULL;
      }
      break;
    case XML_LIST_PARTS:
      if (!(p->seen_top & (1u << F_TRUNCATED))) {
        fail(p, FERRY_ERR_PARSE, "ListPartsResult: missing IsTruncated");
        rc = p->err;
      } else {
        p->parts.truncated = p->truncated;
        *(store_parts_t *)out = p->parts;
        memset(&p->parts, 0, sizeof(p->parts));
      }
      break;
    case XML_LIST_UPLOADS:
      rc = finish_uploads(p);
      if (!rc) {
        *(store_uploads_t *)out = p->uploads;
        memset(&p->uploads, 0, sizeof(p->uploads));
      }
      break;
  }
  if (rc) return sticky(p, errbuf);
  return FERRY_OK;
}

static ferry_err_t parse_whole(xml_kind_t kind, const char *buf, size_t len, void *out,
                               store_error_t *err, char *errbuf) {
  xml_parser_t *p = xml_parser_new(kind, len ? len : 0);
  ferry_err_t rc = xml_parser_feed(p, buf, len, errbuf);
  ferry_err_t rc2 = xml_parser_finish(p, out, err, rc ? NULL : errbuf);
  xml_parser_destroy(p);
  return rc ? rc : rc2;
}

ferry_err_t store_xml_parse_list(const char *buf, size_t len, store_list_page_t *out,
                                 char *errbuf) {
  return parse_whole(XML_LIST, buf, len, out, NULL, errbuf);
}

ferry_err_t store_xml_parse_error(const char *buf, size_t len, store_error_t *out,
                                  char *errbuf) {
  return parse_whole(XML_ERROR, buf, len, out, NULL, errbuf);
}

ferry_err_t store_xml_parse_initiate(const char *buf, size_t len, char **upload_id,
                                     char *errbuf) {
  return parse_whole(XML_INITIATE, buf, len, upload_id, NULL, errbuf);
}

ferry_err_t store_xml_parse_complete(const char *buf, size_t len, char **etag,
                                     store_error_t *err, char *errbuf) {
  return parse_whole(XML_COMPLETE, buf, len, etag, err, errbuf);
}

ferry_err_t store_xml_parse_list_parts(const char *buf, size_t len, store_parts_t *out,
                                       char *errbuf) {
  return parse_whole(XML_LIST_PARTS, buf, len, out, NULL, errbuf);
}

ferry_err_t store_xml_parse_list_uploads(const char *buf, size_t len,
                                         store_uploads_t *out, char *errbuf) {
  return parse_whole(XML_LIST_UPLOADS, buf, len, out, NULL, errbuf);
}

void store_list_page_release(store_list_page_t *p) {
  size_t i;
  if (!p) return;
  for (i = 0; i < p->n_objects; i++) store_object_release(&p->objects[i]);
  fx_free(p->objects);
  for (i = 0; i < p->n_prefixes; i++) fx_free(p->prefixes[i]);
  fx_free(p->prefixes);
  fx_free(p->next_token);
  fx_free(p->next_marker);
  memset(p, 0, sizeof(*p));
}

void store_parts_release(store_parts_t *p) {
  size_t i;
  if (!p) return;
  for (i = 0; i < p->n; i++) fx_free(p->parts[i].etag);
  fx_free(p->parts);
  memset(p, 0, sizeof(*p));
}

void store_uploads_release(store_uploads_t *u) {
  size_t i;
  if (!u) return;
  for (i = 0; i < u->n; i++) {
    fx_free(u->uploads[i].key);
    fx_free(u->uploads[i].upload_id);
  }
  fx_free(u->uploads);
  fx_free(u->next_key_marker);
  fx_free(u->next_upload_id_marker);
  memset(u, 0, sizeof(*u));
}

void store_xml_escape(fbuf_t *out, const char *s) {
  if (!s) return;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    switch (c) {
      case '&':
        fbuf_adds(out, "&amp;");
        break;
      case '<':
        fbuf_adds(out, "&lt;");
        break;
      case '>':
        fbuf_adds(out, "&gt;");
        break;
      case '"':
        fbuf_adds(out, "&quot;");
        break;
      case '\'':
        fbuf_adds(out, "&apos;");
        break;
      case '\t':
        fbuf_adds(out, "&#9;");
        break;
      case '\n':
        fbuf_adds(out, "&#10;");
        break;
      case '\r':
        fbuf_adds(out, "&#13;");
        break;
      default:
        /* Other control bytes have no XML 1.0 form at all, not even as a
         * character reference; U+FFFD keeps the document well-formed and
         * makes the damage visible. */
        if (c < 0x20)
          fbuf_adds(out, "\xEF\xBF\xBD");
        else
          fbuf_addc(out, (char)c);
    }
  }
}
