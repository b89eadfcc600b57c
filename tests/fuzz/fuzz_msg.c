/*
 * libFuzzer target: the Kafka message decoders (lib/bus/msg.h). The first
 * byte picks the decoder ((byte - '0') mod 5, so the seeds start with a
 * digit: '0' segment, '1' result, '2' failed, '3' task, '4' outcome), the
 * rest is the JSON.
 *
 * Checked beyond memory safety: a failure leaves nothing to release (out
 * zeroed) and names a field; whatever a decoder accepts, the encoder of the
 * same message can write back (a worker must be able to re-publish what it
 * read), and decoding that again gives the same JSON (a fixed point).
 */
#include <string.h>

#include "bus/msg.h"
#include "fuzz_util.h"

static int all_zero(const void *p, size_t n) {
  const unsigned char *b = p;
  size_t i;
  for (i = 0; i < n; i++)
    if (b[i]) return 0;
  return 1;
}

#define ROUND(type, dec, enc, rel)                                    \
  do {                                                                \
    type m, m2;                                                       \
    char *j, *j2;                                                     \
    memset(&m, 0x5a, sizeof(m));                                      \
    rc = dec(json, len, &m, eb);                                      \
    if (rc != FERRY_OK) {                                             \
      FUZZ_CHECK(rc == FERRY_ERR_PARSE && eb[0] != '\0');             \
      FUZZ_CHECK(all_zero(&m, sizeof(m)));                            \
      break;                                                          \
    }                                                                 \
    j = enc(&m);                                                      \
    FUZZ_CHECK(j != NULL);                                            \
    rc = dec(j, strlen(j), &m2, eb);                                  \
    if (rc != FERRY_OK) fprintf(stderr, "fuzz: re-decode: %s\n", eb); \
    FUZZ_CHECK(rc == FERRY_OK);                                       \
    j2 = enc(&m2);                                                    \
    FUZZ_CHECK(j2 != NULL && strcmp(j, j2) == 0);                     \
    fx_free(j);                                                       \
    fx_free(j2);                                                      \
    rel(&m);                                                          \
    rel(&m2);                                                         \
    FUZZ_CHECK(all_zero(&m, sizeof(m)));                              \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *json;
  size_t len;
  char eb[FERRY_ERRLEN];
  ferry_err_t rc;
  if (size < 1) return 0;
  json = (const char *)data + 1;
  len = size - 1;
  eb[0] = '\0';
  switch ((uint8_t)(data[0] - '0') % 5) {
    case 0:
      ROUND(msg_segment_t, msg_segment_decode, msg_segment_encode, msg_segment_release);
      break;
    case 1:
      ROUND(msg_result_t, msg_result_decode, msg_result_encode, msg_result_release);
      break;
    case 2:
      ROUND(msg_failed_t, msg_failed_decode, msg_failed_encode, msg_failed_release);
      break;
    case 3:
      ROUND(msg_task_t, msg_task_decode, msg_task_encode, msg_task_release);
      break;
    default:
      ROUND(msg_outcome_t, msg_outcome_decode, msg_outcome_encode, msg_outcome_release);
      break;
  }
  return 0;
}
