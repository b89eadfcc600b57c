// ferry's test-server fixture: an HTTP proxy in front of s3rver on loopback.
//
//   node proxy.js --port P --upstream http://127.0.0.1:S3PORT --dialect oss|cos|s3
//                 [--ak AK --sk SK] [--region R] [--bucket-map a=b,c=d]
//                 [--state-dir DIR] [--seed N] [--max-skew SEC]
//                 [--service-host HOST]... [--verbose]
//                 [--tls-cert CERT.pem --tls-key KEY.pem]
//                 [--fake-etags kms|plain] [--list-v1-only]
//                 [--upstream-ak AK --upstream-sk SK [--upstream-region R]]
//
// Prints "ready P" on stdout when it listens; stops cleanly on SIGTERM/SIGINT.
// With --tls-cert/--tls-key it listens with HTTPS (the upstream stays http).
// With --upstream-ak/--upstream-sk (oss, cos) the upstream is a real S3 server
// (versitygw): requests to it are signed with AWS SigV4, and the s3rver
// work-arounds (part renumbering, the emulated Abort/ListParts/
// ListMultipartUploads) are left out.
// What it does (details in README.md next to this file):
//  * dialect oss/cos: checks every request's signature by recomputing it with
//    the OFFICIAL SDK's own signing code (ali-oss lib/common/signUtils.js,
//    cos-nodejs-sdk-v5 COS.getAuthorization), refuses mismatches with 403
//    SignatureDoesNotMatch in the dialect's XML, then forwards the request to
//    s3rver anonymously and path-style, translating x-oss-/x-cos-meta-* and
//    request ids, and adding x-oss-/x-cos-hash-crc64ecma for objects written
//    through it (computed while the bodies stream, combined for multipart).
//  * dialect s3: a transparent pass-through (s3rver checks SigV4 itself).
//  * every dialect: fault injection and stats through the admin API under
//    /__proxy/ on the same port.
'use strict';

const http = require('http');
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const net = require('net');
const { Readable } = require('stream');

const { Crc64, crc64Combine } = require('./crc64');
const ossSign = require('ali-oss/lib/common/signUtils');
const COS = require('cos-nodejs-sdk-v5');
const cosUtil = require('cos-nodejs-sdk-v5/sdk/util');
const sigv4 = require('./sigv4');

/* ------------------------------------------------------------------ options */

function usage(msg) {
  if (msg) process.stderr.write(`proxy: ${msg}\n`);
  process.stderr.write('usage: node proxy.js --port P --upstream http://127.0.0.1:PORT ' +
    '--dialect oss|cos|s3 [--ak AK --sk SK] [--region R] [--bucket-map a=b,...] ' +
    '[--state-dir DIR] [--seed N] [--max-skew SEC] [--service-host H]... [--verbose] ' +
    '[--tls-cert CERT.pem --tls-key KEY.pem] [--fake-etags kms|plain] [--list-v1-only] ' +
    '[--upstream-ak AK --upstream-sk SK [--upstream-region R]]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { port: 0, upstream: null, dialect: null, ak: process.env.FERRY_PROXY_AK || null,
    sk: process.env.FERRY_PROXY_SK || null, region: null, bucketMap: new Map(), stateDir: null,
    seed: 1, maxSkew: 900, serviceHosts: [], verbose: false, bind: '127.0.0.1',
    tlsCert: null, tlsKey: null, upAk: process.env.FERRY_PROXY_UPSTREAM_AK || null,
    upSk: process.env.FERRY_PROXY_UPSTREAM_SK || null, upRegion: 'us-east-1' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--port': o.port = parseInt(val(), 10); break;
      case '--upstream': o.upstream = val(); break;
      case '--dialect': o.dialect = val(); break;
      case '--ak': o.ak = val(); break;
      case '--sk': o.sk = val(); break;
      case '--region': o.region = val(); break;
      case '--bucket-map':
        for (const pair of val().split(',').filter(Boolean)) {
          const eq = pair.indexOf('=');
          if (eq <= 0) usage(`bad --bucket-map entry '${pair}' (want client=upstream)`);
          o.bucketMap.set(pair.slice(0, eq), pair.slice(eq + 1));
        }
        break;
      case '--state-dir': o.stateDir = val(); break;
      case '--seed': o.seed = parseInt(val(), 10) >>> 0; break;
      case '--max-skew': o.maxSkew = parseInt(val(), 10); break;
      case '--service-host': o.serviceHosts.push(val().toLowerCase()); break;
      case '--bind': o.bind = val(); break;
      case '--tls-cert': o.tlsCert = val(); break;
      case '--tls-key': o.tlsKey = val(); break;
      case '--fake-etags': o.fakeEtags = val(); break;
      case '--list-v1-only': o.listV1Only = true; break;
      case '--upstream-ak': o.upAk = val(); break;
      case '--upstream-sk': o.upSk = val(); break;
      case '--upstream-region': o.upRegion = val(); break;
      case '--verbose': case '-v': o.verbose = true; break;
      case '--help': case '-h': usage(); break;
      default: usage(`unknown argument '${a}'`);
    }
  }
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) usage('bad --port');
  if (!['oss', 'cos', 's3'].includes(o.dialect)) usage('--dialect must be oss, cos or s3');
  if (!o.upstream) usage('--upstream is required');
  let u;
  try { u = new URL(o.upstream); } catch (e) { usage(`bad --upstream '${o.upstream}'`); }
  if (u.protocol !== 'http:') usage('--upstream must be http://');
  o.upHost = u.hostname;
  o.upPort = parseInt(u.port || '80', 10);
  if (!o.region) o.region = o.dialect === 'oss' ? 'cn-hangzhou' : '';
  if (!Number.isInteger(o.maxSkew) || o.maxSkew < 0) usage('bad --max-skew');
  if (!o.tlsCert !== !o.tlsKey) usage('--tls-cert and --tls-key go together');
  if (o.fakeEtags !== undefined && !['kms', 'plain'].includes(o.fakeEtags)) usage('--fake-etags must be kms or plain');
  if ((o.fakeEtags || o.listV1Only) && o.dialect === 's3') {
    usage('--fake-etags and --list-v1-only change signed requests: oss or cos dialect only');
  }
  if (!o.upAk !== !o.upSk) usage('--upstream-ak and --upstream-sk go together');
  if (o.upAk && o.dialect === 's3') {
    usage('--upstream-ak/--upstream-sk: oss or cos dialect only (s3 passes the client\'s own signature on)');
  }
  if (o.dialect !== 's3' && (!o.ak || !o.sk)) {
    process.stderr.write('proxy: warning: no --ak/--sk: signatures are NOT checked ' +
      '(an Authorization header is still required)\n');
  }
  return o;
}

const opt = parseArgs(process.argv.slice(2));
const D = opt.dialect;
const PFX = D === 'oss' ? 'x-oss-' : D === 'cos' ? 'x-cos-' : 'x-amz-';
const CRC_HEADER = `${PFX}hash-crc64ecma`;
const REQID_HEADER = `${PFX}request-id`;
/* The upstream is a real S3 server (signed requests), not s3rver. */
const REAL = !!opt.upAk;

function log(msg) {
  if (opt.verbose) process.stderr.write(`proxy[${D}]: ${msg}\n`);
}

/* ------------------------------------------------------------------ helpers */

function xmlEscape(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;',
    '"': '&quot;', "'": '&apos;' }[c]));
}

function xmlUnescape(s) {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (m, e) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return String.fromCodePoint(cp);
    }
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[e];
  });
}

/* Node decodes header bytes as latin1; signatures are computed over the UTF-8
 * bytes the client sent, so undo that for values that hold UTF-8. */
function utf8Header(v) {
  const s = Array.isArray(v) ? v.join(',') : String(v);
  return /[\u0080-\u00ff]/.test(s) ? Buffer.from(s, 'latin1').toString('utf8') : s;
}

function pctDecode(s) {
  return decodeURIComponent(s);
}

function newRequestId() {
  if (D === 'cos') return crypto.randomBytes(18).toString('base64').replace(/[+/=]/g, 'x');
  return crypto.randomBytes(12).toString('hex').toUpperCase();
}

function destroySocket(sock, rst) {
  if (!sock || sock.destroyed) return;
  if (rst && typeof sock.resetAndDestroy === 'function') sock.resetAndDestroy();
  else sock.destroy();
}

/* Deterministic RNG (mulberry32) for fault probabilities. */
function makeRng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/* ------------------------------------------------------------------ CRC state
 * objects: "bucket\nkey" -> {crc, size, etag, mp}; uploads: id -> {b, k, state,
 * parts: Map(n -> {crc, size, etag, up})}, up the part's number upstream
 * (upstreamPartNumber). Persisted as an append-only JSON-lines
 * journal (one record per change, compacted at start-up), so a change costs
 * one small append and a killed proxy loses nothing already answered. */

const objects = new Map();
const uploads = new Map();
let journalFd = null;
const journalPath = opt.stateDir ? path.join(opt.stateDir, 'proxy-state.jsonl') : null;

function okey(b, k) { return `${b}\n${k}`; }

function applyRecord(r) {
  switch (r.t) {
    case 'obj': objects.set(okey(r.b, r.k), { crc: r.crc, size: r.size, etag: r.etag, mp: !!r.mp }); break;
    case 'del': objects.delete(okey(r.b, r.k)); break;
    case 'up': uploads.set(r.u, { b: r.b, k: r.k, state: r.s || 'open', at: r.at || 0, parts: new Map() }); break;
    case 'part': {
      let u = uploads.get(r.u);
      if (!u) { u = { b: r.b, k: r.k, state: 'open', at: 0, parts: new Map() }; uploads.set(r.u, u); }
      u.parts.set(r.n, { crc: r.crc, size: r.size, etag: r.etag, up: r.up || r.n });
      break;
    }
    case 'upclose': {
      const u = uploads.get(r.u) || { b: r.b, k: r.k, at: 0, parts: new Map() };
      u.state = r.s;
      u.parts = new Map();
      uploads.set(r.u, u);
      break;
    }
    default: break;
  }
}

