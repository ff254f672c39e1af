/**
 * The local mirror in front of Redis: correct first. Deterministic tests with a fake
 * subscriber for the races, then two instances on a real Redis.
 */
import { EventEmitter } from 'node:events';
import type Redis from 'ioredis';
import { MemoryStore, RedisStore, createRedisClient } from '../../src/store';
import { MirroredStore } from '../../src/store/mirrored-store';
import type { GatewayStore, TokenContext, TokenContextQuery } from '../../src/store';
import { deletePrefix, describeWithRedis, rawRedis, testRedisUrl, uniquePrefix } from '../helpers/redis';

/** A subscriber and publisher wired back to back, as Redis pub/sub would be. */
class FakeBus extends EventEmitter {
  status = 'ready';
  connected = true;
  /** While false, published messages wait in `held` (a subscriber connection lagging behind). */
  delivering = true;
  held: Array<[string, string]> = [];
  async subscribe(): Promise<number> {
    return 1;
  }
  async publish(channel: string, message: string): Promise<number> {
    if (!this.connected) throw new Error('closed');
    if (this.delivering) this.emit('message', channel, message);
    else this.held.push([channel, message]);
    return 1;
  }
  flush(): void {
    this.delivering = true;
    for (const [channel, message] of this.held.splice(0)) this.emit('message', channel, message);
  }
  disconnect(): void {
    this.connected = false;
    this.emit('close');
  }
}

/** A memory store posing as the Redis store, whose reads can be held open. */
function fakeInner(bus: FakeBus) {
  const memory = new MemoryStore({ sweepIntervalMs: 0 });
  const reads = { count: 0, hold: undefined as Promise<void> | undefined };
  const inner = Object.create(memory) as GatewayStore & { client: Redis };
  (inner as { client: unknown }).client = bus;
  inner.getTokenContext = async (query: TokenContextQuery): Promise<TokenContext> => {
    reads.count += 1;
    const context = await memory.getTokenContext(query);
    if (reads.hold) await reads.hold;
    return context;
  };
  return { memory, inner, reads };
}

const account = { id: 'acc_1', name: 'A', apiKey: 'ak_1', createdAt: 'T' };
const token = { id: 'atk_1', hash: 'a'.repeat(64), createdAt: 'T' };
const query = { apiKey: 'ak_1', jti: 'j1', userId: 'u1', organizationId: 'o1' };
const future = () => Math.floor(Date.now() / 1000) + 3600;

async function live(store: MirroredStore): Promise<void> {
  for (let i = 0; i < 200 && !store.stats.live; i++) {
    await store.getTokenContext({ apiKey: 'ak_probe' });
    if (!store.stats.live) await new Promise((r) => setTimeout(r, 10));
  }
  expect(store.stats.live).toBe(true);
}

/** Pretends the store's own heartbeat was just heard (the fake clock moved past it). */
function lastHeard(store: MirroredStore, at: number): void {
  (store as unknown as { feed: { lastHeartbeatHeard: number } }).feed.lastHeartbeatHeard = at;
}

