// Independent check of a copy: flat listings of source and destination
// compared by key, size and checksum (ETag when both are plain MD5s, else the
// MD5 of the bytes read back from both sides). Exit 0 when every source
// object is at the destination with the same content.
// usage: node compare.js SRC_ENDPOINT SRC_BUCKET DST_ENDPOINT DST_BUCKET [--prefix P] [--dst-prefix P]
//          [--allow-missing K1,K2] [--allow-missing-file FILE]
// --allow-missing / --allow-missing-file (one key per line): source keys that
// may be absent at the destination (objects reported failed); when present
// they are compared like any other.
'use strict';
const u = require('./s3util');

async function main() {
  const a = process.argv.slice(2);
  const [se, sb, de, db] = a;
  const opt = (n) => { const i = a.indexOf(n); return i >= 0 ? a[i + 1] : null; };
  const sp = opt('--prefix') || '', dp = opt('--dst-prefix') || '';
  const allowed = new Set((opt('--allow-missing') || '').split(',').filter(Boolean));
  if (opt('--allow-missing-file')) {
    for (const k of require('fs').readFileSync(opt('--allow-missing-file'), 'utf8').split('\n')) if (k) allowed.add(k);
  }
  let allowedMissing = 0;
  const src = await u.list(se, sb, sp);
  const dst = await u.list(de, db, dp);
  const dmap = new Map(dst.map((o) => [o.key, o]));
  const md5re = /^[0-9a-f]{32}$/i;
  let ok = 0; const problems = [];
  await u.pool(src, 8, async (s) => {
    const dk = dp + s.key.slice(sp.length);
    const d = dmap.get(dk);
    if (!d) {
      if (allowed.has(s.key)) allowedMissing++;
      else problems.push(`missing: ${JSON.stringify(dk)}`);
      return;
    }
    dmap.delete(dk);
    if (d.size !== s.size) { problems.push(`size: ${JSON.stringify(dk)} ${s.size} != ${d.size}`); return; }
    if (md5re.test(s.etag) && md5re.test(d.etag)) {
      if (s.etag.toLowerCase() !== d.etag.toLowerCase()) problems.push(`etag: ${JSON.stringify(dk)}`);
      else ok++;
      return;
    }
    const [gs, gd] = await Promise.all([u.get(se, sb, s.key), u.get(de, db, dk)]);
    if (u.md5(gs.body) !== u.md5(gd.body)) problems.push(`content: ${JSON.stringify(dk)}`);
    else ok++;
  });
  for (const k of dmap.keys()) problems.push(`extra at destination: ${JSON.stringify(k)}`);
  problems.slice(0, 50).forEach((p) => console.log(p));
  console.log(`compare: source=${src.length} destination=${dst.length} same=${ok}` +
    `${allowed.size ? ` allowed_missing=${allowedMissing}` : ''} problems=${problems.length}`);
  process.exit(problems.length ? 1 : 0);
}
main().catch((e) => { console.error(String(e.stack || e)); process.exit(2); });
