/*
 * fuzz_xml.h: the XML targets' common check. Each input is parsed twice,
 * through the whole-buffer entry point and through xml_parser_feed in
 * chunks of input-derived sizes (as libcurl delivers a body); both must
 * give the same verdict and the same results, outputs must be empty after
 * a failure, and every documented bound must hold on success.
 */
#ifndef FERRY_FUZZ_XML_H
#define FERRY_FUZZ_XML_H

#include <string.h>

#include "core/enc.h"
#include "fuzz_util.h"
#include "store/xml.h"

typedef union xml_out {
  store_list_page_t list;
  store_error_t err;
  char *str;
  store_parts_t parts;
  store_uploads_t uploads;
} xml_out_t;

static ferry_err_t xml_entry(xml_kind_t kind, const char *buf, size_t len, xml_out_t *out,
                             store_error_t *err, char *eb) {
  switch (kind) {
    case XML_LIST:
      return store_xml_parse_list(buf, len, &out->list, eb);
    case XML_ERROR:
      return store_xml_parse_error(buf, len, &out->err, eb);
    case XML_INITIATE:
      return store_xml_parse_initiate(buf, len, &out->str, eb);
    case XML_COMPLETE:
      return store_xml_parse_complete(buf, len, &out->str, err, eb);
    case XML_LIST_PARTS:
      return store_xml_parse_list_parts(buf, len, &out->parts, eb);
    case XML_LIST_UPLOADS:
      return store_xml_parse_list_uploads(buf, len, &out->uploads, eb);
  }
  abort();
}

static ferry_err_t xml_chunked(xml_kind_t kind, const uint8_t *data, size_t size,
                               xml_out_t *out, store_error_t *err, char *eb) {
  xml_parser_t *p = xml_parser_new(kind, 0);
  fuzz_rng_t r;
  size_t off = 0;
  ferry_err_t rc = FERRY_OK, rc2;
  char eb2[FERRY_ERRLEN];
  FUZZ_CHECK(p != NULL);
  fuzz_rng_init(&r, data, size);
  while (off < size && rc == FERRY_OK) {
    size_t n = fuzz_chunk(&r, size - off);
    rc = xml_parser_feed(p, (const char *)data + off, n, eb);
    off += n;
  }
  rc2 = xml_parser_finish(p, out, err, eb2);
  if (rc != FERRY_OK) {
    /* finish after a failed feed repeats the failure. */
    FUZZ_CHECK(rc2 == rc);
    FUZZ_CHECK(strcmp(eb, eb2) == 0);
  } else {
    rc = rc2;
    memcpy(eb, eb2, sizeof(eb2));
  }
  xml_parser_destroy(p);
  return rc;
}

static int str_eq(const char *a, const char *b) {
  if (!a || !b) return a == b;
  return strcmp(a, b) == 0;
}

/* A fixed field of store_error_t: terminated, and valid UTF-8 (it goes to
 * logs and into Kafka outcomes). */
static int bounded(const char *s, size_t cap) {
  const char *z = memchr(s, '\0', cap);
  return z != NULL && enc_utf8_valid(s, (size_t)(z - s));
}

