/*
 * policy.h: the copy engine's decisions that need no I/O.
 *
 *  - store limits and multipart part sizing (as each vendor documents them);
 *  - the same-name decision: copy or skip, given the task's policy, the
 *    listed source object and the destination's HEAD;
 *  - metadata mapping: the request headers that carry a source object's
 *    metadata (standard headers, user metadata, storage class) to a
 *    destination of another type, within that destination's limits.
 *
 * Pure functions over memory; thread-safe.
 */
#ifndef FERRY_POLICY_POLICY_H
#define FERRY_POLICY_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "core/ferry.h"
#include "core/kv.h"
#include "store/client.h"
#include "store/store.h"

#define POLICY_MIB ((uint64_t)1 << 20)
#define POLICY_GIB ((uint64_t)1 << 30)
/* Part size used when the caller has no preference. */
#define POLICY_DEFAULT_PART_SIZE (8 * POLICY_MIB)

/* ---- Limits ------------------------------------------------------------ */

/* What a store type accepts (its vendor's documented multipart limits). */
typedef struct policy_limits {
  const char *name;        /* "S3", "OSS", "COS", for messages */
  uint64_t min_part;       /* smallest part except the last: OSS 100 KiB,
                              COS 1 MiB, S3 5 MiB */
  uint64_t max_part;       /* 5 GiB */
  uint32_t max_parts;      /* 10000 */
  uint64_t max_put;        /* largest single PUT: 5 GiB */
  uint64_t max_object;     /* max_parts * max_part = 50,000 GiB (48.8 TiB) */
  size_t meta_total;       /* user metadata, all names + values: S3 2 KiB,
                              OSS 8 KiB, COS 4 KiB */
  size_t meta_each;        /* one x-*-meta-* header line (name with prefix +
                              value): COS 2 KiB; 0 = no separate limit */
  const char *meta_prefix; /* "x-amz-meta-", "x-oss-meta-", "x-cos-meta-" */
  const char *class_header;/* "x-amz-storage-class", "x-oss-storage-class",
                              "x-cos-storage-class" */
} policy_limits_t;

/* Static limits of a store type; never NULL (unknown types get S3's). */
const policy_limits_t *policy_limits(store_type_t t);

/* ---- Part sizing ------------------------------------------------------- */

/* The multipart part size for an object of object_size bytes copied to a
 * store of type dst: preferred (0 = POLICY_DEFAULT_PART_SIZE), raised to the
 * destination's minimum part and to what keeps the part count <= max_parts,
 * rounded up to a whole MiB, and at most max_part.
 * Returns 0 when object_size exceeds the destination's maximum object size
 * (policy_check_size says so in words). */
uint64_t policy_part_size(store_type_t dst, uint64_t object_size, uint64_t preferred);

/* FERRY_OK, or FERRY_ERR_INVALID with "object of N bytes exceeds <type>'s
 * maximum object size of M bytes" in errbuf. */
ferry_err_t policy_check_size(store_type_t dst, uint64_t object_size, char *errbuf);

/* Number of parts of object_size bytes cut in part_size pieces: ceil(size /
 * part_size), and 1 for an empty object (an upload needs one part, the last
 * part may be empty). 0 when part_size is 0. */
uint32_t policy_part_count(uint64_t object_size, uint64_t part_size);

/* Byte range of part number part_no (1-based, as in UploadPart and
 * msg_range_t): *offset and *len. Returns 0, or -1 when part_no is outside
 * [1, policy_part_count()] or part_size is 0. */
int policy_part_range(uint64_t object_size, uint64_t part_size, uint32_t part_no,
                      uint64_t *offset, uint64_t *len);

/* 1 when an object should go as a multipart upload: of threshold bytes or
 * more (0 = never by choice; as worker.multipart_threshold is documented, and
 * like lister.fanout_threshold) or too large for one PUT at dst. */
int policy_use_multipart(store_type_t dst, uint64_t object_size, uint64_t threshold);

/* ---- Same-name decision ------------------------------------------------ */

typedef enum policy_action { POLICY_ACT_COPY = 0, POLICY_ACT_SKIP } policy_action_t;