function journal(r) {
  applyRecord(r);
  if (journalFd !== null) {
    try { fs.writeSync(journalFd, `${JSON.stringify(r)}\n`); } catch (e) {
      process.stderr.write(`proxy: cannot append to ${journalPath}: ${e.message}\n`);
    }
  }
}

function loadState() {
  if (!journalPath) return;
  fs.mkdirSync(opt.stateDir, { recursive: true });
  let lines = [];
  try { lines = fs.readFileSync(journalPath, 'utf8').split('\n'); } catch (e) {
    if (e.code !== 'ENOENT') throw e;
  }
  let bad = 0;
  for (const line of lines) {
    if (!line.trim()) continue;
    try { applyRecord(JSON.parse(line)); } catch (e) { bad++; } /* a torn last line */
  }
  if (bad) process.stderr.write(`proxy: ignored ${bad} unreadable line(s) in ${journalPath}\n`);
  /* compact: rewrite the current state, then append from there */
  const out = [];
  for (const [ok, o] of objects) {
    const nl = ok.indexOf('\n');
    out.push(JSON.stringify({ t: 'obj', b: ok.slice(0, nl), k: ok.slice(nl + 1), crc: o.crc,
      size: o.size, etag: o.etag, mp: o.mp }));
  }
  for (const [id, u] of uploads) {
    out.push(JSON.stringify({ t: 'up', u: id, b: u.b, k: u.k, s: u.state, at: u.at }));
    for (const [n, p] of u.parts) {
      out.push(JSON.stringify({ t: 'part', u: id, b: u.b, k: u.k, n, crc: p.crc, size: p.size, etag: p.etag,
        up: p.up }));
    }
  }
  const tmp = `${journalPath}.tmp`;
  fs.writeFileSync(tmp, out.length ? `${out.join('\n')}\n` : '');
  fs.renameSync(tmp, journalPath);
  journalFd = fs.openSync(journalPath, 'a');
}

