/*
 * failidx.c: see failidx.h. LMDB environment in a directory of its own, one
 * unnamed database, no locking (one owner), no syncing (a rebuildable cache).
 *
 * An LMDB key is the task id (4 bytes, big endian) and the object key's
 * first PFX bytes; its value, a bucket: entries (suffix, value) sorted by
 * suffix, where suffix is the rest of the object key ("" for short keys).
 * Entry: u32 suffix length, suffix, u32 value length, value (native order:
 * the file never outlives the process).
 */
#include "report/failidx.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Changes per write transaction: bounds its dirty pages held in RAM. */
#define FAILIDX_BATCH 2048
/* Lookups, writes or buckets scanned between drops of the mapped pages:
 * bounds the pages they leave mapped (a few per operation at most). */
#define FAILIDX_TRIM_OPS 16384
/* Address space reserved for the file (sparse: only what is used is on disk). */
#define FAILIDX_MAP_SIZE ((size_t)256 << 30)

struct failidx {
  MDB_env *env;
  MDB_dbi dbi;
  MDB_txn *txn;          /* the open write transaction, NULL between batches */
  size_t changes;        /* in txn */
  size_t ops;            /* since the last trim */
  void *map;             /* where LMDB mapped the file; NULL unknown */
  size_t pfx;            /* object-key bytes in an LMDB key */
  char *dir;
  char err[160];
  fbuf_t kb, vb;         /* scratch: LMDB key, new bucket */
};

static int fail(failidx_t *x, const char *what, int rc) {
  snprintf(x->err, sizeof(x->err), "reporter state %s: %s: %s", x->dir, what,
           mdb_strerror(rc));
  return -1;
}

const char *failidx_error(const failidx_t *x) { return x->err; }
const char *failidx_dir(const failidx_t *x) { return x->dir; }

/* Drops the map's pages from the process (they stay in the page cache): a
 * read-only shared file mapping, so nothing is lost. */
static void trim(failidx_t *x) {
  MDB_envinfo info;
  MDB_stat st;
  x->ops = 0;
  if (!x->map || mdb_env_info(x->env, &info) || mdb_env_stat(x->env, &st)) return;
  madvise(x->map, (info.me_last_pgno + 1) * (size_t)st.ms_psize, MADV_DONTNEED);
}

/* LMDB tells the map's address only for MDB_FIXEDMAP (mdb_env_info's
 * me_mapaddr): find the mapping of our file in /proc/self/maps. */
static void *find_map(const char *dir) {
  char line[4096 + 128], want[4096 + 16];
  FILE *f = fopen("/proc/self/maps", "r");
  void *p = NULL;
  size_t wl;
  char *real = realpath(dir, NULL);   /* the maps name the file by its real path */
  if (!f || !real) {
    if (f) fclose(f);
    free(real);
    return NULL;
  }
  snprintf(want, sizeof(want), "%s/data.mdb", real);
  free(real);
  wl = strlen(want);
  while (!p && fgets(line, sizeof(line), f)) {
    size_t n = strcspn(line, "\n");
    unsigned long lo;
    line[n] = '\0';
    if (n >= wl && strcmp(line + n - wl, want) == 0 && sscanf(line, "%lx-", &lo) == 1)
      p = (void *)(uintptr_t)lo;
  }
  fclose(f);
  return p;
}

static int txn(failidx_t *x) {
  int rc;
  if (++x->ops >= FAILIDX_TRIM_OPS) trim(x);
  if (x->txn) return 0;
  rc = mdb_txn_begin(x->env, NULL, 0, &x->txn);
  if (rc) {
    x->txn = NULL;
    return fail(x, "begin", rc);
  }
  return 0;
}

static int commit(failidx_t *x) {
  int rc;
  if (!x->txn) return 0;
  rc = mdb_txn_commit(x->txn);
  x->txn = NULL;
  x->changes = 0;
  if (rc) return fail(x, "commit", rc);
  return 0;
}

