/**
 * Contract §8, "recovers by itself": ioredis gives a client up for good when its connection is
 * dropped while it is still being made (every command then fails with "Connection is closed.").
 * Under Sentinel a failover does exactly that: the old connection's failover detector hears
 * `+switch-master` while the client is asking the Sentinels for the new primary. Here the same
 * drop is made on purpose (`disconnect(true)`: "drop it and reconnect", while connecting), on
 * a single node and under real Sentinels; the gateway's clients connect again. A client the
 * gateway closes itself stays closed.
 */
import { systemClock } from '../../src/clock';
import { loadConfig } from '../../src/config';
import { createRedisClient, createStore } from '../../src/store';
import { testRedisUrl } from '../helpers/redis';
import { startThrowawaySentinels, type ThrowawaySentinels } from '../setup/redis-sentinel';
import { hasRedisServerBinary } from '../setup/redis-server';

jest.setTimeout(60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function answersWithin(ms: number, ping: () => Promise<unknown>): Promise<string> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    try {
      await ping();
      return 'answers';
    } catch (error) {
      last = String(error);
    }
    await sleep(50);
  }
  return `no answer within ${ms} ms (${last})`;
}

(testRedisUrl() ? describe : describe.skip)('a Redis connection dropped while it is being made', () => {
  test('the client connects again', async () => {
    const client = createRedisClient(testRedisUrl());
    try {
      expect(client.status).toBe('connecting');
      client.disconnect(true);
      expect(await answersWithin(3000, () => client.ping())).toBe('answers');
    } finally {
      client.disconnect();
    }
  });

  test('a client its owner disconnects stays closed', async () => {
    const client = createRedisClient(testRedisUrl());
    expect(await answersWithin(3000, () => client.ping())).toBe('answers');
    client.disconnect();
    await sleep(600);
    expect(client.status).toBe('end');
  });

  test('a client the gateway closes stays closed', async () => {
    const store = createStore(loadConfig({ REDIS_URL: testRedisUrl(), REDIS_PREFIX: 'tgreconnect:' }), { clock: systemClock });
    expect(await answersWithin(3000, () => store.ping())).toBe('answers');
    const client = store.redisBacking()!.client;
    await store.close();
    await sleep(600);
    expect(client.status).toBe('end');
  });
});

(hasRedisServerBinary() ? describe : describe.skip)('under Sentinel', () => {
  let deployment: ThrowawaySentinels;
  beforeAll(async () => {
    deployment = await startThrowawaySentinels();
  });
  afterAll(async () => {
    await deployment?.stop();
  });

  test('the store connects again', async () => {
    const store = createStore(loadConfig({ REDIS_SENTINELS: deployment.sentinelsList, REDIS_PREFIX: 'tgreconnect:' }), {
      clock: systemClock,
    });
    try {
      const client = store.redisBacking()!.client;
      expect(client.status).toBe('connecting');
      // What the failover detector does when `+switch-master` comes while the client connects.
      client.disconnect(true);
      expect(await answersWithin(5000, () => store.ping())).toBe('answers');
      // A durable change: written on the primary, acknowledged by its replicas, read back.
      const exp = Math.floor(Date.now() / 1000) + 60;
      await store.revokeToken('ak_reconnect', 'j1', exp);
      expect((await store.getTokenContext({ apiKey: 'ak_reconnect', jti: 'j1' })).tokenRevoked).toBe(true);
    } finally {
      await store.close();
    }
  });
});
