/** issueToken and the verifier, without HTTP. */
import { createAccount } from '../../src/accounts';
import { ManualClock } from '../../src/clock';
import { KeyRing } from '../../src/keys';
import { MemoryStore, StoreUnavailableError } from '../../src/store';
import { sign } from 'node:crypto';
import { issueToken, revokeOrganization, revokeUser, TokenVerifier } from '../../src/tokens';
import { codeOf } from '../helpers/outcome';
import { makeKeysDir, rsaKeyPairPem } from '../helpers/keys';

async function setup() {
  const clock = new ManualClock(Date.now());
  const store = new MemoryStore({ clock, sweepIntervalMs: 0 });
  const keyRing = await KeyRing.load({
    dir: makeKeysDir(),
    algorithm: 'RS256',
    clock,
    jwksMaxAgeSeconds: 300,
    maxTokenLifetimeSeconds: 172_800,
    clockToleranceSeconds: 5,
  });
  const issuer = 'https://gw.test';
  const verifier = new TokenVerifier({
    keyRing,
    store,
    clock,
    issuer,
    clockToleranceSeconds: 5,
    maxGatewayLifetimeSeconds: 172_800,
    customerMaxLifetimeSeconds: 172_800,
  });
  const acme = await createAccount(store, clock, 'Acme');
  const deps = { store, keyRing, clock, issuer, defaultLifetimeSeconds: 172_800 };
  const request = { apiKey: acme.account.apiKey, authToken: acme.authToken, userId: 'u1', organizationId: 'o1' };
  return { clock, store, keyRing, verifier, acme, deps, request };
}

describe('issueToken + TokenVerifier', () => {
  test('an issued token verifies with its claims', async () => {
    const { deps, request, verifier, acme } = await setup();
    const issued = await issueToken(deps, { ...request, email: 'A@B.co', isAdmin: true });
    const verified = await verifier.verify(issued.token, { expectedApiKey: acme.account.apiKey });
    expect(verified.kind).toBe('gateway');
    expect(verified.account).toEqual(acme.account);
    expect(verified.claims).toMatchObject({ sub: 'u1', organizationId: 'o1', email: 'a@b.co', isAdmin: true, jti: issued.tokenId });
  });

  test('the clock tolerance applies to exp in both directions of the boundary', async () => {
    const { deps, request, verifier, clock } = await setup();
    const issued = await issueToken(deps, { ...request, expiresIn: 60 });
    clock.advanceSeconds(60 + 4);
    expect(await codeOf(verifier.verify(issued.token))).toBe('ok');
    clock.advanceSeconds(1);
    expect(await codeOf(verifier.verify(issued.token))).toBe('token_expired');
  });

  test('a token from another account is account_mismatch when an account is expected', async () => {
    const { deps, request, verifier, store, clock } = await setup();
    const other = await createAccount(store, clock, 'Other');
    const issued = await issueToken(deps, request);
    expect(await codeOf(verifier.verify(issued.token, { expectedApiKey: other.account.apiKey }))).toBe('account_mismatch');
  });

  test('user revocation covers tokens issued up to that second, not after', async () => {
    const { deps, request, verifier, store, clock, acme } = await setup();
    const before = await issueToken(deps, request);
    const revocation = { store, verifier, clock, clockToleranceSeconds: 5, maxLifetimeSeconds: 172_800 };
    await revokeUser(revocation, acme.account, 'u1');
    const sameSecond = await issueToken(deps, request);
    clock.advanceSeconds(1);
    const after = await issueToken(deps, request);
    expect(await codeOf(verifier.verify(before.token))).toBe('token_revoked');
    expect(await codeOf(verifier.verify(sameSecond.token))).toBe('token_revoked');
    expect(await codeOf(verifier.verify(after.token))).toBe('ok');
  });

  test('a customer token with a fractional iat is covered by the mark of the second it falls in', async () => {
    const { verifier, store, clock, acme } = await setup();
    const { publicKey, privateKey } = rsaKeyPairPem();
    await store.setSigningKey(acme.account.apiKey, publicKey);
    const second = 1_900_000_000;
    const customerToken = (iat: number, organizationId: string, sub = 'u1') => {
      const part = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
      const input = `${part({ alg: 'RS256', typ: 'JWT' })}.${part({ iss: acme.account.apiKey, sub, organizationId, iat, exp: iat + 600 })}`;
      return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
    };
    clock.set((second + 0.6) * 1000);
    const ofUser = customerToken(second + 0.1, 'o1');
    const ofOrg = customerToken(second + 0.2, 'o2', 'u2');
    const revocation = { store, verifier, clock, clockToleranceSeconds: 5, maxLifetimeSeconds: 172_800 };
    expect(await revokeUser(revocation, acme.account, 'u1')).toBe(second);
    expect(await codeOf(verifier.verify(ofUser))).toBe('token_revoked');
    expect(await revokeOrganization(revocation, acme.account, 'o2')).toBe(second);
    expect(await codeOf(verifier.verify(ofOrg))).toBe('token_revoked');
    clock.set((second + 1.6) * 1000);
    // A token from the next second is past both marks.
    expect(await codeOf(verifier.verify(customerToken(second + 1.5, 'o1')))).toBe('ok');
    expect(await codeOf(verifier.verify(customerToken(second + 1.5, 'o2', 'u2')))).toBe('ok');
  });

  test('no token leaves when the record cannot be written', async () => {
    const { deps, request, store } = await setup();
    store.failing = true;
    await expect(issueToken(deps, request)).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  test('the verifier refuses to answer when the store cannot: never valid by guessing', async () => {
    const { deps, request, verifier, store } = await setup();
    const issued = await issueToken(deps, request);
    store.failing = true;
    await expect(verifier.verify(issued.token)).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});