failidx_t *failidx_open(const char *parent, char *errbuf) {
  failidx_t *x;
  const char *p = parent && *parent ? parent : getenv("TMPDIR");
  int rc;
  if (!p || !*p) p = "/tmp";
  x = fx_calloc(1, sizeof(*x));
  fbuf_init(&x->kb, 0);
  fbuf_init(&x->vb, 0);
  x->dir = fx_asprintf("%s/ferry-reporter-XXXXXX", p);
  if (!mkdtemp(x->dir)) {
    ferry_seterr(errbuf, FERRY_ERR_IO, "reporter.state_dir: cannot make a directory in %s: %s",
                 p, strerror(errno));
    fx_free(x->dir);
    x->dir = NULL;
    failidx_close(x);
    return NULL;
  }
  if ((rc = mdb_env_create(&x->env)) || (rc = mdb_env_set_mapsize(x->env, FAILIDX_MAP_SIZE)) ||
      (rc = mdb_env_open(x->env, x->dir,
                         MDB_NOSYNC | MDB_NOMETASYNC | MDB_NOLOCK | MDB_NORDAHEAD | MDB_NOTLS,
                         0600)) ||
      (rc = mdb_txn_begin(x->env, NULL, 0, &x->txn)) ||
      (rc = mdb_dbi_open(x->txn, NULL, 0, &x->dbi))) {
    ferry_seterr(errbuf, FERRY_ERR_IO, "reporter.state_dir: LMDB in %s: %s", x->dir,
                 mdb_strerror(rc));
    failidx_close(x);
    return NULL;
  }
  x->pfx = (size_t)mdb_env_get_maxkeysize(x->env) - 4;
  x->map = find_map(x->dir);
  return x;
}

void failidx_close(failidx_t *x) {
  if (!x) return;
  if (x->txn) mdb_txn_abort(x->txn);
  if (x->env) mdb_env_close(x->env);
  if (x->dir) {
    char *f = fx_asprintf("%s/data.mdb", x->dir);
    unlink(f);
    fx_free(f);
    f = fx_asprintf("%s/lock.mdb", x->dir);
    unlink(f);
    fx_free(f);
    rmdir(x->dir);
  }
  fbuf_release(&x->kb);
  fbuf_release(&x->vb);
  fx_free(x->dir);
  fx_free(x);
}

/* The LMDB key of (tid, key) into x->kb; *suffix: the rest of key. */
static MDB_val lkey(failidx_t *x, uint32_t tid, const char *key, const char **suffix) {
  unsigned char id[4] = {(unsigned char)(tid >> 24), (unsigned char)(tid >> 16),
                         (unsigned char)(tid >> 8), (unsigned char)tid};
  size_t n = strlen(key);
  MDB_val k;
  if (n > x->pfx) n = x->pfx;
  fbuf_reset(&x->kb);
  fbuf_add(&x->kb, id, 4);
  fbuf_add(&x->kb, key, n);
  *suffix = key + n;
  k.mv_data = x->kb.p;
  k.mv_size = x->kb.len;
  return k;
}

/* One entry of a bucket. */
typedef struct ent {
  const char *suf;
  uint32_t sl;
  const void *v;
  uint32_t vl;
} ent_t;

/* Reads the entry at *off of bucket b; 0 at the end, -1 when malformed. */
static int ent_next(const MDB_val *b, size_t *off, ent_t *e) {
  const char *p = b->mv_data;
  size_t o = *off;
  if (o >= b->mv_size) return 0;
  if (b->mv_size - o < 4) return -1;
  memcpy(&e->sl, p + o, 4);
  o += 4;
  if (b->mv_size - o < (size_t)e->sl + 4) return -1;
  e->suf = p + o;
  o += e->sl;
  memcpy(&e->vl, p + o, 4);
  o += 4;
  if (b->mv_size - o < e->vl) return -1;
  e->v = p + o;
  *off = o + e->vl;
  return 1;
}

static void ent_put(fbuf_t *b, const char *suf, uint32_t sl, const void *v, uint32_t vl) {
  fbuf_add(b, &sl, 4);
  fbuf_add(b, suf, sl);
  fbuf_add(b, &vl, 4);
  fbuf_add(b, v, vl);
}

