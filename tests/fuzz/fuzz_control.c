/*
 * libFuzzer target: the console's control and taskstate decoders
 * (lib/bus/control.h). The input is the JSON; its first byte picks which.
 *
 * Checked beyond memory safety: a failure leaves nothing to release and
 * names a field; what the decoder accepts, the encoder writes back, and
 * decoding that again gives the same JSON (a fixed point).
 */
#include <string.h>

#include "bus/control.h"
#include "fuzz_util.h"

static int all_zero(const void *p, size_t n) {
  const unsigned char *b = p;
  size_t i;
  for (i = 0; i < n; i++)
    if (b[i]) return 0;
  return 1;
}

#define ROUND_TRIP(type, dec, enc, rel, buf, len)                              \
  do {                                                                         \
    type m, m2;                                                                \
    char eb[FERRY_ERRLEN], *j, *j2;                                            \
    ferry_err_t rc;                                                            \
    eb[0] = '\0';                                                              \
    memset(&m, 0x5a, sizeof(m));                                               \
    rc = dec(buf, len, &m, eb);                                                \
    if (rc != FERRY_OK) {                                                      \
      FUZZ_CHECK(rc == FERRY_ERR_PARSE && eb[0] != '\0');                      \
      FUZZ_CHECK(all_zero(&m, sizeof(m)));                                     \
      break;                                                                   \
    }                                                                          \
    j = enc(&m);                                                               \
    FUZZ_CHECK(j != NULL);                                                     \
    FUZZ_CHECK(dec(j, strlen(j), &m2, eb) == FERRY_OK);                        \
    j2 = enc(&m2);                                                             \
    FUZZ_CHECK(j2 != NULL && strcmp(j, j2) == 0);                              \
    fx_free(j);                                                                \
    fx_free(j2);                                                               \
    rel(&m);                                                                   \
    rel(&m2);                                                                  \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *buf = (const char *)data;
  if (size && (data[0] & 1))
    ROUND_TRIP(msg_taskstate_t, msg_taskstate_decode, msg_taskstate_encode,
               msg_taskstate_release, buf, size);
  else
    ROUND_TRIP(msg_control_t, msg_control_decode, msg_control_encode, msg_control_release,
               buf, size);
  return 0;
}
