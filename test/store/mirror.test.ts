/**
 * The local mirror in front of Redis: correct first. Single-instance behaviours on a real Redis
 * (own key prefix), then two instances. The faults (lost, late and lagging notices) are in
 * mirror-faults.test.ts.
 */
import type Redis from 'ioredis';
import { RedisStore, createRedisClient } from '../../src/store';
import { MirroredStore, type MirrorOptions } from '../../src/store/mirrored-store';
import type { TokenContext, TokenContextQuery } from '../../src/store';
import { deletePrefix, describeWithRedis, rawRedis, testRedisUrl, uniquePrefix } from '../helpers/redis';

const account = { id: 'acc_1', name: 'A', apiKey: 'ak_1', createdAt: 'T' };
const token = { id: 'atk_1', hash: 'a'.repeat(64), createdAt: 'T' };
const query = { apiKey: 'ak_1', jti: 'j1', userId: 'u1', organizationId: 'o1' };
const future = () => Math.floor(Date.now() / 1000) + 3600;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const ready = (client: Redis) =>
  client.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => client.once('ready', () => resolve()));

async function live(store: MirroredStore): Promise<void> {
  for (let i = 0; i < 300 && !store.stats.live; i++) {
    await store.getTokenContext({ apiKey: 'ak_probe' });
    if (!store.stats.live) await sleep(10);
  }
  expect(store.stats.live).toBe(true);
}

async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await check()) return Date.now() - start;
    await sleep(5);
  }
  throw new Error(`not seen within ${ms} ms`);
}

