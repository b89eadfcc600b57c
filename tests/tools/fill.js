// Fills a bucket with a generated, reproducible dataset.
// usage: node fill.js ENDPOINT BUCKET SPEC...
//   SPEC: small:N:MINKB:MAXKB | large:N:MB | odd | key:NAME:BYTES
//   odd: keys with spaces, unicode, + % # ? & = ~ ' ", deep nesting, a 1023-byte key
// Prints "filled N objects, B bytes".
'use strict';
const u = require('./s3util');

// A 1023-byte key (the maximum), in components short enough for s3rver's
// file-system store (255 bytes per path component).
function longKey() {
  let k = 'odd/long';
  while (k.length < 1023) k += '/' + 'k'.repeat(Math.min(200, 1023 - k.length - 1));
  return k;
}

async function main() {
  const [endpoint, bucket, ...specs] = process.argv.slice(2);
  const items = [];
  let seed = 1;
  for (const spec of specs) {
    const p = spec.split(':');
    if (p[0] === 'small') {
      const n = +p[1], lo = +p[2] * 1024, hi = +p[3] * 1024;
      for (let i = 0; i < n; i++) {
        const size = lo + ((i * 7919) % Math.max(1, hi - lo + 1));
        items.push({ key: `small/${String(i % 50).padStart(2, '0')}/obj-${String(i).padStart(6, '0')}.bin`, size, seed: seed++ });
      }
    } else if (p[0] === 'large') {
      for (let i = 0; i < +p[1]; i++)
        items.push({ key: `large/big-${i}.bin`, size: +p[2] * 1024 * 1024, seed: seed++ });
    } else if (p[0] === 'odd') {
      const names = ['odd/with space.txt', 'odd/plus+sign.txt', 'odd/percent%20lit.txt',
        'odd/hash#frag.txt', 'odd/q?mark&amp=1.txt', 'odd/tilde~quote\'"<>.txt',
        'odd/unicode/数据/ファイル/файл-ü.txt', 'odd/emoji-😀.txt', 'odd/a/b/c/d/e/f/g/h/i/j/deep.txt',
        'odd/semi;colon,comma=eq@at$dollar.txt', longKey()];
      for (const k of names) items.push({ key: k, size: 100 + k.length, seed: seed++ });
    } else if (p[0] === 'key') {
      items.push({ key: p[1], size: +p[2], seed: seed++ });
    } else {
      throw new Error(`unknown spec ${spec}`);
    }
  }
  let total = 0;
  await u.pool(items, 8, async (it) => {
    const body = u.bytes(it.seed, it.size);
    total += it.size;
    await u.put(endpoint, bucket, it.key, body, { 'Content-Type': 'application/octet-stream',
      'x-amz-meta-origin': 'ferry-fill' });
  });
  console.log(`filled ${items.length} objects, ${total} bytes`);
}
main().catch((e) => { console.error(String(e.stack || e)); process.exit(1); });