function stripEtag(e) {
  return e ? String(e).replace(/"/g, '').toLowerCase() : '';
}

/* The recorded CRC of an object, if the upstream still serves the version we
 * recorded (an object overwritten behind the proxy's back gets no header). */
function knownCrc(bucket, key, upEtag) {
  const o = objects.get(okey(bucket, key));
  if (!o) return null;
  if (upEtag !== undefined && stripEtag(upEtag) !== o.etag) {
    journal({ t: 'del', b: bucket, k: key });
    return null;
  }
  return o;
}

/* ------------------------------------------------------------------ stats */

let stats;
function resetStats() {
  stats = { requests: 0, by_method: {}, by_op: {}, by_status: {}, by_op_status: {},
    auth: { ok: 0, refused: 0, missing: 0 }, faults: { total: 0, by_action: {}, by_rule: {} },
    bytes_in: 0, bytes_out: 0, bad_digest: 0, started: new Date().toISOString() };
}
resetStats();
function bump(obj, k) { obj[k] = (obj[k] || 0) + 1; }

/* ------------------------------------------------------------------ faults */

const OPS = ['get', 'put', 'head', 'list', 'list-parts', 'list-uploads', 'upload-part', 'complete',
  'initiate', 'abort', 'delete', 'other'];
const ACTIONS = ['status', 'reset', 'stall', 'delay', 'corrupt', 'header'];
let rules = [];
let nextRuleId = 1;
let rng = makeRng(opt.seed);

function validateRule(r) {
  if (!r || typeof r !== 'object') throw new Error('a rule must be an object');
  if (!ACTIONS.includes(r.action)) throw new Error(`unknown action '${r.action}' (want ${ACTIONS.join('|')})`);
  const m = r.match || {};
  if (typeof m !== 'object') throw new Error('match must be an object');
  const ops = m.op === undefined ? null : [].concat(m.op);
  if (ops) for (const op of ops) if (!OPS.includes(op)) throw new Error(`unknown op '${op}' (want ${OPS.join('|')})`);
  const methods = m.method === undefined ? null : [].concat(m.method).map((x) => String(x).toUpperCase());
  let re = null;
  if (m.key_regex !== undefined) {
    try { re = new RegExp(m.key_regex); } catch (e) { throw new Error(`bad key_regex: ${e.message}`); }
  }
  const num = (name, dflt) => {
    const v = r[name] === undefined ? dflt : r[name];
    if (v !== undefined && v !== null && (typeof v !== 'number' || !(v >= 0))) {
      throw new Error(`${name} must be a non-negative number`);
    }
    return v;
  };
  const rule = {
    id: nextRuleId++, action: r.action, match: m, ops, methods, re,
    status: num('status', 503), code: r.code, message: r.message, retry_after: r.retry_after,
    body: r.body, bytes: num('bytes', r.after_bytes), ms: num('ms', r.action === 'stall' ? 5000 : 1000),
    offset: num('offset', 0), forward: !!r.forward, side: r.side === undefined ? 'response' : r.side,
    whitespace_ms: num('whitespace_ms', 0),
    probability: num('probability', 1), count: num('count', undefined), for_ms: num('for_ms', undefined),
    installed: Date.now(), fired: 0, spec: r,
  };
  if (rule.probability > 1) throw new Error('probability must be within 0..1');
  if (!['response', 'request'].includes(rule.side)) throw new Error("side must be 'response' or 'request'");
  if (rule.side === 'request' && r.action !== 'corrupt') throw new Error("side 'request' is for corrupt only");
  if (r.action === 'header') {
    if (typeof r.name !== 'string' || !/^[A-Za-z0-9-]+$/.test(r.name)) throw new Error('header: name must be a header name');
    rule.name = r.name.toLowerCase();
    if (r.remove === true) {
      rule.remove = true;
    } else {
      if (typeof r.value !== 'string' || /[\r\n]/.test(r.value)) throw new Error('header: value must be a one-line string (or remove: true)');
      rule.value = r.value;
    }
  }
  if (r.action === 'status' && (!Number.isInteger(rule.status) || rule.status < 200 || rule.status > 599)) {
    throw new Error('status must be an HTTP status 200..599');
  }
  return rule;
}

function ruleView(r) {
  return { id: r.id, ...r.spec, fired: r.fired,
    active: !(r.count !== undefined && r.fired >= r.count) &&
      !(r.for_ms !== undefined && Date.now() - r.installed > r.for_ms) };
}

function pickFault(ctx) {
  const now = Date.now();
  for (const r of rules) {
    if (r.count !== undefined && r.fired >= r.count) continue;
    if (r.for_ms !== undefined && now - r.installed > r.for_ms) continue;
    if (r.methods && !r.methods.includes(ctx.method)) continue;
    if (r.ops && !r.ops.includes(ctx.op)) continue;
    const m = r.match;
    if (m.bucket !== undefined && m.bucket !== ctx.bucket) continue;
    if (m.key_prefix !== undefined && !(ctx.key !== null && ctx.key.startsWith(m.key_prefix))) continue;
    if (r.re && !(ctx.key !== null && r.re.test(ctx.key))) continue;
    if (r.probability < 1 && !(rng() < r.probability)) continue;
    r.fired++;
    stats.faults.total++;
    bump(stats.faults.by_action, r.action);
    bump(stats.faults.by_rule, String(r.id));
    log(`fault #${r.id} ${r.action} on ${ctx.method} ${ctx.op} ${ctx.bucket || ''}/${ctx.key || ''}`);
    return r;
  }
  return null;
}

/* ------------------------------------------------------------------ errors */

const DEFAULT_CODES = { 400: 'InvalidArgument', 403: 'AccessDenied', 404: 'NoSuchKey',
  408: 'RequestTimeout', 409: 'Conflict', 412: 'PreconditionFailed', 429: 'TooManyRequests',
  500: 'InternalError', 501: 'NotImplemented', 502: 'BadGateway',
  503: D === 'oss' ? 'ServiceUnavailable' : 'SlowDown', 504: 'GatewayTimeout' };

function errorXml(ctx, code, message, extra) {
  let x = '';
  for (const [k, v] of Object.entries(extra || {})) x += `  <${k}>${xmlEscape(v)}</${k}>\n`;
  if (D === 'cos') {
    return `<?xml version='1.0' encoding='utf-8' ?>\n<Error>\n  <Code>${xmlEscape(code)}</Code>\n` +
      `  <Message>${xmlEscape(message)}</Message>\n  <Resource>${xmlEscape(ctx.hostHeader + ctx.rawPath)}</Resource>\n` +
      `  <RequestId>${ctx.reqId}</RequestId>\n  <TraceId>${ctx.reqId}</TraceId>\n${x}</Error>\n`;
  }
  if (D === 'oss') {
    return `<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n  <Code>${xmlEscape(code)}</Code>\n` +
      `  <Message>${xmlEscape(message)}</Message>\n  <RequestId>${ctx.reqId}</RequestId>\n` +
      `  <HostId>${xmlEscape(ctx.hostname || '')}</HostId>\n${x}</Error>\n`;
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${xmlEscape(code)}</Code>` +
    `<Message>${xmlEscape(message)}</Message><RequestId>${ctx.reqId}</RequestId></Error>\n`;
}

/* Answers from the proxy itself. Drains (discards) any request body still
 * coming, and closes the connection afterwards if a body was unread. */
function sendError(ctx, req, res, status, code, message, extra, hdrs) {
  if (res.headersSent || res.destroyed) { destroySocket(res.socket); return; }
  const body = Buffer.from(typeof extra === 'string' ? extra : errorXml(ctx, code, message, extra));
  const h = { 'Content-Type': 'application/xml', 'Content-Length': body.length,
    [REQID_HEADER]: ctx.reqId, Date: new Date().toUTCString(), ...(hdrs || {}) };
  if (!req.complete) h.Connection = 'close';
  ctx.errorCode = code;
  res.writeHead(status, h);
  res.end(body);
  req.resume();
}

/* ------------------------------------------------------------------ parsing */

const SERVICE_HOST_RE = /^(oss-[a-z0-9-]+|[a-z0-9-]+\.oss|cos\.[a-z0-9-]+|[a-z0-9-]*s3[a-z0-9.-]*)\.(aliyuncs\.com|myqcloud\.com|tencentcos\.cn|amazonaws\.com)$/;

function isServiceHost(h) {
  return !h || net.isIP(h) !== 0 || h === 'localhost' || opt.serviceHosts.includes(h) ||
    SERVICE_HOST_RE.test(h);
}

/* Splits a request into the parts signing and forwarding need. Throws
 * {status, code, message} on malformed input. */
function parseRequest(req) {
  let target = req.url;
  let hostHeader = req.headers.host || '';
  if (/^https?:\/\//i.test(target)) { /* absolute form (client uses us as an HTTP proxy) */
    const u = new URL(target);
    if (!hostHeader) hostHeader = u.host;
    target = u.pathname + u.search;
  }
  const qm = target.indexOf('?');
  const rawPath = qm < 0 ? target : target.slice(0, qm);
  const rawQuery = qm < 0 ? '' : target.slice(qm + 1);
  const hostname = hostHeader.replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase();
  const ctx = { method: req.method.toUpperCase(), hostHeader, hostname, rawPath, rawQuery,
    bucket: null, key: null, keyRaw: null, query: [], qmap: new Map(), style: 'path', op: 'other',
    reqId: newRequestId() };
  const bad = (m) => { const e = new Error(m); e.status = 400; e.code = 'InvalidURI'; return e; };
  if (!rawPath.startsWith('/')) throw bad(`request target '${target}' does not start with /`);
  if (rawPath === '/__proxy' || rawPath.startsWith('/__proxy/')) { ctx.admin = true; return ctx; }
  try {
    if (!isServiceHost(hostname)) {
      ctx.style = 'vhost';
      ctx.bucket = hostname.split('.')[0];
      ctx.keyRaw = rawPath.slice(1);
    } else {
      const rest = rawPath.slice(1);
      if (rest) {
        const sl = rest.indexOf('/');
        ctx.bucket = pctDecode(sl < 0 ? rest : rest.slice(0, sl));
        ctx.keyRaw = sl < 0 ? '' : rest.slice(sl + 1);
      }
    }
    if (ctx.keyRaw !== null) ctx.key = ctx.keyRaw === '' ? null : pctDecode(ctx.keyRaw);
    for (const part of rawQuery.split('&')) {
      if (!part) continue;
      const eq = part.indexOf('=');
      const name = pctDecode(eq < 0 ? part : part.slice(0, eq));
      const value = eq < 0 ? '' : pctDecode(part.slice(eq + 1));
      ctx.query.push({ name, value, bare: eq < 0 });
      ctx.qmap.set(name, value);
    }
  } catch (e) {
    if (e.status) throw e;
    throw bad(`cannot decode request target '${target}': ${e.message}`);
  }
  ctx.op = classify(ctx, req);
  return ctx;
}

function classify(ctx, req) {
  const q = ctx.qmap;
  const m = ctx.method;
  if (!ctx.bucket) return m === 'GET' ? 'list' : 'other'; /* list buckets */
  if (ctx.key === null) {
    if (m === 'GET') return q.has('uploads') ? 'list-uploads' : ([...q.keys()].some((k) =>
      ['acl', 'location', 'cors', 'website', 'lifecycle', 'logging', 'policy', 'tagging',
        'versioning', 'bucketInfo', 'stat'].includes(k)) ? 'other' : 'list');
    if (m === 'POST' && q.has('delete')) return 'delete';
    return 'other';
  }
  if (m === 'GET') return q.has('uploadId') ? 'list-parts' : (q.has('acl') || q.has('tagging') ? 'other' : 'get');
  if (m === 'HEAD') return 'head';
  if (m === 'PUT') {
    if (q.has('uploadId') && q.has('partNumber')) return 'upload-part';
    if (q.has('acl') || q.has('tagging') || q.has('symlink')) return 'other';
    return 'put';
  }
  if (m === 'POST') {
    if (q.has('uploads')) return 'initiate';
    if (q.has('uploadId')) return 'complete';
    return 'other';
  }
  if (m === 'DELETE') return q.has('uploadId') ? 'abort' : 'delete';
  void req;
  return 'other';
}

/* ------------------------------------------------------------------ signatures */

/* OSS V1 sub-resources (OSS's documented list, plus what the
 * official SDKs sign, e.g. continuation-token and versionId). Query names
 * starting with x-oss- are signed as well. */
const OSS_SUBRES = new Set(['acl', 'uploads', 'location', 'cors', 'logging', 'website', 'referer',
  'lifecycle', 'delete', 'append', 'tagging', 'objectMeta', 'uploadId', 'partNumber',
  'security-token', 'position', 'img', 'style', 'styleName', 'replication', 'replicationProgress',
  'replicationLocation', 'cname', 'bucketInfo', 'comp', 'qos', 'live', 'status', 'vod',
  'startTime', 'endTime', 'symlink', 'x-oss-process', 'response-content-type',
  'response-content-language', 'response-expires', 'response-cache-control',
  'response-content-disposition', 'response-content-encoding', 'continuation-token',
  'versionId', 'versions', 'versioning', 'restore', 'callback', 'callback-var', 'stat',
  'sequential', 'policy', 'encryption', 'inventory', 'worm', 'wormId', 'requestPayment',
  'resourceGroup', 'transferAcceleration', 'regionList', 'cors', 'accessPoint']);

function authError(status, code, message, extra) {
  return { status, code, message, extra };
}

function signedHeaders(req) {
  const h = {};
  for (const [k, v] of Object.entries(req.headers)) h[k] = utf8Header(v);
  return h;
}

function checkSkew(ms) {
  if (!opt.maxSkew) return null;
  if (!Number.isFinite(ms)) return authError(403, 'AccessDenied', 'The request date cannot be parsed.');
  if (Math.abs(Date.now() - ms) > opt.maxSkew * 1000) {
    return authError(403, 'RequestTimeTooSkewed',
      'The difference between the request time and the current time is too large.');
  }
  return null;
}

function verifyOss(ctx, req) {
  const auth = req.headers.authorization;
  const headers = signedHeaders(req);
  if (auth.startsWith('OSS4-HMAC-SHA256')) {
    const fields = {};
    for (const f of auth.slice('OSS4-HMAC-SHA256'.length).split(',')) {
      const eq = f.indexOf('=');
      if (eq > 0) fields[f.slice(0, eq).trim()] = f.slice(eq + 1).trim();
    }
    const cred = (fields.Credential || '').split('/');
    if (cred.length !== 5 || !fields.Signature) {
      return authError(400, 'InvalidArgument', 'Authorization header is invalid.');
    }
    if (cred[0] !== opt.ak) {
      return authError(403, 'InvalidAccessKeyId', 'The OSS Access Key Id you provided does not exist in our records.',
        { OSSAccessKeyId: cred[0] });
    }
    const date = headers['x-oss-date'];
    if (!date || !/^\d{8}T\d{6}Z$/.test(date)) {
      return authError(403, 'AccessDenied', 'V4 requests need an x-oss-date header in ISO 8601 basic format.');
    }
    const additional = fields.AdditionalHeaders ? fields.AdditionalHeaders.split(';').filter(Boolean) : undefined;
    const queries = {};
    for (const q of ctx.query) queries[q.name] = q.value === '' ? null : q.value;
    const cloudBox = cred[3] === 'oss-cloudbox' ? cred[2] : undefined;
    const region = cloudBox || opt.region;
    let expected;
    let canonical = '';
    let sts = '';
    try {
      expected = ossSign.authorizationV4(opt.ak, opt.sk, region, ctx.method, { headers, queries },
        ctx.bucket || undefined, ctx.key || undefined, additional, 'utf-8', cloudBox);
      canonical = ossSign.getCanonicalRequest(ctx.method, { headers, queries }, ctx.bucket || undefined,
        ctx.key || undefined, ossSign.fixAdditionalHeaders(additional));
      sts = ossSign.getStringToSign(region, date, canonical, ossSign.getProduct(cloudBox));
    } catch (e) {
      return authError(403, 'SignatureDoesNotMatch', `cannot compute the V4 signature: ${e.message}`);
    }
    if (expected !== auth.replace(/,\s+/g, ',').replace(/^OSS4-HMAC-SHA256\s+/, 'OSS4-HMAC-SHA256 ')) {
      return authError(403, 'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided.',
        { AuthorizationProvided: auth.replace(/Signature=.*/, 'Signature=...'),
          ExpectedCredential: `${opt.ak}/${date.slice(0, 8)}/${region}/${ossSign.getProduct(cloudBox)}/aliyun_v4_request`,
          CanonicalRequest: canonical, StringToSign: sts });
    }
    const t = Date.UTC(+date.slice(0, 4), +date.slice(4, 6) - 1, +date.slice(6, 8),
      +date.slice(9, 11), +date.slice(11, 13), +date.slice(13, 15));
    return checkSkew(t);
  }
  const m = /^OSS ([^:]+):(.+)$/.exec(auth);
  if (!m) return authError(400, 'InvalidArgument', 'Authorization header is invalid.');
  if (m[1] !== opt.ak) {
    return authError(403, 'InvalidAccessKeyId', 'The OSS Access Key Id you provided does not exist in our records.',
      { OSSAccessKeyId: m[1] });
  }
  const resource = ctx.bucket ? `/${ctx.bucket}/${ctx.key || ''}` : '/';
  const subres = {};
  for (const q of ctx.query) {
    if (OSS_SUBRES.has(q.name) || q.name.toLowerCase().startsWith('x-oss-')) subres[q.name] = q.value;
  }
  /* The date line is x-oss-date when present, else Date (doc 31951); the SDK
   * helper reads x-oss-date itself and takes Date through its "expires" slot. */
  const dateLine = headers['x-oss-date'] ? undefined : (headers.date || '');
  const sts = ossSign.buildCanonicalString(ctx.method, resource, { headers, parameters: subres }, dateLine);
  const expected = ossSign.authorization(opt.ak, opt.sk, sts, 'utf-8');
  if (expected !== auth) {
    return authError(403, 'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      { StringToSign: sts, SignatureProvided: m[2], OSSAccessKeyId: m[1] });
  }
  return checkSkew(Date.parse(headers['x-oss-date'] || headers.date));
}

/* Header names cos-nodejs-sdk-v5's getAuth can sign (util.js signHeaders plus
 * x-cos-* and x-ci-*). A header outside this list cannot be checked with the
 * SDK's code, so such a signature is refused with an explanation. */
const COS_SIGNABLE = ['cache-control', 'content-disposition', 'content-encoding', 'content-length',
  'content-md5', 'content-type', 'expect', 'expires', 'host', 'if-match', 'if-modified-since',
  'if-none-match', 'if-unmodified-since', 'origin', 'range', 'transfer-encoding', 'pic-operations'];

function verifyCos(ctx, req) {
  const auth = req.headers.authorization;
  const f = {};
  for (const part of auth.split('&')) {
    const eq = part.indexOf('=');
    if (eq > 0) f[part.slice(0, eq)] = part.slice(eq + 1);
  }
  if (f['q-sign-algorithm'] !== 'sha1' || !f['q-ak'] || !f['q-key-time'] || !f['q-signature'] ||
      f['q-header-list'] === undefined || f['q-url-param-list'] === undefined) {
    return authError(403, 'AccessDenied', 'Authorization header is invalid (want q-sign-algorithm=sha1&q-ak=...&q-signature=...).');
  }
  if (f['q-ak'] !== opt.ak) {
    return authError(403, 'InvalidAccessKeyId', 'The access key Id format you provided is invalid.');
  }
  const headerNames = f['q-header-list'].split(';').filter(Boolean);
  const paramNames = f['q-url-param-list'].split(';').filter(Boolean);
  const Headers = {};
  for (const n of headerNames) {
    if (!(n.startsWith('x-cos-') || n.startsWith('x-ci-') || COS_SIGNABLE.includes(n))) {
      return authError(403, 'SignatureDoesNotMatch',
        `header '${n}' is in q-header-list but cos-nodejs-sdk-v5's getAuth cannot sign it; ` +
        'sign only host, content-*, x-cos-* and the other headers of its list');
    }
    if (req.headers[n] === undefined) {
      return authError(403, 'SignatureDoesNotMatch', `header '${n}' is in q-header-list but absent from the request`);
    }
    Headers[n] = utf8Header(req.headers[n]);
  }
  const Query = {};
  for (const q of ctx.query) {
    if (paramNames.includes(cosUtil.camSafeUrlEncode(q.name).toLowerCase())) Query[q.name] = q.value;
  }
  for (const n of paramNames) {
    if (!Object.keys(Query).some((k) => cosUtil.camSafeUrlEncode(k).toLowerCase() === n)) {
      return authError(403, 'SignatureDoesNotMatch', `parameter '${n}' is in q-url-param-list but absent from the request`);
    }
  }
  /* Virtual-hosted: the signed path is the decoded key. Path-style (host is
   * an address): the SDKs sign "/key" (cos-nodejs-sdk-v5 with a Domain that
   * holds the bucket) or "/bucket/key"; either is accepted. */
  const candidates = [`/${ctx.key || ''}`];
  if (ctx.style === 'path' && ctx.bucket) candidates.push(`/${ctx.bucket}/${ctx.key || ''}`);
  let expected = '';
  for (const Pathname of candidates) {
    expected = COS.getAuthorization({ SecretId: opt.ak, SecretKey: opt.sk, Method: ctx.method,
      Pathname, Query, Headers, KeyTime: f['q-key-time'] });
    const sig = /q-signature=([0-9a-f]+)/.exec(expected)[1];
    if (sig === f['q-signature'] && f['q-sign-time'] === f['q-key-time']) {
      const kt = f['q-key-time'].split(';').map(Number);
      if (opt.maxSkew) {
        const now = Date.now() / 1000;
        if (!(kt[1] >= now)) return authError(403, 'AccessDenied', 'Request has expired');
        if (kt[0] > now + opt.maxSkew) return authError(403, 'RequestTimeTooSkewed', 'The difference between the request time and the server\'s time is too large.');
      }
      return null;
    }
  }
  const signedHeadersObj = {};
  for (const [k, v] of Object.entries(Headers)) signedHeadersObj[k] = v;
  const formatString = [ctx.method.toLowerCase(), candidates[0], cosUtil.obj2str(Query, true),
    cosUtil.obj2str(signedHeadersObj, true), ''].join('\n');
  return authError(403, 'SignatureDoesNotMatch', 'The Signature you specified is invalid.',
    { FormatString: formatString, KeyTime: f['q-key-time'] });
}

