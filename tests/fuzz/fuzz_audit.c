/*
 * libFuzzer target: the audit message's decoder and its split into parts
 * (lib/bus/audit.h). The input is the JSON.
 *
 * Checked beyond memory safety: a failure leaves nothing to release (out
 * zeroed) and names a field; whatever the decoder accepts, the encoder writes
 * back and decoding that again gives the same JSON (a fixed point); split at
 * a limit derived from the input, every part fits and the parts hold the
 * records in order.
 */
#include <string.h>

#include "bus/audit.h"
#include "fuzz_util.h"

static int all_zero(const void *p, size_t n) {
  const unsigned char *b = p;
  size_t i;
  for (i = 0; i < n; i++)
    if (b[i]) return 0;
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  msg_audit_t m, m2;
  char eb[FERRY_ERRLEN], *j, *j2, **parts = NULL;
  size_t n = 0, i, recs = 0, max;
  ferry_err_t rc;
  eb[0] = '\0';
  memset(&m, 0x5a, sizeof(m));
  rc = msg_audit_decode((const char *)data, size, &m, eb);
  if (rc != FERRY_OK) {
    FUZZ_CHECK(rc == FERRY_ERR_PARSE && eb[0] != '\0');
    FUZZ_CHECK(all_zero(&m, sizeof(m)));
    return 0;
  }
  j = msg_audit_encode(&m);
  FUZZ_CHECK(j != NULL);
  rc = msg_audit_decode(j, strlen(j), &m2, eb);
  FUZZ_CHECK(rc == FERRY_OK);
  j2 = msg_audit_encode(&m2);
  FUZZ_CHECK(j2 != NULL && strcmp(j, j2) == 0);
  /* A limit between half and all of the whole message. */
  max = strlen(j) / 2 + (size ? data[0] : 0) * strlen(j) / 512 + 1;
  if (msg_audit_encode_parts(&m, max, &parts, &n, eb) == FERRY_OK) {
    for (i = 0; i < n; i++) {
      msg_audit_t p;
      FUZZ_CHECK(strlen(parts[i]) <= max);
      FUZZ_CHECK(msg_audit_decode(parts[i], strlen(parts[i]), &p, eb) == FERRY_OK);
      FUZZ_CHECK(recs + p.n_recs <= m.n_recs);
      FUZZ_CHECK(p.n_recs == 0 || strcmp(p.recs[0].key, m.recs[recs].key) == 0);
      recs += p.n_recs;
      msg_audit_release(&p);
    }
    FUZZ_CHECK(recs == m.n_recs);
    msg_parts_free(parts, n);
  } else {
    FUZZ_CHECK(parts == NULL && eb[0] != '\0');
  }
  fx_free(j);
  fx_free(j2);
  msg_audit_release(&m);
  msg_audit_release(&m2);
  FUZZ_CHECK(all_zero(&m, sizeof(m)));
  return 0;
}
