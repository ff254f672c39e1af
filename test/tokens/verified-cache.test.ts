/**
 * The cache of verified tokens (src/tokens/verified-cache.ts): a repeat check skips the
 * signature, but only while the very key that verified it still would; time and revocation
 * are checked on every call.
 */
import { unlinkSync, readdirSync, writeFileSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { importPKCS8, SignJWT } from 'jose';
import { createAccount } from '../../src/accounts';
import { ManualClock } from '../../src/clock';
import { KeyRing } from '../../src/keys';
import { MemoryStore } from '../../src/store';
import { issueToken, revokeUser, TokenVerifier } from '../../src/tokens';
import * as jws from '../../src/tokens/jws';
import { VerifiedTokenCache } from '../../src/tokens/verified-cache';
import { codeOf } from '../helpers/outcome';
import { makeKeysDir, rsaKeyPairPem, rsaPrivateKeyPem } from '../helpers/keys';

const ISSUER = 'https://gw.test';

async function setup(options: { cacheSize?: number; keysDir?: string } = {}) {
  const clock = new ManualClock(Date.now());
  const store = new MemoryStore({ clock, sweepIntervalMs: 0 });
  const keysDir = options.keysDir ?? makeKeysDir();
  const keyRing = await KeyRing.load({
    dir: keysDir,
    algorithm: 'RS256',
    clock,
    jwksMaxAgeSeconds: 300,
    maxTokenLifetimeSeconds: 172_800,
    clockToleranceSeconds: 5,
  });
  const verifier = new TokenVerifier({
    keyRing,
    store,
    clock,
    issuer: ISSUER,
    clockToleranceSeconds: 5,
    maxGatewayLifetimeSeconds: 172_800,
    customerMaxLifetimeSeconds: 172_800,
    ...(options.cacheSize === undefined ? {} : { verifiedCacheSize: options.cacheSize }),
  });
  const acme = await createAccount(store, clock, 'Acme');
  const apiKey = acme.account.apiKey;
  const issue = (expiresIn?: number) =>
    issueToken(
      { store, keyRing, clock, issuer: ISSUER, defaultLifetimeSeconds: 3600 },
      { apiKey, authToken: acme.authToken, userId: 'u1', organizationId: 'o1', ...(expiresIn ? { expiresIn } : {}) },
    );
  return { clock, store, keyRing, keysDir, verifier, acme, apiKey, issue };
}

async function customerToken(privateKeyPem: string, iss: string, clock: ManualClock): Promise<string> {
  const iat = Math.floor(clock.now() / 1000);
  return new SignJWT({ organizationId: 'o1', jti: 'c-1' })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
    .setIssuer(iss)
    .setSubject('u1')
    .setIssuedAt(iat)
    .setExpirationTime(iat + 3600)
    .sign(await importPKCS8(privateKeyPem, 'RS256'));
}

afterEach(() => jest.restoreAllMocks());

describe('verified-token cache', () => {
  test('a repeat check of the same token does not verify its signature again', async () => {
    const { verifier, issue } = await setup();
    const { token } = await issue();
    const spy = jest.spyOn(jws, 'verifySignature');
    expect(await codeOf(verifier.verify(token))).toBe('ok');
    expect(await codeOf(verifier.verify(token))).toBe('ok');
    expect(await codeOf(verifier.verify(token))).toBe('ok');
    expect(spy).toHaveBeenCalledTimes(1);
  });

  test('with the cache off, every check verifies the signature', async () => {
    const { verifier, issue } = await setup({ cacheSize: 0 });
    const { token } = await issue();
    const spy = jest.spyOn(jws, 'verifySignature');
    await verifier.verify(token);
    await verifier.verify(token);
    expect(spy).toHaveBeenCalledTimes(2);
  });

  test('a cached token is still checked for expiry and revocation on every call', async () => {
    const { verifier, issue, clock, store, apiKey, acme } = await setup();
    const { token } = await issue(60);
    expect(await codeOf(verifier.verify(token))).toBe('ok');
    clock.advanceSeconds(60 + 5);
    expect(await codeOf(verifier.verify(token))).toBe('token_expired');

    const { token: second } = await issue();
    expect(await codeOf(verifier.verify(second))).toBe('ok');
    await revokeUser(
      { store, verifier, clock, clockToleranceSeconds: 5, maxLifetimeSeconds: 172_800 },
      acme.account,
      'u1',
    );
    expect(await codeOf(verifier.verify(second, { expectedApiKey: apiKey }))).toBe('token_revoked');
  });

  test('a tampered copy of a cached token is not a hit', async () => {
    const { verifier, issue } = await setup();
    const { token } = await issue();
    await verifier.verify(token);
    const [h, p, s] = token.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, sub: 'admin', userId: 'admin' })).toString('base64url')}.${s}`;
    expect(await codeOf(verifier.verify(forged))).toBe('token_invalid');
  });

  test('a cached gateway token fails once its key is gone from the ring', async () => {
    const oldPem = rsaPrivateKeyPem('cache-old');
    const keysDir = makeKeysDir([oldPem]);
    const { verifier, issue, keyRing } = await setup({ keysDir });
    const { token } = await issue();
    expect(await codeOf(verifier.verify(token))).toBe('ok');
    // The operator replaces the key (say it leaked): the old one no longer verifies anything.
    const [oldFile] = readdirSync(keysDir);
    const newFile = path.join(keysDir, 'replacement.pem');
    writeFileSync(newFile, rsaPrivateKeyPem('cache-new'), { mode: 0o600 });
    const dayAgo = Date.now() / 1000 - 86_400;
    utimesSync(newFile, dayAgo, dayAgo);
    unlinkSync(path.join(keysDir, oldFile!));
    await keyRing.reload();
    expect(await codeOf(verifier.verify(token))).toBe('token_invalid');
  });

  test('a cached customer token fails once the account key is replaced or deleted', async () => {
    const { verifier, store, apiKey, clock } = await setup();
    const first = rsaKeyPairPem();
    const second = rsaKeyPairPem();
    await store.setSigningKey(apiKey, first.publicKey);
    const token = await customerToken(first.privateKey, apiKey, clock);
    expect(await codeOf(verifier.verify(token))).toBe('ok');
    expect(await codeOf(verifier.verify(token))).toBe('ok');

    await store.setSigningKey(apiKey, second.publicKey);
    expect(await codeOf(verifier.verify(token))).toBe('token_invalid');
    const underSecond = await customerToken(second.privateKey, apiKey, clock);
    expect(await codeOf(verifier.verify(underSecond))).toBe('ok');

    await store.deleteSigningKey(apiKey);
    expect(await codeOf(verifier.verify(underSecond))).toBe('token_invalid');
  });

  test('the cache is bounded, the least recently used entry going first', () => {
    const cache = new VerifiedTokenCache(2);
    const entry = (n: number) => ({ kind: 'gateway' as const, kid: `k${n}`, key: {} as never, claims: {} as never });
    cache.set('a', entry(1));
    cache.set('b', entry(2));
    expect(cache.get('a')).toBeDefined(); // a is now the most recent
    cache.set('c', entry(3));
    expect(cache.size).toBe(2);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.get('c')).toBeDefined();
  });
});
