/* libFuzzer target: the multipart bodies. The first byte picks the parser
 * (its value mod 3: 0 ListParts, 1 ListMultipartUploads, 2
 * InitiateMultipartUpload; the seeds start with '0', '1', '2'), the rest is
 * the body. See fuzz_xml.h for what is checked. */
#include "fuzz_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const xml_kind_t kinds[] = {XML_LIST_PARTS, XML_LIST_UPLOADS, XML_INITIATE};
  if (size < 1) return 0;
  xml_fuzz_one(kinds[data[0] % 3], data + 1, size - 1);
  return 0;
}
