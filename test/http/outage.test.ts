/**
 * Contract §8 (store outage), with §2, §3 and §4: while Redis is down every answer that depends
 * on it is 503 store_unavailable within 1 s (introspection and revocation in RFC 6749 §5.2 form),
 * nothing answers 200 or active, /readyz is 503; once Redis is back on the same port the same app
 * instance recovers by itself.
 *
 * The Redis here is a throwaway redis-server this test starts on a free loopback port and kills.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { createRedisClient, redisStore, type GatewayStore } from '../../src/store';
import { ADMIN_TOKEN, basicAuth, buildTestGateway, type TestAccount, type TestGateway, forwardAuthPath } from '../helpers/app';
import { rsaKeyPairPem } from '../helpers/keys';
import { uniquePrefix } from '../helpers/redis';
import { describeIf } from '../helpers/skip';
import { hasRedisServerBinary, startThrowawayRedis, type ThrowawayRedis } from '../setup/redis-server';

const describeWithBinary = describeIf(
  hasRedisServerBinary(),
  'the Redis outage suite (test/http/outage.test.ts) needs a redis-server binary to start and kill; install redis-server (under CI=true it is required)',
);
const BOUND_MS = 1000;
const USER = { userId: 'user-1', organizationId: 'org-1', email: 'user@example.com' };

jest.setTimeout(60_000);

describeWithBinary.each([
  ['with the local mirror (the default)', true],
  ['without the mirror (REDIS_MIRROR=false)', false],
])('a Redis outage, %s', (_label, mirror) => {
  let redis: ThrowawayRedis;
  let gw: TestGateway;
  let store: GatewayStore;

  beforeEach(async () => {
    redis = await startThrowawayRedis();
    const prefix = uniquePrefix();
    store = redisStore(createRedisClient(redis.url), prefix, mirror);
    await waitFor(async () => {
      await store.ping();
      return true;
    });
    gw = await buildTestGateway({ store: { store, prefix, cleanup: () => store.close() } });
  });
  afterEach(async () => {
    await store.close();
    await stopRedis();
  });

  /**
   * Stops the current redis-server once. ThrowawayRedis.stop() waits for an 'exit' event, which
   * a second call on a process already killed by a signal never gets (its exitCode stays null).
   */
  const stopped = new WeakSet<ThrowawayRedis>();
  async function stopRedis(): Promise<void> {
    if (stopped.has(redis)) return;
    stopped.add(redis);
    await redis.stop();
  }

  /** Polls `check` until it is true, up to `timeoutMs`. */
  async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        if (await check()) return;
      } catch {
        // not yet
      }
      if (Date.now() > deadline) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Every request that depends on the store, for an account and a token issued before the outage. */
  function storeDependentRequests(account: TestAccount, token: string): Array<[string, 'envelope' | 'oauth', () => request.Test]> {
    const auth = basicAuth(account);
    return [
      ['issuance', 'envelope', () =>
        request(gw.app).post('/v1/auth/token/get').send({
          data: { apiKey: account.apiKey, authToken: account.authToken, userId: 'user-1', userProperties: { organizationId: 'org-1' } },
        })],
      ['identify', 'envelope', () =>
        request(gw.app).post('/v1/auth/identify').send({ data: { apiKey: account.apiKey, token, user: USER } })],
      ['introspection', 'oauth', () =>
        request(gw.app).post('/v1/auth/token/introspect').set('Authorization', auth).type('form').send({ token })],
      ['introspection with body credentials', 'oauth', () =>
        request(gw.app).post('/v1/auth/token/introspect').type('form').send({ token, client_id: account.apiKey, client_secret: account.authToken })],
      ['forward auth', 'envelope', () => request(gw.app).get(forwardAuthPath(token)).set('Authorization', `Bearer ${token}`)],
      ['forward auth with a permission', 'envelope', () =>
        request(gw.app).post(forwardAuthPath(token, { permission: 'document:read' })).set('Authorization', `Bearer ${token}`)],
      ['token revocation', 'oauth', () =>
        request(gw.app).post('/v1/auth/token/revoke').set('Authorization', auth).type('form').send({ token })],
      ['user revocation', 'envelope', () =>
        request(gw.app).post('/v1/auth/users/revoke').set('Authorization', auth).send({ data: { userId: 'user-1' } })],
      ['organization revocation', 'envelope', () =>
        request(gw.app).post('/v1/auth/organizations/revoke').set('Authorization', auth).send({ data: { organizationId: 'org-1' } })],
      ['authorize', 'envelope', () =>
        request(gw.app).post('/v1/auth/authorize').send({ data: { apiKey: account.apiKey, token, permission: 'document:read' } })],
      ['admin: create an account', 'envelope', () =>
        request(gw.app).post('/v1/admin/accounts').set('Authorization', `Bearer ${ADMIN_TOKEN}`).send({ data: { name: 'Initech' } })],
      ['admin: list auth tokens', 'envelope', () =>
        request(gw.app).get(`/v1/admin/accounts/${account.account.id}/auth-tokens`).set('Authorization', `Bearer ${ADMIN_TOKEN}`)],
      ['admin: add an auth token', 'envelope', () =>
        request(gw.app).post(`/v1/admin/accounts/${account.account.id}/auth-tokens`).set('Authorization', `Bearer ${ADMIN_TOKEN}`)],
      ['account/me', 'envelope', () => request(gw.app).get('/v1/account/me').set('Authorization', auth)],
      ['signing key', 'envelope', () =>
        request(gw.app).put('/v1/account/signing-key').set('Authorization', auth).send({ data: { publicKey: rsaKeyPairPem().publicKey } })],
      ['user directory', 'envelope', () => request(gw.app).get('/v1/users/user-1').set('Authorization', auth)],
    ];
  }

  async function expectWorking(account: TestAccount): Promise<void> {
    const { token } = await gw.issue(account, { policy: { allow: ['*'] } });
    const id = await request(gw.app).post('/v1/auth/identify').send({ data: { apiKey: account.apiKey, token, user: USER } });
    expect(id.status).toBe(200);
    const intro = await request(gw.app).post('/v1/auth/token/introspect').set('Authorization', basicAuth(account)).type('form').send({ token });
    expect(intro.body.active).toBe(true);
    expect((await request(gw.app).get(forwardAuthPath(token)).set('Authorization', `Bearer ${token}`)).status).toBe(200);
    const az = await request(gw.app).post('/v1/auth/authorize').send({ data: { apiKey: account.apiKey, token, permission: 'x' } });
    expect(az.status).toBe(200);
    const revoked = await request(gw.app).post('/v1/auth/token/revoke').set('Authorization', basicAuth(account)).type('form').send({ token });
    expect(revoked.status).toBe(200);
    expect((await request(gw.app).get(forwardAuthPath(token)).set('Authorization', `Bearer ${token}`)).status).toBe(401);
  }

  test('every store-dependent answer is a prompt 503 store_unavailable; the same instance recovers when Redis is back', async () => {
    const acme = await gw.createAccount('Acme');
    await expectWorking(acme);
    const { token } = await gw.issue(acme, { policy: { allow: ['*'] } });
    expect((await request(gw.app).get('/readyz')).status).toBe(200);

    await stopRedis();

    // /readyz turns 503 (bare JSON, not an envelope).
    const startedReady = Date.now();
    const readyz = await request(gw.app).get('/readyz');
    expect(Date.now() - startedReady).toBeLessThan(BOUND_MS);
    expect(readyz.status).toBe(503);
    expect(readyz.body.checks.store).toBe(false);

    for (const [name, style, send] of storeDependentRequests(acme, token)) {
      const started = Date.now();
      const res = await send();
      const elapsed = Date.now() - started;
      const context = `${name}: ${res.status} ${res.text} in ${elapsed} ms`;
      expect([context, res.status]).toEqual([context, 503]);
      expect([context, elapsed < BOUND_MS]).toEqual([context, true]);
      expect(res.headers['x-auth-user-id']).toBeUndefined();
      if (style === 'oauth') {
        expect([context, res.body]).toEqual([
          context,
          {
            error: 'temporarily_unavailable',
            error_description: expect.any(String),
            status: 'UNAVAILABLE',
            code: 'store_unavailable',
            retryable: true,
          },
        ]);
        expect(res.body.active).toBeUndefined();
      } else {
        expect([context, res.body]).toEqual([
          context,
          { error: { message: expect.any(String), status: 'UNAVAILABLE', code: 'store_unavailable', retryable: true } },
        ]);
      }
      expect(res.text).not.toContain(token);
      expect(res.text).not.toContain(acme.authToken);
    }

    // Requests that do not depend on the store still answer.
    expect((await request(gw.app).get('/healthz')).status).toBe(200);
    expect((await request(gw.app).get('/.well-known/jwks.json')).status).toBe(200);

    // Back on the same port: the same app instance recovers by itself.
    redis = await startThrowawayRedis(redis.port);
    await waitFor(async () => (await request(gw.app).get('/readyz')).status === 200);
    // This Redis has no persistence: everything it held is gone with the restart, so the
    // account is created again before checking that the gateway works.
    const again = await gw.createAccount('Acme again');
    await expectWorking(again);
  });

  test('a hung Redis (SIGSTOP, no connection drop): from 1 s on everything is 503, each answer within 1 s; it recovers on SIGCONT', async () => {
    const acme = await gw.createAccount('Acme');
    const { token } = await gw.issue(acme, { policy: { allow: ['*'] } });
    await expectWorking(acme); // every cache in front of Redis is warm
    redis.process.kill('SIGSTOP');
    try {
      const stoppedAt = Date.now();
      await new Promise((r) => setTimeout(r, BOUND_MS - (Date.now() - stoppedAt)));
      const readyz = await request(gw.app).get('/readyz');
      expect(readyz.status).toBe(503);
      for (const [name, , send] of storeDependentRequests(acme, token)) {
        const started = Date.now();
        const res = await send();
        const context = `${name}: ${res.status} ${res.text} in ${Date.now() - started} ms`;
        expect([context, res.status]).toEqual([context, 503]);
        expect([context, Date.now() - started < BOUND_MS]).toEqual([context, true]);
      }
    } finally {
      redis.process.kill('SIGCONT');
    }
    await waitFor(async () => (await request(gw.app).get('/readyz')).status === 200);
    await expectWorking(acme);
  });

  test('many concurrent requests during the outage all fail within the bound (no queue)', async () => {
    const acme = await gw.createAccount('Acme');
    const { token } = await gw.issue(acme);
    await stopRedis();
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => request(gw.app).get(forwardAuthPath(token)).set('Authorization', `Bearer ${token}`)),
    );
    expect(Date.now() - started).toBeLessThan(BOUND_MS * 2);
    for (const res of answers) {
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('store_unavailable');
    }
  });

  test('with a persistent Redis, nothing revoked before the outage is accepted after it', async () => {
    // Restart this test's Redis with an append-only file synced on every write.
    await stopRedis();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tg-redis-aof-'));
    const redisArgs = ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir];
    redis = await startThrowawayRedis(redis.port, redisArgs);
    try {
      await waitFor(async () => (await request(gw.app).get('/readyz')).status === 200);
      const acme = await gw.createAccount('Acme');
      const { token: revoked } = await gw.issue(acme);
      const { token: ofUser } = await gw.issue(acme, { userId: 'user-2' });
      const { token: live } = await gw.issue(acme, { userId: 'user-3' });
      const auth = basicAuth(acme);
      expect((await request(gw.app).post('/v1/auth/token/revoke').set('Authorization', auth).type('form').send({ token: revoked })).status).toBe(200);
      expect((await request(gw.app).post('/v1/auth/users/revoke').set('Authorization', auth).send({ data: { userId: 'user-2' } })).status).toBe(200);

      await stopRedis();
      expect((await request(gw.app).get(forwardAuthPath(live)).set('Authorization', `Bearer ${live}`)).status).toBe(503);
      redis = await startThrowawayRedis(redis.port, redisArgs);
      await waitFor(async () => (await request(gw.app).get('/readyz')).status === 200);

      for (const token of [revoked, ofUser]) {
        const res = await request(gw.app).get(forwardAuthPath(token)).set('Authorization', `Bearer ${token}`);
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('token_revoked');
        const intro = await request(gw.app).post('/v1/auth/token/introspect').set('Authorization', auth).type('form').send({ token });
        expect(intro.text).toBe('{"active":false}');
      }
      expect((await request(gw.app).get(forwardAuthPath(live)).set('Authorization', `Bearer ${live}`)).status).toBe(200);
    } finally {
      await stopRedis();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