/* Checks one result against the contract; returns nothing, aborts. */
static void xml_check_one(xml_kind_t kind, ferry_err_t rc, const xml_out_t *o,
                          const store_error_t *err, const char *eb) {
  size_t i;
  FUZZ_CHECK(rc == FERRY_OK || rc == FERRY_ERR_PARSE || rc == FERRY_ERR_STORE);
  FUZZ_CHECK(rc == FERRY_OK || eb[0] != '\0');
  FUZZ_CHECK(rc != FERRY_ERR_STORE || kind != XML_ERROR);
  switch (kind) {
    case XML_LIST:
      if (rc != FERRY_OK) {
        FUZZ_CHECK(o->list.objects == NULL && o->list.n_objects == 0);
        FUZZ_CHECK(o->list.prefixes == NULL && o->list.n_prefixes == 0);
        FUZZ_CHECK(o->list.next_token == NULL && o->list.next_marker == NULL);
        break;
      }
      for (i = 0; i < o->list.n_objects; i++) {
        const char *k = o->list.objects[i].key;
        FUZZ_CHECK(k && *k && strlen(k) <= STORE_KEY_MAX);
      }
      for (i = 0; i < o->list.n_prefixes; i++) {
        const char *k = o->list.prefixes[i];
        FUZZ_CHECK(k && *k && strlen(k) <= STORE_KEY_MAX);
      }
      FUZZ_CHECK(o->list.truncated == 0 || o->list.truncated == 1);
      break;
    case XML_ERROR:
      FUZZ_CHECK(bounded(o->err.code, sizeof(o->err.code)));
      FUZZ_CHECK(bounded(o->err.message, sizeof(o->err.message)));
      FUZZ_CHECK(bounded(o->err.request_id, sizeof(o->err.request_id)));
      break;
    case XML_INITIATE:
    case XML_COMPLETE:
      FUZZ_CHECK(rc == FERRY_OK ? o->str && *o->str : o->str == NULL);
      if (rc == FERRY_ERR_STORE) {
        if (err) {
          FUZZ_CHECK(bounded(err->code, sizeof(err->code)));
          FUZZ_CHECK(bounded(err->message, sizeof(err->message)));
          FUZZ_CHECK(bounded(err->request_id, sizeof(err->request_id)));
        }
      }
      break;
    case XML_LIST_PARTS:
      if (rc != FERRY_OK) {
        FUZZ_CHECK(o->parts.parts == NULL && o->parts.n == 0);
        break;
      }
      for (i = 0; i < o->parts.n; i++) {
        FUZZ_CHECK(o->parts.parts[i].number >= 1);
        FUZZ_CHECK(o->parts.parts[i].etag != NULL);
      }
      FUZZ_CHECK(o->parts.next_marker >= 0);
      break;
    case XML_LIST_UPLOADS:
      if (rc != FERRY_OK) {
        FUZZ_CHECK(o->uploads.uploads == NULL && o->uploads.n == 0);
        FUZZ_CHECK(o->uploads.next_key_marker == NULL);
        FUZZ_CHECK(o->uploads.next_upload_id_marker == NULL);
        break;
      }
      for (i = 0; i < o->uploads.n; i++) {
        const char *k = o->uploads.uploads[i].key;
        FUZZ_CHECK(k && *k && strlen(k) <= STORE_KEY_MAX);
        FUZZ_CHECK(o->uploads.uploads[i].upload_id != NULL);
      }
      break;
  }
}

