/**
 * The Redis store on a Redis Cluster (three masters, started here): the same store behaviours
 * as on memory and Redis, the key layout (every key of an account in one slot), and two
 * gateway instances sharing the cluster: a revocation on one is seen by the other.
 *
 * Runs when TEST_REDIS_CLUSTER=1, and always under CI (where it fails rather than skips).
 */
import request from 'supertest';
import { Cluster } from 'ioredis';
import { loadConfig } from '../../src/config';
import { systemClock } from '../../src/clock';
import { createRedisClusterClient, createStore, RedisStore } from '../../src/store';
import { basicAuth, buildTestGateway, type TestGateway, forwardAuthPath } from '../helpers/app';
import { makeKeysDir } from '../helpers/keys';
import { describeIf } from '../helpers/skip';
import { makeStore, REDIS_CLUSTER_WANTED, type TestStore } from '../helpers/stores';
import { startThrowawayRedisCluster, type ThrowawayRedisCluster } from '../setup/redis-cluster';
import { storeSuite } from './store-behaviours';

jest.setTimeout(60_000);

const describeCluster = describeIf(
  REDIS_CLUSTER_WANTED,
  'the Redis Cluster suite (test/store/cluster.test.ts) starts a six-node cluster and runs only when TEST_REDIS_CLUSTER=1 or CI=true',
);

const now = () => Math.floor(Date.now() / 1000);

describeCluster('Redis Cluster', () => {
  let cluster: ThrowawayRedisCluster;

  beforeAll(async () => {
    cluster = await startThrowawayRedisCluster();
    process.env.TEST_REDIS_CLUSTER_NODES = cluster.nodesList;
  });
  afterAll(async () => {
    delete process.env.TEST_REDIS_CLUSTER_NODES;
    await cluster?.stop();
  });

  describe('redis-cluster store', () => {
    storeSuite('redis-cluster');
  });

  test('createStore uses the cluster when REDIS_CLUSTER_NODES is set', async () => {
    const store = createStore(loadConfig({ REDIS_CLUSTER_NODES: cluster.nodesList, REDIS_PREFIX: 'tgtest:create:' }), {
      clock: systemClock,
    });
    try {
      const deadline = Date.now() + 5000;
      for (;;) {
        try {
          await store.ping();
          break;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      const redisStore = store instanceof RedisStore ? store : (store as unknown as { inner?: unknown }).inner;
      expect(redisStore).toBeInstanceOf(RedisStore);
      expect((redisStore as RedisStore).client).toBeInstanceOf(Cluster);
    } finally {
      await store.close();
    }
  });

  describe('layout', () => {
    test('every key of one account hashes to one slot, and records expire at the token exp', async () => {
      const t = await makeStore('redis-cluster');
      const client = (t.store as RedisStore).client;
      try {
        const exp = now() + 3600;
        await t.store.createAccount(
          { id: 'acc_slot', name: 'Slot', apiKey: 'ak_slot', createdAt: 'T' },
          { id: 'atk_slot', hash: 'a'.repeat(64), createdAt: 'T' },
        );
        await t.store.recordIssuedToken({ jti: 'jx', apiKey: 'ak_slot', userId: 'u {x}', organizationId: 'o', iat: now(), exp });
        await t.store.revokeToken('ak_slot', 'jx', exp);
        await t.store.revokeUser('ak_slot', 'u {x}', now(), exp + 10);
        await t.store.revokeOrganization('ak_slot', 'o', now(), exp + 10);
        await t.store.putUser('ak_slot', 'u {x}', { organizationIds: ['o'], updatedAt: 'T' });
        await t.store.setSigningKey('ak_slot', 'PEM');

        const keys: string[] = [];
        for (const node of (client as Cluster).nodes('master')) {
          keys.push(...(await node.keys(`${t.prefix}*`)));
        }
        const accountKeys = keys.filter((k) => k.includes('{ak_slot}'));
        expect(accountKeys.length).toBe(8);
        const slots = new Set(await Promise.all(accountKeys.map((k) => client.call('CLUSTER', 'KEYSLOT', k))));
        expect(slots.size).toBe(1);
        expect(await client.call('PEXPIRETIME', `${t.prefix}{ak_slot}:t:jx`)).toBe(exp * 1000);

        // The pipelines of a check and of issuance read them together.
        const ctx = await t.store.getTokenContext({ apiKey: 'ak_slot', jti: 'jx', userId: 'u {x}', organizationId: 'o', withSigningKey: true });
        expect(ctx).toMatchObject({ tokenRevoked: true, signingKey: 'PEM' });
        expect((await t.store.getIssuanceContext('ak_slot', 'u {x}'))?.user?.organizationIds).toEqual(['o']);
        expect(await t.store.findAccountById('acc_slot')).toMatchObject({ apiKey: 'ak_slot' });

        // What the one-slot layout avoids: a transaction across slots is refused (CROSSSLOT), and
        // the cluster client refuses a pipeline whose keys live on different nodes.
        const mine = `${t.prefix}{ak_slot}:x`;
        const slotOf = async (key: string) => Number(await client.call('CLUSTER', 'KEYSLOT', key));
        const ownerOf = (slot: number) => (client as Cluster).slots[slot]?.[0];
        let elsewhere = '';
        for (let i = 0; i < 200 && !elsewhere; i += 1) {
          const candidate = `${t.prefix}{ak_other${i}}:x`;
          if (ownerOf(await slotOf(candidate)) !== ownerOf(await slotOf(mine))) elsewhere = candidate;
        }
        expect(elsewhere).not.toBe('');
        await expect(client.pipeline().get(mine).get(elsewhere).exec()).rejects.toThrow(/slot/i);
        await expect(client.multi().set(mine, '1').set(elsewhere, '1').exec()).rejects.toThrow(/slot/i);
      } finally {
        await t.cleanup();
      }
    });
  });

  describe('two gateway instances on one cluster', () => {
    let shared: TestStore;
    let second: RedisStore;
    let a: TestGateway;
    let b: TestGateway;

    beforeEach(async () => {
      shared = await makeStore('redis-cluster');
      const client = createRedisClusterClient(cluster.nodes);
      await new Promise<void>((resolve, reject) => {
        client.once('ready', () => resolve());
        client.once('error', reject);
      });
      second = new RedisStore(client, shared.prefix);
      const keysDir = makeKeysDir();
      a = await buildTestGateway({ store: shared, keysDir });
      b = await buildTestGateway({ store: { store: second, prefix: shared.prefix, cleanup: () => second.close() }, keysDir });
    });
    afterEach(async () => {
      await second.close();
      await shared.cleanup();
    });

    test('a token issued by one is accepted by the other; revoked on one, it is rejected by the other', async () => {
      const acme = await a.createAccount('Acme');
      const { token, data } = await a.issue(acme);
      const introspect = (gw: TestGateway) =>
        request(gw.app).post('/v1/auth/token/introspect').set('Authorization', basicAuth(acme)).type('form').send({ token });
      const verify = (gw: TestGateway) => request(gw.app).get(forwardAuthPath(token)).set('Authorization', `Bearer ${token}`);

      expect((await introspect(b)).body).toMatchObject({ active: true, jti: data.tokenId });
      expect((await verify(b)).status).toBe(200);

      const revoked = await request(a.app)
        .post('/v1/auth/token/revoke')
        .set('Authorization', basicAuth(acme))
        .type('form')
        .send({ token });
      expect(revoked.status).toBe(200);

      // Contract §8: within 1 s on every instance; here at once, the store being shared.
      const deadline = Date.now() + 1000;
      let fwd = await verify(b);
      while (fwd.status === 200 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        fwd = await verify(b);
      }
      expect(fwd.status).toBe(401);
      expect(fwd.body.error.code).toBe('token_revoked');
      expect((await introspect(b)).text).toBe('{"active":false}');
      expect((await introspect(a)).text).toBe('{"active":false}');
    });

    test('user revocation on one instance reaches the other', async () => {
      const acme = await b.createAccount('Acme');
      const { token } = await b.issue(acme);
      const res = await request(b.app)
        .post('/v1/auth/users/revoke')
        .set('Authorization', basicAuth(acme))
        .send({ data: { userId: 'user-1' } });
      expect(res.status).toBe(200);
      const identify = await request(a.app)
        .post('/v1/auth/identify')
        .send({ data: { apiKey: acme.apiKey, token, user: { userId: 'user-1', organizationId: 'org-1' } } });
      expect(identify.status).toBe(401);
      expect(identify.body.error.code).toBe('token_revoked');
    });
  });
});

describe('REDIS_CLUSTER_NODES', () => {
  test('is a comma list of host:port seed nodes, with the store prefix', () => {
    const config = loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000, redis-1.internal:7001,[::1]:7002', REDIS_PREFIX: 'gw:' });
    expect(config.redisCluster).toEqual({
      nodes: [
        { host: '127.0.0.1', port: 7000 },
        { host: 'redis-1.internal', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      prefix: 'gw:',
    });
    expect(config.redis).toBeUndefined();
    expect(loadConfig({}).redisCluster).toBeUndefined();
  });

  test.each([['127.0.0.1'], ['host:port'], ['h:0'], ['h:70000']])('refuses %s', (value) => {
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: value })).toThrow(/REDIS_CLUSTER_NODES/);
  });

  test('cannot be combined with REDIS_URL', () => {
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000', REDIS_URL: 'redis://127.0.0.1:6379' })).toThrow(
      /REDIS_CLUSTER_NODES and REDIS_URL/,
    );
  });
});