/* What to do with src, whose destination HEAD is dst (NULL = the destination
 * object is absent), under policy p. *reason (may be NULL) receives a static
 * word:
 *   SKIP: "exists" (POLICY_SKIP and dst present), "same-crc64", "same-etag"
 *         (POLICY_SKIP_IF_SAME matched);
 *   COPY: "absent", "overwrite", "size-differs", "crc64-differs",
 *         "etag-differs", "unverifiable" (nothing reliable to compare).
 * skip-if-same compares size and CRC-64 when both sides have one (and then
 * only that); otherwise size and ETag, only when the source ETag is a
 * single-part MD5 (32 hex digits, no "-N" suffix), case-insensitively.
 * It never skips on doubt. */
policy_action_t policy_decide(msg_policy_t p, const msg_obj_t *src,
                              const store_head_t *dst, const char **reason);

/* 1 when etag (surrounding quotes tolerated) is 32 hex digits: the MD5 of the
 * content, as single-part PUTs give. */
int policy_etag_is_md5(const char *etag);

/* Continuing an upload left open (docs/worker.md): 1 when the listed upload
 * u is one of exactly key (a listing by prefix also gives longer keys). */
int policy_upload_is_of(const store_upload_t *u, const char *key);

/* Of the n open uploads listed, the one a copy of key continues: the newest
 * initiated of that key (the later listed on a tie, unknown times oldest), or
 * -1 when there is none. The others of key are aborted. */
long policy_resume_pick(const store_upload_t *u, size_t n, const char *key);

/* 1 when etag is 32 hex digits AND the response headers hdrs (of a GET,
 * HEAD or PUT of that object, names case-insensitive) guarantee that it is
 * the MD5 of the bytes, for a store of type t. A listing carries no
 * encryption information, so only a response's headers can say:
 *   S3:  no `x-amz-server-side-encryption: aws:kms` (or aws:kms:dsse), no
 *        SSE-C header (x-amz-server-side-encryption-customer-algorithm /
 *        -customer-key-MD5). SSE-S3 (AES256) keeps the MD5.
 *   OSS: `x-oss-object-type: Normal` (Multipart and Appendable objects have
 *        other ETags) and no `x-oss-server-side-encryption: KMS`.
 *   COS: `x-cos-object-type` absent or `normal`, no
 *        x-cos-server-side-encryption at all (COS says an encrypted object's
 *        ETag differs) and no SSE-C header.
 *   HTTP (URL lists): never; a web server's ETag is its own business.
 * hdrs NULL: 0. */
int policy_etag_md5_trusted(store_type_t t, const kvlist_t *hdrs, const char *etag);

/* Where an object's copy goes (docs/worker.md "Destination keys").
 * explicit_key (a URL list's dst_key) wins when given. Otherwise the key is
 * dst_prefix + (key less src_prefix). When that is empty (the source key
 * equals the source prefix and the destination prefix is empty):
 *   - a zero-byte key ending in '/' is the folder marker of the source
 *     prefix: its copy would be the destination bucket's root, which needs
 *     no marker -> POLICY_DK_SKIP_MARKER (skipped, reason "prefix-marker");
 *   - another object (content, or an empty file) goes under its own name,
 *     the part of its key after the last '/', as `cp DIR/logs BUCKET/`
 *     would -> POLICY_DK_OK with that name;
 *   - a key ending in '/' with content has no such name ->
 *     POLICY_DK_EMPTY (failed, reason "empty-key").
 * An explicit key that is empty is POLICY_DK_EMPTY. *out is set (owned,
 * fx_free) for POLICY_DK_OK only, else NULL. */
typedef enum policy_dk {
  POLICY_DK_OK = 0,
  POLICY_DK_SKIP_MARKER,
  POLICY_DK_EMPTY
} policy_dk_t;
policy_dk_t policy_dst_key(const char *src_prefix, const char *dst_prefix, const char *key,
                           uint64_t size, const char *explicit_key, char **out);

/* 1 when both ETags are given and equal, case-insensitively, surrounding
 * quotes tolerated on either. */
