/* policy.c: store limits, part sizing, same-name decision, metadata mapping. */
#include "policy/policy.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* ---- Limits ------------------------------------------------------------ */

#define KIB ((uint64_t)1024)
#define MAX_PART (5 * POLICY_GIB)
#define MAX_PARTS 10000u

#define COMMON_LIMITS                                                   \
  .max_part = MAX_PART, .max_parts = MAX_PARTS, .max_put = 5 * POLICY_GIB, \
  .max_object = (uint64_t)MAX_PARTS * MAX_PART

static const policy_limits_t limits_s3 = {
    .name = "S3", .min_part = 5 * POLICY_MIB, COMMON_LIMITS,
    .meta_total = 2 * KIB, .meta_each = 0,
    .meta_prefix = "x-amz-meta-", .class_header = "x-amz-storage-class"};
static const policy_limits_t limits_oss = {
    .name = "OSS", .min_part = 100 * KIB, COMMON_LIMITS,
    .meta_total = 8 * KIB, .meta_each = 0,
    .meta_prefix = "x-oss-meta-", .class_header = "x-oss-storage-class"};
static const policy_limits_t limits_cos = {
    .name = "COS", .min_part = POLICY_MIB, COMMON_LIMITS,
    .meta_total = 4 * KIB, .meta_each = 2 * KIB,
    .meta_prefix = "x-cos-meta-", .class_header = "x-cos-storage-class"};

const policy_limits_t *policy_limits(store_type_t t) {
  switch (t) {
  case STORE_OSS: return &limits_oss;
  case STORE_COS: return &limits_cos;
  case STORE_S3:
  case STORE_HTTP: return &limits_s3;
  }
  return &limits_s3;
}

/* ---- Part sizing ------------------------------------------------------- */

uint64_t policy_part_size(store_type_t dst, uint64_t object_size, uint64_t preferred) {
  const policy_limits_t *l = policy_limits(dst);
  uint64_t p = preferred ? preferred : POLICY_DEFAULT_PART_SIZE;
  uint64_t need;
  if (object_size > l->max_object) return 0;
  /* Smallest part that keeps the count within max_parts. */
  need = object_size / l->max_parts + (object_size % l->max_parts != 0);
  if (p < l->min_part) p = l->min_part;
  if (p < need) p = need;
  if (p > l->max_part) p = l->max_part;
  /* max_part is a whole number of MiB, so rounding up cannot pass it. */
  p = (p + POLICY_MIB - 1) / POLICY_MIB * POLICY_MIB;
  return p;
}

ferry_err_t policy_check_size(store_type_t dst, uint64_t object_size, char *errbuf) {
  const policy_limits_t *l = policy_limits(dst);
  if (object_size > l->max_object)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                        "object of %llu bytes exceeds %s's maximum object size of "
                        "%llu bytes",
                        (unsigned long long)object_size, l->name,
                        (unsigned long long)l->max_object);
  return FERRY_OK;
}

uint32_t policy_part_count(uint64_t object_size, uint64_t part_size) {
  uint64_t n;
  if (part_size == 0) return 0;
  if (object_size == 0) return 1;
  n = object_size / part_size + (object_size % part_size != 0);
  return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

int policy_part_range(uint64_t object_size, uint64_t part_size, uint32_t part_no,
                      uint64_t *offset, uint64_t *len) {
  uint32_t n = policy_part_count(object_size, part_size);
  uint64_t off;
  if (n == 0 || part_no < 1 || part_no > n) return -1;
  off = (uint64_t)(part_no - 1) * part_size;
  *offset = off;
  *len = object_size - off < part_size ? object_size - off : part_size;
  return 0;
}

int policy_use_multipart(store_type_t dst, uint64_t object_size, uint64_t threshold) {
  if (threshold > 0 && object_size >= threshold) return 1;  /* "from this size" */
  return object_size > policy_limits(dst)->max_put;
}

/* ---- Same-name decision ------------------------------------------------ */

/* The ETag without surrounding quotes, as start and length. */
static const char *etag_span(const char *etag, size_t *len) {
  size_t n = strlen(etag);
  if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') {
    etag++;
    n -= 2;
  }
  *len = n;
  return etag;
}

