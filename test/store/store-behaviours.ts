/**
 * The store contract as one function, so that the same behaviours run against every store:
 * memory and Redis (store-suite.test.ts) and Redis Cluster (cluster.test.ts).
 */
import { ManualClock } from '../../src/clock';
import type { AccountRecord, AuthTokenRecord, GatewayStore } from '../../src/store';
import { makeStore, type StoreKind, type TestStore } from '../helpers/stores';

const now = () => Math.floor(Date.now() / 1000);

const account = (suffix: string): AccountRecord => ({
  id: `acc_${suffix}`,
  name: `Account ${suffix}`,
  apiKey: `ak_${suffix}`,
  createdAt: '2026-01-01T00:00:00.000Z',
});
const authToken = (id: string, hash = 'a'.repeat(64), createdAt = '2026-01-01T00:00:00.000Z'): AuthTokenRecord => ({
  id,
  hash,
  createdAt,
});

/** Registers the store behaviours for `kind` in the current describe block. */
export function storeSuite(kind: StoreKind): void {
  let t: TestStore;
  let store: GatewayStore;
  let clock: ManualClock;

  beforeEach(async () => {
    clock = new ManualClock(Date.now());
    t = await makeStore(kind, clock);
    store = t.store;
  });
  afterEach(() => t.cleanup());

  test('answers a ping', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
  });

  describe('accounts', () => {
    test('are found by id and by apiKey, unknown ones are null', async () => {
      await store.createAccount(account('1'), authToken('atk_1'));
      expect(await store.findAccountById('acc_1')).toEqual(account('1'));
      expect(await store.findAccountByApiKey('ak_1')).toEqual(account('1'));
      expect(await store.findAccountById('acc_nope')).toBeNull();
      expect(await store.findAccountByApiKey('ak_nope')).toBeNull();
      expect(await store.getCredentials('ak_nope')).toBeNull();
    });

    test('keep several auth tokens, in creation order, and delete one at a time', async () => {
      await store.createAccount(account('2'), authToken('atk_a', 'a'.repeat(64), '2026-01-01T00:00:00.000Z'));
      await store.addAuthToken('ak_2', authToken('atk_b', 'b'.repeat(64), '2026-01-02T00:00:00.000Z'));
      expect((await store.listAuthTokens('ak_2')).map((t) => t.id)).toEqual(['atk_a', 'atk_b']);
      const creds = await store.getCredentials('ak_2');
      expect(creds?.authTokens.map((t) => t.hash)).toEqual(['a'.repeat(64), 'b'.repeat(64)]);
      expect(await store.deleteAuthToken('ak_2', 'atk_a')).toBe(true);
      expect(await store.deleteAuthToken('ak_2', 'atk_a')).toBe(false);
      expect((await store.listAuthTokens('ak_2')).map((t) => t.id)).toEqual(['atk_b']);
    });

    test('keep one customer signing key', async () => {
      await store.createAccount(account('3'), authToken('atk_3'));
      expect(await store.getSigningKey('ak_3')).toBeNull();
      await store.setSigningKey('ak_3', 'PEM-1');
      await store.setSigningKey('ak_3', 'PEM-2');
      expect(await store.getSigningKey('ak_3')).toBe('PEM-2');
      expect(await store.deleteSigningKey('ak_3')).toBe(true);
      expect(await store.deleteSigningKey('ak_3')).toBe(false);
      expect(await store.getSigningKey('ak_3')).toBeNull();
    });

    test('the issuance context reads account, hashes and user entry together', async () => {
      await store.createAccount(account('4'), authToken('atk_4'));
      await store.putUser('ak_4', 'user:1 {x}', { organizationIds: ['o1'], email: 'a@b.co', updatedAt: 'T' });
      const context = await store.getIssuanceContext('ak_4', 'user:1 {x}');
      expect(context?.account).toEqual(account('4'));
      expect(context?.authTokens).toHaveLength(1);
      expect(context?.user).toEqual({ organizationIds: ['o1'], email: 'a@b.co', updatedAt: 'T' });
      expect((await store.getIssuanceContext('ak_4', 'other'))?.user).toBeNull();
      expect(await store.getIssuanceContext('ak_nope', 'user')).toBeNull();
    });
  });

  describe('user directory', () => {
    test('put, get, replace and delete an entry, scoped to the account', async () => {
      await store.createAccount(account('5'), authToken('atk_5'));
      await store.putUser('ak_5', 'u1', { organizationIds: ['o1', 'o2'], updatedAt: 'T1' });
      expect(await store.getUser('ak_5', 'u1')).toEqual({ organizationIds: ['o1', 'o2'], updatedAt: 'T1' });
      expect(await store.getUser('ak_other', 'u1')).toBeNull();
      await store.putUser('ak_5', 'u1', { organizationIds: ['o3'], email: 'x@y.z', updatedAt: 'T2' });
      expect(await store.getUser('ak_5', 'u1')).toEqual({ organizationIds: ['o3'], email: 'x@y.z', updatedAt: 'T2' });
      expect(await store.deleteUser('ak_5', 'u1')).toBe(true);
      expect(await store.deleteUser('ak_5', 'u1')).toBe(false);
      expect(await store.getUser('ak_5', 'u1')).toBeNull();
    });
  });

  describe('issued tokens', () => {
    test('are recorded with their expiry and gone once expired', async () => {
      const exp = now() + 3600;
      await store.recordIssuedToken({ jti: 'j1', apiKey: 'ak_6', userId: 'u', organizationId: 'o', iat: now(), exp });
      expect(await store.getIssuedToken('ak_6', 'j1')).toMatchObject({ jti: 'j1', userId: 'u', organizationId: 'o', exp });
      expect(await store.getIssuedToken('ak_other', 'j1')).toBeNull();
      // A record whose token has already expired is not kept.
      await store.recordIssuedToken({ jti: 'j2', apiKey: 'ak_6', userId: 'u', organizationId: 'o', iat: now() - 100, exp: now() - 1 });
      expect(await store.getIssuedToken('ak_6', 'j2')).toBeNull();
    });
  });

  describe('revocation', () => {
    test('a revoked (account, jti) is seen in the token context, only for that account', async () => {
      await store.createAccount(account('7'), authToken('atk_7'));
      await store.revokeToken('ak_7', 'jti-1', now() + 60);
      const ctx = await store.getTokenContext({ apiKey: 'ak_7', jti: 'jti-1', userId: 'u' });
      expect(ctx).toEqual({
        account: account('7'),
        signingKey: null,
        tokenRevoked: true,
        userRevokedBefore: null,
        organizationRevokedBefore: null,
      });
      expect((await store.getTokenContext({ apiKey: 'ak_7', jti: 'jti-2' })).tokenRevoked).toBe(false);
      expect((await store.getTokenContext({ apiKey: 'ak_x', jti: 'jti-1' })).tokenRevoked).toBe(false);
    });

    test('user and organization marks only ever move forward', async () => {
      const t0 = now();
      await store.revokeUser('ak_8', 'u1', t0, t0 + 600);
      await store.revokeUser('ak_8', 'u1', t0 - 50, t0 + 600);
      await store.revokeOrganization('ak_8', 'o1', t0 + 1, t0 + 600);
      const ctx = await store.getTokenContext({ apiKey: 'ak_8', userId: 'u1', organizationId: 'o1' });
      expect(ctx.userRevokedBefore).toBe(t0);
      expect(ctx.organizationRevokedBefore).toBe(t0 + 1);
      const other = await store.getTokenContext({ apiKey: 'ak_8', userId: 'u2', organizationId: 'o2' });
      expect(other.userRevokedBefore).toBeNull();
      expect(other.organizationRevokedBefore).toBeNull();
    });

    test('the signing key is read only when asked for', async () => {
      await store.createAccount(account('9'), authToken('atk_9'));
      await store.setSigningKey('ak_9', 'PEM');
      expect((await store.getTokenContext({ apiKey: 'ak_9' })).signingKey).toBeNull();
      expect((await store.getTokenContext({ apiKey: 'ak_9', withSigningKey: true })).signingKey).toBe('PEM');
    });

    test('marks whose time is past are dropped', async () => {
      await store.revokeToken('ak_10', 'old', now() - 1);
      await store.revokeUser('ak_10', 'u', now() - 10, now() - 1);
      const ctx = await store.getTokenContext({ apiKey: 'ak_10', jti: 'old', userId: 'u' });
      expect(ctx.tokenRevoked).toBe(false);
      expect(ctx.userRevokedBefore).toBeNull();
    });
  });
}