describe('mirror (fake bus)', () => {
  let now = 1_000_000;
  const clock = () => now;

  test('a second check of the same token needs no round trip; a notice drops it', async () => {
    const bus = new FakeBus();
    const { memory, inner, reads } = fakeInner(bus);
    await memory.createAccount(account, token);
    const store = new MirroredStore(inner, bus as unknown as Redis, { now: clock, heartbeatMs: 60_000 });
    await new Promise((r) => setImmediate(r));
    expect((await store.getTokenContext(query)).tokenRevoked).toBe(false);
    expect((await store.getTokenContext(query)).tokenRevoked).toBe(false);
    expect(reads.count).toBe(1);
    await store.revokeToken('ak_1', 'j1', future());
    expect((await store.getTokenContext(query)).tokenRevoked).toBe(true);
    expect(reads.count).toBe(2);
    await store.close();
  });

  test('a read that began before a notice is not kept (no stale fill)', async () => {
    const bus = new FakeBus();
    const { memory, inner, reads } = fakeInner(bus);
    await memory.createAccount(account, token);
    const store = new MirroredStore(inner, bus as unknown as Redis, { now: clock, heartbeatMs: 60_000 });
    await new Promise((r) => setImmediate(r));
    let release!: () => void;
    reads.hold = new Promise((r) => (release = r));
    const slow = store.getTokenContext(query); // reads "not revoked", then waits
    await new Promise((r) => setImmediate(r));
    await store.revokeToken('ak_1', 'j1', future()); // stored and announced meanwhile
    release();
    expect((await slow).tokenRevoked).toBe(false); // that answer was true when read
    reads.hold = undefined;
    expect((await store.getTokenContext(query)).tokenRevoked).toBe(true);
    await store.close();
  });

  test('without a recent heartbeat every read goes to the store, and the mirror is emptied before serving again', async () => {
    const bus = new FakeBus();
    const { memory, inner, reads } = fakeInner(bus);
    await memory.createAccount(account, token);
    const store = new MirroredStore(inner, bus as unknown as Redis, { now: clock, heartbeatMs: 60_000, staleAfterMs: 700 });
    await new Promise((r) => setImmediate(r));
    await store.getTokenContext(query);
    await store.getTokenContext(query);
    expect(reads.count).toBe(1);
    // The subscription goes quiet: a notice would be missed. Revoke behind the mirror's back.
    now += 701;
    await memory.revokeToken('ak_1', 'j1', future());
    expect((await store.getTokenContext(query)).tokenRevoked).toBe(true);
    expect(store.stats.bypasses).toBeGreaterThan(0);
    expect(store.stats.live).toBe(false);
    await store.close();
  });

  test('a write whose notice cannot be published fails, so no instance keeps serving it', async () => {
    const bus = new FakeBus();
    const { memory, inner } = fakeInner(bus);
    await memory.createAccount(account, token);
    const store = new MirroredStore(inner, bus as unknown as Redis, { now: clock, heartbeatMs: 60_000 });
    bus.connected = false;
    await expect(store.revokeToken('ak_1', 'j1', future())).rejects.toThrow('token store unavailable');
    await store.close();
  });

  test("a write is seen by the writer's next read at once, before its own notice comes back", async () => {
    const bus = new FakeBus();
    const { memory, inner } = fakeInner(bus);
    await memory.createAccount(account, token);
    const store = new MirroredStore(inner, bus as unknown as Redis, { now: clock, heartbeatMs: 60_000 });
    await new Promise((r) => setImmediate(r));
    expect((await store.getTokenContext(query)).tokenRevoked).toBe(false);
    bus.delivering = false; // the notice is on its way on the other connection
    await store.revokeToken('ak_1', 'j1', future());
    expect((await store.getTokenContext(query)).tokenRevoked).toBe(true);
    bus.flush();
    await store.close();
  });

  test('a notice that could not be published is sent with the next heartbeat', async () => {
    const bus = new FakeBus();
    const { memory, inner } = fakeInner(bus);
    await memory.createAccount(account, token);
    const writer = new MirroredStore(inner, bus as unknown as Redis, { now: clock, heartbeatMs: 20 });
    const reader = new MirroredStore(inner, bus as unknown as Redis, { now: clock, heartbeatMs: 60_000 });
    await new Promise((r) => setImmediate(r));
    expect((await reader.getTokenContext(query)).tokenRevoked).toBe(false);
    // Stored, then the connection fails before the notice goes out: the caller gets a 503...
    const revokeStored = inner.revokeToken.bind(inner);
    inner.revokeToken = async (...args) => {
      await revokeStored(...args);
      bus.connected = false;
    };
    await expect(writer.revokeToken('ak_1', 'j1', future())).rejects.toThrow('token store unavailable');
    expect((await reader.getTokenContext(query)).tokenRevoked).toBe(false);
    // ...and once Redis answers again the notice reaches the others.
    bus.connected = true;
    await new Promise((r) => setTimeout(r, 100));
    expect((await reader.getTokenContext(query)).tokenRevoked).toBe(true);
    await writer.close();
    await reader.close();
  });

  test("an account's mirror is rebuilt after maxAgeMs even if no notice ever came", async () => {
    const bus = new FakeBus();
    const { memory, inner, reads } = fakeInner(bus);
    await memory.createAccount(account, token);
    const store = new MirroredStore(inner, bus as unknown as Redis, { now: clock, heartbeatMs: 60_000, maxAgeMs: 30_000 });
    await new Promise((r) => setImmediate(r));
    await store.getTokenContext(query);
    await memory.revokeToken('ak_1', 'j1', future()); // behind the mirror's back, never announced
    expect((await store.getTokenContext(query)).tokenRevoked).toBe(false);
    now += 30_000;
    lastHeard(store, now); // the subscription is alive all along
    expect((await store.getTokenContext(query)).tokenRevoked).toBe(true);
    expect(reads.count).toBe(2);
    await store.close();
  });

  test('the mirror is bounded', async () => {
    const bus = new FakeBus();
    const { inner } = fakeInner(bus);
    const store = new MirroredStore(inner, bus as unknown as Redis, { now: clock, heartbeatMs: 60_000, maxAccounts: 3 });
    await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 10; i++) await store.getCredentials(`ak_${i}`);
    expect((store as unknown as { cache: { size: number } }).cache.size).toBeLessThanOrEqual(3);
    await store.close();
  });
});

