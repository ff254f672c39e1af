'use strict';
/**
 * The machine's RS256 signing capacity: Node's asynchronous crypto.sign (libuv pool, sized to
 * the cores) with `INFLIGHT` signatures in flight for `SECONDS`, over a JWT-sized input.
 * Prints one JSON line: {"signsPerSecond": n, "bits": b, "threads": t}.
 * Usage: node bench/sign-capacity.js <private-key.pem> [seconds] [inflight]
 */
const crypto = require('node:crypto');
const fs = require('node:fs');

const [file, secondsArg = '3', inflightArg = '32'] = process.argv.slice(2);
const seconds = Math.min(60, Math.max(0.5, Number(secondsArg)));
const inflight = Math.min(1024, Math.max(1, Number(inflightArg)));
const key = crypto.createPrivateKey(fs.readFileSync(file, 'utf8'));
const bits = key.asymmetricKeyDetails && key.asymmetricKeyDetails.modulusLength;
const input = Buffer.from(
  `${Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: 'x'.repeat(43) })).toString('base64url')}.` +
    Buffer.from(
      JSON.stringify({
        iss: 'https://gateway.example', sub: 'user-1', aud: 'ak_' + 'x'.repeat(24), iat: 1, nbf: 1, exp: 2,
        jti: 'y'.repeat(22), userId: 'user-1', organizationId: 'org-1', isAdmin: false,
      }),
    ).toString('base64url'),
);

let done = 0;
let measuring = false;
let stopped = false;
let started = 0;

function one() {
  if (stopped) return;
  crypto.sign('sha256', input, key, (error) => {
    if (error) throw error;
    if (measuring) done += 1;
    one();
  });
}

for (let i = 0; i < inflight; i += 1) one();
// A short warm-up, then the measured window.
setTimeout(() => {
  measuring = true;
  started = process.hrtime.bigint();
  setTimeout(() => {
    const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
    stopped = true;
    measuring = false;
    process.stdout.write(
      `${JSON.stringify({ signsPerSecond: done / elapsed, bits, threads: Number(process.env.UV_THREADPOOL_SIZE || 4), inflight })}\n`,
    );
    process.exit(0);
  }, seconds * 1000);
}, 500);
