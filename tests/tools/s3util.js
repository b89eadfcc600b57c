// Small S3 helpers for ferry's tests and demo, talking to a loopback S3
// server anonymously (s3rver accepts unsigned requests), or signed with AWS
// Signature V4 (UNSIGNED-PAYLOAD, region us-east-1) when S3UTIL_ACCESS_KEY and
// S3UTIL_SECRET_KEY are set (a real S3 server: scripts/s3real.sh). No
// dependencies.
'use strict';
const http = require('http');
const crypto = require('crypto');

const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

function encKey(key) {
  return key.split('/').map(encodeURIComponent).join('/')
    .replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

const rfc3986 = (s) => encodeURIComponent(s)
  .replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
const hmac = (k, s) => crypto.createHmac('sha256', k).update(s).digest();

// sigv4(host, method, path, headers): adds the Authorization of AWS
// Signature V4 to headers (path: as sent, already percent-encoded).
function sigv4(host, method, path, headers) {
  const ak = process.env.S3UTIL_ACCESS_KEY, sk = process.env.S3UTIL_SECRET_KEY;
  const now = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const day = now.slice(0, 8), scope = `${day}/us-east-1/s3/aws4_request`;
  const q = path.indexOf('?');
  const uri = q < 0 ? path : path.slice(0, q);
  const query = q < 0 ? '' : [...new URLSearchParams(path.slice(q + 1))]
    .map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`).sort().join('&');
  headers['x-amz-date'] = now;
  headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
  headers.host = host;
  const names = Object.keys(headers).map((k) => k.toLowerCase()).sort();
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v).trim()]));
  const creq = [method, uri, query, ...names.map((k) => `${k}:${lower[k]}`), '', names.join(';'),
    'UNSIGNED-PAYLOAD'].join('\n');
  const sts = ['AWS4-HMAC-SHA256', now, scope, crypto.createHash('sha256').update(creq).digest('hex')].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${sk}`, day), 'us-east-1'), 's3'), 'aws4_request');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${ak}/${scope}, SignedHeaders=${names.join(';')}, ` +
    `Signature=${hmac(key, sts).toString('hex')}`;
}

function request(endpoint, method, path, body, headers) {
  const u = new URL(endpoint);
  const h = Object.assign({}, headers || {},
    body != null ? { 'Content-Length': Buffer.byteLength(body) } : {});
  if (process.env.S3UTIL_ACCESS_KEY) sigv4(u.host, method, path, h);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname, port: u.port, method, path, agent, headers: h,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
        body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body != null) req.end(body); else req.end();
  });
}

// PUT with a few retries: a loaded s3rver sometimes drops a connection.
async function put(endpoint, bucket, key, body, headers) {
  for (let attempt = 1; ; attempt++) {
    try {
      const r = await request(endpoint, 'PUT', `/${bucket}/${encKey(key)}`, body, headers);
      if (r.status === 200) return r;
      if (r.status < 500 || attempt >= 4) throw new Error(`PUT ${key}: HTTP ${r.status} ${r.body}`);
    } catch (e) {
      if (attempt >= 4 || /HTTP [1-4]/.test(String(e.message))) throw e;
    }
    await new Promise((res) => setTimeout(res, 200 * attempt));
  }
}

function get(endpoint, bucket, key) {
  return request(endpoint, 'GET', `/${bucket}/${encKey(key)}`, null);
}

function del(endpoint, bucket, key) {
  return request(endpoint, 'DELETE', `/${bucket}/${encKey(key)}`, null);
}

function xmlText(s) {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'").replace(/&#(x?[0-9a-fA-F]+);/g, (m, n) =>
      String.fromCodePoint(n[0] === 'x' ? parseInt(n.slice(1), 16) : parseInt(n, 10)))
    .replace(/&amp;/g, '&');
}

// Flat listing of a whole bucket: [{key, size, etag}], by ListObjectsV2 pages.
async function list(endpoint, bucket, prefix) {
  const out = [];
  let token = null;
  for (;;) {
    let q = `/${bucket}/?list-type=2&max-keys=1000`;
    if (prefix) q += `&prefix=${encodeURIComponent(prefix)}`;
    if (token) q += `&continuation-token=${encodeURIComponent(token)}`;
    const r = await request(endpoint, 'GET', q, null);
    if (r.status !== 200) throw new Error(`list ${bucket}: HTTP ${r.status} ${r.body}`);
    const xml = r.body.toString('utf8');
    const re = /<Contents>([\s\S]*?)<\/Contents>/g;
    let m;
    while ((m = re.exec(xml))) {
      const c = m[1];
      const key = xmlText(/<Key>([\s\S]*?)<\/Key>/.exec(c)[1]);
      const size = parseInt(/<Size>(\d+)<\/Size>/.exec(c)[1], 10);
      const etag = xmlText(/<ETag>([\s\S]*?)<\/ETag>/.exec(c)[1]).replace(/"/g, '');
      out.push({ key, size, etag });
    }
    const t = /<NextContinuationToken>([\s\S]*?)<\/NextContinuationToken>/.exec(xml);
    if (/<IsTruncated>true<\/IsTruncated>/.test(xml) && t) token = xmlText(t[1]);
    else break;
  }
  return out;
}

// Deterministic pseudo-random bytes (xorshift) so datasets are reproducible.
function bytes(seed, n) {
  const b = Buffer.allocUnsafe(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b.writeUInt32LE(x, i);
  }
  for (; i < n; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; b[i] = x & 255; }
  return b;
}

async function pool(items, n, fn) {
  let i = 0;
  const workers = Array.from({ length: Math.min(n, items.length) }, async () => {
    while (i < items.length) { const k = i++; await fn(items[k], k); }
  });
  await Promise.all(workers);
}

function md5(buf) { return crypto.createHash('md5').update(buf).digest('hex'); }

module.exports = { request, put, get, del, list, bytes, pool, md5, encKey };
