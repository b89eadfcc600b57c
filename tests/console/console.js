// The console driven end to end in headless Chromium (puppeteer-core over
// Debian's chromium): the workflow of docs/reporter.md "The console".
// usage: node console.js   (environment from tests/console/e2e.sh)
//   URL             the reporter's page, e.g. http://127.0.0.1:8080/
//   OPERATOR_TOKEN  an operator token
//   FIX_CMD         shell command that removes the destination's fault
//   FAILOVER_CMD    shell command that kills the acting master
//   DOWNLOADS       directory for the exported file
// Prints "step: ..." lines; exits 1 with "FAIL: ..." on the first failure.
'use strict';
const path = require('path');
const fs = require('fs');
const { execSync } = require('child_process');
const puppeteer = require(path.join(__dirname, '../servers/node_modules/puppeteer-core'));

const URL_ = process.env.URL;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const step = (s) => console.log('step: ' + s);
function fail(s) { throw new Error(s); }

// Waits until fn() (in the page) returns truthy; s seconds at most.
async function until(page, what, s, fn, ...args) {
  try {
    await page.waitForFunction(fn, { timeout: s * 1000, polling: 250 }, ...args);
  } catch (e) {
    const rows = await page.evaluate(() => Array.from(document.querySelectorAll('tr.task'))
      .map((tr) => [tr.getAttribute('data-task'), tr.getAttribute('data-state'),
        tr.getAttribute('data-ctl-state'), tr.textContent.replace(/\s+/g, ' ').slice(0, 160)].join(' | ')));
    fail(`${what}: not within ${s} s (rows: ${JSON.stringify(rows)})`);
  }
}

async function api(page, u) {
  return page.evaluate(async (u) => (await fetch(u, { cache: 'no-store' })).json(), u);
}
async function task(page, name) {
  const all = await api(page, 'api/tasks');
  const list = Array.isArray(all) ? all : all.tasks;
  return list.find((t) => t.task === name);
}

async function actionDone(page, name, action, s) {
  await until(page, `${name}: ${action} acknowledged`, s, (n, a) => {
    const m = document.querySelector(`.action-msg[data-task="${n}"]`);
    return m && (m.textContent === a + ': done' || m.textContent.indexOf(a + ': refused') === 0);
  }, name, action);
  const text = await page.$eval(`.action-msg[data-task="${name}"]`, (m) => m.textContent);
  if (text !== action + ': done') fail(`${name}: ${action}: ${text}`);
}

async function click(page, name, action) {
  const sel = `button[data-action="${action}"][data-task="${name}"]`;
  await until(page, `the ${action} button of ${name}`, 30, (s) => {
    const b = document.querySelector(s);
    return b && b.offsetParent !== null;
  }, sel);
  await page.click(sel);
}

async function create(page, spec) {
  // The form folds away under its "New task" summary: open it as a user would.
  if (!(await page.$eval('#new-task', (d) => d.open))) await page.click('#new-task > summary');
  await page.select('#new-source-store', spec.srcStore);
  await page.select('#new-dest-store', spec.dstStore);
  for (const [id, v] of Object.entries({ '#new-name': spec.name, '#new-source-bucket': spec.srcBucket,
    '#new-source-prefix': spec.srcPrefix, '#new-dest-bucket': spec.dstBucket,
    '#new-dest-prefix': spec.dstPrefix, '#new-bandwidth-limit': spec.bandwidth || '',
    '#new-qps-limit': spec.qps || '' })) {
    await page.$eval(id, (e) => { e.value = ''; });
    if (v) await page.type(id, String(v));
  }
  await page.$eval('#new-error', (e) => { e.textContent = ''; });
  await page.click('#new-submit');
  await until(page, `create ${spec.name}: an answer (status "${await page.$eval('#new-status', (e) => e.textContent)}")`, 60, () =>
    document.getElementById('new-error').textContent ||
    /created/.test(document.getElementById('new-status').textContent));
  return page.$eval('#new-error', (e) => e.textContent);
}

