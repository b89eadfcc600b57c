/* syncdiff.c: listing-only comparison of a source and a destination object. */
#include "plan/syncdiff.h"

#include <string.h>
#include <strings.h>

#include "policy/policy.h"

static const char *const names[SD_KINDS] = {"same", "missing", "size", "crc64",
                                            "etag", "newer", "extra"};

const char *sd_kind_str(sd_kind_t k) {
  return (unsigned)k < SD_KINDS ? names[k] : "?";
}

/* The 32 hex digits of an MD5 ETag, quotes tolerated; NULL otherwise. */
static const char *md5_of(const char *etag, size_t *len) {
  if (!etag || !policy_etag_is_md5(etag)) return NULL;
  if (*etag == '"') etag++;
  *len = 32;
  return etag;
}

sd_kind_t sd_compare(const store_object_t *src, const store_object_t *dst) {
  const char *a, *b;
  size_t la = 0, lb = 0;
  if (src->size != dst->size) return SD_SIZE;
  if (src->has_crc64 && dst->has_crc64) return src->crc64 == dst->crc64 ? SD_SAME : SD_CRC64;
  a = md5_of(src->etag, &la);
  b = md5_of(dst->etag, &lb);
  if (a && b) return strncasecmp(a, b, 32) == 0 ? SD_SAME : SD_ETAG;
  if (src->mtime >= 0 && dst->mtime >= 0 && src->mtime > dst->mtime) return SD_NEWER;
  return SD_SAME;
}

int sd_key_cmp(const char *a, const char *b) {
  /* strcmp compares as unsigned char (C11 7.24.4), which is byte order. */
  return strcmp(a, b);
}
