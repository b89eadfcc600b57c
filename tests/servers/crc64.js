// CRC-64/XZ (a.k.a. CRC-64/ECMA-182 as OSS and COS use it in
// x-oss-hash-crc64ecma / x-cos-hash-crc64ecma): reflected polynomial
// 0xC96C5795D7870F42, init and xorout all ones; "123456789" gives
// 0x995DC9BBDF1939FA.
//
// The 64-bit register is kept as two unsigned 32-bit halves (lo, hi) because
// BigInt arithmetic per byte is far too slow for streaming bodies; the table
// loop is "slicing by 8" (eight 256-entry tables, one 8-byte word per step).
// The combine step (crc of A‖B from crc(A), crc(B), len(B)) is rare (once per
// CompleteMultipartUpload), so it uses BigInt and the GF(2) matrix method.
'use strict';

const POLY_LO = 0xD7870F42;
const POLY_HI = 0xC96C5795;
const POLY = 0xC96C5795D7870F42n;
const MASK64 = 0xFFFFFFFFFFFFFFFFn;

/* TL[k*256+n] / TH[k*256+n]: low/high half of the register after feeding byte
 * n followed by k zero bytes into a zero register (k = 0..7). */
const TL = new Uint32Array(8 * 256);
const TH = new Uint32Array(8 * 256);
(function buildTables() {
  for (let n = 0; n < 256; n++) {
    let lo = n;
    let hi = 0;
    for (let b = 0; b < 8; b++) {
      const odd = lo & 1;
      lo = ((lo >>> 1) | (hi << 31)) >>> 0;
      hi = hi >>> 1;
      if (odd) {
        lo = (lo ^ POLY_LO) >>> 0;
        hi = (hi ^ POLY_HI) >>> 0;
      }
    }
    TL[n] = lo;
    TH[n] = hi;
  }
  for (let k = 1; k < 8; k++) {
    for (let n = 0; n < 256; n++) {
      const plo = TL[(k - 1) * 256 + n];
      const phi = TH[(k - 1) * 256 + n];
      const idx = plo & 0xff;
      /* one more zero byte: x = T[x & 0xff] ^ (x >> 8) */
      TL[k * 256 + n] = (TL[idx] ^ ((plo >>> 8) | (phi << 24))) >>> 0;
      TH[k * 256 + n] = (TH[idx] ^ (phi >>> 8)) >>> 0;
    }
  }
})();

/* Raw register update (no pre/post inversion). Returns [lo, hi]. */
function rawUpdate(lo, hi, buf) {
  let i = 0;
  const n = buf.length;
  const end8 = n - (n & 7);
  while (i < end8) {
    const a = lo ^ (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24));
    const b = hi ^ (buf[i + 4] | (buf[i + 5] << 8) | (buf[i + 6] << 16) | (buf[i + 7] << 24));
    const i7 = 1792 + (a & 0xff);
    const i6 = 1536 + ((a >>> 8) & 0xff);
    const i5 = 1280 + ((a >>> 16) & 0xff);
    const i4 = 1024 + (a >>> 24);
    const i3 = 768 + (b & 0xff);
    const i2 = 512 + ((b >>> 8) & 0xff);
    const i1 = 256 + ((b >>> 16) & 0xff);
    const i0 = b >>> 24;
    lo = TL[i7] ^ TL[i6] ^ TL[i5] ^ TL[i4] ^ TL[i3] ^ TL[i2] ^ TL[i1] ^ TL[i0];
    hi = TH[i7] ^ TH[i6] ^ TH[i5] ^ TH[i4] ^ TH[i3] ^ TH[i2] ^ TH[i1] ^ TH[i0];
    i += 8;
  }
  while (i < n) {
    const idx = (lo ^ buf[i]) & 0xff;
    const nlo = (lo >>> 8) | (hi << 24);
    lo = TL[idx] ^ nlo;
    hi = TH[idx] ^ (hi >>> 8);
    i++;
  }
  return [lo >>> 0, hi >>> 0];
}

