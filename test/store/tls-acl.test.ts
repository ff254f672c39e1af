/**
 * Contract §8: Redis over TLS (rediss://, a private CA in REDIS_TLS_CA_FILE) with an ACL user
 * (REDIS_USERNAME, REDIS_PASSWORD) that may run only the commands the gateway needs: the whole
 * gateway works through it, a wrong password or a missing CA is a 503 that names no
 * credential, and no credential appears in logs, errors or /metrics.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import request from 'supertest';
import Redis from 'ioredis';
import { readFileSync } from 'node:fs';
import { systemClock } from '../../src/clock';
import { loadConfig } from '../../src/config';
import { createStore, type GatewayStore } from '../../src/store';
import { MirroredStore } from '../../src/store/mirrored-store';
import { ADMIN_TOKEN, basicAuth, buildTestGateway } from '../helpers/app';
import { hasTlsTools, startTlsRedis, type ThrowawayTlsRedis } from '../setup/redis-tls';

jest.setTimeout(60_000);

const PREFIX = 'tgtls:';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

(hasTlsTools() || process.env.CI === 'true' ? describe : describe.skip)('Redis over TLS with an ACL user', () => {
  let redis: ThrowawayTlsRedis;
  const logLines: string[] = [];
  const logger = pino({ level: 'debug' }, new Writable({ write: (chunk, _e, done) => (logLines.push(String(chunk)), done()) }));

  beforeAll(async () => {
    redis = await startTlsRedis(PREFIX);
  });
  afterAll(async () => {
    await redis?.stop();
  });

  function storeFor(env: Record<string, string>): GatewayStore {
    return createStore(loadConfig({ REDIS_PREFIX: PREFIX, ...env }), { clock: systemClock, logger });
  }

  async function answers(store: GatewayStore, timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await store.ping();
        return true;
      } catch {
        if (Date.now() > deadline) return false;
        await sleep(50);
      }
    }
  }

  const env = () => ({
    REDIS_URL: `rediss://127.0.0.1:${redis.port}`,
    REDIS_USERNAME: redis.username,
    REDIS_PASSWORD: redis.password,
    REDIS_TLS_CA_FILE: redis.caFile,
  });

  test('the whole gateway works through it: accounts, issuance, checks, revocation, rate limits, the mirror', async () => {
    const store = storeFor(env());
    try {
      expect(await answers(store)).toBe(true);
      const gw = await buildTestGateway({ store: { store, prefix: PREFIX, cleanup: async () => undefined } });
      const acme = await gw.createAccount('Acme');
      const { token } = await gw.issue(acme);
      const introspect = () =>
        request(gw.app).post('/v1/auth/token/introspect').set('Authorization', basicAuth(acme)).type('form').send({ token });
      expect((await introspect()).body.active).toBe(true);
      // The mirror serves (its subscription, version reads and notices pass the ACL).
      for (let i = 0; i < 100 && !(store as MirroredStore).stats.live; i++) {
        await introspect();
        await sleep(20);
      }
      expect((store as MirroredStore).stats.live).toBe(true);
      const wrong = await request(gw.app)
        .post('/v1/auth/token/get')
        .send({ data: { apiKey: acme.apiKey, authToken: 'wrong', userId: 'u', userProperties: { organizationId: 'o' } } });
      expect(wrong.status).toBe(401); // the failed-check limiter ran its commands
      const revoked = await request(gw.app).post('/v1/auth/token/revoke').set('Authorization', basicAuth(acme)).type('form').send({ token });
      expect(revoked.status).toBe(200);
      expect((await introspect()).text).toBe('{"active":false}');
      const metrics = await request(gw.app).get('/metrics');
      expect(metrics.text).not.toContain(redis.password);
      expect((await request(gw.app).get('/readyz')).status).toBe(200);
      void ADMIN_TOKEN;
    } finally {
      await store.close();
    }
  });

  test('the ACL user is limited: what the gateway never runs is refused', async () => {
    const client = new Redis({
      port: redis.port,
      host: '127.0.0.1',
      username: redis.username,
      password: redis.password,
      tls: { ca: readFileSync(redis.caFile) },
      maxRetriesPerRequest: 0,
    });
    try {
      await expect(client.flushall()).rejects.toThrow(/NOPERM/);
      await expect(client.keys('*')).rejects.toThrow(/NOPERM/);
      await expect(client.get('other:key')).rejects.toThrow(/NOPERM/);
    } finally {
      client.disconnect();
    }
  });

  test.each([
    ['a wrong password', { REDIS_PASSWORD: 'not-the-password' }],
    ['no CA file (the server certificate is not trusted)', { REDIS_TLS_CA_FILE: '' }],
    ['plain redis:// to a TLS port', { REDIS_URL: '' }],
  ])('%s: the store is unavailable, and no credential is logged', async (_name, override) => {
    const settings: Record<string, string> = { ...env(), ...override };
    if (settings.REDIS_URL === '') settings.REDIS_URL = `redis://127.0.0.1:${redis.port}`;
    logLines.length = 0;
    const store = storeFor(settings);
    try {
      expect(await answers(store, 1500)).toBe(false);
      const error = await store.ping().catch((e: unknown) => e as Error);
      expect(String(error)).toMatch(/token store unavailable/);
      const everything = `${logLines.join('')}${String(error)}${String((error as Error).cause)}`;
      expect(everything).not.toContain(redis.password);
      expect(everything).not.toContain('not-the-password');
    } finally {
      await store.close();
    }
  });
});
