// Reads back what ferry copied OSS -> COS with the official SDKs only
// (ali-oss for the source, cos-nodejs-sdk-v5 for the destination), through the
// dialect proxies, so ferry is judged by clients it did not write.
//
//   node readback.js seed  --oss URL --oss-bucket B
//       writes the source set with ali-oss (odd keys, user metadata, a
//       multipart object), so the OSS proxy records each object's CRC-64
//   node readback.js check --oss URL --oss-bucket B --cos URL --cos-bucket B
//                          [--cos-prefix P] [--expect N]
//       lists both sides (paged), and for every source key compares with the
//       destination: key, listed size, Content-Length, Content-Type, user
//       metadata, x-oss-hash-crc64ecma vs x-cos-hash-crc64ecma; reads each
//       destination body with getObject and checks its length and CRC-64.
//
// Credentials: OSS_AK/OSS_SK, COS_AK/COS_SK in the environment. Prints one
// line per difference and exits 1 if there is any.
'use strict';

const OSS = require('ali-oss');
const COS = require('cos-nodejs-sdk-v5');
const { crc64 } = require('./crc64');

function args(argv) {
  const o = { cmd: argv[0], prefix: '', expect: -1 };
  for (let i = 1; i < argv.length; i += 2) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case '--oss': o.oss = v; break;
      case '--oss-bucket': o.ossBucket = v; break;
      case '--cos': o.cos = v; break;
      case '--cos-bucket': o.cosBucket = v; break;
      case '--cos-prefix': o.prefix = v; break;
      case '--expect': o.expect = parseInt(v, 10); break;
      default: throw new Error(`readback: unknown argument '${argv[i]}'`);
    }
  }
  if (!['seed', 'check'].includes(o.cmd) || !o.oss || !o.ossBucket ||
      (o.cmd === 'check' && (!o.cos || !o.cosBucket))) {
    throw new Error('usage: readback.js seed|check --oss URL --oss-bucket B [--cos URL --cos-bucket B ' +
      '[--cos-prefix P] [--expect N]]');
  }
  return o;
}

function ossClient(o) {
  // An IP endpoint: ali-oss sends Host bucket.oss-cn-hangzhou.aliyuncs.com.
  return new OSS({ region: 'oss-cn-hangzhou', accessKeyId: process.env.OSS_AK,
    accessKeySecret: process.env.OSS_SK, bucket: o.ossBucket, endpoint: o.oss,
    authorizationV4: true, secure: false, timeout: 60000 });
}

function cosCall(o, client, fn, params) {
  return new Promise((resolve, reject) => {
    client[fn]({ Bucket: o.cosBucket, Region: 'ap-guangzhou', ...params }, (err, data) => {
      if (err) reject(new Error(`cos ${fn} ${params.Key || ''}: ${err.code || ''} ${err.message || JSON.stringify(err)}`));
      else resolve(data);
    });
  });
}