describeCluster('Redis Cluster with a password', () => {
  test('REDIS_PASSWORD reaches every node; without it the store is unavailable, naming no credential', async () => {
    const password = 'cluster-test-secret-pw';
    const secured = await startThrowawayRedisCluster(3, 30_000, password);
    const settings = { REDIS_CLUSTER_NODES: secured.nodesList, REDIS_PREFIX: 'tgtest:pw:' };
    const withPassword = createStore(loadConfig({ ...settings, REDIS_PASSWORD: password }), { clock: systemClock });
    const without = createStore(loadConfig(settings), { clock: systemClock });
    try {
      let answered = false;
      for (let i = 0; i < 100 && !answered; i++) {
        answered = await withPassword.ping().then(() => true, () => false);
        if (!answered) await new Promise((r) => setTimeout(r, 50));
      }
      expect(answered).toBe(true);
      await withPassword.revokeToken('ak_pw', 'j1', now() + 60);
      expect((await withPassword.getTokenContext({ apiKey: 'ak_pw', jti: 'j1' })).tokenRevoked).toBe(true);
      const error = await without.ping().then(() => undefined, (e: unknown) => e);
      expect(String(error)).toMatch(/token store unavailable/);
      expect(`${String(error)} ${String((error as Error).cause)}`).not.toContain(password);
    } finally {
      await withPassword.close();
      await without.close();
      await secured.stop();
    }
  });
});
