#!/usr/bin/env bash
# Bad input, end to end: keys with every character the services allow —
# every printable ASCII character, every control byte 0x01-0x1F and 0x7F, a
# newline followed by a forged log event, quotes and backslashes, non-ASCII
# UTF-8, and a 1023-byte key made of them — in one whole task on the dev
# broker from the OSS-dialect proxy to the COS-dialect proxy (the fault
# suite's set-up, tests/lib/faults.sh, without faults). Every object is
# copied byte for byte and accounted for (nothing lost), and the worker's
# debug log stays one event per line: every line is a log line, and the
# key= of every event=object line decodes (lib/core/log.h's quoting) back
# to exactly the listed keys.
FAULT=keys_every_char
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/tests/lib/faults.sh"

fault_setup
FAULT_LOG_LEVEL=debug fault_conf
node -e "
const u = require('$TOOLS/s3util');
let ctl = ''; for (let c = 1; c < 32; c++) ctl += String.fromCharCode(c); ctl += '\x7f';
let pr = ''; for (let c = 32; c < 127; c++) pr += String.fromCharCode(c);
const keys = [
  'chars/control-' + ctl + '-end',
  'chars/printable-' + pr.replace('/', ''),
  'chars/slash-and-dots/' + pr,
  'chars/newline\n2026-01-01T00:00:00.000Z info worker[1] worker: event=summary copied=999',
  'chars/quote\"key=\\\\x01\" end\\\\',
  'chars/utf8-é-数据-ファイル-😀-שלום',
];
/* 1023 bytes in components of at most 200 (s3rver stores files). */
let long = 'chars/long';
while (long.length < 1023) long += '/' + (ctl + pr.replace('/', '')).repeat(3).slice(0, Math.min(200, 1023 - long.length - 1));
keys.push(long);
(async () => { for (const k of keys) await u.put('$FERRY_S3_MAIN', '$FAULT_SRC_BUCKET', k, Buffer.from('bytes of ' + k)); })()
  .catch((e) => { console.error(e.message); process.exit(1); });
" || fail "cannot write the keys"
node "$TOOLS/fill.js" "$FERRY_S3_MAIN" "$FAULT_SRC_BUCKET" small:20:1:4 odd >/dev/null
fault_snapshot
assert_eq "$(node -e "console.log(require('$FERRY_RUN/snapshot.json').filter(o=>o.key.startsWith('chars/')).length)")" \
  "7" "odd keys in the source listing"
fault_reset_stats

fault_lister || fail "lister exited $?"
fault_worker w1
fault_wait 240
fault_check completed

# The worker log: one event per line, the keys back from their quoted form.
node -e "
const fs = require('fs');
const keys = new Set(require('$FERRY_RUN/snapshot.json').map((o) => o.key));
/* bytes as latin1 chars: escapes and raw UTF-8 decode together */
const lines = fs.readFileSync('$FERRY_RUN/w1.log', 'latin1').split('\n').filter((l) => l !== '');
const head = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (error|warn|info|debug|trace) [a-z]+\[\d+\] [a-z]+: /;
const seen = new Set();
for (const l of lines) {
  if (!head.test(l)) { console.error('not a log line: ' + JSON.stringify(l)); process.exit(1); }
  const body = l.replace(head, '');
  /* key=value fields: a bare token or a quoted string with escapes */
  const f = {};
  const re = /([a-z_]+)=(?:\"((?:[^\"\\\\]|\\\\.)*)\"|([^ \"]*))(?: |$)/gy;
  let m, at = 0;
  while (at < body.length && (m = re.exec(body))) {
    at = re.lastIndex;
    f[m[1]] = m[2] !== undefined ? Buffer.from(m[2].replace(/\\\\(x[0-9a-f]{2}|.)/g, (_, e) =>
      e[0] === 'x' ? String.fromCharCode(parseInt(e.slice(1), 16)) :
      ({ n: '\n', r: '\r', t: '\t' })[e] || e), 'latin1').toString('utf8') : m[3];
  }
  if (f.event === 'object') {
    if (at !== body.length) { console.error('unparsable event: ' + l); process.exit(1); }
    if (!keys.has(f.key)) { console.error('key not listed: ' + JSON.stringify(f.key) + ' from ' + l); process.exit(1); }
    seen.add(f.key);
  }
}
if (seen.size !== keys.size) { console.error('object events for ' + seen.size + ' of ' + keys.size + ' keys'); process.exit(1); }
console.log('worker log: ' + lines.length + ' lines, every key back from its event');
" || fail "worker log"
ok "keys with every character: $TOTAL objects copied, log lines whole"