int policy_upload_is_of(const store_upload_t *u, const char *key) {
  return u->key && u->upload_id && key && strcmp(u->key, key) == 0;
}

long policy_resume_pick(const store_upload_t *u, size_t n, const char *key) {
  long best = -1;
  size_t i;
  for (i = 0; i < n; i++) {
    if (!policy_upload_is_of(&u[i], key)) continue;
    if (best < 0 || u[i].initiated >= u[best].initiated) best = (long)i;
  }
  return best;
}

int policy_etag_is_md5(const char *etag) {
  size_t n, i;
  const char *e;
  if (!etag) return 0;
  e = etag_span(etag, &n);
  if (n != 32) return 0;
  for (i = 0; i < n; i++)
    if (!isxdigit((unsigned char)e[i])) return 0;
  return 1;
}

static int hdr_is(const kvlist_t *h, const char *name, const char *value) {
  const char *v = kvlist_get(h, name);
  return v && strcasecmp(v, value) == 0;
}

int policy_etag_md5_trusted(store_type_t t, const kvlist_t *h, const char *etag) {
  const char *v;
  if (!h || !policy_etag_is_md5(etag)) return 0;
  switch (t) {
  case STORE_S3:
    v = kvlist_get(h, "x-amz-server-side-encryption");
    if (v && strncasecmp(v, "aws:kms", 7) == 0) return 0;
    return !kvlist_get(h, "x-amz-server-side-encryption-customer-algorithm") &&
           !kvlist_get(h, "x-amz-server-side-encryption-customer-key-MD5");
  case STORE_OSS:
    return hdr_is(h, "x-oss-object-type", "Normal") &&
           !hdr_is(h, "x-oss-server-side-encryption", "KMS");
  case STORE_COS:
    v = kvlist_get(h, "x-cos-object-type");
    if (v && strcasecmp(v, "normal") != 0) return 0;
    return !kvlist_get(h, "x-cos-server-side-encryption") &&
           !kvlist_get(h, "x-cos-server-side-encryption-customer-algorithm");
  default:
    return 0;
  }
}

policy_dk_t policy_dst_key(const char *src_prefix, const char *dst_prefix, const char *key,
                           uint64_t size, const char *explicit_key, char **out) {
  const char *rel = key ? key : "", *slash;
  size_t plen = src_prefix ? strlen(src_prefix) : 0, klen;
  *out = NULL;
  if (explicit_key) {
    if (!*explicit_key) return POLICY_DK_EMPTY;
    *out = fx_strdup(explicit_key);
    return POLICY_DK_OK;
  }
  if (plen && strncmp(rel, src_prefix, plen) == 0) rel += plen;
  if (*rel || (dst_prefix && *dst_prefix)) {
    *out = fx_asprintf("%s%s", dst_prefix ? dst_prefix : "", rel);
    return POLICY_DK_OK;
  }
  klen = strlen(key ? key : "");
  if (klen && key[klen - 1] == '/') return size == 0 ? POLICY_DK_SKIP_MARKER : POLICY_DK_EMPTY;
  if (!klen) return POLICY_DK_EMPTY;
  slash = strrchr(key, '/');
  *out = fx_strdup(slash ? slash + 1 : key);
  return POLICY_DK_OK;
}

int policy_etag_equal(const char *a, const char *b) {
  size_t na, nb;
  const char *ea, *eb;
  if (!a || !b) return 0;
  ea = etag_span(a, &na);
  eb = etag_span(b, &nb);
  return na == nb && strncasecmp(ea, eb, na) == 0;
}

static policy_action_t verdict(policy_action_t a, const char *why, const char **reason) {
  if (reason) *reason = why;
  return a;
}

