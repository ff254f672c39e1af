/** The credential check, without HTTP. */
import crypto from 'node:crypto';
import { authenticateAccount, createAccount, addAuthToken, checkUserAgainstDirectory } from '../../src/accounts';
import { hashSecret } from '../../src/accounts';
import { matchesAnyHash } from '../../src/accounts/secrets';
import { ManualClock } from '../../src/clock';
import { GatewayError } from '../../src/errors';
import { MemoryStore } from '../../src/store';

describe('credentials', () => {
  const clock = new ManualClock();

  test('the pair authenticates; every failure is the same invalid_credentials', async () => {
    const store = new MemoryStore({ sweepIntervalMs: 0 });
    const acme = await createAccount(store, clock, 'Acme');
    const other = await createAccount(store, clock, 'Other');
    await expect(authenticateAccount(store, acme.account.apiKey, acme.authToken)).resolves.toEqual({
      account: acme.account,
      authTokenId: acme.authTokenId,
    });
    // With several auth tokens, the one presented is named (the audit trail's actor).
    const second = await addAuthToken(store, clock, acme.account);
    await expect(authenticateAccount(store, acme.account.apiKey, second.authToken)).resolves.toEqual({
      account: acme.account,
      authTokenId: second.authTokenId,
    });
    const failures = await Promise.allSettled([
      authenticateAccount(store, acme.account.apiKey, other.authToken),
      authenticateAccount(store, 'ak_unknown', acme.authToken),
      authenticateAccount(store, acme.account.apiKey, 'at_wrong'),
      authenticateAccount(store, 'ak bad', acme.authToken),
      authenticateAccount(store, acme.account.apiKey, ''),
    ]);
    for (const failure of failures) {
      expect(failure.status).toBe('rejected');
      const error = (failure as PromiseRejectedResult).reason as GatewayError;
      expect([error.code, error.message]).toEqual(['invalid_credentials', 'The credentials are not valid.']);
    }
  });

  test('secrets are stored only as SHA-256 hashes', async () => {
    const store = new MemoryStore({ sweepIntervalMs: 0 });
    const acme = await createAccount(store, clock, 'Acme');
    const second = await addAuthToken(store, clock, acme.account);
    const hashes = (await store.listAuthTokens(acme.account.apiKey)).map((t) => t.hash);
    expect(hashes).toEqual([hashSecret(acme.authToken), hashSecret(second.authToken)]);
    expect(JSON.stringify(await store.getCredentials(acme.account.apiKey))).not.toContain(acme.authToken.slice(3));
  });

  test('every stored hash is compared in constant time, with no early exit, and a decoy when there is none', () => {
    const spy = jest.spyOn(crypto, 'timingSafeEqual');
    try {
      const secret = 'at_secret';
      const hashes = [hashSecret(secret), hashSecret('at_b'), hashSecret('at_c')];
      expect(matchesAnyHash(secret, hashes)).toBe(true);
      expect(spy).toHaveBeenCalledTimes(3);
      spy.mockClear();
      expect(matchesAnyHash(secret, [])).toBe(false);
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('checkUserAgainstDirectory', () => {
  const entry = { organizationIds: ['o1', 'o2'], email: 'ada@example.com', updatedAt: 'T' };
  const code = (fn: () => void) => {
    try {
      fn();
      return 'ok';
    } catch (error) {
      return (error as GatewayError).code;
    }
  };

  test.each([
    [null, 'o9', 'x@y.z', 'ok'],
    [entry, 'o1', undefined, 'ok'],
    [entry, 'o2', 'ADA@example.com', 'ok'],
    [entry, 'o3', undefined, 'organization_mismatch'],
    [entry, 'o1', 'eve@example.com', 'email_mismatch'],
    [{ organizationIds: ['o1'], updatedAt: 'T' }, 'o1', 'any@example.com', 'ok'],
  ])('entry %j, organization %s, email %s → %s', (e, org, email, expected) => {
    expect(code(() => checkUserAgainstDirectory(e, org, email))).toBe(expected);
  });
});
