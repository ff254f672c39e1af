/**
 * Contract §8: where the store has replicas, a revocation (and an auth-token deletion, a
 * signing-key change) is answered only once every replica the primary reports has it, within
 * REDIS_WAIT_TIMEOUT_MS, else 503. A real primary and a real replica (throwaway redis-servers),
 * the replica's replication link through a fault proxy: first slowed (so that a gateway that
 * did not wait would answer before the replica has the change), then hung.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { createRedisClient, RedisStore, StoreUnavailableError } from '../../src/store';
import { startFaultProxy, type FaultProxy } from '../setup/fault-proxy';
import { hasRedisServerBinary, startThrowawayRedis, type ThrowawayRedis } from '../setup/redis-server';

jest.setTimeout(60_000);

const future = () => Math.floor(Date.now() / 1000) + 3600;
const prefix = 'tgdurable:';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

(hasRedisServerBinary() ? describe : describe.skip)('durable changes on a primary with a replica', () => {
  let primary: ThrowawayRedis;
  let replica: ThrowawayRedis;
  let link: FaultProxy;
  let store: RedisStore;
  let replicaClient: Redis;
  let dir = '';

  beforeAll(async () => {
    primary = await startThrowawayRedis();
    link = await startFaultProxy([primary.port]);
    // A replica writes the RDB a full sync sends it: into a temporary folder, not the working one.
    dir = mkdtempSync(path.join(os.tmpdir(), 'tg-durability-'));
    replica = await startThrowawayRedis(undefined, ['--replicaof', '127.0.0.1', String(link.ports.get(primary.port)), '--dir', dir]);
    const primaryClient = new Redis(primary.url);
    for (let i = 0; !/slave0:.*state=online/.test(await primaryClient.info('replication')); i++) {
      if (i > 200) throw new Error('the replica never came online');
      await sleep(50);
    }
    primaryClient.disconnect();
    const client = createRedisClient(primary.url);
    await new Promise((resolve) => client.once('ready', resolve));
    store = new RedisStore(client, prefix, { waitTimeoutMs: 500 });
    replicaClient = new Redis(replica.url);
    await store.createAccount({ id: 'acc_d', name: 'D', apiKey: 'ak_d', createdAt: 'T' }, { id: 'atk_d', hash: 'a'.repeat(64), createdAt: 'T' });
  });
  afterAll(async () => {
    replicaClient?.disconnect();
    await store?.close();
    await link?.stop();
    await replica?.stop();
    await primary?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    link.resume();
    await link.command({ clear: true });
  });

  test('a revocation is answered only once the replica has it (its link 200 ms behind)', async () => {
    await link.command({ delayDown: 200 });
    const started = Date.now();
    await store.revokeToken('ak_d', 'j-slow', future());
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(await replicaClient.exists(`${prefix}{ak_d}:r:j-slow`)).toBe(1);
  });

  test('a replica that does not acknowledge within REDIS_WAIT_TIMEOUT_MS makes every durable change a 503', async () => {
    link.stall();
    const durable: Array<[string, () => Promise<unknown>]> = [
      ['revokeToken', () => store.revokeToken('ak_d', 'j-hung', future())],
      ['revokeUser', () => store.revokeUser('ak_d', 'u', 1, future())],
      ['revokeOrganization', () => store.revokeOrganization('ak_d', 'o', 1, future())],
      ['deleteAuthToken', () => store.deleteAuthToken('ak_d', 'atk_none')],
      ['setSigningKey', () => store.setSigningKey('ak_d', 'PEM')],
      ['deleteSigningKey', () => store.deleteSigningKey('ak_d')],
    ];
    for (const [name, change] of durable) {
      const started = Date.now();
      const outcome = await change().then(
        () => 'answered',
        (error: unknown) => (error instanceof StoreUnavailableError ? 'unavailable' : String(error)),
      );
      expect([name, outcome]).toEqual([name, 'unavailable']);
      const waited = Date.now() - started;
      expect(waited).toBeGreaterThanOrEqual(450);
      expect(waited).toBeLessThan(1500);
    }
    // Writes a failover may lose without harm (a token record, a user entry) do not wait.
    await store.putUser('ak_d', 'u2', { organizationIds: ['o'], updatedAt: 'T' });
  });

  test('once the replica acknowledges again, revocations are answered again', async () => {
    await store.revokeToken('ak_d', 'j-back', future());
    expect(await replicaClient.exists(`${prefix}{ak_d}:r:j-back`)).toBe(1);
  });

  test('a primary without replicas does not wait', async () => {
    const lone = await startThrowawayRedis();
    const alone = new RedisStore(createRedisClient(lone.url), prefix, { waitTimeoutMs: 500 });
    try {
      for (let i = 0; ; i++) {
        try {
          await alone.ping();
          break;
        } catch (error) {
          if (i > 100) throw error;
          await sleep(20);
        }
      }
      await alone.revokeToken('ak_d', 'j', future());
      // ...unless it must have one (Sentinel): then no replica means 503.
      const strict = new RedisStore(createRedisClient(lone.url), prefix, { waitTimeoutMs: 300, minReplicas: 1 });
      await sleep(100);
      await expect(strict.revokeToken('ak_d', 'j2', future())).rejects.toBeInstanceOf(StoreUnavailableError);
      await strict.close();
    } finally {
      await alone.close();
      await lone.stop();
    }
  });
});
