// Independent accounting of a finished task, for the fault suite: checks the
// reporter's figures and its failed-object export against the source listing
// taken when the task was listed and against the destination as it is now.
//
// usage: node account.js --snapshot SNAP.json --dst ENDPOINT BUCKET
//          --status STATUS.json --export FAILED.jsonl --state STATE
//          [--expect-failed EXPECT.json] [--missing-out FILE]
//   SNAP.json    [{key, size, etag}]: the source as listed (s3util.list)
//   STATUS.json  `ferry-reporter --task T --once --json`
//   FAILED.jsonl `ferry-reporter --export-failed T --format jsonl`
//   STATE        the reporter state the task must be in
//   EXPECT.json  {key: reason} of every object that must be failed, with the
//                reason the reporter counts it under ("changed", "vanished",
//                "access-denied", ...); {"*": reason} means every object.
//                Absent: no object may fail.
//   --missing-out FILE  writes the failed keys, one per line (for compare.js
//                --allow-missing-file)
// Checks: totals = the listing; copied + skipped + failed = total, each key
// once; the export holds exactly the failed keys, each once, with the reasons
// the reporter counts; the failed set and reasons are the expected ones;
// every listed key is at the destination or failed (else it is LOST), no
// failed key is at the destination, nothing extra is there. Prints one line
// "account: objects=N copied=C skipped=S failed=F lost=L ..." and exits 1 on
// any problem.
'use strict';
const fs = require('fs');
const u = require('./s3util');

function arg(a, n, k) {
  const i = a.indexOf(n);
  return i >= 0 ? a[i + 1 + (k || 0)] : null;
}

async function main() {
  const a = process.argv.slice(2);
  const snap = JSON.parse(fs.readFileSync(arg(a, '--snapshot'), 'utf8'));
  const st = JSON.parse(fs.readFileSync(arg(a, '--status'), 'utf8'));
  const rows = fs.readFileSync(arg(a, '--export'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const wantState = arg(a, '--state');
  const expectFile = arg(a, '--expect-failed');
  const expect = expectFile ? JSON.parse(fs.readFileSync(expectFile, 'utf8')) : {};
  const problems = [];
  const p = (m) => problems.push(m);

  const total = snap.length;
  const keys = new Set(snap.map((o) => o.key));
  if (st.state !== wantState) p(`state ${st.state}, want ${wantState}`);
  if (st.total_objects !== total) p(`total_objects ${st.total_objects} != listed ${total}`);
  if (st.done_objects !== total) p(`done_objects ${st.done_objects} != ${total}`);
  if (st.copied + st.skipped + st.failed !== total) {
    p(`copied ${st.copied} + skipped ${st.skipped} + failed ${st.failed} != ${total}`);
  }

  /* the export: each key once, exactly the failed ones, reasons as counted */
  const failed = new Map();
  const hist = {};
  for (const r of rows) {
    if (failed.has(r.key)) p(`export: ${JSON.stringify(r.key)} twice`);
    const why = r.status === 'changed' || r.status === 'vanished' ? r.status : (r.reason || 'failed');
    failed.set(r.key, { why, attempts: r.attempts });
    hist[why] = (hist[why] || 0) + 1;
    if (!keys.has(r.key)) p(`export: ${JSON.stringify(r.key)} was never listed`);
  }
  if (failed.size !== st.failed) p(`export has ${failed.size} keys, reporter failed=${st.failed}`);
  const byReason = st.failed_by_reason || {};
  for (const k of new Set([...Object.keys(hist), ...Object.keys(byReason)])) {
    if ((hist[k] || 0) !== (byReason[k] || 0)) p(`reason ${k}: export ${hist[k] || 0}, reporter ${byReason[k] || 0}`);
  }
  const want = new Map();
  if (expect['*']) for (const k of keys) want.set(k, expect['*']);
  else for (const [k, v] of Object.entries(expect)) want.set(k, v);
  for (const [k, v] of want) {
    const f = failed.get(k);
    if (!f) p(`expected ${JSON.stringify(k)} failed (${v}); it is not`);
    else if (f.why !== v) p(`${JSON.stringify(k)} failed as ${f.why}, want ${v}`);
  }
  for (const [k, f] of failed) if (!want.has(k)) p(`${JSON.stringify(k)} failed unexpectedly (${f.why})`);

  /* the destination: listed = at destination + failed, disjoint */
  const dst = await u.list(arg(a, '--dst'), arg(a, '--dst', 1), '');
  const at = new Set(dst.map((o) => o.key));
  let lost = 0, twice = 0, there = 0;
  for (const k of keys) {
    const isThere = at.has(k), isFailed = failed.has(k);
    if (isThere) there++;
    if (!isThere && !isFailed) { lost++; if (lost <= 20) p(`LOST: ${JSON.stringify(k)} neither copied nor failed`); }
    if (isThere && isFailed) { twice++; if (twice <= 20) p(`${JSON.stringify(k)} failed yet at the destination`); }
  }
  for (const k of at) if (!keys.has(k)) p(`extra at destination: ${JSON.stringify(k)}`);
  if (there !== st.copied + st.skipped) p(`destination holds ${there} listed keys, reporter copied+skipped=${st.copied + st.skipped}`);

  if (arg(a, '--missing-out')) fs.writeFileSync(arg(a, '--missing-out'), [...failed.keys()].map((k) => `${k}\n`).join(''));
  problems.slice(0, 60).forEach((m) => console.log(`account: ${m}`));
  const reasons = Object.entries(hist).map(([k, v]) => `${k}:${v}`).join(',') || '-';
  console.log(`account: objects=${total} copied=${st.copied} skipped=${st.skipped} failed=${st.failed} ` +
    `reasons=${reasons} lost=${lost} state=${st.state} problems=${problems.length}`);
  process.exit(problems.length ? 1 : 0);
}
main().catch((e) => { console.error(String(e.stack || e)); process.exit(2); });