async function main() {
  const browser = await puppeteer.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => console.log('page error: ' + e.message));
    page.on('console', (m) => console.log('page console: ' + m.text()));
    // Every action's request and answer, for the log of a failed run.
    page.on('response', (r) => {
      if (r.request().method() !== 'GET') console.log(`http: ${r.request().method()} ${r.url()} -> ${r.status()}`);
    });
    await page.goto(URL_, { waitUntil: 'networkidle0' });

    // Log in with the operator token.
    await page.type('#login-token', process.env.OPERATOR_TOKEN);
    await page.click('#login-form [type=submit]');
    await until(page, 'operator session', 20, () => document.body.getAttribute('data-role') === 'operator');
    step('logged in as operator');

    // A name the config file already has: refused next to the form.
    let err = await create(page, { name: 'legacy', srcStore: 'src', srcBucket: 'ferry-src', srcPrefix: 'small/',
      dstStore: 'dst', dstBucket: 'ferry-dst', dstPrefix: 'x/' });
    if (!/config/.test(err)) fail(`create legacy: expected a refusal naming the config file, got "${err}"`);
    step('create of a config task\'s name refused: ' + err);
    // A bad value: refused in the config loader's words.
    err = await create(page, { name: 'badbw', srcStore: 'src', srcBucket: 'ferry-src', srcPrefix: 'small/',
      dstStore: 'dst', dstBucket: 'ferry-dst', dstPrefix: 'x/', bandwidth: 'lots' });
    if (!/bandwidth_limit/.test(err)) fail(`create badbw: expected an error naming bandwidth_limit, got "${err}"`);
    step('bad bandwidth_limit refused: ' + err);

    // 1. photos: created, started, some objects fail, exported, fixed, retried.
    err = await create(page, { name: 'photos', srcStore: 'src', srcBucket: 'ferry-src', srcPrefix: 'small/',
      dstStore: 'dst', dstBucket: 'ferry-dst', dstPrefix: 'photos/' });
    if (err) fail('create photos: ' + err);
    await until(page, 'the photos row', 30, () => document.querySelector('tr.task[data-task="photos"]'));
    await click(page, 'photos', 'start');
    await actionDone(page, 'photos', 'start', 60);
    step('photos created and started from the page');
    await until(page, 'photos completed with failures', 240,
      () => document.querySelector('tr.task[data-task="photos"][data-state="completed-with-failures"]'));
    const t1 = await task(page, 'photos');
    if (t1.failed !== +process.env.PHOTOS_BAD) fail(`photos: ${t1.failed} failed, expected ${process.env.PHOTOS_BAD}`);
    step(`photos: ${t1.failed} failed, the bar is yellow`);

    const cdp = await page.target().createCDPSession();
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: process.env.DOWNLOADS });
    await page.click('a[data-action="export-csv"][data-task="photos"]');
    let csv = null;
    for (let i = 0; i < 60 && !csv; i++) {
      await sleep(500);
      const f = fs.readdirSync(process.env.DOWNLOADS).filter((x) => x.endsWith('.csv'));
      if (f.length) csv = fs.readFileSync(path.join(process.env.DOWNLOADS, f[0]), 'utf8');
    }
    if (!csv) fail('the Export CSV button downloaded nothing');
    const rows = csv.trim().split('\n').slice(1);
    if (rows.length !== +process.env.PHOTOS_BAD) fail(`the export lists ${rows.length} objects: ${csv.slice(0, 300)}`);
    step(`exported ${rows.length} failed objects with the button`);

    execSync(process.env.FIX_CMD, { stdio: 'inherit' });
    step('the destination fixed (fault removed)');
    execSync(process.env.FAILOVER_CMD, { stdio: 'inherit' });
    step('the acting master killed: the standby takes over');

    await click(page, 'photos', 'retry-failed');
    await actionDone(page, 'photos', 'retry-failed', 120);
    await until(page, 'photos completed and green', 240,
      () => document.querySelector('tr.task[data-task="photos"][data-state="completed"] .fill.green'));
    step('Retry failed pressed, the standby master ran it, the bar is green');

    // 2. big: paused and resumed.
    err = await create(page, { name: 'big', srcStore: 'src', srcBucket: 'ferry-src', srcPrefix: 'large/',
      dstStore: 'dst', dstBucket: 'ferry-dst', dstPrefix: 'big/', bandwidth: process.env.BIG_BW || '2M' });
    if (err) fail('create big: ' + err);
    await until(page, 'the big row', 30, () => document.querySelector('tr.task[data-task="big"]'));
    await click(page, 'big', 'start');
    await actionDone(page, 'big', 'start', 60);
    await until(page, 'big copying', 120, () => {
      const b = document.querySelector('tr.task[data-task="big"] .bar');
      return b && +b.getAttribute('data-percent') > 0;
    });
    await click(page, 'big', 'pause');
    await actionDone(page, 'big', 'pause', 60);
    await until(page, 'big shown paused', 30, () => document.querySelector('tr.task[data-task="big"][data-ctl-state="paused"]'));
    await sleep(8000); // objects in flight when paused finish
    const p1 = (await task(page, 'big')).done_objects;
    await sleep(8000);
    const p2 = (await task(page, 'big')).done_objects;
    if (p2 !== p1) fail(`big: ${p1} then ${p2} objects done while paused`);
    if (p2 >= +process.env.BIG_N) fail('big finished before the pause could be seen');
    step(`big paused at ${p2} objects: nothing more done in 8 s`);
    await click(page, 'big', 'resume');
    await actionDone(page, 'big', 'resume', 60);
    // Live limits from the page: big's bandwidth raised to 2 MiB/s and a schedule.
    await click(page, 'big', 'limits');
    await until(page, 'the Limits form open for big', 10, () =>
      document.getElementById('limits-task').open && document.getElementById('limits-name').value === 'big');
    await page.type('#limits-bandwidth', '2M');
    await page.type('#limits-schedule', '00:00-24:00=3M');
    await page.click('#limits-submit');
    await until(page, 'limits of big set', 60, () =>
      /set/.test(document.getElementById('limits-status').textContent) || document.getElementById('limits-error').textContent);
    const le = await page.$eval('#limits-error', (e) => e.textContent);
    if (le) fail('limits of big refused: ' + le);
    await until(page, 'big\'s new limits in the API', 30, async () => {
      const r = await fetch('api/tasks', { cache: 'no-store' });
      const j = await r.json();
      const t = (Array.isArray(j) ? j : j.tasks).find((x) => x.task === 'big');
      return t && t.taskstate && t.taskstate.limits.bandwidth === 2097152 &&
        t.taskstate.limits.schedule[0] === '00:00-24:00=3M';
    });
    step('big\'s limits changed live from the page (2 MiB/s, schedule 00:00-24:00=3M)');
    await until(page, 'big completed after resume', 300,
      () => document.querySelector('tr.task[data-task="big"][data-state="completed"] .fill.green'));
    step('big resumed and completed');

    // 3. third: cancelled while copying.
    err = await create(page, { name: 'third', srcStore: 'src', srcBucket: 'ferry-src', srcPrefix: 'small/',
      dstStore: 'dst', dstBucket: 'ferry-dst', dstPrefix: 'third/', qps: process.env.THIRD_QPS || '20' });
    if (err) fail('create third: ' + err);
    await until(page, 'the third row', 30, () => document.querySelector('tr.task[data-task="third"]'));
    await click(page, 'third', 'start');
    await actionDone(page, 'third', 'start', 60);
    await until(page, 'third copying', 120, () => {
      const b = document.querySelector('tr.task[data-task="third"] .bar');
      return b && +b.getAttribute('data-percent') > 0;
    });
    await click(page, 'third', 'cancel');
    await click(page, 'third', 'cancel'); // the second click confirms
    await actionDone(page, 'third', 'cancel', 60);
    await until(page, 'third shown cancelled', 30,
      () => document.querySelector('tr.task[data-task="third"][data-ctl-state="cancelled"]'));
    step('third cancelled from the page');

    // The action log on the task's own page names who did what.
    await page.goto(new URL('task/photos', URL_).href, { waitUntil: 'networkidle0' });
    const log = await page.evaluate(() => document.body.textContent);
    for (const w of ['create', 'start', 'retry-failed']) if (log.indexOf(w) < 0) fail(`photos' page lacks "${w}" in its action log`);
    step('the task page shows its action log');
  } finally {
    await browser.close();
  }
}
main().then(() => console.log('console: all steps passed'),
  (e) => { console.log('FAIL: ' + e.message); process.exit(1); });
