// AWS Signature V4 (header authentication) for the test proxy's requests to
// a real S3 server, computed by the aws4 package. The payload is
// UNSIGNED-PAYLOAD, so bodies stream through unhashed.
//
// The proxy sends the request target in S3's canonical form (target()):
// every byte of the bucket, key and query but A-Z a-z 0-9 - _ . ~ (and the
// key's '/') percent-encoded, so a server that takes the path as sent and
// one that decodes and re-encodes it agree with the signature.
'use strict';

const aws4 = require('aws4');

function uriEncode(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/* The path of a key, '/' kept. */
function keyPath(key) {
  return key.split('/').map(uriEncode).join('/');
}

/* The request target: bucket (null: the service), key (null: the bucket)
 * and query pairs [{name, value, bare}] (bare: sent without '='). */
function target(bucket, key, query) {
  let t = bucket === null ? '/' : `/${uriEncode(bucket)}`;
  if (bucket !== null && key !== null) t += `/${keyPath(key)}`;
  const q = (query || []).map((p) => (p.bare && p.value === '' ? uriEncode(p.name)
    : `${uriEncode(p.name)}=${uriEncode(p.value)}`));
  return q.length ? `${t}?${q.join('&')}` : t;
}

/* The Authorization header for a request. headers: the headers to sign
 * (lower-case names, values as the server will read them), with host,
 * x-amz-date and x-amz-content-sha256. path: the target as sent. */
function authorization({ method, path, headers, region, ak, sk }) {
  const signed = aws4.sign({ service: 's3', region, method, path, headers: { ...headers },
    extraHeadersToInclude: { range: true } }, { accessKeyId: ak, secretAccessKey: sk });
  return signed.headers.Authorization;
}

/* x-amz-date for now (or a Date). */
function amzDate(d) {
  return (d || new Date()).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
}

module.exports = { uriEncode, keyPath, target, authorization, amzDate };
