/*
 * tallymem.c: ferry-bench-tallymem, the reporter's memory and rebuild time
 * at N failed objects (bench/reporter_mem.sh; bench only).
 *
 * Feeds the reporter's tally (lib/bus/tally.c) the records a reporter reads
 * at start, encoded as on the topics and decoded by tally_feed: a full run
 * whose N objects all fail (1000 per result, as a destination misconfigured
 * for an hour gives), then a retry of it that copies the first half. Times
 * the feeding (the rebuild a restarted reporter does), the views and the
 * export of the still-failed list in the HTTP server's chunks, and checks
 * that they agree (failed = N/2 = rows exported = the view's count).
 * Memory from /proc/self/status: VmRSS, RssAnon (the heap: what the key
 * index keeps out), RssFile (pages of the index file mapped at that moment:
 * page cache, dropped from the process by failidx's trims) and VmHWM.
 *
 * usage: ferry-bench-tallymem N [STATE_DIR]
 * prints: RESULT tally_mem failures=N rebuild_s=.. (wall, records encoded by
 *   the bench included) feed_cpu_s=.. feed_cpu_us_per_outcome=.. (CPU inside
 *   tally_feed: the reporter's own work, decoding included)
 *   rss_mib=.. anon_mib=.. file_mib=.. hwm_mib=.. index_mib=.. view_ms=..
 *   view_after_retry_ms=.. export_s=.. exported=.. failed=.. exact=0|1
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bus/msg.h"
#include "report/tally.h"

#define PER 1000
#define T0 1765100000000LL

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double status_mib(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  double kb = 0;
  size_t n = strlen(field);
  if (!f) return -1;
  while (fgets(line, sizeof(line), f))
    if (strncmp(line, field, n) == 0 && line[n] == ':') kb = atof(line + n + 1);
  fclose(f);
  return kb / 1024.0;
}

/* Bytes on disk of the files under dir (one level of subdirectories). */
static double du_mib(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  double b = 0;
  if (!d) return 0;
  while ((e = readdir(d))) {
    char p[4096];
    struct stat st;
    if (e->d_name[0] == '.') continue;
    snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
    if (stat(p, &st)) continue;
    if (S_ISDIR(st.st_mode))
      b += du_mib(p) * 1048576.0;
    else
      b += (double)st.st_blocks * 512.0;
  }
  closedir(d);
  return b / 1048576.0;
}

static double feed_cpu;   /* CPU seconds inside tally_feed */

static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void feed(tally_t *t, tally_src_t src, char *s) {
  char eb[FERRY_ERRLEN];
  double c = cpu_s();
  ferry_err_t e = tally_feed(t, src, s, strlen(s), NULL, eb);
  feed_cpu += cpu_s() - c;
  if (e) {
    fprintf(stderr, "tallymem: %s\n", eb);
    exit(1);
  }
  free(s);
}

static void task_rec(tally_t *t, int run, int retry_of, uint64_t objs, uint64_t segs, int64_t ms) {
  msg_task_t m;
  memset(&m, 0, sizeof(m));
  m.task = (char *)"t";
  m.run = run;
  m.retry_of = retry_of;
  m.src.store = (char *)"src";
  m.src.bucket = (char *)"a";
  m.src.prefix = (char *)"";
  m.dst.store = (char *)"dst";
  m.dst.bucket = (char *)"b";
  m.dst.prefix = (char *)"";
  m.state = (char *)"listed";
  m.listed_objects = objs;
  m.listed_bytes = objs * 1048576;
  m.segments = segs;
  m.updated_ms = ms;
  feed(t, TALLY_SRC_TASKS, msg_task_encode(&m));
}

