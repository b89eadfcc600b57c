// Writes ferry segments (docs/messages.md) for every object of a bucket, as
// JSON lines on stdout, independently of ferry-lister (for engine tests).
// usage: node segments.js ENDPOINT BUCKET SRC_STORE DST_STORE DST_BUCKET [--per N] [--policy P] [--task T] [--prefix P] [--dst-prefix P]
'use strict';
const u = require('./s3util');

async function main() {
  const a = process.argv.slice(2);
  const [endpoint, bucket, srcStore, dstStore, dstBucket] = a;
  const opt = (n, d) => { const i = a.indexOf(n); return i >= 0 ? a[i + 1] : d; };
  const per = +opt('--per', 100);
  const policy = opt('--policy', 'overwrite');
  const task = opt('--task', 't');
  const prefix = opt('--prefix', '');
  const objs = await u.list(endpoint, bucket, prefix);
  let seq = 0;
  for (let i = 0; i < objs.length; i += per) {
    const seg = {
      v: 1, task, id: `1-${String(++seq).padStart(6, '0')}`, run: 1,
      src: { store: srcStore, bucket, prefix },
      dst: { store: dstStore, bucket: dstBucket, prefix: opt('--dst-prefix', '') },
      policy,
      objs: objs.slice(i, i + per).map((o) => ({ key: o.key, size: o.size, etag: o.etag, mtime: -1 })),
    };
    process.stdout.write(JSON.stringify(seg) + '\n');
  }
}
main().catch((e) => { console.error(String(e.stack || e)); process.exit(1); });