describeWithRedis('mirror on a real Redis', () => {
  const prefixes: string[] = [];
  const stores: MirroredStore[] = [];
  const subscribers: Redis[] = [];

  /** One gateway instance: a Redis store on its own connection, mirrored, on `prefix`. */
  async function instance(prefix: string, options: MirrorOptions = {}) {
    const subscriber = createRedisClient(testRedisUrl());
    const client = createRedisClient(testRedisUrl());
    subscribers.push(subscriber);
    await Promise.all([ready(subscriber), ready(client)]);
    const inner = new RedisStore(client, prefix);
    const reads = { count: 0, hold: undefined as Promise<void> | undefined };
    const read = inner.getTokenContext.bind(inner);
    inner.getTokenContext = async (q: TokenContextQuery): Promise<TokenContext> => {
      reads.count += 1;
      const context = await read(q);
      if (reads.hold) await reads.hold;
      return context;
    };
    const store = new MirroredStore(inner, subscriber, options);
    stores.push(store);
    await live(store);
    return { store, inner, reads, subscriber };
  }

  function newPrefix(): string {
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    return prefix;
  }

  afterAll(async () => {
    for (const store of stores) await store.close();
    const raw = rawRedis();
    for (const prefix of prefixes) await deletePrefix(raw, prefix);
    raw.disconnect();
  });

  test('a second check of the same token needs no round trip; a revocation drops it', async () => {
    const { store, reads } = await instance(newPrefix());
    await store.createAccount(account, token);
    const before = reads.count;
    expect((await store.getTokenContext(query)).tokenRevoked).toBe(false);
    expect((await store.getTokenContext(query)).tokenRevoked).toBe(false);
    expect(reads.count).toBe(before + 1);
    await store.revokeToken('ak_1', 'j1', future());
    expect((await store.getTokenContext(query)).tokenRevoked).toBe(true);
    expect(reads.count).toBe(before + 2);
  });

  test('a read that began before a change is not kept (no stale fill)', async () => {
    const { store, reads } = await instance(newPrefix());
    await store.createAccount(account, token);
    let release!: () => void;
    reads.hold = new Promise((r) => (release = r));
    const slow = store.getTokenContext(query); // reads "not revoked", then waits
    await sleep(20);
    await store.revokeToken('ak_1', 'j1', future()); // stored and announced meanwhile
    release();
    expect((await slow).tokenRevoked).toBe(false); // that answer was true when read
    reads.hold = undefined;
    expect((await store.getTokenContext(query)).tokenRevoked).toBe(true);
  });

  test("a write is seen by the writer's next read at once, before its own notice comes back", async () => {
    const { store, subscriber } = await instance(newPrefix(), { staleAfterMs: 60_000 });
    await store.createAccount(account, token);
    expect((await store.getTokenContext(query)).tokenRevoked).toBe(false);
    const stream = (subscriber as unknown as { stream: NodeJS.ReadableStream }).stream;
    stream.pause(); // the notice waits on the other connection
    try {
      await store.revokeToken('ak_1', 'j1', future());
      expect((await store.getTokenContext(query)).tokenRevoked).toBe(true);
    } finally {
      stream.resume();
    }
  });

  test('a write made behind the store (no version, no notice) is outlived after maxAgeMs', async () => {
    const prefix = newPrefix();
    const { store, reads } = await instance(prefix, { maxAgeMs: 400 });
    await store.createAccount(account, token);
    await store.getTokenContext(query);
    const raw = rawRedis();
    await raw.set(`${prefix}{ak_1}:r:j1`, '1', 'PXAT', future() * 1000); // not through the gateway
    raw.disconnect();
    expect((await store.getTokenContext(query)).tokenRevoked).toBe(false);
    expect(await within(1000, async () => (await store.getTokenContext(query)).tokenRevoked)).toBeGreaterThan(0);
    expect(reads.count).toBeGreaterThanOrEqual(2);
  });

  test('a change version that goes backwards (the store lost writes) empties the mirror', async () => {
    const prefix = newPrefix();
    const { store, reads } = await instance(prefix);
    await store.createAccount(account, token);
    await store.revokeToken('ak_1', 'j0', future());
    await store.getTokenContext(query);
    const resyncs = store.feedStats.resyncs;
    const raw = rawRedis();
    await raw.set(`${prefix}mirror:v`, '0');
    raw.disconnect();
    await within(1000, async () => store.feedStats.resyncs > resyncs);
    await live(store);
    const count = reads.count;
    await store.getTokenContext(query);
    expect(reads.count).toBe(count + 1); // the entry was dropped
    await sleep(300);
    await store.getTokenContext(query);
    expect(reads.count).toBe(count + 1); // refilled once, and nothing empties it again
    expect(store.feedStats.resyncs).toBe(resyncs + 1);
  });

  test('the mirror is bounded', async () => {
    const { store } = await instance(newPrefix(), { maxAccounts: 3 });
    for (let i = 0; i < 10; i++) await store.getCredentials(`ak_${i}`);
    expect((store as unknown as { cache: { size: number } }).cache.size).toBeLessThanOrEqual(3);
  });

  describe('two instances', () => {
    test('a revocation on one instance is seen by the other within 1 s, and checks need no round trip meanwhile', async () => {
      const prefix = newPrefix();
      const { store: a } = await instance(prefix);
      const { store: b } = await instance(prefix);
      await a.createAccount({ ...account, apiKey: 'ak_m1', id: 'acc_m1' }, token);
      const q = { ...query, apiKey: 'ak_m1' };
      await a.getTokenContext(q);
      const hits = a.stats.hits;
      expect((await a.getTokenContext(q)).tokenRevoked).toBe(false);
      expect(a.stats.hits).toBe(hits + 1);
      await b.revokeToken('ak_m1', 'j1', future());
      expect(await within(1000, async () => (await a.getTokenContext(q)).tokenRevoked)).toBeLessThan(1000);
      await b.revokeUser('ak_m1', 'u1', 123, future());
      expect(await within(1000, async () => (await a.getTokenContext(q)).userRevokedBefore === 123)).toBeLessThan(1000);
    });

    test('a silently lost subscription falls back to asking Redis within 1 s, then resyncs', async () => {
      const prefix = newPrefix();
      const { store: a, subscriber: subscriberOfA } = await instance(prefix);
      const { store: b } = await instance(prefix);
      await a.createAccount({ ...account, apiKey: 'ak_m2', id: 'acc_m2' }, token);
      const q = { ...query, apiKey: 'ak_m2', jti: 'j2' };
      await a.getTokenContext(q);
      // A's subscriber stops hearing the channel without closing: nothing tells it so but the gap.
      await subscriberOfA.unsubscribe(`${prefix}mirror`);
      await b.revokeToken('ak_m2', 'j2', future());
      expect(await within(1000, async () => (await a.getTokenContext(q)).tokenRevoked)).toBeLessThan(1000);
      // Back on the channel: the mirror serves again, emptied first, and stays right.
      await subscriberOfA.subscribe(`${prefix}mirror`);
      await live(a);
      expect((await a.getTokenContext(q)).tokenRevoked).toBe(true);
    });

    test('a dropped connection resubscribes by itself', async () => {
      const { store: a, subscriber } = await instance(newPrefix());
      const closed = new Promise((resolve) => subscriber.once('close', resolve));
      subscriber.disconnect(true);
      await closed;
      expect(a.stats.live).toBe(false);
      await live(a);
    });
  });
});
