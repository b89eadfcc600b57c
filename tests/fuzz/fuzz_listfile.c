/*
 * libFuzzer target: the lister's reader of failed-object lists
 * (lib/plan/listfile.h, `ferry-lister --from-list`): CSV with a header row
 * or JSON lines, over the whole input as a file (fmemopen). These files
 * come back from exports that people edit. Checked: every entry has a
 * non-empty key without NUL and mtime -1; bad entries are skipped with
 * "fuzz:LINE: ..." and the walk goes on; line numbers never go back; the
 * walk ends.
 */
#include <stdio.h>
#include <string.h>

#include "fuzz_util.h"
#include "plan/listfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FILE *f;
  listfile_t *lf;
  char eb[FERRY_ERRLEN];
  msg_obj_t o;
  int eof = 0;
  long prev = 0;
  size_t steps = 0;
  if (size == 0) return 0;
  f = fmemopen((void *)data, size, "r");
  FUZZ_CHECK(f != NULL);
  eb[0] = '\0';
  lf = listfile_from_stream(f, "fuzz", eb);
  if (!lf) {
    FUZZ_CHECK(strncmp(eb, "fuzz", 4) == 0);
    fclose(f);
    return 0;
  }
  while (!eof) {
    ferry_err_t rc;
    FUZZ_CHECK(steps++ <= size + 2);
    memset(&o, 0x5a, sizeof(o));
    eb[0] = '\0';
    rc = listfile_next(lf, &o, &eof, eb);
    if (rc == FERRY_ERR_IO) break;
    if (rc != FERRY_OK) {
      FUZZ_CHECK(rc == FERRY_ERR_PARSE);
      FUZZ_CHECK(o.key == NULL && o.etag == NULL && o.dst_key == NULL);
      FUZZ_CHECK(strncmp(eb, "fuzz:", 5) == 0);
      continue;
    }
    if (eof) {
      FUZZ_CHECK(o.key == NULL);
      break;
    }
    FUZZ_CHECK(o.key && *o.key);
    FUZZ_CHECK(o.mtime == -1 && o.has_crc64 == 0 && o.dst_key == NULL);
    FUZZ_CHECK(listfile_line(lf) >= prev && listfile_line(lf) >= 1);
    prev = listfile_line(lf);
    msg_obj_release(&o);
  }
  listfile_close(lf);
  fclose(f);
  return 0;
}