// Deterministic bytes, so a run is reproducible.
function bytes(seed, n) {
  const b = Buffer.alloc(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

// Key components stay under 255 bytes (s3rver stores keys as paths).
const longKey = (() => {
  let k = 'odd/long';
  while (k.length < 1000) k += '/' + 'l'.repeat(Math.min(200, 1000 - k.length - 1));
  return k;
})();

const SET = [
  { key: 'plain/a.txt', size: 11, type: 'text/plain', meta: { author: 'alice' } },
  { key: 'plain/empty.bin', size: 0, meta: {} },
  { key: 'odd/with space.txt', size: 300, meta: { 'two-words': 'hello world' } },
  { key: 'odd/plus+sign&amp=1.txt', size: 301, meta: { symbols: 'a=b;c,d/e:f' } },
  { key: 'odd/percent%20lit?q#frag.txt', size: 302, meta: {} },
  { key: 'odd/quote\'"<>~.txt', size: 303, meta: { quote: 'it is "quoted"' } },
  { key: 'odd/unicode/数据/ファイル/файл-ü.txt', size: 304, meta: { lang: 'many' } },
  { key: 'odd/emoji-😀.txt', size: 305, meta: {} },
  { key: 'odd/a/b/c/d/e/f/g/h/deep.txt', size: 306, meta: { depth: '9' } },
  { key: longKey, size: 307, meta: { long: 'yes' } },
  { key: 'meta/many.bin', size: 4096, type: 'application/x-ferry',
    meta: { one: '1', two: '2', three: 'three', 'mixed-case': 'Value With Caps' } },
  { key: 'mid/3mb.bin', size: 3 * 1048576 + 17, meta: { size: 'mid' } },
  // Multipart at the source (ali-oss multipartUpload, three parts) and at the
  // destination (ferry's multipart_threshold is below it in the test).
  { key: 'big/13mb.bin', size: 13 * 1048576 + 5, mp: true, type: 'application/octet-stream',
    meta: { kind: 'multipart', origin: 'ali-oss' } },
];
for (let i = 0; i < 40; i++) {
  SET.push({ key: `small/${String(i % 7)}/obj-${String(i).padStart(3, '0')}.bin`, size: 1 + ((i * 7919) % 65536),
    meta: i % 3 ? {} : { idx: String(i) } });
}

async function seed(o) {
  const c = ossClient(o);
  let n = 0;
  const queue = SET.map((it, i) => ({ ...it, seed: i + 1 }));
  async function one(it) {
    const body = bytes(it.seed, it.size);
    const opts = { meta: it.meta, mime: it.type || 'application/octet-stream' };
    if (it.mp) await c.multipartUpload(it.key, body, { ...opts, partSize: 5 * 1048576, parallel: 2 });
    else await c.put(it.key, body, opts);
    n++;
  }
  const workers = Array.from({ length: 6 }, async () => {
    while (queue.length) await one(queue.shift());
  });
  await Promise.all(workers);
  console.log(`seeded ${n} objects with ali-oss`);
}

async function ossList(c) {
  const out = new Map();
  let token;
  do {
    const r = await c.listV2({ 'max-keys': 7, ...(token ? { 'continuation-token': token } : {}) });
    for (const ob of r.objects || []) out.set(ob.name, { size: Number(ob.size) });
    token = r.isTruncated ? r.nextContinuationToken : undefined;
  } while (token);
  return out;
}

async function cosList(o, c) {
  const out = new Map();
  let marker = '';
  for (;;) {
    const r = await cosCall(o, c, 'getBucket', { Prefix: o.prefix, MaxKeys: 7, Marker: marker });
    for (const ob of r.Contents || []) out.set(ob.Key, { size: Number(ob.Size) });
    if (r.IsTruncated !== 'true' && r.IsTruncated !== true) break;
    marker = r.NextMarker || r.Contents[r.Contents.length - 1].Key;
  }
  return out;
}

/* By name: header order means nothing (versitygw answers in another order
 * than it was given). */
function userMeta(headers, pfx) {
  const m = {};
  for (const [h, v] of Object.entries(headers).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    if (h.startsWith(pfx)) m[h.slice(pfx.length)] = v;
  }
  return m;
}

async function check(o) {
  const oss = ossClient(o);
  const cos = new COS({ SecretId: process.env.COS_AK, SecretKey: process.env.COS_SK, Protocol: 'http:',
    AutoSwitchHost: false, Timeout: 60000, Ip: o.cos.replace(/^http:\/\//, '') });
  const diffs = [];
  const diff = (key, what, src, dst) => diffs.push(`${JSON.stringify(key)}: ${what}: source ${JSON.stringify(src)}, ` +
    `destination ${JSON.stringify(dst)}`);
  const src = await ossList(oss);
  const dst = await cosList(o, cos);
  if (o.expect >= 0 && src.size !== o.expect) diffs.push(`source lists ${src.size} objects, expected ${o.expect}`);
  for (const k of dst.keys()) {
    if (!k.startsWith(o.prefix) || !src.has(k.slice(o.prefix.length))) diffs.push(`${JSON.stringify(k)}: only at the destination`);
  }
  let checked = 0, bytesRead = 0, mp = 0;
  for (const [key, s] of src) {
    const dkey = o.prefix + key;
    const d = dst.get(dkey);
    if (!d) { diffs.push(`${JSON.stringify(key)}: missing at the destination`); continue; }
    if (s.size !== d.size) diff(key, 'listed size', s.size, d.size);
    const sh = (await oss.head(key)).res.headers;
    const dh = (await cosCall(o, cos, 'headObject', { Key: dkey })).headers;
    for (const [what, a, b] of [
      ['Content-Length', sh['content-length'], dh['content-length']],
      ['Content-Type', sh['content-type'], dh['content-type']],
      ['user metadata', JSON.stringify(userMeta(sh, 'x-oss-meta-')), JSON.stringify(userMeta(dh, 'x-cos-meta-'))],
      ['CRC-64', sh['x-oss-hash-crc64ecma'], dh['x-cos-hash-crc64ecma']],
    ]) {
      if (a !== b) diff(key, what, a, b);
    }
    if (!sh['x-oss-hash-crc64ecma']) diffs.push(`${JSON.stringify(key)}: the source shows no CRC-64 (not written through the OSS proxy?)`);
    if (sh['x-oss-object-type'] === 'Multipart') mp++;
    const g = await cosCall(o, cos, 'getObject', { Key: dkey });
    const body = g.Body;
    bytesRead += body.length;
    if (body.length !== s.size) diff(key, 'bytes read back', s.size, body.length);
    const crc = crc64(body).toString();
    if (crc !== sh['x-oss-hash-crc64ecma']) diff(key, 'CRC-64 of the bytes read back', sh['x-oss-hash-crc64ecma'], crc);
    checked++;
  }
  for (const l of diffs) console.log(`DIFF ${l}`);
  console.log(`readback: ${checked} objects (${mp} multipart at the source), ${bytesRead} bytes read with ` +
    `cos-nodejs-sdk-v5, ${diffs.length} differences`);
  return diffs.length === 0;
}

const o = args(process.argv.slice(2));
(o.cmd === 'seed' ? seed(o).then(() => true) : check(o))
  .then((good) => process.exit(good ? 0 : 1))
  .catch((e) => { console.error(`readback: ${e.stack || e}`); process.exit(2); });