policy_action_t policy_decide(msg_policy_t p, const msg_obj_t *src,
                              const store_head_t *dst, const char **reason) {
  switch (p) {
  case POLICY_OVERWRITE:
    return verdict(POLICY_ACT_COPY, dst ? "overwrite" : "absent", reason);
  case POLICY_SKIP:
    if (dst) return verdict(POLICY_ACT_SKIP, "exists", reason);
    return verdict(POLICY_ACT_COPY, "absent", reason);
  case POLICY_SKIP_IF_SAME:
    break;
  default:
    /* An unknown policy value must not lose data: copy. */
    return verdict(POLICY_ACT_COPY, "overwrite", reason);
  }
  if (!dst) return verdict(POLICY_ACT_COPY, "absent", reason);
  if (!src) return verdict(POLICY_ACT_COPY, "unverifiable", reason);
  if (src->size != dst->size) return verdict(POLICY_ACT_COPY, "size-differs", reason);
  /* CRC-64 is the same function on OSS and COS whatever the part layout, so
   * when both sides have it, it alone decides. */
  if (src->has_crc64 && dst->has_crc64) {
    if (src->crc64 == dst->crc64) return verdict(POLICY_ACT_SKIP, "same-crc64", reason);
    return verdict(POLICY_ACT_COPY, "crc64-differs", reason);
  }
  /* A multipart ETag ("...-N") or any other non-MD5 ETag says nothing about
   * the bytes across stores. */
  if (policy_etag_is_md5(src->etag)) {
    if (policy_etag_equal(src->etag, dst->etag))
      return verdict(POLICY_ACT_SKIP, "same-etag", reason);
    if (policy_etag_is_md5(dst->etag))
      return verdict(POLICY_ACT_COPY, "etag-differs", reason);
  }
  return verdict(POLICY_ACT_COPY, "unverifiable", reason);
}

/* ---- Storage classes --------------------------------------------------- */

typedef enum tier { TIER_STD = 0, TIER_IA, TIER_ARCH, TIER_COLD, TIER_DEEP, TIER__N } tier_t;

typedef struct class_tier {
  const char *name;
  tier_t tier;
} class_tier_t;

static const class_tier_t oss_classes[] = {
    {"Standard", TIER_STD},      {"IA", TIER_IA},
    {"Archive", TIER_ARCH},      {"ColdArchive", TIER_COLD},
    {"DeepColdArchive", TIER_DEEP},
};
static const class_tier_t cos_classes[] = {
    {"STANDARD", TIER_STD},    {"MAZ_STANDARD", TIER_STD},
    {"STANDARD_IA", TIER_IA},  {"MAZ_STANDARD_IA", TIER_IA},
    {"ARCHIVE", TIER_ARCH},    {"DEEP_ARCHIVE", TIER_DEEP},
};
/* GLACIER_IR is read without a restore, so it maps to infrequent access:
 * putting it in an archive class elsewhere would make the copies unreadable
 * until restored. */
static const class_tier_t s3_classes[] = {
    {"STANDARD", TIER_STD},    {"REDUCED_REDUNDANCY", TIER_STD},
    {"STANDARD_IA", TIER_IA},  {"ONEZONE_IA", TIER_IA},
    {"GLACIER_IR", TIER_IA},   {"GLACIER", TIER_ARCH},
    {"DEEP_ARCHIVE", TIER_DEEP},
};

static const char *const oss_out[TIER__N] = {"Standard", "IA", "Archive", "ColdArchive",
                                             "DeepColdArchive"};
static const char *const cos_out[TIER__N] = {"STANDARD", "STANDARD_IA", "ARCHIVE",
                                             "DEEP_ARCHIVE", "DEEP_ARCHIVE"};
static const char *const s3_out[TIER__N] = {"STANDARD", "STANDARD_IA", "GLACIER",
                                            "DEEP_ARCHIVE", "DEEP_ARCHIVE"};

int policy_class_name_ok(const char *s, int allow_star) {
  const char *c;
  if (!s) return 0;
  if (allow_star && strcmp(s, "*") == 0) return 1;
  if (!*s) return 0;
  for (c = s; *c; c++)
    if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-') return 0;
  return 1;
}

