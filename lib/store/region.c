/*
 * region.c: the signing region a well-known OSS or COS endpoint names
 * (store.h). Pure.
 */
#include "store/store.h"

#include <ctype.h>
#include <string.h>

/* The host of an endpoint, lower case, without scheme and port. */
void store_endpoint_host(const char *ep, char *out, size_t n) {
  const char *h = strstr(ep, "://");
  size_t i = 0;
  h = h ? h + 3 : ep;
  while (*h && *h != ':' && *h != '/' && i + 1 < n)
    out[i++] = (char)tolower((unsigned char)*h++);
  out[i] = 0;
}

/* The region named by a well-known endpoint host, or NULL. New string. */
char *store_region_from_endpoint(store_type_t type, const char *ep) {
  char host[256];
  size_t n;
  store_endpoint_host(ep, host, sizeof(host));
  n = strlen(host);
  if (type == STORE_OSS) {
    /* oss-cn-hangzhou.aliyuncs.com, oss-cn-hangzhou-internal.aliyuncs.com */
    const char *suf = ".aliyuncs.com";
    size_t sl = strlen(suf), rl;
    if (n <= sl + 4 || strncmp(host, "oss-", 4) != 0 || strcmp(host + n - sl, suf) != 0)
      return NULL;
    rl = n - sl - 4;
    if (rl > 9 && strncmp(host + 4 + rl - 9, "-internal", 9) == 0) rl -= 9;
    if (memchr(host + 4, '.', rl) || rl == 0) return NULL;
    if (strncmp(host + 4, "accelerate", 10) == 0) return NULL;
    return fx_strndup(host + 4, rl);
  }
  if (type == STORE_COS) {
    /* cos.ap-guangzhou.myqcloud.com, cos-internal.ap-guangzhou.tencentcos.cn; not
     * cos.accelerate.myqcloud.com, which names no region */
    const char *p = NULL, *dot;
    if (strncmp(host, "cos.", 4) == 0)
      p = host + 4;
    else if (strncmp(host, "cos-internal.", 13) == 0)
      p = host + 13;
    if (!p) return NULL;
    dot = strchr(p, '.');
    if (!dot || dot == p) return NULL;
    if (strncmp(p, "accelerate.", 11) == 0) return NULL; /* cos.accelerate.myqcloud.com */
    if (strcmp(dot, ".myqcloud.com") != 0 && strcmp(dot, ".tencentcos.cn") != 0)
      return NULL;
    return fx_strndup(p, (size_t)(dot - p));
  }
  return NULL;
}