function verify(ctx, req) {
  const auth = req.headers.authorization;
  if (!auth) {
    stats.auth.missing++;
    return authError(403, 'AccessDenied', 'AccessDenied: the request carries no Authorization header; ' +
      'anonymous access is not allowed by this bucket.');
  }
  if (!opt.ak || !opt.sk) return null;
  const e = D === 'oss' ? verifyOss(ctx, req) : verifyCos(ctx, req);
  if (e) stats.auth.refused++; else stats.auth.ok++;
  return e;
}

/* ------------------------------------------------------------------ translation */

const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te',
  'trailer', 'upgrade', 'transfer-encoding', 'expect']);

function upBucket(b) {
  return opt.bucketMap.get(b) || b;
}

/* --list-v1-only: a store that knows only ListObjects V1. It ignores
 * list-type=2 and with it start-after and continuation-token (it answers
 * page one to each), and honours marker. */
const V2_ONLY_PARAMS = new Set(['list-type', 'start-after', 'continuation-token', 'fetch-owner']);
function upstreamQuery(ctx) {
  if (!opt.listV1Only || ctx.op !== 'list' || !ctx.rawQuery) return ctx.rawQuery;
  return ctx.rawQuery.split('&').filter((kv) => {
    let name = kv.split('=')[0];
    try { name = decodeURIComponent(name); } catch (e) { /* kept as sent */ }
    return !V2_ONLY_PARAMS.has(name);
  }).join('&');
}
function upstreamQueryPairs(ctx) {
  if (ctx.op !== 'list') return ctx.query;
  return ctx.query.filter((p) => !(opt.listV1Only && V2_ONLY_PARAMS.has(p.name)))
    .map((p) => (p.name === 'continuation-token' ? { ...p, value: unwrapToken(p.value) } : p));
}

/* A real server's ListObjectsV2 continuation token may be the next key in
 * clear (versitygw's is); OSS's and COS's are opaque URL-safe strings, which
 * clients pass back URL-decoded or not (oss2 decodes it under
 * encoding-type=url, ferry does not). So in front of a real server the
 * proxy hands out base64url of the token and turns it back. */
function wrapToken(t) { return Buffer.from(t, 'utf8').toString('base64url'); }
function unwrapToken(t) { return Buffer.from(t, 'base64url').toString('utf8'); }
function wrapListingTokens(xml) {
  return xml.replace(/<(NextContinuationToken|ContinuationToken)>([^<]*)<\/\1>/g,
    (m, tag, text) => `<${tag}>${wrapToken(xmlUnescape(text))}</${tag}>`);
}

/* Parts atomic, as in S3, OSS and COS: an UploadPart replaces the part only
 * once it has succeeded, and a Complete takes each part as last completed.
 * s3rver writes a part in place into a file named by its number (truncated
 * first), and its Complete concatenates those files as they are: a part
 * uploaded again while another upload of it is in flight, or a cut upload
 * of a part already there, left zeros or a short part in the object (two
 * workers continuing one upload after a rebalance, as ferry's design allows).
 * So each UploadPart goes upstream under a number of its own, n * 1e6 + a
 * counter (s3rver sorts the numbers, so the order holds), recorded when it
 * succeeds, and the Complete's part numbers are rewritten to those. */
let partSeq = Math.floor(Math.random() * 1e6);
function upstreamPartNumber(n) {
  partSeq = (partSeq + 1) % 1e6;
  return n * 1e6 + partSeq;
}

function completeBodyUpstream(ctx, buf) {
  const u = uploads.get(ctx.qmap.get('uploadId'));
  if (!u || REAL) return buf; /* an upload made behind the proxy's back; a real server's parts are atomic */
  return Buffer.from(buf.toString('utf8').replace(/(<PartNumber>\s*)(\d+)(\s*<\/PartNumber>)/g, (m, a, n, z) => {
    const p = u.parts.get(parseInt(n, 10));
    return p && p.up ? `${a}${p.up}${z}` : m;
  }));
}

function upstreamPath(ctx) {
  /* signed: the target in S3's canonical form, so what is signed is what is sent */
  if (REAL) return sigv4.target(ctx.bucket ? upBucket(ctx.bucket) : null, ctx.key, upstreamQueryPairs(ctx));
  if (D === 's3' || !ctx.bucket) return ctx.rawPath + (ctx.rawQuery ? `?${ctx.rawQuery}` : '');
  const b = encodeURIComponent(upBucket(ctx.bucket));
  const rest = ctx.keyRaw ? `/${ctx.keyRaw}` : '';
  let q = upstreamQuery(ctx);
  if (ctx.upPart) q = q.replace(/(^|&)partNumber=[^&]*/, `$1partNumber=${ctx.upPart}`);
  return `/${b}${rest}${q ? `?${q}` : ''}`;
}