/* strcmp of suffix s (length sl, no NUL) with the C string t. */
static int suf_cmp(const char *s, uint32_t sl, const char *t) {
  size_t tl = strlen(t), n = sl < tl ? sl : tl;
  int c = memcmp(s, t, n);
  if (c) return c;
  return sl < tl ? -1 : sl > tl;
}

int failidx_get(failidx_t *x, uint32_t tid, const char *key, fbuf_t *val) {
  const char *suf;
  MDB_val k = lkey(x, tid, key, &suf), b;
  size_t off = 0;
  ent_t e;
  int rc, r;
  fbuf_reset(val);
  if (txn(x)) return -1;
  rc = mdb_get(x->txn, x->dbi, &k, &b);
  if (rc == MDB_NOTFOUND) return 0;
  if (rc) return fail(x, "get", rc);
  while ((r = ent_next(&b, &off, &e)) > 0) {
    if (suf_cmp(e.suf, e.sl, suf) == 0) {
      fbuf_add(val, e.v, e.vl);
      return 1;
    }
  }
  if (r < 0) return fail(x, "get", MDB_CORRUPTED);
  return 0;
}

int failidx_put(failidx_t *x, uint32_t tid, const char *key, const void *v, size_t n) {
  const char *suf;
  MDB_val k, b, nb;
  size_t off = 0, sl;
  ent_t e;
  int rc, r, done = 0;
  if (n > UINT32_MAX) return fail(x, "put", MDB_BAD_VALSIZE);
  if (txn(x)) return -1;
  k = lkey(x, tid, key, &suf);
  sl = strlen(suf);
  fbuf_reset(&x->vb);
  rc = mdb_get(x->txn, x->dbi, &k, &b);
  if (rc && rc != MDB_NOTFOUND) return fail(x, "get", rc);
  if (!rc) {
    /* Rebuild the bucket with this entry set, replaced or removed, in order. */
    while ((r = ent_next(&b, &off, &e)) > 0) {
      int c = suf_cmp(e.suf, e.sl, suf);
      if (c > 0 && !done) {
        if (n) ent_put(&x->vb, suf, (uint32_t)sl, v, (uint32_t)n);
        done = 1;
      }
      if (c == 0) {
        if (n) ent_put(&x->vb, suf, (uint32_t)sl, v, (uint32_t)n);
        done = 1;
      } else {
        ent_put(&x->vb, e.suf, e.sl, e.v, e.vl);
      }
    }
    if (r < 0) return fail(x, "put", MDB_CORRUPTED);
  }
  if (!done && n) ent_put(&x->vb, suf, (uint32_t)sl, v, n);
  if (x->vb.len) {
    nb.mv_data = x->vb.p;
    nb.mv_size = x->vb.len;
    rc = mdb_put(x->txn, x->dbi, &k, &nb, 0);
  } else {
    rc = mdb_del(x->txn, x->dbi, &k, NULL);
    if (rc == MDB_NOTFOUND) rc = 0;
  }
  if (rc) return fail(x, "put", rc);
  if (++x->changes >= FAILIDX_BATCH) return commit(x);
  return 0;
}

