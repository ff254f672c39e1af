'use strict';
/**
 * What a DPoP-bound token adds to a check (contract §10): the same check (TokenVerifier.verify,
 * as identify runs it, on the memory store, verified-token cache warm) for a bearer token and
 * for a bound token with a fresh proof each time, measured in one process, one after the other,
 * over BENCH_DPOP_CHECKS checks each (default 3,000), with ES256 and EdDSA proofs. Proofs are
 * made before the timing starts, so only the gateway's work is counted: decoding the proof,
 * importing its JWK, verifying its signature, the thumbprint, and the replay record.
 *
 * Prints µs per check for each kind and the difference. Node's crypto only; uses dist/.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const { MemoryStore } = require(path.join(ROOT, 'dist/store'));
const { KeyRing, jwkThumbprint } = require(path.join(ROOT, 'dist/keys'));
const { TokenVerifier, issueToken } = require(path.join(ROOT, 'dist/tokens'));
const { createAccount } = require(path.join(ROOT, 'dist/accounts'));
const { systemClock } = require(path.join(ROOT, 'dist/clock'));

const checks = Math.max(200, Number(process.env.BENCH_DPOP_CHECKS || 3000));
const ISSUER = 'https://gateway.bench';
const URL_ = `${ISSUER}/v1/auth/identify`;
const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');

function proofKey(alg) {
  const pem = { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } };
  const pair = alg === 'ES256' ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256', ...pem }) : crypto.generateKeyPairSync('ed25519', pem);
  const privateKey = crypto.createPrivateKey(pair.privateKey);
  const jwk = crypto.createPublicKey(pair.publicKey).export({ format: 'jwk' });
  return { alg, privateKey, jwk, jkt: jwkThumbprint(jwk) };
}

function proof(key, token) {
  const header = { typ: 'dpop+jwt', alg: key.alg, jwk: key.jwk };
  const payload = {
    jti: crypto.randomUUID(),
    htm: 'POST',
    htu: URL_,
    iat: Math.floor(Date.now() / 1000),
    ath: crypto.createHash('sha256').update(token).digest('base64url'),
  };
  const input = `${b64(header)}.${b64(payload)}`;
  const sig =
    key.alg === 'ES256'
      ? crypto.sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' })
      : crypto.sign(null, Buffer.from(input), key.privateKey);
  return `${input}.${sig.toString('base64url')}`;
}

async function time(label, n, fn) {
  for (let i = 0; i < 200; i += 1) await fn(n + i); // warm-up, on inputs of its own
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i += 1) await fn(i);
  const us = Number(process.hrtime.bigint() - start) / 1000 / n;
  return { label, us };
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-dpop-bench-'));
  const pem = crypto.generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey;
  fs.writeFileSync(path.join(dir, 'key.pem'), pem);
  const store = new MemoryStore({ sweepIntervalMs: 0 });
  const keyRing = await KeyRing.load({ dir, algorithm: 'RS256', clock: systemClock, jwksMaxAgeSeconds: 300, maxTokenLifetimeSeconds: 172800, clockToleranceSeconds: 5 });
  const verifier = new TokenVerifier({ keyRing, store, clock: systemClock, issuer: ISSUER, clockToleranceSeconds: 5, maxGatewayLifetimeSeconds: 172800, customerMaxLifetimeSeconds: 172800 });
  const created = await createAccount(store, systemClock, 'Bench');
  const issue = (dpopJkt) =>
    issueToken({ store, keyRing, clock: systemClock, issuer: ISSUER, defaultLifetimeSeconds: 3600 }, {
      apiKey: created.account.apiKey,
      authToken: created.authToken,
      userId: 'u',
      organizationId: 'o',
      ...(dpopJkt ? { dpopJkt } : {}),
    });
  const results = [];
  const bearer = (await issue()).token;
  const target = (proofs) => ({ target: () => ({ proofs, method: 'POST', url: URL_ }) });
  results.push(await time('bearer token', checks, () => verifier.verify(bearer, { expectedApiKey: created.account.apiKey, dpop: target([]) })));
  for (const alg of ['ES256', 'EdDSA']) {
    const key = proofKey(alg);
    const token = (await issue(key.jkt)).token;
    const proofs = Array.from({ length: checks + 200 }, () => proof(key, token));
    results.push(
      await time(`bound token, ${alg} proof`, checks, (i) => verifier.verify(token, { expectedApiKey: created.account.apiKey, dpop: target([proofs[i]]) })),
    );
  }
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
  const base = results[0].us;
  process.stdout.write(`\nDPoP cost per check (${checks} checks each, one process, memory store, verified-token cache warm)\n`);
  for (const r of results) process.stdout.write(`  ${r.label.padEnd(26)} ${r.us.toFixed(1).padStart(7)} µs/check  (+${(r.us - base).toFixed(1)} µs)\n`);
}

main().catch((error) => {
  process.stderr.write(`dpop bench failed: ${error.stack || error.message}\n`);
  process.exit(1);
});