/* The two parses agree. */
static void xml_check_same(xml_kind_t kind, const xml_out_t *a, const xml_out_t *b) {
  size_t i;
  switch (kind) {
    case XML_LIST:
      FUZZ_CHECK(a->list.n_objects == b->list.n_objects);
      FUZZ_CHECK(a->list.n_prefixes == b->list.n_prefixes);
      FUZZ_CHECK(a->list.truncated == b->list.truncated);
      FUZZ_CHECK(str_eq(a->list.next_token, b->list.next_token));
      FUZZ_CHECK(str_eq(a->list.next_marker, b->list.next_marker));
      for (i = 0; i < a->list.n_objects; i++) {
        const store_object_t *x = &a->list.objects[i], *y = &b->list.objects[i];
        FUZZ_CHECK(str_eq(x->key, y->key) && str_eq(x->etag, y->etag));
        FUZZ_CHECK(x->size == y->size && x->mtime == y->mtime);
        FUZZ_CHECK(str_eq(x->storage_class, y->storage_class));
      }
      for (i = 0; i < a->list.n_prefixes; i++)
        FUZZ_CHECK(str_eq(a->list.prefixes[i], b->list.prefixes[i]));
      break;
    case XML_ERROR:
      FUZZ_CHECK(strcmp(a->err.code, b->err.code) == 0);
      FUZZ_CHECK(strcmp(a->err.message, b->err.message) == 0);
      FUZZ_CHECK(strcmp(a->err.request_id, b->err.request_id) == 0);
      break;
    case XML_INITIATE:
    case XML_COMPLETE:
      FUZZ_CHECK(str_eq(a->str, b->str));
      break;
    case XML_LIST_PARTS:
      FUZZ_CHECK(a->parts.n == b->parts.n && a->parts.truncated == b->parts.truncated);
      FUZZ_CHECK(a->parts.next_marker == b->parts.next_marker);
      for (i = 0; i < a->parts.n; i++) {
        FUZZ_CHECK(a->parts.parts[i].number == b->parts.parts[i].number);
        FUZZ_CHECK(a->parts.parts[i].size == b->parts.parts[i].size);
        FUZZ_CHECK(str_eq(a->parts.parts[i].etag, b->parts.parts[i].etag));
      }
      break;
    case XML_LIST_UPLOADS:
      FUZZ_CHECK(a->uploads.n == b->uploads.n);
      FUZZ_CHECK(a->uploads.truncated == b->uploads.truncated);
      FUZZ_CHECK(str_eq(a->uploads.next_key_marker, b->uploads.next_key_marker));
      FUZZ_CHECK(
          str_eq(a->uploads.next_upload_id_marker, b->uploads.next_upload_id_marker));
      for (i = 0; i < a->uploads.n; i++) {
        FUZZ_CHECK(str_eq(a->uploads.uploads[i].key, b->uploads.uploads[i].key));
        FUZZ_CHECK(
            str_eq(a->uploads.uploads[i].upload_id, b->uploads.uploads[i].upload_id));
        FUZZ_CHECK(a->uploads.uploads[i].initiated == b->uploads.uploads[i].initiated);
      }
      break;
  }
}

static void xml_release(xml_kind_t kind, xml_out_t *o) {
  switch (kind) {
    case XML_LIST:
      store_list_page_release(&o->list);
      break;
    case XML_INITIATE:
    case XML_COMPLETE:
      fx_free(o->str);
      break;
    case XML_LIST_PARTS:
      store_parts_release(&o->parts);
      break;
    case XML_LIST_UPLOADS:
      store_uploads_release(&o->uploads);
      break;
    case XML_ERROR:
      break;
  }
}

/* The whole check for one input. */
static void xml_fuzz_one(xml_kind_t kind, const uint8_t *data, size_t size) {
  xml_out_t a, b;
  store_error_t ea, eb_;
  char eba[FERRY_ERRLEN], ebb[FERRY_ERRLEN];
  ferry_err_t ra, rb;
  memset(&a, 0x5a, sizeof(a)); /* outputs are uninitialized on entry */
  memset(&b, 0x5a, sizeof(b));
  memset(&ea, 0, sizeof(ea));
  memset(&eb_, 0, sizeof(eb_));
  if (kind == XML_ERROR) {
    memset(&a.err, 0, sizeof(a.err));
    memset(&b.err, 0, sizeof(b.err));
  }
  eba[0] = ebb[0] = '\0';
  ra = xml_entry(kind, (const char *)data, size, &a, &ea, eba);
  rb = xml_chunked(kind, data, size, &b, &eb_, ebb);
  xml_check_one(kind, ra, &a, &ea, eba);
  xml_check_one(kind, rb, &b, &eb_, ebb);
  FUZZ_CHECK(ra == rb);
  if (ra == FERRY_OK || kind == XML_ERROR) xml_check_same(kind, &a, &b);
  if (ra == FERRY_ERR_STORE) {
    FUZZ_CHECK(strcmp(ea.code, eb_.code) == 0);
    FUZZ_CHECK(strcmp(ea.message, eb_.message) == 0);
  }
  xml_release(kind, &a);
  xml_release(kind, &b);
}

#endif