function toBig(lo, hi) {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/* Streaming CRC-64/XZ. new Crc64(prev) continues from a finished CRC prev
 * (BigInt, number or decimal string), like Go's crc64.Update. */
class Crc64 {
  constructor(prev) {
    const p = prev === undefined ? 0n : BigInt(prev);
    this.lo = (Number(p & 0xFFFFFFFFn) ^ 0xFFFFFFFF) >>> 0;
    this.hi = (Number((p >> 32n) & 0xFFFFFFFFn) ^ 0xFFFFFFFF) >>> 0;
    this.length = 0;
  }

  update(buf) {
    const r = rawUpdate(this.lo, this.hi, buf);
    this.lo = r[0];
    this.hi = r[1];
    this.length += buf.length;
    return this;
  }

  /* The finished CRC as a BigInt (the state is not consumed). */
  digest() {
    return toBig((this.lo ^ 0xFFFFFFFF) >>> 0, (this.hi ^ 0xFFFFFFFF) >>> 0);
  }

  /* Header format: unsigned decimal, no leading zeros. */
  toString() {
    return this.digest().toString(10);
  }
}

function crc64(buf) {
  return new Crc64().update(buf).digest();
}

/* --- combine: crc(A‖B) = Z_lenB(crc(A)) ^ crc(B), Z = lenB zero bytes through
 * the raw register, applied in O(log lenB) with 64x64 GF(2) matrices (a
 * matrix is an array of 64 BigInt columns). */
function gf2Times(mat, vec) {
  let sum = 0n;
  let i = 0;
  while (vec !== 0n) {
    if (vec & 1n) sum ^= mat[i];
    vec >>= 1n;
    i++;
  }
  return sum;
}

function gf2Square(mat) {
  const sq = new Array(64);
  for (let n = 0; n < 64; n++) sq[n] = gf2Times(mat, mat[n]);
  return sq;
}

/* crc1, crc2: finished CRCs (BigInt, number or decimal string); len2: byte
 * length of the second block (number, up to 2^53). Returns a BigInt. */
function crc64Combine(crc1, crc2, len2) {
  let c1 = BigInt(crc1) & MASK64;
  const c2 = BigInt(crc2) & MASK64;
  let n = Number(len2);
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`bad length ${len2}`);
  if (n === 0) return c1;
  /* "one zero bit" operator: column 0 is the polynomial, column i shifts */
  let odd = new Array(64);
  odd[0] = POLY;
  let row = 1n;
  for (let i = 1; i < 64; i++) {
    odd[i] = row;
    row <<= 1n;
  }
  let even = gf2Square(odd); /* 2 zero bits */
  odd = gf2Square(even);     /* 4 zero bits */
  for (;;) {
    even = gf2Square(odd);   /* first pass: 8 bits = one zero byte */
    if (n % 2 === 1) c1 = gf2Times(even, c1);
    n = Math.floor(n / 2);
    if (n === 0) break;
    odd = gf2Square(even);
    if (n % 2 === 1) c1 = gf2Times(odd, c1);
    n = Math.floor(n / 2);
    if (n === 0) break;
  }
  return (c1 ^ c2) & MASK64;
}

module.exports = { Crc64, crc64, crc64Combine };

/* `node crc64.js` self-check and throughput measurement. */
if (require.main === module) {
  const vec = [
    ['', '0'], ['a', '3675645893302102789'], ['123456789', '11051210869376104954'],
    ['This is a test of the emergency broadcast system.', '2871916124362751090'],
    ['hello world', '5981764153023615706'], ['Welcome to Amazon S3.', '18315049191869180458'],
  ];
  let bad = 0;
  for (const [s, want] of vec) {
    const got = crc64(Buffer.from(s)).toString();
    if (got !== want) { bad++; console.log(`FAIL crc64(${JSON.stringify(s)}) = ${got}, want ${want}`); }
  }
  const z = crc64(Buffer.alloc(1 << 20)).toString();
  if (z !== '6947770692288575170') { bad++; console.log(`FAIL 1 MiB zeros = ${z}`); }
  const parts = ['AAAAA', 'BBBBBBB', 'CCC'];
  let acc = 0n;
  for (const p of parts) acc = crc64Combine(acc, crc64(Buffer.from(p)), p.length);
  if (acc.toString() !== '9651564001788512080') { bad++; console.log(`FAIL combine = ${acc}`); }
  const inc = new Crc64(crc64(Buffer.from('AAAAA'))).update(Buffer.from('BBBBBBB')).toString();
  if (inc !== '2563372379080506545') { bad++; console.log(`FAIL incremental = ${inc}`); }
  const big = Buffer.alloc(64 << 20);
  for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
  const t0 = process.hrtime.bigint();
  const c = new Crc64();
  for (let off = 0; off < big.length; off += 65536) c.update(big.subarray(off, off + 65536));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(`throughput: ${(64 / (ms / 1000)).toFixed(0)} MiB/s (64 MiB in ${ms.toFixed(0)} ms)`);
  console.log(bad ? `${bad} failed` : 'all vectors ok');
  process.exit(bad ? 1 : 0);
}