/* Results of run over keys [k0, k0 + n): failed (run 1) or copied. */
static void results(tally_t *t, int run, uint64_t k0, uint64_t n, int fail, int64_t ms) {
  static msg_outcome_t oc[PER];
  static char keys[PER][64];
  char seg[32];
  uint64_t done = 0, s = 0;
  while (done < n) {
    size_t m = (size_t)(n - done < PER ? n - done : PER), i;
    msg_result_t r;
    for (i = 0; i < m; i++) {
      snprintf(keys[i], sizeof(keys[i]), "data/2024/12/07/object-%09" PRIu64 ".bin",
               k0 + done + i);
      memset(&oc[i], 0, sizeof(oc[i]));
      oc[i].key = keys[i];
      oc[i].size = 1048576;
      if (fail) {
        oc[i].status = ST_FAILED;
        oc[i].reason = (char *)"http-503";
        oc[i].attempts = 5;
        oc[i].http_status = 503;
        oc[i].code = (char *)"SlowDown";
        oc[i].message = (char *)"Please reduce your request rate.";
      } else {
        oc[i].status = ST_COPIED;
        oc[i].bytes = 1048576;
        oc[i].attempts = 1;
      }
    }
    memset(&r, 0, sizeof(r));
    snprintf(seg, sizeof(seg), "%d-%06" PRIu64, run, s++);
    r.task = (char *)"t";
    r.segment = seg;
    r.run = run;
    r.worker = (char *)"w";
    r.n_objects = m;
    r.n_failed = fail ? m : 0;
    r.n_copied = fail ? 0 : m;
    r.bytes = fail ? 0 : m * 1048576;
    r.started_ms = ms;
    r.finished_ms = ms + 1;
    r.outcomes = oc;
    r.n_outcomes = m;
    feed(t, TALLY_SRC_RESULTS, msg_result_encode(&r));
    done += m;
  }
}

static uint64_t view_failed(tally_t *t, double *ms) {
  tally_view_t v;
  double a = now_s();
  uint64_t f;
  tally_view(t, "t", T0 + 86400000LL, &v);
  *ms = (now_s() - a) * 1000.0;
  f = v.f.failed;
  tally_view_release(&v);
  return f;
}

int main(int argc, char **argv) {
  uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000, half, failed, failed1;
  const char *dir = argc > 2 ? argv[2] : NULL;
  tally_opts_t o;
  tally_t *t;
  tally_export_t *x;
  fbuf_t b;
  double t0, rebuild, view_ms, view2_ms, export_s, rss, anon, file, hwm, idx;
  FILE *null = fopen("/dev/null", "w");
  size_t exported;
  memset(&o, 0, sizeof(o));
#ifndef TALLYMEM_NO_STATE_DIR
  o.state_dir = dir;
#endif
  if (!n || !null) return 2;
  half = n / 2;
  t = tally_new(&o);
  t0 = now_s();
  task_rec(t, 1, 0, n, (n + PER - 1) / PER, T0);
  results(t, 1, 0, n, 1, T0);
  failed1 = view_failed(t, &view_ms);
  task_rec(t, 2, 1, half, (half + PER - 1) / PER, T0 + 1000);
  results(t, 2, 0, half, 0, T0 + 1000);
  rebuild = now_s() - t0;
  rss = status_mib("VmRSS");
  anon = status_mib("RssAnon");
  file = status_mib("RssFile");
  idx = dir ? du_mib(dir) : 0;
  failed = view_failed(t, &view2_ms);
  fbuf_init(&b, 0);
  t0 = now_s();
  x = tally_export_new("t", TALLY_EXPORT_CSV);
  while (tally_export_next(x, t, 4096, (size_t)1 << 20, &b)) {
    fwrite(b.p, 1, b.len, null);
    fbuf_reset(&b);
  }
  exported = tally_export_rows(x);
  tally_export_free(x);
  export_s = now_s() - t0;
  hwm = status_mib("VmHWM");
  printf("RESULT tally_mem failures=%" PRIu64 " rebuild_s=%.1f feed_cpu_s=%.1f "
         "feed_cpu_us_per_outcome=%.2f "
         "rss_mib=%.1f anon_mib=%.1f file_mib=%.1f hwm_mib=%.1f index_mib=%.1f view_ms=%.1f "
         "view_after_retry_ms=%.1f export_s=%.1f exported=%zu failed=%" PRIu64 " exact=%d\n",
         n, rebuild, feed_cpu, feed_cpu * 1e6 / (double)(n + half), rss, anon, file, hwm, idx, view_ms,
         view2_ms, export_s, exported, failed,
         failed1 == n && failed == n - half && exported == n - half);
  fbuf_release(&b);
  fclose(null);
  tally_destroy(t);
  return 0;
}
