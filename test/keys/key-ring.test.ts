/**
 * Contract §7 keys: kid = RFC 7638 thumbprint, newest *ready* key signs, every live key is
 * published, short keys refused, development generates, production refuses.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { calculateJwkThumbprint } from 'jose';
import { ManualClock } from '../../src/clock';
import { ensureSigningKey, KeyLoadError, KeyRing, keyFileName, parseSigningKey } from '../../src/keys';
import { makeKeysDir, rsaPrivateKeyPem } from '../helpers/keys';

const DAY = 86_400;
const options = (dir: string, clock: ManualClock) => ({
  dir,
  algorithm: 'RS256' as const,
  clock,
  jwksMaxAgeSeconds: 300,
  maxTokenLifetimeSeconds: 172_800,
  clockToleranceSeconds: 5,
});

function addKey(dir: string, name: string, pem: string, mtimeSeconds: number): void {
  const file = path.join(dir, name);
  writeFileSync(file, pem);
  utimesSync(file, mtimeSeconds, mtimeSeconds);
}

describe('KeyRing', () => {
  test('kid is the RFC 7638 thumbprint, as jose computes it', async () => {
    const clock = new ManualClock();
    const ring = await KeyRing.load(options(makeKeysDir(), clock));
    const key = ring.signingKey();
    const { kty, n, e } = key.jwk as { kty: string; n: string; e: string };
    expect(key.kid).toBe(await calculateJwkThumbprint({ kty, n, e }, 'sha256'));
    expect(key.jwk).toEqual({ kty: 'RSA', n, e, kid: key.kid, use: 'sig', alg: 'RS256' });
  });

  test('a new key is published at once but signs only after the JWKS cache lifetime', async () => {
    const now = Math.floor(Date.now() / 1000);
    const clock = new ManualClock(now * 1000);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tg-ring-'));
    addKey(dir, 'old.pem', rsaPrivateKeyPem('old'), now - DAY);
    const ring = await KeyRing.load(options(dir, clock));
    const old = ring.signingKey();

    // The old key has been published (first seen) for longer than the cache lifetime.
    clock.advanceSeconds(400);
    addKey(dir, 'new.pem', rsaPrivateKeyPem('new'), now);
    await ring.reload();
    const kids = JSON.parse(ring.jwks().body).keys.map((k: { kid: string }) => k.kid);
    expect(kids).toHaveLength(2);
    expect(ring.signingKey().kid).toBe(old.kid);

    clock.advanceSeconds(299);
    expect(ring.signingKey().kid).toBe(old.kid);
    clock.advanceSeconds(1);
    const fresh = ring.signingKey();
    expect(fresh.kid).not.toBe(old.kid);
    expect(ring.find(old.kid)).toBeDefined();

    // The old key verifies until its last token has expired (48 h + cache lifetime + tolerance)...
    clock.advanceSeconds(172_800 + 300);
    expect(ring.find(old.kid)).toBeDefined();
    // ...and is then retired from the JWKS and from verification.
    clock.advanceSeconds(10);
    expect(ring.find(old.kid)).toBeUndefined();
    expect(JSON.parse(ring.jwks().body).keys.map((k: { kid: string }) => k.kid)).toEqual([fresh.kid]);
  });

  test('with no key past the cache lifetime, the newest key signs', async () => {
    const now = Math.floor(Date.now() / 1000);
    const clock = new ManualClock(now * 1000);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tg-ring-'));
    addKey(dir, keyFileName(new Date((now - 10) * 1000), 'RS256'), rsaPrivateKeyPem('old'), now - 10);
    addKey(dir, keyFileName(new Date((now - 5) * 1000), 'RS256'), rsaPrivateKeyPem('new'), now - 5);
    const ring = await KeyRing.load(options(dir, clock));
    // Both were first seen now, so the name times decide nothing: equal activations, and the
    // larger file name is the newer.
    expect(ring.signingKey().file).toBe(path.join(dir, keyFileName(new Date((now - 5) * 1000), 'RS256')));
  });

  test('the JWKS ETag changes with the key set and not otherwise', async () => {
    const now = Math.floor(Date.now() / 1000);
    const clock = new ManualClock(now * 1000);
    const dir = makeKeysDir();
    const ring = await KeyRing.load(options(dir, clock));
    const first = ring.jwks();
    expect(ring.jwks().etag).toBe(first.etag);
    addKey(dir, 'new.pem', rsaPrivateKeyPem('new'), now);
    await ring.reload();
    expect(ring.jwks().etag).not.toBe(first.etag);
  });

  test('keys under 2048 bits refuse to load, naming the file', async () => {
    const small = generateKeyPairSync('rsa', {
      modulusLength: 1024,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    }).privateKey;
    const dir = makeKeysDir([small]);
    await expect(KeyRing.load(options(dir, new ManualClock()))).rejects.toThrow(/key-0\.pem: RSA key of 1024 bits; at least 2048/);
  });

  test('a file that is not a private key refuses to load', () => {
    expect(() => parseSigningKey('not a key', 'x.pem')).toThrow(KeyLoadError);
    const pub = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    }).publicKey;
    expect(() => parseSigningKey(pub, 'pub.pem')).toThrow(/not a PEM private key/);
  });

  test('a bad file added later is reported and skipped; the ring keeps working', async () => {
    const dir = makeKeysDir();
    const warnings: string[] = [];
    const ring = await KeyRing.load({ ...options(dir, new ManualClock()), onWarning: (m) => warnings.push(m) });
    const kid = ring.signingKey().kid;
    writeFileSync(path.join(dir, 'broken.pem'), '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    await ring.reload();
    expect(ring.signingKey().kid).toBe(kid);
    expect(warnings.join('\n')).toMatch(/broken\.pem/);
  });
});

describe('ensureSigningKey', () => {
  test('a development start with an empty folder generates a 3072-bit RSA key there', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tg-gen-'));
    const file = await ensureSigningKey(dir, 'RS256', false);
    expect(file).toBeDefined();
    expect(readdirSync(dir)).toHaveLength(1);
    const ring = await KeyRing.load(options(dir, new ManualClock()));
    expect(ring.signingKey().privateKey.asymmetricKeyDetails?.modulusLength).toBe(3072);
    // A second start finds it and generates nothing.
    expect(await ensureSigningKey(dir, 'RS256', false)).toBeUndefined();
  });

  test('a production start without a key refuses with a clear message', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tg-prod-'));
    await expect(ensureSigningKey(dir, 'RS256', true)).rejects.toThrow(/No signing key in .*NODE_ENV=production/);
    expect(readdirSync(dir)).toHaveLength(0);
  });
});