/* --fake-etags: a store whose 32-hex ETags are not the MD5 of the bytes
 * (OSS/COS KMS, S3 SSE-KMS/SSE-C). Each MD5 ETag is shown reversed, in
 * listings and GET/HEAD answers, and turned back in If-Match/If-None-Match;
 * with 'kms' the answers also carry the dialect's KMS encryption header,
 * with 'plain' nothing says so (a store whose ETag lies). */
function fakeEtag(e) {
  return /^[0-9a-fA-F]{32}$/.test(e) ? e.split('').reverse().join('') : e;
}
function fakeEtagList(v) {
  return String(v).replace(/[0-9a-fA-F]{32}/g, (h) => fakeEtag(h));
}
const KMS_HEADER = { oss: ['x-oss-server-side-encryption', 'KMS'], cos: ['x-cos-server-side-encryption', 'cos/kms'],
  s3: ['x-amz-server-side-encryption', 'aws:kms'] }[D];

function upstreamHeaders(ctx, req) {
  const out = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (HOP.has(k)) continue;
    if (D === 's3') { out[k] = v; continue; }
    if (k === 'host' || k === 'authorization') continue;
    if (k.startsWith(`${PFX}meta-`)) { out[`x-amz-meta-${k.slice(PFX.length + 5)}`] = v; continue; }
    if (k === `${PFX}copy-source`) {
      /* OSS: /bucket/key; COS: bucket-appid.cos.region.myqcloud.com/key;
       * the key percent-encoded (ali-oss encodes '/' too). s3rver reads the
       * header with decodeURI, so re-encode the decoded key with encodeURI. */
      const s = String(v).replace(/\?versionId=.*$/, '');
      let m = /^\/?([^/]+)\/(.*)$/.exec(s);
      if (D === 'cos') m = /^([^./]+)\.[^/]*\/(.*)$/.exec(s) || m;
      try {
        /* a real server decodes it as S3 does: every reserved byte encoded */
        if (m) {
          const key = decodeURIComponent(m[2]);
          out['x-amz-copy-source'] = `/${upBucket(decodeURIComponent(m[1]))}/${REAL ? sigv4.keyPath(key) : encodeURI(key)}`;
        }
      } catch (e) { /* undecodable: s3rver answers without it */ }
      continue;
    }
    if (k.startsWith(PFX)) continue; /* other dialect headers mean nothing to s3rver */
    if (opt.fakeEtags && (k === 'if-match' || k === 'if-none-match')) { out[k] = fakeEtagList(v); continue; }
    out[k] = v;
  }
  if (D !== 's3') out.host = `${opt.upHost}:${opt.upPort}`;
  return out;
}

/* A real upstream: x-amz-date, x-amz-content-sha256 (UNSIGNED-PAYLOAD: bodies
 * stream unhashed) and the SigV4 Authorization over host, content-type and
 * every x-amz-* header; values signed as UTF-8, the bytes Node forwards (it
 * holds header bytes as latin1). Without upstream credentials: unchanged. */
function signUpstream(method, path, headers) {
  if (!REAL) return headers;
  headers['x-amz-date'] = sigv4.amzDate();
  headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
  const toSign = {};
  for (const [k, v] of Object.entries(headers)) {
    if (k === 'host' || k === 'content-type' || k.startsWith('x-amz-')) toSign[k] = utf8Header(v);
  }
  headers.authorization = sigv4.authorization({ method, path, headers: toSign, region: opt.upRegion,
    ak: opt.upAk, sk: opt.upSk });
  return headers;
}

function responseHeaders(ctx, upHeaders) {
  const out = {};
  for (const [k, v] of Object.entries(upHeaders)) {
    if (HOP.has(k)) continue;
    if (D === 's3') { out[k] = v; continue; }
    if (k.startsWith('x-amz-meta-')) { out[`${PFX}meta-${k.slice(11)}`] = v; continue; }
    if (k === 'x-amz-request-id') { out[REQID_HEADER] = v; continue; }
    if (k.startsWith('x-amz-')) continue;
    out[k] = v;
  }
  if (!out[REQID_HEADER]) out[REQID_HEADER] = ctx.reqId;
  if (D === 'oss') out.server = 'AliyunOSS';
  if (D === 'cos') out.server = 'tencent-cos';
  return out;
}

/* ListObjects with encoding-type=url: s3rver ignores it, OSS and COS encode
 * the key-like fields; do it here so clients that decode get the right keys. */
function encodeListing(xml) {
  if (/<EncodingType>url<\/EncodingType>/.test(xml)) return xml; /* a store that does it itself */
  const enc = (s) => encodeURIComponent(xmlUnescape(s));
  let out = xml.replace(/<(Key|Prefix|StartAfter|Delimiter|Marker|NextMarker|KeyMarker|NextKeyMarker)>([^<]*)<\/\1>/g,
    (m, tag, text) => `<${tag}>${enc(text)}</${tag}>`);
  /* versitygw ignores the parameter and answers an empty EncodingType */
  out = out.replace(/<EncodingType\s*\/>|<EncodingType><\/EncodingType>/, '<EncodingType>url</EncodingType>');
  if (!/<EncodingType>/.test(out)) {
    out = out.replace(/(<List[A-Za-z]*Result[^>]*>)/, '$1<EncodingType>url</EncodingType>');
  }
  return out;
}

/* OSS lists each object's <Type> (Normal, Multipart, ...), which oss2 requires;
 * Multipart for an object the proxy saw completed from parts and that s3rver
 * still serves in that version, as on HEAD. */
function ossListingTypes(bucket, xml) {
  return xml.replace(/<Contents>([\s\S]*?)<\/Contents>/g, (m, inner) => {
    if (/<Type>/.test(inner)) return m;
    const key = (inner.match(/<Key>([^<]*)<\/Key>/) || [])[1];
    const etag = (inner.match(/<ETag>([^<]*)<\/ETag>/) || [])[1];
    const o = key !== undefined ? objects.get(okey(bucket || '', xmlUnescape(key))) : null;
    const mp = !!(o && o.mp && etag !== undefined && stripEtag(xmlUnescape(etag)) === o.etag);
    return `<Contents>${inner}<Type>${mp ? 'Multipart' : 'Normal'}</Type></Contents>`;
  });
}

/* OSS and COS list times with milliseconds (oss2 parses exactly
 * ...T12:34:56.000Z); versitygw sends whole seconds. */
function listingMillis(xml) {
  return xml.replace(/<(LastModified|Initiated)>(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)Z<\/\1>/g, '<$1>$2.000Z</$1>');
}

function stripS3Namespace(xml) {
  return xml.replace(/(<List[A-Za-z]*Result)\s+xmlns="http:\/\/(?:s3\.amazonaws\.com\/doc|doc\.s3\.amazonaws\.com)\/2006-03-01\/?"/, '$1');
}

/* ------------------------------------------------------------------ body pumping */

/* Copies src (upstream response or a buffered body) to res, applying the
 * response-side part of a fault rule. Backpressure both ways: src is paused
 * while res is full, so memory stays bounded whatever the object size. */
function pump(src, res, rule, ctx) {
  const act = rule ? rule.action : null;
  let sent = 0;
  let done = false;
  let stalled = false;
  let drainWait = false;
  let ended = false;
  const resume = () => { if (!stalled && !drainWait && !done) src.resume(); };
  const finish = () => {
    if (done) return;
    done = true;
    if (act === 'reset') { destroySocket(res.socket, true); return; }
    res.end();
  };
  const write = (buf) => {
    if (!buf.length) return;
    stats.bytes_out += buf.length;
    if (!res.write(buf)) {
      drainWait = true;
      src.pause();
      res.once('drain', () => { drainWait = false; resume(); });
    }
  };
  let pendingAfterStall = null;
  const startStall = (pending) => {
    stalled = true;
    pendingAfterStall = pending;
    src.pause();
    if (!res.headersSent) res.flushHeaders();
    setTimeout(() => {
      stalled = false;
      if (res.destroyed || done) return;
      const p = pendingAfterStall;
      pendingAfterStall = null;
      if (p) write(p);
      if (ended) finish(); else resume();
    }, rule.ms);
  };
  const resetAt = act === 'reset' ? (rule.bytes || 0) : -1;
  const stallAt = act === 'stall' ? (rule.bytes || 0) : -1;
  let stallDone = false;
  res.on('close', () => { if (!res.writableFinished) { done = true; src.destroy(); } });
  if (resetAt === 0) {
    done = true;
    res.flushHeaders();
    src.destroy();
    setTimeout(() => destroySocket(res.socket, true), 20);
    return;
  }
  if (stallAt === 0) { stallDone = true; startStall(null); }
  src.on('data', (chunk) => {
    if (done) return;
    if (act === 'corrupt' && rule.side === 'response') {
      const off = rule.offset;
      if (off >= sent && off < sent + chunk.length) {
        chunk = Buffer.from(chunk);
        chunk[off - sent] ^= 0xff;
      }
    }
    if (resetAt > 0 && sent + chunk.length >= resetAt) {
      const part = chunk.subarray(0, resetAt - sent);
      done = true;
      src.destroy();
      stats.bytes_out += part.length;
      /* let the bytes reach the peer, then RST (the peer reads the bytes,
       * then gets ECONNRESET) */
      res.write(part, () => setTimeout(() => destroySocket(res.socket, true), 20));
      return;
    }
    if (stallAt > 0 && !stallDone && sent + chunk.length > stallAt) {
      stallDone = true;
      const a = chunk.subarray(0, stallAt - sent);
      const b = chunk.subarray(stallAt - sent);
      sent += chunk.length;
      write(a);
      startStall(b); /* the rest of this chunk goes out when the stall ends */
      return;
    }
    sent += chunk.length;
    write(chunk);
  });
  src.on('end', () => {
    ended = true;
    if (!stalled) finish();
  });
  src.on('error', () => { done = true; destroySocket(res.socket, true); });
}

