// Starts one s3rver instance on loopback for ferry's tests.
// usage: node s3.js PORT DIR [BUCKET ...]
// Prints "ready PORT" on stdout once it listens. Stops on SIGTERM/SIGINT.
// FERRY_S3_BIND: the address to listen on (default 127.0.0.1; the WAN bed's
// hosts listen on their own, tests/lib/wan.sh).
'use strict';
const S3rver = require('s3rver');
const fs = require('fs');

const port = parseInt(process.argv[2], 10);
const dir = process.argv[3];
const buckets = process.argv.slice(4);
fs.mkdirSync(dir, { recursive: true });

const server = new S3rver({
  address: process.env.FERRY_S3_BIND || '127.0.0.1',
  port,
  silent: true,
  directory: dir,
  allowMismatchedSignatures: false,
  configureBuckets: buckets.map((name) => ({ name })),
});

server.run().then(() => {
  process.stdout.write(`ready ${port}\n`);
}, (err) => {
  process.stderr.write(`s3rver failed: ${err.stack || err}\n`);
  process.exit(1);
});

function stop() {
  server.close().then(() => process.exit(0), () => process.exit(0));
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
