// Fills a bucket with a generated, reproducible dataset.
// usage: node fill.js ENDPOINT BUCKET [--keys] SPEC...
//   SPEC: small:N:MINKB:MAXKB | large:N:MB | odd | key:NAME:BYTES
//         | seq:N[:PREFIX] | oddset[:PREFIX] | bigset[:PREFIX]
//   odd: keys with spaces, unicode, + % # ? & = ~ ' ", deep nesting, a 1023-byte key
//   seq, oddset, bigset: the listing tests' dataset (PREFIX obj/NN/key-NNNNNN.bin
//     of a few dozen bytes each, odd keys with a tab and a 401-byte key, 13
//     objects of 300 KiB..1.5 MiB); sizes follow the item's position i over
//     all specs, so that a run's keys and sizes are the same every time.
// Prints "filled N objects, B bytes", or with --keys every key as a JSON
// string on its own line, in order.
'use strict';
const u = require('./s3util');

// A 1023-byte key (the maximum), in components short enough for s3rver's
// file-system store (255 bytes per path component).
function longKey() {
  let k = 'odd/long';
  while (k.length < 1023) k += '/' + 'k'.repeat(Math.min(200, 1023 - k.length - 1));
  return k;
}

// Keys of the listing tests. No control character other than tab: s3rver
// ignores encoding-type=url (a raw \x01 breaks its XML), and its continuation
// token loses a "\n" (the key would be listed twice).
const ODD_SET = ['with space.txt', 'plus+sign.txt', 'percent%20lit.txt', 'hash#frag.txt',
  'q?mark&amp=1.txt', 'tilde~quote\'"<>.txt', 'unicode/数据/ファイル/файл-ü.txt',
  'emoji-😀.txt', 'a/b/c/d/e/f/g/h/i/j/deep.txt', 'semi;colon,comma=eq@at$dollar.txt',
  'back\\slash.txt', 'tab\there.txt', 'trailing-dot.', 'caret^pipe|brace{}[]`.txt',
  'x'.repeat(200) + '/' + 'y'.repeat(200) + '.bin'];

// The listing tests' items: a small object's size is its key and position,
// repeated 1..5 times; big ones are fixed.
function listingItems(kind, p, items) {
  const prefix = p.slice(kind === 'seq' ? 2 : 1).join(':');
  const small = (key) => {
    const i = items.length;
    return { key, size: Buffer.byteLength(`${key}|${i}|`) * (1 + (i % 5)), seed: i + 1 };
  };
  if (kind === 'seq') {
    for (let i = 0; i < +p[1]; i++)
      items.push(small(`${prefix}obj/${String(i % 37).padStart(2, '0')}/key-${String(i).padStart(6, '0')}.bin`));
  } else if (kind === 'oddset') {
    for (const k of ODD_SET) items.push(small(prefix + 'odd/' + k));
  } else {
    const big = [];
    for (let j = 0; j < 12; j++)
      big.push([`${prefix}obj/big-${String(j).padStart(2, '0')}.bin`, (300 + 37 * j) * 1024]);
    big.push([`${prefix}obj/huge.bin`, 1536 * 1024]);
    big.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const [key, size] of big) items.push({ key, size, seed: items.length + 1 });
  }
}

async function main() {
  const args = process.argv.slice(2);
  const keysOut = args.includes('--keys');
  const [endpoint, bucket, ...specs] = args.filter((a) => a !== '--keys');
  const items = [];
  let seed = 1;
  for (const spec of specs) {
    const p = spec.split(':');
    if (p[0] === 'seq' || p[0] === 'oddset' || p[0] === 'bigset') {
      listingItems(p[0], p, items);
    } else if (p[0] === 'small') {
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
  if (keysOut) process.stdout.write(items.map((it) => JSON.stringify(it.key) + '\n').join(''));
  else console.log(`filled ${items.length} objects, ${total} bytes`);
}
main().catch((e) => { console.error(String(e.stack || e)); process.exit(1); });