function bufferStream(src, limit, cb) {
  const chunks = [];
  let n = 0;
  let over = false;
  src.on('data', (c) => {
    if (over) return;
    n += c.length;
    if (n > limit) { over = true; cb(new Error(`body larger than ${limit} bytes`)); src.destroy(); return; }
    chunks.push(c);
  });
  src.on('end', () => { if (!over) cb(null, Buffer.concat(chunks)); });
  src.on('error', (e) => { if (!over) { over = true; cb(e); } });
}

/* ------------------------------------------------------------------ forwarding */

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const SMALL_LIMIT = 16 << 20;

function forward(ctx, req, res, rule) {
  const dialectual = D !== 's3';
  const isCopy = !!(req.headers[`${PFX}copy-source`] || req.headers['x-amz-copy-source']);
  const crc = dialectual && ((ctx.op === 'put' && !isCopy) || ctx.op === 'upload-part') ? new Crc64() : null;
  /* small request bodies whose content the proxy needs */
  const bufferReq = dialectual && (ctx.op === 'complete' || (ctx.op === 'delete' && ctx.method === 'POST'));
  /* a real server answers ListParts and ListMultipartUploads itself */
  const listing = ctx.op === 'list' || (REAL && (ctx.op === 'list-parts' || ctx.op === 'list-uploads'));
  const urlListing = dialectual && listing && ctx.qmap.get('encoding-type') === 'url';
  /* listings are buffered in the oss/cos dialects to drop the S3 xmlns (below) */
  const bufferRes = (dialectual && (ctx.op === 'complete' || ctx.op === 'initiate' || listing)) ||
    (ctx.op === 'list' && !!opt.fakeEtags);
  const digest = bodyDigest(ctx, req, rule);
  if (digest && digest.invalid) {
    return sendError(ctx, req, res, 400, 'InvalidDigest', 'The Content-MD5 you specified was invalid.');
  }
  let reqDone = false;
  let reqBody = null;
  if (dialectual && ctx.op === 'upload-part' && !REAL) {
    const n = parseInt(ctx.qmap.get('partNumber'), 10);
    if (n >= 1 && n <= 10000) ctx.upPart = upstreamPartNumber(n);
  }

  const upPath = upstreamPath(ctx);
  const upReq = http.request({ host: opt.upHost, port: opt.upPort, method: req.method,
    path: upPath, headers: signUpstream(req.method, upPath, upstreamHeaders(ctx, req)), agent });

  upReq.on('error', (e) => {
    if (digest && digest.refused) return;
    log(`upstream error: ${e.message}`);
    if (!res.headersSent) sendError(ctx, req, res, 502, 'BadGateway', `upstream ${opt.upstream}: ${e.message}`);
    else destroySocket(res.socket, true);
  });
  res.on('close', () => { if (!res.writableFinished) upReq.destroy(); });

  if (bufferReq) {
    bufferStream(req, SMALL_LIMIT, (err, buf) => {
      if (err) { upReq.destroy(); sendError(ctx, req, res, 400, 'InvalidArgument', err.message); return; }
      stats.bytes_in += buf.length;
      reqBody = buf;
      reqDone = true;
      const out = ctx.op === 'complete' ? completeBodyUpstream(ctx, buf) : buf;
      if (out !== buf) {
        upReq.setHeader('content-length', String(out.length));
        upReq.removeHeader('content-md5');
      }
      upReq.end(out);
    });
  } else {
    const up = (chunk) => {
      if (!upReq.write(chunk)) {
        req.pause();
        upReq.once('drain', () => req.resume());
      }
    };
    req.on('data', (chunk) => {
      stats.bytes_in += chunk.length;
      const c = digest ? digest.take(chunk) : chunk;
      if (crc) crc.update(c);
      if (!digest) { up(c); return; }
      /* held until the digest is known: s3rver stores even a body cut
       * short, so a body that does not match must not reach it at all */
      digest.held.push(c);
    });
    req.on('end', () => {
      if (digest && !digest.matches()) {
        digest.refused = true;
        stats.bad_digest++;
        upReq.destroy();
        sendError(ctx, req, res, 400, 'BadDigest', 'The Content-MD5 you specified did not match what was received.');
        return;
      }
      if (digest) upReq.write(Buffer.concat(digest.held));
      reqDone = true;
      upReq.end();
    });
  }

  upReq.on('response', (upRes) => {
    const status = upRes.statusCode;
    const ok = status >= 200 && status < 300;
    const headers = responseHeaders(ctx, upRes.headers);
    const after = (body) => {
      /* bookkeeping that needs the upstream answer */
      if (dialectual && ctx.bucket && ctx.key !== null) {
        const etag = stripEtag(upRes.headers.etag);
        if (ctx.op === 'put' && ok) {
          if (crc && reqDone) {
            const v = crc.toString();
            journal({ t: 'obj', b: ctx.bucket, k: ctx.key, crc: v, size: crc.length, etag, mp: false });
            headers[CRC_HEADER] = v;
          } else {
            journal({ t: 'del', b: ctx.bucket, k: ctx.key });
          }
        } else if (ctx.op === 'upload-part' && ok && crc && reqDone) {
          const v = crc.toString();
          const u = ctx.qmap.get('uploadId');
          journal({ t: 'part', u, b: ctx.bucket, k: ctx.key, n: parseInt(ctx.qmap.get('partNumber'), 10),
            crc: v, size: crc.length, etag, up: ctx.upPart });
          headers[CRC_HEADER] = v;
        } else if ((ctx.op === 'get' || ctx.op === 'head') && ok) {
          const o = knownCrc(ctx.bucket, ctx.key, upRes.headers.etag);
          if (o) headers[CRC_HEADER] = o.crc;
          if (D === 'oss') {
            headers['x-oss-object-type'] = o && o.mp ? 'Multipart' : 'Normal';
            headers['x-oss-storage-class'] = 'Standard';
          }
          if (opt.fakeEtags && headers.etag) headers.etag = fakeEtagList(headers.etag);
          if (opt.fakeEtags === 'kms') headers[KMS_HEADER[0]] = KMS_HEADER[1];
        } else if (ctx.op === 'delete' && ok) {
          journal({ t: 'del', b: ctx.bucket, k: ctx.key });
        } else if (ctx.op === 'abort' && ok) { /* forwarded to a real server */
          const u = uploads.get(ctx.qmap.get('uploadId'));
          if (u) journal({ t: 'upclose', u: ctx.qmap.get('uploadId'), b: u.b, k: u.k, s: 'aborted' });
        } else if (ctx.op === 'initiate' && ok && body) {
          const m = /<UploadId>([^<]+)<\/UploadId>/.exec(body.toString('utf8'));
          if (m) journal({ t: 'up', u: xmlUnescape(m[1]), b: ctx.bucket, k: ctx.key, at: Date.now() });
        } else if (ctx.op === 'complete' && body) {
          const text = body.toString('utf8');
          if (ok && !/<Error>/.test(text)) completeDone(ctx, reqBody, text, headers, body.measured);
        }
      }
      if (dialectual && ctx.op === 'delete' && ctx.method === 'POST' && ok && ctx.bucket && reqBody) {
        for (const m of reqBody.toString('utf8').matchAll(/<Key>([^<]*)<\/Key>/g)) {
          journal({ t: 'del', b: ctx.bucket, k: xmlUnescape(m[1]) });
        }
      }
    };
    const send = (src, body) => {
      after(body);
      if (rule && rule.action === 'reset' && rule.bytes === undefined) {
        /* forwarded (the upstream did the work), but the client sees a reset */
        src.resume();
        destroySocket(res.socket, true);
        return;
      }
      if (res.destroyed) { src.resume(); return; }
      if (res.headersSent) { /* the answer began early (delay with whitespace_ms) */
        if (body) res.end(body);
        else src.pipe(res);
        return;
      }
      if (body) { headers['content-length'] = String(body.length); }
      /* the answer is forwarded with one header set to the rule's value, or without it */
      if (rule && rule.action === 'header') {
        if (rule.remove) delete headers[rule.name];
        else headers[rule.name] = rule.value;
      }
      res.writeHead(status, headers);
      if (ctx.method === 'HEAD' || status === 204 || status === 304) {
        src.resume();
        res.end();
        return;
      }
      pump(src, res, rule, ctx);
    };
    if (bufferRes) {
      bufferStream(upRes, SMALL_LIMIT, (err, buf) => {
        if (err) { destroySocket(res.socket, true); return; }
        let b = buf;
        if (ok && D === 'oss' && ctx.op === 'list') b = Buffer.from(ossListingTypes(ctx.bucket, b.toString('utf8')));
        if (ok && REAL && ctx.op === 'list') b = Buffer.from(wrapListingTokens(b.toString('utf8')));
        if (ok && urlListing) b = Buffer.from(encodeListing(b.toString('utf8')));
        /* OSS and COS answer a listing without the S3 namespace; oss2 looks its
         * elements up by bare name and finds nothing in a namespaced one. */
        if (ok && dialectual && listing) b = Buffer.from(listingMillis(stripS3Namespace(b.toString('utf8'))));
        if (ok && ctx.op === 'list' && opt.fakeEtags) {
          b = Buffer.from(b.toString('utf8').replace(/<ETag>([^<]*)<\/ETag>/g, (m, e) => `<ETag>${fakeEtagList(e)}</ETag>`));
        }
        if (ok && ctx.op === 'complete' && dialectual && !/<Error>/.test(b.toString('utf8'))) {
          /* the CRC of what s3rver assembled, read back (completeDone) */
          measureObject(ctx, (m) => { b.measured = m; send(Readable.from([b]), b); });
          return;
        }
        send(Readable.from([b]), b);
      });
    } else {
      send(upRes, null);
    }
  });
}

