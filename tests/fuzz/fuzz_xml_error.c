/* libFuzzer target: store_xml_parse_error() and the streaming parser of the
 * same kind (see fuzz_xml.h for what is checked). */
#include "fuzz_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  xml_fuzz_one(XML_ERROR, data, size);
  return 0;
}