ferry_err_t policy_class_map_parse(kvlist_t *map, const char *const *pairs, size_t n,
                                   char *errbuf) {
  kvlist_t tmp;
  size_t i;
  kvlist_init(&tmp);
  for (i = 0; i < n; i++) {
    const char *s = pairs[i] ? pairs[i] : "";
    const char *eq = strchr(s, '=');
    char *src;
    if (!eq) {
      kvlist_release(&tmp);
      return ferry_seterr(errbuf, FERRY_ERR_CONFIG,
                          "storage class map entry %zu \"%s\": expected SRC=DST", i + 1, s);
    }
    src = fx_strndup(s, (size_t)(eq - s));
    if (!policy_class_name_ok(src, 1) || (eq[1] && !policy_class_name_ok(eq + 1, 0))) {
      fx_free(src);
      kvlist_release(&tmp);
      return ferry_seterr(errbuf, FERRY_ERR_CONFIG,
                          "storage class map entry %zu \"%s\": class names may hold "
                          "only letters, digits, '_' and '-'",
                          i + 1, s);
    }
    kvlist_add(&tmp, src, eq + 1);
    fx_free(src);
  }
  kvlist_copy(map, &tmp);
  kvlist_release(&tmp);
  return FERRY_OK;
}

static void class_table(store_type_t t, const class_tier_t **in, size_t *n_in,
                        const char *const **out) {
  switch (t) {
  case STORE_OSS:
    *in = oss_classes;
    *n_in = FERRY_ARRAY_LEN(oss_classes);
    *out = oss_out;
    return;
  case STORE_COS:
    *in = cos_classes;
    *n_in = FERRY_ARRAY_LEN(cos_classes);
    *out = cos_out;
    return;
  case STORE_S3:
  case STORE_HTTP:
    break;
  }
  *in = s3_classes;
  *n_in = FERRY_ARRAY_LEN(s3_classes);
  *out = s3_out;
}

const char *policy_class_map(const char *src_class, store_type_t src_type,
                             store_type_t dst_type, const policy_meta_opts_t *opts) {
  const class_tier_t *in;
  const char *const *out;
  const char *v;
  size_t n, i;
  if (!src_class || !*src_class) return NULL;
  if (opts && opts->class_map) {
    v = kvlist_get(opts->class_map, src_class);
    if (!v) v = kvlist_get(opts->class_map, "*");
    if (v) return *v ? v : NULL;
  }
  /* Between stores of one type every source class is a valid destination
   * class: keep it (this also carries classes with no tier, such as
   * INTELLIGENT_TIERING). */
  if (src_type == dst_type) return src_class;
  class_table(src_type, &in, &n, &out);
  for (i = 0; i < n; i++) {
    if (strcasecmp(in[i].name, src_class) == 0) {
      tier_t tier = in[i].tier;
      class_table(dst_type, &in, &n, &out);
      return out[tier];
    }
  }
  return NULL;
}

/* ---- Metadata mapping -------------------------------------------------- */

/* Standard headers carried as they are, in the order they are sent. */
static const char *const std_headers[] = {"Content-Encoding", "Content-Disposition",
                                          "Content-Language", "Cache-Control", "Expires"};

#define SRC_ETAG_META "ferry-src-etag"

/* Header values may hold anything but control characters (tab excepted):
 * a CR or LF would split the request's header block. */
static ferry_err_t check_value(const char *hdr, const char *v, char *errbuf) {
  const unsigned char *c;
  for (c = (const unsigned char *)v; *c; c++)
    if ((*c < 0x20 && *c != '\t') || *c == 0x7f)
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "metadata: %s: value has control character 0x%02x", hdr, *c);
  return FERRY_OK;
}

/* RFC 9110 token characters: what S3 accepts in a header name. */
static int is_tchar(unsigned char c) {
  return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static ferry_err_t check_meta_name(const policy_limits_t *l, store_type_t dst,
                                   const char *hdr, const char *name, char *errbuf) {
  const unsigned char *c;
  if (!*name)
    return ferry_seterr(errbuf, FERRY_ERR_INVALID, "metadata: %s: empty name", hdr);
  for (c = (const unsigned char *)name; *c; c++) {
    int ok = dst == STORE_S3 ? is_tchar(*c) : (isalnum(*c) || *c == '-');
    if (!ok) {
      if (*c > 0x20 && *c < 0x7f)
        return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                            "metadata: %s: name has '%c', which %s does not allow", hdr,
                            *c, l->name);
      return ferry_seterr(errbuf, FERRY_ERR_INVALID,
                          "metadata: %s: name has byte 0x%02x, which %s does not allow",
                          hdr, *c, l->name);
    }
  }
  return FERRY_OK;
}

