/*
 * xml.h: streaming parsers (expat) for the store responses ferry reads:
 * ListObjectsV2 pages, error bodies, InitiateMultipartUpload,
 * CompleteMultipartUpload (including an <Error> inside a 200 body),
 * ListParts and ListMultipartUploads.
 *
 * Each parser is fed the body in chunks (xml_parser_feed), as libcurl
 * delivers it, then finished (xml_parser_finish). The entry points
 * store_xml_parse_*() parse a whole buffer and are the fuzz targets.
 * Malformed or truncated input gives FERRY_ERR_PARSE with a message naming
 * the element; never a crash. Not thread-safe per parser; pure otherwise.
 *
 * Details of the contract (xml.c has the reasons):
 * - Elements match by local name: xmlns / prefixes do not matter. Unknown
 *   elements are ignored; a DOCTYPE is refused; nesting is capped at 32 and
 *   the text of a collected element at 16 KiB.
 * - Leading whitespace (COS keep-alives before a Complete body) is skipped.
 * - With <EncodingType>url</EncodingType> (any case), keys, prefixes,
 *   NextMarker and NextKeyMarker are form-decoded (%XX, and '+' as space,
 *   as the OSS/COS/AWS SDKs do); NextContinuationToken is decoded for %XX
 *   only (a raw base64 '+' stays); upload ids are never decoded. A decoded
 *   NUL byte, an empty key or one over 1024 bytes (STORE_KEY_MAX) is FERRY_ERR_PARSE.
 * - Lists require IsTruncated; a Contents needs Key and Size, a Part
 *   PartNumber and ETag, an Upload Key and UploadId. Unparseable dates give
 *   mtime / initiated -1. ETags lose their quotes.
 * - A document whose root is <Error> given to any kind other than XML_ERROR
 *   returns FERRY_ERR_STORE, fills err (when not NULL) and names the code
 *   in errbuf. Only code, message and request_id of a store_error_t are
 *   written (here and for XML_ERROR); the caller sets status and classifies.
 * - XML_ERROR fills the fields it parsed even when it then fails (s3rver
 *   puts HTML entities such as &eacute; into error details).
 * - After any failure the outputs are empty (safe to release) and the
 *   parser keeps returning the same error.
 */
#ifndef FERRY_STORE_XML_H
#define FERRY_STORE_XML_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "store/store.h"

/* One page of ListObjectsV2. Keys, prefixes and tokens are decoded when the
 * response says <EncodingType>url</EncodingType>. */
typedef struct store_list_page {
  store_object_t *objects;   /* owned array */
  size_t n_objects;
  char **prefixes;           /* CommonPrefixes, owned */
  size_t n_prefixes;
  int truncated;             /* IsTruncated */
  char *next_token;          /* NextContinuationToken, or NULL */
  char *next_marker;         /* NextMarker (V1 listings), or NULL */
} store_list_page_t;

typedef struct store_part {
  int number;
  char *etag;                /* without quotes */
  uint64_t size;
} store_part_t;

typedef struct store_parts {
  store_part_t *parts;       /* owned */
  size_t n;
  int truncated;
  int next_marker;           /* NextPartNumberMarker */
} store_parts_t;

typedef struct store_upload {
  char *key;
  char *upload_id;
  time_t initiated;          /* -1 if unknown */
} store_upload_t;

typedef struct store_uploads {
  store_upload_t *uploads;   /* owned */
  size_t n;
  int truncated;
  char *next_key_marker;
  char *next_upload_id_marker;
} store_uploads_t;

void store_list_page_release(store_list_page_t *p);
void store_parts_release(store_parts_t *p);
void store_uploads_release(store_uploads_t *u);

typedef enum xml_kind {
  XML_LIST = 1,       /* out: store_list_page_t */
  XML_ERROR,          /* out: store_error_t (code, message, request_id) */
  XML_INITIATE,       /* out: char * upload id (new) */
  XML_COMPLETE,       /* out: char * etag (new); an <Error> root fills err instead */
  XML_LIST_PARTS,     /* out: store_parts_t */
  XML_LIST_UPLOADS    /* out: store_uploads_t */
} xml_kind_t;

typedef struct xml_parser xml_parser_t;

/* New parser of the given kind. Body size is capped at max_bytes (0 = 16 MiB);
 * past it, feed fails. */
xml_parser_t *xml_parser_new(xml_kind_t kind, size_t max_bytes);
void xml_parser_destroy(xml_parser_t *p);
ferry_err_t xml_parser_feed(xml_parser_t *p, const char *buf, size_t len,
                            char *errbuf);
/* Completes parsing. out is the result struct of the kind (see above); for
 * XML_INITIATE / XML_COMPLETE, out is a char ** receiving a new string.
 * For XML_COMPLETE, an <Error> document returns FERRY_ERR_STORE and fills
 * *err (err may be NULL for other kinds). A 200 body without the required
 * elements (UploadId, ETag) is FERRY_ERR_PARSE. */
ferry_err_t xml_parser_finish(xml_parser_t *p, void *out, store_error_t *err,
                              char *errbuf);

/* Whole-buffer entry points (fuzz targets). */
ferry_err_t store_xml_parse_list(const char *buf, size_t len,
                                 store_list_page_t *out, char *errbuf);
ferry_err_t store_xml_parse_error(const char *buf, size_t len,
                                  store_error_t *out, char *errbuf);
ferry_err_t store_xml_parse_initiate(const char *buf, size_t len,
                                     char **upload_id, char *errbuf);
ferry_err_t store_xml_parse_complete(const char *buf, size_t len, char **etag,
                                     store_error_t *err, char *errbuf);
ferry_err_t store_xml_parse_list_parts(const char *buf, size_t len,
                                       store_parts_t *out, char *errbuf);
ferry_err_t store_xml_parse_list_uploads(const char *buf, size_t len,
                                         store_uploads_t *out, char *errbuf);

/* Escapes s for an XML text node (for the CompleteMultipartUpload body):
 * & < > " ' as entities, TAB/LF/CR as character references; other bytes
 * below 0x20 have no XML 1.0 form and become U+FFFD. s may be NULL. */
void store_xml_escape(fbuf_t *out, const char *s);

#endif