/* Content-MD5 of a PutObject / UploadPart body, checked as S3, OSS and COS
 * do: a value that is not base64 of 16 bytes is 400 InvalidDigest at once;
 * a body whose MD5 differs is 400 BadDigest, and is not stored. A rule
 * {"action":"corrupt","side":"request","offset":N} flips byte N of the body
 * on its way in (before the check: damage in flight). null when neither
 * applies. */
function bodyDigest(ctx, req, rule) {
  const want = req.headers['content-md5'];
  const corrupt = rule && rule.action === 'corrupt' && rule.side === 'request' ? rule.offset : -1;
  if ((ctx.op !== 'put' && ctx.op !== 'upload-part') || (want === undefined && corrupt < 0)) return null;
  const d = { held: [], refused: false, invalid: false, seen: 0 };
  let md5 = null;
  if (want !== undefined) {
    const raw = Buffer.from(String(want), 'base64');
    if (raw.length !== 16 || raw.toString('base64') !== String(want).trim()) return { invalid: true };
    md5 = crypto.createHash('md5');
    d.want = raw;
  }
  d.take = (chunk) => {
    let c = chunk;
    if (corrupt >= d.seen && corrupt < d.seen + c.length) {
      c = Buffer.from(c);
      c[corrupt - d.seen] ^= 0xff;
      log(`corrupted byte ${corrupt} of the ${ctx.op} body of ${ctx.bucket}/${ctx.key}`);
    }
    d.seen += c.length;
    if (md5) md5.update(c);
    return c;
  };
  d.matches = () => !md5 || md5.digest().equals(d.want);
  return d;
}

/* The CRC-64 and size of an object as the upstream serves it (GET, read
 * through), or null. */
function measureObject(ctx, cb) {
  const c = new Crc64();
  let done = false;
  const fin = (m) => { if (!done) { done = true; cb(m); } };
  const p = REAL ? sigv4.target(upBucket(ctx.bucket), ctx.key, [])
    : `/${encodeURIComponent(upBucket(ctx.bucket))}/${ctx.keyRaw}`;
  const r = http.request({ host: opt.upHost, port: opt.upPort, method: 'GET', agent, path: p,
    headers: signUpstream('GET', p, { host: `${opt.upHost}:${opt.upPort}` }) }, (up) => {
    if (up.statusCode !== 200) { up.resume(); fin(null); return; }
    up.on('data', (d) => c.update(d));
    up.on('end', () => fin({ crc: c.toString(), size: c.length }));
    up.on('error', () => fin(null));
  });
  r.on('error', () => fin(null));
  r.end();
}

/* CompleteMultipartUpload succeeded upstream. OSS and COS give the CRC-64
 * of the object they stored, so the header is that of the bytes s3rver
 * assembled, read back (measured): s3rver's parts are plain files, written
 * in place and not checked at Complete, so a part being uploaded again
 * (truncated, half written) or left half written by a cut upload is
 * assembled as it is on disk, and a CRC combined from the parts' recorded
 * CRCs would vouch for bytes that are not there. */
function completeDone(ctx, reqBody, respText, headers, measured) {
  const id = ctx.qmap.get('uploadId');
  const u = uploads.get(id);
  const nums = [];
  for (const m of (reqBody ? reqBody.toString('utf8') : '').matchAll(/<PartNumber>\s*(\d+)\s*<\/PartNumber>/g)) {
    nums.push(parseInt(m[1], 10));
  }
  nums.sort((a, b) => a - b);
  const em = /<ETag>([^<]*)<\/ETag>/.exec(respText);
  const etag = stripEtag(em ? xmlUnescape(em[1]) : '');
  let acc = 0n;
  let size = 0;
  let all = !!u && nums.length > 0;
  for (const n of nums) {
    const p = u && u.parts.get(n);
    if (!p) { all = false; break; }
    acc = crc64Combine(acc, BigInt(p.crc), p.size);
    size += p.size;
  }
  if (measured) {
    if (all && (measured.crc !== acc.toString() || measured.size !== size)) {
      log(`complete ${ctx.bucket}/${ctx.key} upload ${id}: assembled ${measured.size} bytes crc ${measured.crc}, ` +
        `the parts as uploaded ${size} bytes crc ${acc} (a part rewritten or cut on disk)`);
    }
    journal({ t: 'obj', b: ctx.bucket, k: ctx.key, crc: measured.crc, size: measured.size, etag, mp: true });
    headers[CRC_HEADER] = measured.crc;
  } else {
    journal({ t: 'del', b: ctx.bucket, k: ctx.key });
  }
  journal({ t: 'upclose', u: id, b: ctx.bucket, k: ctx.key, s: 'completed' });
}

/* ListMultipartUploads (s3rver has none): the uploads this proxy saw
 * initiated and neither completed nor aborted, sorted by key and upload id,
 * with prefix, key-marker / upload-id-marker and max-uploads. Uploads made
 * behind the proxy's back are not known. */
function openUploads(bucket, prefix) {
  const out = [];
  for (const [id, u] of uploads) {
    if (u.state !== 'open' || (bucket !== null && u.b !== bucket)) continue;
    if (prefix && !u.k.startsWith(prefix)) continue;
    out.push({ bucket: u.b, key: u.k, upload_id: id, initiated: new Date(u.at || 0).toISOString() });
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.upload_id < b.upload_id ? -1 : 1));
}

function listUploads(ctx, req, res) {
  const q = ctx.qmap;
  const prefix = q.get('prefix') || '';
  const km = q.get('key-marker') || '';
  const im = q.get('upload-id-marker') || '';
  const max = Math.min(1000, Math.max(1, parseInt(q.get('max-uploads') || '1000', 10) || 1000));
  const url = q.get('encoding-type') === 'url';
  const enc = (v) => xmlEscape(url ? encodeURIComponent(v) : v);
  const all = openUploads(ctx.bucket, prefix).filter((u) => !km || u.key > km || (u.key === km && im && u.upload_id > im));
  const page = all.slice(0, max);
  const more = all.length > page.length;
  const last = page[page.length - 1];
  let x = `<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult>\n  <Bucket>${xmlEscape(ctx.bucket)}</Bucket>\n` +
    `  <KeyMarker>${enc(km)}</KeyMarker>\n  <UploadIdMarker>${xmlEscape(im)}</UploadIdMarker>\n` +
    `  <NextKeyMarker>${more ? enc(last.key) : ''}</NextKeyMarker>\n` +
    `  <NextUploadIdMarker>${more ? xmlEscape(last.upload_id) : ''}</NextUploadIdMarker>\n` +
    `  <Prefix>${enc(prefix)}</Prefix>\n  <MaxUploads>${max}</MaxUploads>\n  <IsTruncated>${more}</IsTruncated>\n` +
    (url ? '  <EncodingType>url</EncodingType>\n' : '');
  for (const u of page) {
    x += `  <Upload>\n    <Key>${enc(u.key)}</Key>\n    <UploadId>${xmlEscape(u.upload_id)}</UploadId>\n` +
      `    <Initiated>${u.initiated}</Initiated>\n    <StorageClass>Standard</StorageClass>\n  </Upload>\n`;
  }
  x += '</ListMultipartUploadsResult>\n';
  const body = Buffer.from(x);
  req.resume();
  res.writeHead(200, { 'Content-Type': 'application/xml', 'Content-Length': body.length,
    [REQID_HEADER]: ctx.reqId, Date: new Date().toUTCString() });
  res.end(body);
}

/* ListParts (s3rver has none): the parts of an open upload that went
 * through this proxy (UploadPart answered 2xx with the whole body read), by
 * part number, with part-number-marker and max-parts. The part ETags are
 * s3rver's, as UploadPart answered them. */
function listParts(ctx, req, res, u) {
  const q = ctx.qmap;
  const marker = Math.max(0, parseInt(q.get('part-number-marker') || '0', 10) || 0);
  const max = Math.min(1000, Math.max(1, parseInt(q.get('max-parts') || '1000', 10) || 1000));
  const all = [...u.parts.entries()].filter(([n]) => n > marker).sort((a, b) => a[0] - b[0]);
  const page = all.slice(0, max);
  const more = all.length > page.length;
  const last = page.length ? page[page.length - 1][0] : marker;
  let x = `<?xml version="1.0" encoding="UTF-8"?>\n<ListPartsResult>\n  <Bucket>${xmlEscape(ctx.bucket)}</Bucket>\n` +
    `  <Key>${xmlEscape(ctx.key)}</Key>\n  <UploadId>${xmlEscape(q.get('uploadId'))}</UploadId>\n` +
    `  <PartNumberMarker>${marker}</PartNumberMarker>\n  <NextPartNumberMarker>${last}</NextPartNumberMarker>\n` +
    `  <MaxParts>${max}</MaxParts>\n  <IsTruncated>${more}</IsTruncated>\n  <StorageClass>Standard</StorageClass>\n`;
  for (const [n, p] of page) {
    x += `  <Part>\n    <PartNumber>${n}</PartNumber>\n    <LastModified>${new Date(p.at || Date.now()).toISOString()}</LastModified>\n` +
      `    <ETag>&quot;${xmlEscape(p.etag || '')}&quot;</ETag>\n    <Size>${p.size}</Size>\n  </Part>\n`;
  }
  x += '</ListPartsResult>\n';
  const body = Buffer.from(x);
  req.resume();
  res.writeHead(200, { 'Content-Type': 'application/xml', 'Content-Length': body.length,
    [REQID_HEADER]: ctx.reqId, Date: new Date().toUTCString() });
  res.end(body);
}

