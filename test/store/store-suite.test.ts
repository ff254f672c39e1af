/**
 * The store contract, run unchanged against the in-memory store and Redis.
 */
import { ManualClock } from '../../src/clock';
import { MemoryStore, StoreUnavailableError } from '../../src/store';
import { makeStore, STORE_KINDS, STORE_SUITE_KINDS } from '../helpers/stores';
import { NO_REDIS_REASON, rawRedis } from '../helpers/redis';
import { describeIf } from '../helpers/skip';
import { storeSuite } from './store-behaviours';

const now = () => Math.floor(Date.now() / 1000);

describe.each(STORE_SUITE_KINDS)('%s store', (kind) => {
  storeSuite(kind);
});

describe('memory store expiry follows its clock', () => {
  test('records and marks vanish when the clock passes their time, and a sweep frees them', async () => {
    const clock = new ManualClock(1_000_000_000_000);
    const store = new MemoryStore({ clock, sweepIntervalMs: 0 });
    const t = 1_000_000_000;
    await store.recordIssuedToken({ jti: 'j', apiKey: 'ak', userId: 'u', organizationId: 'o', iat: t, exp: t + 100 });
    await store.revokeToken('ak', 'j', t + 200);
    await store.revokeUser('ak', 'u', t, t + 300);
    expect(store.trackedEntryCount()).toBe(3);
    clock.advanceSeconds(150);
    expect(await store.getIssuedToken('ak', 'j')).toBeNull();
    expect((await store.getTokenContext({ apiKey: 'ak', jti: 'j' })).tokenRevoked).toBe(true);
    clock.advanceSeconds(200);
    store.sweep();
    expect(store.trackedEntryCount()).toBe(0);
    await store.close();
  });

  test('a mark keeps the later of two expiries, as the Redis script does', async () => {
    const clock = new ManualClock(1_000_000_000_000);
    const store = new MemoryStore({ clock, sweepIntervalMs: 0 });
    const t = 1_000_000_000;
    await store.revokeUser('ak', 'u', t, t + 600);
    await store.revokeUser('ak', 'u', t + 1, t + 2); // a clock that stepped back
    clock.advanceSeconds(10);
    expect((await store.getTokenContext({ apiKey: 'ak', userId: 'u' })).userRevokedBefore).toBe(t + 1);
    await store.close();
  });

  test('a failing or closed store rejects with StoreUnavailableError', async () => {
    const store = new MemoryStore({ sweepIntervalMs: 0 });
    store.failing = true;
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    store.failing = false;
    await store.close();
    await expect(store.findAccountByApiKey('x')).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

describeIf(STORE_KINDS.includes('redis'), `redis store layout: ${NO_REDIS_REASON}`)('redis store layout', () => {
  test('issued-token records expire exactly at the token exp (PXAT) and share the account hash tag', async () => {
    const t = await makeStore('redis');
    const raw = rawRedis();
    try {
      const exp = now() + 3600;
      await t.store.recordIssuedToken({ jti: 'jx', apiKey: 'ak_tag', userId: 'u', organizationId: 'o', iat: now(), exp });
      const key = `${t.prefix}{ak_tag}:t:jx`;
      expect(await raw.pexpiretime(key)).toBe(exp * 1000);
      await t.store.revokeUser('ak_tag', 'u', now(), exp + 10);
      expect(await raw.pexpiretime(`${t.prefix}{ak_tag}:ru:u`)).toBe((exp + 10) * 1000);
    } finally {
      raw.disconnect();
      await t.cleanup();
    }
  });
});
