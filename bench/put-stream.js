// PUTs one large object of deterministic bytes to a loopback S3 server,
// streamed: the body is generated chunk by chunk (AES-128-CTR keystream keyed
// by the seed), never held whole in memory and never written to disk.
// usage: node put-stream.js ENDPOINT BUCKET KEY BYTES SEED
// Prints "put KEY BYTES md5=HEX" on success, exits 1 on any error.
'use strict';
const http = require('http');
const crypto = require('crypto');
const { encKey } = require('../tests/tools/s3util');

const CHUNK = 1 << 20;

function main() {
  const [endpoint, bucket, key, bytesArg, seedArg] = process.argv.slice(2);
  const total = Number(bytesArg);
  if (!endpoint || !bucket || !key || !Number.isSafeInteger(total) || total < 0 || !seedArg) {
    console.error('usage: node put-stream.js ENDPOINT BUCKET KEY BYTES SEED');
    process.exit(2);
  }
  const k = crypto.createHash('sha256').update(`ferry-bench:${seedArg}`).digest();
  const cipher = crypto.createCipheriv('aes-128-ctr', k.subarray(0, 16), k.subarray(16, 32));
  const zeros = Buffer.alloc(CHUNK);
  const md5 = crypto.createHash('md5');
  const u = new URL(endpoint);
  const req = http.request({
    host: u.hostname, port: u.port, method: 'PUT', path: `/${bucket}/${encKey(key)}`,
    headers: { 'Content-Length': total, 'Content-Type': 'application/octet-stream' },
  }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => {
      if (res.statusCode !== 200) {
        console.error(`PUT ${key}: HTTP ${res.statusCode} ${Buffer.concat(chunks)}`);
        process.exit(1);
      }
      console.log(`put ${key} ${total} md5=${md5.digest('hex')}`);
    });
  });
  req.on('error', (e) => { console.error(`PUT ${key}: ${e.message}`); process.exit(1); });
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      const n = Math.min(CHUNK, total - sent);
      const c = cipher.update(n === CHUNK ? zeros : zeros.subarray(0, n));
      md5.update(c);
      sent += n;
      if (!req.write(c)) { req.once('drain', pump); return; }
    }
    req.end();
  };
  pump();
}
main();
