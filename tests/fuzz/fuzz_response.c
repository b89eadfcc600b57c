/*
 * libFuzzer target: what ferry makes of an HTTP response from a store
 * (lib/store/client.h): the header lines through store_hdr_cb (as libcurl
 * passes them), then store_error_from_response (status, request id,
 * Retry-After, x-oss-err, the XML error body: a 200 with an error body, an
 * HTML page, garbage), store_error_format, and store_head_from_headers
 * (absurd, negative or huge Content-Length, Content-Range, CRC-64 headers).
 *
 * Input: byte 0 picks the status (and the transport error for status 0),
 * byte 1 the store type; then header lines up to an empty line; the rest
 * is the body. Checked: every field of store_error_t stays terminated, the
 * formatted line fits, and a size comes only from a well-formed header.
 */
#include <string.h>

#include "fuzz_util.h"
#include "store/client.h"

static int terminated(const char *s, size_t cap) {
  return memchr(s, '\0', cap) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const int statuses[] = {200, 206, 204, 301, 304, 400, 403, 404,
                                 409, 416, 429, 500, 503, 0,   599, 1000};
  static const CURLcode ccs[] = {CURLE_OK, CURLE_OPERATION_TIMEDOUT, CURLE_RECV_ERROR,
                                 CURLE_COULDNT_CONNECT};
  static const store_type_t types[] = {STORE_S3, STORE_OSS, STORE_COS};
  const char *p, *end, *body;
  kvlist_t hdrs;
  store_error_t err;
  store_head_t head;
  char line[600];
  int status;
  CURLcode cc;
  if (size < 2) return 0;
  status = statuses[data[0] % 16];
  cc = status == 0 ? ccs[(data[0] >> 4) % 4] : CURLE_OK;
  p = (const char *)data + 2;
  end = (const char *)data + size;
  kvlist_init(&hdrs);
  /* Header lines, each with its line end, as libcurl hands them over. */
  body = end;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
    if (n == 1 || (n == 2 && p[0] == '\r')) {
      body = p + n;
      break;
    }
    store_hdr_cb((char *)p, 1, n, &hdrs);
    p += n;
  }
  store_error_from_response(&err, status, &hdrs, body, (size_t)(end - body), cc,
                            cc ? "transport error text" : NULL);
  FUZZ_CHECK(err.http_status == status);
  FUZZ_CHECK(terminated(err.code, sizeof(err.code)));
  FUZZ_CHECK(terminated(err.message, sizeof(err.message)));
  FUZZ_CHECK(terminated(err.request_id, sizeof(err.request_id)));
  FUZZ_CHECK(err.retryable == 0 || err.retryable == 1);
  FUZZ_CHECK(err.retry_after_s >= 0);
  store_error_format(&err, line, sizeof(line));
  FUZZ_CHECK(terminated(line, sizeof(line)));
  store_error_format(&err, line, 8); /* a short buffer is cut, not overrun */

  store_head_from_headers(&head, types[data[1] % 3], &hdrs);
  if (!kvlist_get(&hdrs, "Content-Length") && !kvlist_get(&hdrs, "Content-Range"))
    FUZZ_CHECK(head.size == 0);
  FUZZ_CHECK(head.has_crc64 == 0 || head.has_crc64 == 1);
  store_head_release(&head);
  kvlist_release(&hdrs);
  return 0;
}