/* ------------------------------------------------------------------ admin API */

function sendJson(res, status, obj) {
  const body = Buffer.from(`${JSON.stringify(obj, null, 1)}\n`);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': body.length });
  res.end(body);
}

function admin(ctx, req, res) {
  const p = ctx.rawPath.replace(/\/+$/, '');
  const q = new URLSearchParams(ctx.rawQuery);
  const m = req.method;
  const withBody = (fn) => bufferStream(req, 1 << 20, (err, buf) => {
    if (err) return sendJson(res, 400, { error: err.message });
    let j;
    try { j = buf.length ? JSON.parse(buf.toString('utf8')) : {}; } catch (e) {
      return sendJson(res, 400, { error: `bad JSON: ${e.message}` });
    }
    return fn(j);
  });
  if (p === '/__proxy/health' || p === '/__proxy') {
    return sendJson(res, 200, { ok: true, dialect: D, port: server.address().port, upstream: opt.upstream,
      signatures_checked: D !== 's3' && !!(opt.ak && opt.sk), upstream_signed: REAL });
  }
  if (p === '/__proxy/stats') {
    if (m === 'DELETE') { resetStats(); return sendJson(res, 200, { ok: true }); }
    const mem = process.memoryUsage();
    return sendJson(res, 200, { ...stats, rss: mem.rss, heap_used: mem.heapUsed,
      objects_with_crc: objects.size });
  }
  if (p === '/__proxy/faults') {
    if (m === 'GET') return sendJson(res, 200, { rules: rules.map(ruleView) });
    if (m === 'DELETE') { rules = []; return sendJson(res, 200, { ok: true }); }
    if (m === 'POST') {
      return withBody((j) => {
        let list;
        if (Array.isArray(j)) list = j;
        else if (j && Array.isArray(j.rules)) list = j.rules;
        else list = [j];
        let made;
        try { made = list.map(validateRule); } catch (e) { return sendJson(res, 400, { error: e.message }); }
        if (j && !Array.isArray(j) && j.replace) rules = [];
        if (j && !Array.isArray(j) && j.seed !== undefined) rng = makeRng(Number(j.seed) >>> 0);
        rules.push(...made);
        return sendJson(res, 200, { ids: made.map((r) => r.id), rules: rules.map(ruleView) });
      });
    }
  }
  const fm = /^\/__proxy\/faults\/(\d+)$/.exec(p);
  if (fm && m === 'DELETE') {
    const before = rules.length;
    rules = rules.filter((r) => r.id !== parseInt(fm[1], 10));
    return sendJson(res, before === rules.length ? 404 : 200, { ok: before !== rules.length });
  }
  if (p === '/__proxy/uploads' && m === 'GET') {
    const n = { open: 0, completed: 0, aborted: 0 };
    for (const u of uploads.values()) n[u.state] = (n[u.state] || 0) + 1;
    return sendJson(res, 200, { ...n, uploads: openUploads(q.get('bucket'), q.get('prefix') || '') });
  }
  if (p === '/__proxy/crc' && m === 'GET') {
    const o = objects.get(okey(q.get('bucket') || '', q.get('key') || ''));
    return o ? sendJson(res, 200, { crc64: o.crc, size: o.size, etag: o.etag, multipart: o.mp })
      : sendJson(res, 404, { error: 'no CRC recorded for that object' });
  }
  return sendJson(res, 404, { error: `no admin endpoint ${m} ${p}`,
    endpoints: ['GET /__proxy/health', 'GET|DELETE /__proxy/stats', 'GET|POST|DELETE /__proxy/faults',
      'DELETE /__proxy/faults/ID', 'GET /__proxy/crc?bucket=B&key=K', 'GET /__proxy/uploads'] });
}

/* ------------------------------------------------------------------ dispatch */

async function handle(req, res) {
  let ctx;
  try {
    ctx = parseRequest(req);
  } catch (e) {
    ctx = { hostHeader: req.headers.host || '', hostname: '', rawPath: '', reqId: newRequestId(), op: 'other' };
    return sendError(ctx, req, res, e.status || 400, e.code || 'InvalidURI', e.message);
  }
  if (ctx.admin) return admin(ctx, req, res);

  stats.requests++;
  bump(stats.by_method, ctx.method);
  bump(stats.by_op, ctx.op);
  res.on('close', () => {
    const st = res.headersSent && res.writableFinished ? String(res.statusCode)
      : res.headersSent ? `${res.statusCode}-cut` : 'reset';
    bump(stats.by_status, st);
    bump(stats.by_op_status, `${ctx.op} ${st}`);
    log(`${ctx.method} ${ctx.hostHeader}${ctx.rawPath}${ctx.rawQuery ? `?${ctx.rawQuery}` : ''} ` +
      `[${ctx.op}] -> ${st}${ctx.errorCode ? ` ${ctx.errorCode}` : ''}`);
  });

  const rule = pickFault(ctx);
  if (rule) {
    if (rule.action === 'status') {
      const code = rule.code || DEFAULT_CODES[rule.status] || 'InjectedFault';
      const hdrs = rule.retry_after !== undefined ? { 'Retry-After': String(rule.retry_after) } : {};
      return sendError(ctx, req, res, rule.status, code,
        rule.message || `injected by ferry's test proxy (rule ${rule.id})`,
        typeof rule.body === 'string' ? rule.body : undefined, hdrs);
    }
    if (rule.action === 'reset' && rule.bytes === undefined && !rule.forward) {
      return destroySocket(req.socket, true);
    }
    if (rule.action === 'delay') {
      /* whitespace_ms: as S3 does while it merges a CompleteMultipartUpload,
       * answer 200 at once and send a space every whitespace_ms until the
       * upstream answer (its body follows the spaces). */
      let tick = null;
      if (rule.whitespace_ms) {
        res.writeHead(200, { 'Content-Type': 'application/xml', [REQID_HEADER]: ctx.reqId,
          Date: new Date().toUTCString() });
        tick = setInterval(() => { if (!res.destroyed) res.write(' '); }, rule.whitespace_ms);
      }
      await new Promise((r) => setTimeout(r, rule.ms));
      if (tick) clearInterval(tick);
      if (req.socket.destroyed) return undefined;
    }
  }

  if (D !== 's3') {
    const e = verify(ctx, req);
    if (e) return sendError(ctx, req, res, e.status, e.code, e.message, e.extra);
  }

  /* s3rver has no AbortMultipartUpload and accepts parts for any upload id:
   * emulate the services' answers for uploads the proxy has seen. */
  const uploadId = ctx.qmap && ctx.qmap.get('uploadId');
  if (ctx.op === 'abort' && !REAL) {
    const u = uploads.get(uploadId);
    if (!u || u.state !== 'open') {
      return sendError(ctx, req, res, 404, 'NoSuchUpload',
        'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
        { UploadId: uploadId || '' });
    }
    journal({ t: 'upclose', u: uploadId, b: u.b, k: u.k, s: 'aborted' });
    req.resume();
    res.writeHead(204, { [REQID_HEADER]: ctx.reqId, Date: new Date().toUTCString() });
    return res.end();
  }
  if (ctx.op === 'list-uploads' && D !== 's3' && !REAL) return listUploads(ctx, req, res);
  if ((ctx.op === 'upload-part' || ctx.op === 'complete' || ctx.op === 'list-parts') && uploadId) {
    const u = uploads.get(uploadId);
    if (u && u.state !== 'open') {
      return sendError(ctx, req, res, 404, 'NoSuchUpload',
        `The specified upload does not exist (it was ${u.state}).`, { UploadId: uploadId });
    }
    if (ctx.op === 'list-parts' && D !== 's3' && !REAL) {
      if (!u) {
        return sendError(ctx, req, res, 404, 'NoSuchUpload',
          'The specified upload does not exist (not initiated through this proxy).', { UploadId: uploadId });
      }
      return listParts(ctx, req, res, u);
    }
  }
  return forward(ctx, req, res, rule);
}

/* ------------------------------------------------------------------ main */

loadState();
/* With a certificate the proxy is an HTTPS front (tests of TLS verification);
 * everything behind the handshake is the same. */
function tlsOptions() {
  try {
    return { cert: fs.readFileSync(opt.tlsCert), key: fs.readFileSync(opt.tlsKey) };
  } catch (e) {
    process.stderr.write(`proxy: cannot read the TLS certificate or key: ${e.message}\n`);
    return process.exit(2);
  }
}
const onRequest = (req, res) => {
  handle(req, res).catch((e) => {
    process.stderr.write(`proxy: internal error: ${e.stack || e}\n`);
    if (!res.headersSent) {
      res.writeHead(500, { 'Content-Type': 'text/plain', Connection: 'close' });
      res.end(`proxy internal error: ${e.message}\n`);
    } else destroySocket(res.socket, true);
  });
};
const server = opt.tlsCert ? require('https').createServer(tlsOptions(), onRequest)
  : http.createServer(onRequest);
server.keepAliveTimeout = 30000;
server.headersTimeout = 60000;
server.requestTimeout = 0; /* 1 GiB uploads may take a while */
server.on('clientError', (err, sock) => {
  if (sock.writable) sock.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  else sock.destroy();
});
server.listen(opt.port, opt.bind, () => {
  process.stdout.write(`ready ${server.address().port}\n`);
});
server.on('error', (e) => {
  process.stderr.write(`proxy: cannot listen on ${opt.bind}:${opt.port}: ${e.message}\n`);
  process.exit(1);
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  server.close(() => finishStop());
  if (typeof server.closeAllConnections === 'function') server.closeAllConnections();
  setTimeout(finishStop, 2000).unref();
}
function finishStop() {
  if (journalFd !== null) { try { fs.closeSync(journalFd); } catch (e) { /* already closed */ } journalFd = null; }
  agent.destroy();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
