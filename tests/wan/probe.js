// The WAN bed's measuring probe (tests/wan/bed_selftest.sh, bench/wan.sh):
// a server and three clients, plain TCP/UDP, no dependencies.
//
//   node probe.js serve PORT              TCP + UDP on PORT (all addresses)
//   node probe.js rtt HOST PORT N         N TCP handshakes: min/median/max ms
//   node probe.js rate HOST PORT SECONDS  a bulk TCP send; the receiver's
//                                         bytes between first and last byte
//   node probe.js udp HOST PORT N PPS     N numbered datagrams at PPS; the
//                                         share the server did not receive
// Each client prints one JSON line.
'use strict';
const net = require('net');
const dgram = require('dgram');

const [mode, ...args] = process.argv.slice(2);
const now = () => Number(process.hrtime.bigint()) / 1e6;

function serve(port) {
  const seen = new Set();
  const udp = dgram.createSocket('udp4');
  udp.on('message', (m) => seen.add(m.readUInt32BE(0)));
  udp.bind(port);
  net.createServer((s) => {
    let first = null; let last = 0; let bytes = 0; let head = '';
    s.on('data', (d) => {
      if (first === null && head.length < 5) {
        head += d.toString('latin1', 0, Math.min(d.length, 5 - head.length));
        if (head === 'udp?\n') { s.end(JSON.stringify({ received: seen.size }) + '\n'); seen.clear(); return; }
        if (head.length < 5) return;
      }
      const t = now();
      if (first === null) first = t;
      last = t; bytes += d.length;
    });
    s.on('end', () => s.end(JSON.stringify({ bytes, ms: first === null ? 0 : last - first }) + '\n'));
    s.on('error', () => {});
  }).listen(port, () => process.stdout.write(`ready ${port}\n`));
}

function connect(host, port) {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const s = net.connect(port, host, () => resolve({ s, ms: now() - t0 }));
    s.on('error', reject);
  });
}

function reply(s) {
  return new Promise((resolve) => { let b = ''; s.on('data', (d) => { b += d; }); s.on('end', () => resolve(JSON.parse(b))); });
}

async function rtt(host, port, n) {
  const v = [];
  for (let i = 0; i < n; i++) {
    const { s, ms } = await connect(host, port);
    v.push(ms);
    s.destroy();
  }
  v.sort((a, b) => a - b);
  console.log(JSON.stringify({ n, min_ms: v[0], median_ms: v[v.length >> 1], max_ms: v[v.length - 1] }));
}

async function rate(host, port, seconds) {
  const { s } = await connect(host, port);
  const r = reply(s);
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  const end = now() + seconds * 1000;
  await new Promise((resolve) => {
    const pump = () => {
      while (now() < end) { if (!s.write(chunk)) { s.once('drain', pump); return; } }
      s.end(); resolve();
    };
    pump();
  });
  const j = await r;
  console.log(JSON.stringify({ bytes: j.bytes, ms: j.ms, mbit_s: (j.bytes * 8) / (j.ms * 1000) }));
}

async function udpLoss(host, port, n, pps) {
  const u = dgram.createSocket('udp4');
  for (let i = 0; i < n; i++) {
    const buf = Buffer.alloc(200); // send() is asynchronous: a buffer per datagram
    buf.writeUInt32BE(i, 0);
    u.send(buf, port, host);
    if (i % 10 === 9) await new Promise((r) => setTimeout(r, (10 * 1000) / pps));
  }
  await new Promise((r) => setTimeout(r, 1000));
  u.close();
  const { s } = await connect(host, port);
  const rp = reply(s);
  s.end('udp?\n');
  const j = await rp;
  console.log(JSON.stringify({ sent: n, received: j.received, loss: 1 - j.received / n }));
}

const main = {
  serve: () => serve(+args[0]),
  rtt: () => rtt(args[0], +args[1], +args[2]),
  rate: () => rate(args[0], +args[1], +args[2]),
  udp: () => udpLoss(args[0], +args[1], +args[2], +args[3]),
}[mode];
if (!main) { process.stderr.write('usage: probe.js serve|rtt|rate|udp ...\n'); process.exit(2); }
Promise.resolve(main()).catch((e) => { process.stderr.write(`probe: ${e.stack || e}\n`); process.exit(1); });