int policy_etag_equal(const char *a, const char *b);

/* ---- Metadata mapping -------------------------------------------------- */

typedef struct policy_meta_opts {
  /* Storage-class table: name = source class, value = destination class
   * (both as the stores spell them; names match case-insensitively). An
   * empty value means "omit the header". The name "*" matches every class
   * the table does not name. Classes the table does not cover go through
   * the default table; NULL = defaults only. Build it from the config's
   * "SRC=DST" strings with policy_class_map_parse(). */
  const kvlist_t *class_map;
  /* Record the source ETag as user metadata "ferry-src-etag". */
  int record_src_etag;
} policy_meta_opts_t;

/* Parses "SRC=DST" strings (DST may be empty: omit) into map (appended).
 * Class names may hold letters, digits, '_' and '-'; SRC may also be "*".
 * FERRY_ERR_CONFIG naming the entry otherwise, and map is left unchanged. */
/* A storage class name: letters, digits, '_' and '-'; "*" too when
 * allow_star (a map's SRC). The one rule of the map's names, which the
 * config loader checks with it. */
int policy_class_name_ok(const char *s, int allow_star);
ferry_err_t policy_class_map_parse(kvlist_t *map, const char *const *pairs, size_t n,
                                   char *errbuf);

/* The destination class for source class src_class (NULL = the source did
 * not say) from src_type to dst_type: the opts' table first, then the
 * default table, which maps by tier:
 *   standard:     OSS Standard, COS STANDARD/MAZ_STANDARD, S3 STANDARD/REDUCED_REDUNDANCY
 *                 -> OSS Standard, COS STANDARD, S3 STANDARD
 *   infrequent:   OSS IA, COS STANDARD_IA/MAZ_STANDARD_IA, S3 STANDARD_IA/ONEZONE_IA
 *                 -> OSS IA, COS STANDARD_IA, S3 STANDARD_IA
 *   archive:      OSS Archive, COS ARCHIVE, S3 GLACIER/GLACIER_IR
 *                 -> OSS Archive, COS ARCHIVE, S3 GLACIER
 *   cold archive: OSS ColdArchive -> OSS ColdArchive, COS DEEP_ARCHIVE, S3 DEEP_ARCHIVE
 *   deep archive: OSS DeepColdArchive, COS DEEP_ARCHIVE, S3 DEEP_ARCHIVE
 *                 -> OSS DeepColdArchive, COS DEEP_ARCHIVE, S3 DEEP_ARCHIVE
 * Returns a borrowed string (static, or the table's value), or NULL when the
 * class is unmapped (intelligent tiering, unknown names, no source class):
 * the header is then omitted and the object lands in the destination
 * bucket's default class. */
const char *policy_class_map(const char *src_class, store_type_t src_type,
                             store_type_t dst_type, const policy_meta_opts_t *opts);

/* Appends to out the request headers that give the destination (type
 * dst_type) the metadata of src (a HEAD of type src_type): Content-Type,
 * Content-Encoding, Content-Disposition, Content-Language, Cache-Control,
 * Expires; user metadata as <dst prefix><name>; the mapped storage class
 * (omitted when unmapped); x-*-meta-ferry-src-etag when asked. opts may be
 * NULL (defaults, no ETag record).
 *
 * Fails — appending nothing — when the metadata cannot be carried as it is:
 * a user metadata name with characters the destination refuses (OSS/COS:
 * only letters, digits and '-'; S3: HTTP token characters), a header value
 * with control characters, or the destination's size limits exceeded (sizes
 * count name without prefix + value per entry for the total, and the whole
 * header line for COS's per-header limit). The error is FERRY_ERR_INVALID
 * with a message naming the header, e.g.
 *   "metadata: x-cos-meta-notes: 2100 bytes, above COS's 2048-byte limit per header"
 * and the worker reports the object failed with reason "metadata" rather
 * than dropping anything silently. */
ferry_err_t policy_meta_map(const store_head_t *src, store_type_t src_type,
                            store_type_t dst_type, const policy_meta_opts_t *opts,
                            kvlist_t *out, char *errbuf);

#endif