int failidx_scan(failidx_t *x, uint32_t tid, const char *after, failidx_cb cb, void *arg) {
  MDB_cursor *cur = NULL;
  MDB_val k, b, nb;
  fbuf_t repl, last;
  const char *asuf = NULL;
  int rc, ret = 0, first = 1, advance = 1;
  unsigned char id[4] = {(unsigned char)(tid >> 24), (unsigned char)(tid >> 16),
                         (unsigned char)(tid >> 8), (unsigned char)tid};
  if (txn(x)) return -1;
  fbuf_init(&repl, 0);
  fbuf_init(&last, 0);
  if (after) {
    k = lkey(x, tid, after, &asuf);
  } else {
    fbuf_reset(&x->kb);
    fbuf_add(&x->kb, id, 4);
    k.mv_data = x->kb.p;
    k.mv_size = 4;
  }
  rc = mdb_cursor_open(x->txn, x->dbi, &cur);
  if (!rc) rc = mdb_cursor_get(cur, &k, &b, MDB_SET_RANGE);
  for (; !rc; rc = advance ? mdb_cursor_get(cur, &k, &b, MDB_NEXT) : 0, first = 0) {
    size_t off = 0;
    ent_t e;
    int r = 0, changed = 0, stop = 0;
    char *full = NULL;
    advance = 1;
    size_t fl = 0;
    if (k.mv_size < 4 || memcmp(k.mv_data, id, 4) != 0) break;   /* next task */
    fbuf_reset(&x->vb);
    while (!stop && (r = ent_next(&b, &off, &e)) > 0) {
      int replace = 0;
      /* the full key: the LMDB key's bytes after the id, then the suffix */
      if (fl < k.mv_size - 4 + e.sl + 1) {
        fl = k.mv_size - 4 + e.sl + 1;
        full = fx_realloc(full, fl);
      }
      memcpy(full, (const char *)k.mv_data + 4, k.mv_size - 4);
      memcpy(full + k.mv_size - 4, e.suf, e.sl);
      full[k.mv_size - 4 + e.sl] = '\0';
      if (first && after && strcmp(full, after) <= 0) {
        ent_put(&x->vb, e.suf, e.sl, e.v, e.vl);
        continue;
      }
      fbuf_reset(&repl);
      stop = cb(arg, full, e.v, e.vl, &repl, &replace);
      if (replace) {
        changed = 1;
        if (repl.len) ent_put(&x->vb, e.suf, e.sl, repl.p, (uint32_t)repl.len);
      } else {
        ent_put(&x->vb, e.suf, e.sl, e.v, e.vl);
      }
    }
    if (stop) {
      /* keep the entries after the one that stopped the scan */
      while (changed && (r = ent_next(&b, &off, &e)) > 0)
        ent_put(&x->vb, e.suf, e.sl, e.v, e.vl);
      ret = 1;
    }
    fx_free(full);
    if (!stop && r < 0) {
      rc = MDB_CORRUPTED;
      break;
    }
    if (changed) {
      /* Written with mdb_put/mdb_del, then the cursor is placed again from
       * the key: changing the tree under a cursor (mdb_cursor_put with
       * another size, mdb_cursor_del across pages) lost records in tests. */
      fbuf_reset(&last);
      fbuf_add(&last, k.mv_data, k.mv_size);
      k.mv_data = last.p;
      k.mv_size = last.len;
      if (x->vb.len) {
        nb.mv_data = x->vb.p;
        nb.mv_size = x->vb.len;
        rc = mdb_put(x->txn, x->dbi, &k, &nb, 0);
      } else {
        rc = mdb_del(x->txn, x->dbi, &k, NULL);
      }
      if (rc) break;
      if (++x->changes >= FAILIDX_BATCH) {
        /* Commit on the way, so that a scan rewriting every key (a prune)
         * holds one batch of dirty pages. */
        mdb_cursor_close(cur);
        cur = NULL;
        if (commit(x) || txn(x)) {
          ret = -1;
          break;
        }
        rc = mdb_cursor_open(x->txn, x->dbi, &cur);
        if (rc) break;
      }
      rc = mdb_cursor_get(cur, &k, &b, MDB_SET_RANGE);
      if (rc) break;
      /* At the bucket just done (replaced), NEXT moves on; at the one after
       * it (the bucket was deleted), handle that one next. */
      advance = k.mv_size == last.len && memcmp(k.mv_data, last.p, last.len) == 0;
    }
    if (stop) break;
    if (++x->ops >= FAILIDX_TRIM_OPS) trim(x);
  }
  if (cur) mdb_cursor_close(cur);
  fbuf_release(&repl);
  fbuf_release(&last);
  if (ret < 0) return -1;
  if (rc && rc != MDB_NOTFOUND) return fail(x, "scan", rc);
  return ret;
}

uint64_t failidx_bytes(failidx_t *x) {
  MDB_envinfo info;
  MDB_stat st;
  if (mdb_env_info(x->env, &info) || mdb_env_stat(x->env, &st)) return 0;
  return (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
}