/* Adds one user metadata entry to tmp after checking it; *total grows by
 * name + value. */
static ferry_err_t add_meta(kvlist_t *tmp, const policy_limits_t *l, store_type_t dst,
                            const char *name, const char *value, size_t *total,
                            char *errbuf) {
  char *hdr = fx_asprintf("%s%s", l->meta_prefix, name);
  size_t i, line;
  ferry_err_t err;
  /* Lower case: COS and OSS fold names anyway, S3 returns them lower-cased. */
  for (i = strlen(l->meta_prefix); hdr[i]; i++)
    hdr[i] = (char)tolower((unsigned char)hdr[i]);
  err = check_meta_name(l, dst, hdr, name, errbuf);
  if (err == FERRY_OK) err = check_value(hdr, value, errbuf);
  line = strlen(hdr) + strlen(value);
  if (err == FERRY_OK && l->meta_each && line > l->meta_each)
    err = ferry_seterr(errbuf, FERRY_ERR_INVALID,
                       "metadata: %s: %zu bytes, above %s's %zu-byte limit per header", hdr,
                       line, l->name, l->meta_each);
  *total += strlen(name) + strlen(value);
  if (err == FERRY_OK && *total > l->meta_total)
    err = ferry_seterr(errbuf, FERRY_ERR_INVALID,
                       "metadata: %s: user metadata reaches %zu bytes with this header, "
                       "above %s's %zu-byte total",
                       hdr, *total, l->name, l->meta_total);
  if (err == FERRY_OK) kvlist_add(tmp, hdr, value);
  fx_free(hdr);
  return err;
}

ferry_err_t policy_meta_map(const store_head_t *src, store_type_t src_type,
                            store_type_t dst_type, const policy_meta_opts_t *opts,
                            kvlist_t *out, char *errbuf) {
  const policy_limits_t *l = policy_limits(dst_type);
  int record = opts && opts->record_src_etag;
  kvlist_t tmp;
  size_t i, total = 0;
  const char *cls;
  ferry_err_t err = FERRY_OK;

  if (!src || !out) return ferry_seterr(errbuf, FERRY_ERR_INVALID, "metadata: no source");
  kvlist_init(&tmp);
  if (src->content_type && *src->content_type) {
    err = check_value("Content-Type", src->content_type, errbuf);
    if (err == FERRY_OK) kvlist_add(&tmp, "Content-Type", src->content_type);
  }
  for (i = 0; err == FERRY_OK && i < FERRY_ARRAY_LEN(std_headers); i++) {
    const char *v = kvlist_get(&src->std, std_headers[i]);
    if (!v) continue;
    err = check_value(std_headers[i], v, errbuf);
    if (err == FERRY_OK) kvlist_add(&tmp, std_headers[i], v);
  }
  for (i = 0; err == FERRY_OK && i < src->meta.n; i++) {
    const kv_t *m = &src->meta.v[i];
    /* Ours is re-recorded below with this copy's source ETag. */
    if (record && strcasecmp(m->name, SRC_ETAG_META) == 0) continue;
    err = add_meta(&tmp, l, dst_type, m->name, m->value, &total, errbuf);
  }
  if (err == FERRY_OK && record && src->etag && *src->etag) {
    size_t n;
    const char *e = etag_span(src->etag, &n);
    char *v = fx_strndup(e, n);
    err = add_meta(&tmp, l, dst_type, SRC_ETAG_META, v, &total, errbuf);
    fx_free(v);
  }
  if (err == FERRY_OK) {
    cls = policy_class_map(src->storage_class, src_type, dst_type, opts);
    if (cls && !policy_class_name_ok(cls, 0))
      err = ferry_seterr(errbuf, FERRY_ERR_INVALID, "metadata: %s: invalid class \"%s\"",
                         l->class_header, cls);
    else if (cls)
      kvlist_add(&tmp, l->class_header, cls);
  }
  if (err == FERRY_OK) kvlist_copy(out, &tmp);
  kvlist_release(&tmp);
  return err;
}