describeWithRedis('mirror on a real Redis, two instances', () => {
  const prefix = uniquePrefix();
  const channel = `${prefix}mirror`;
  const stores: MirroredStore[] = [];
  const subscribers: Redis[] = [];

  const ready = (client: Redis) =>
    client.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => client.once('ready', () => resolve()));

  async function instance(): Promise<MirroredStore> {
    const subscriber = createRedisClient(testRedisUrl());
    const client = createRedisClient(testRedisUrl());
    subscribers.push(subscriber);
    await Promise.all([ready(subscriber), ready(client)]);
    const store = new MirroredStore(new RedisStore(client, prefix), subscriber, { channel });
    stores.push(store);
    return store;
  }

  afterAll(async () => {
    for (const store of stores) await store.close();
    const raw = rawRedis();
    await deletePrefix(raw, prefix);
    raw.disconnect();
  });

  async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
    const start = Date.now();
    while (Date.now() - start < ms) {
      if (await check()) return Date.now() - start;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`not seen within ${ms} ms`);
  }

  test('a revocation on one instance is seen by the other within 1 s, and checks need no round trip meanwhile', async () => {
    const a = await instance();
    const b = await instance();
    await a.createAccount({ ...account, apiKey: 'ak_m1', id: 'acc_m1' }, token);
    await live(a);
    await live(b);
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
    const a = await instance();
    const b = await instance();
    await a.createAccount({ ...account, apiKey: 'ak_m2', id: 'acc_m2' }, token);
    await live(a);
    await live(b);
    const q = { ...query, apiKey: 'ak_m2', jti: 'j2' };
    await a.getTokenContext(q);
    // A's subscriber stops hearing the channel without closing: nothing tells it so but silence.
    const subscriberOfA = subscribers[subscribers.length - 2]!;
    await subscriberOfA.unsubscribe(channel);
    await b.revokeToken('ak_m2', 'j2', future());
    expect(await within(1000, async () => (await a.getTokenContext(q)).tokenRevoked)).toBeLessThan(1000);
    expect(a.stats.live).toBe(false);
    // Back on the channel: the mirror serves again, emptied first, and stays right.
    await subscriberOfA.subscribe(channel);
    await live(a);
    expect((await a.getTokenContext(q)).tokenRevoked).toBe(true);
  });

  test('a dropped connection resubscribes by itself', async () => {
    const a = await instance();
    await a.createAccount({ ...account, apiKey: 'ak_m3', id: 'acc_m3' }, token);
    await live(a);
    subscribers[subscribers.length - 1]!.disconnect(true);
    await new Promise((r) => setTimeout(r, 50));
    await live(a);
  });
});
