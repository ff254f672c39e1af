/**
 * Abuse limits (contract §8) on both stores: failed credential checks per address and per
 * apiKey, the issuance quota, 429 RESOURCE_EXHAUSTED/rate_limited with a whole-seconds
 * Retry-After, the defaults, the no-lock-out rule, limits shared through Redis, and a
 * limiter store failure that fails closed.
 */
import request from 'supertest';
import type { Express } from 'express';
import { takesCredentials } from '../../src/app';
import { routeTable } from '../../src/http/routes';
import { AbuseLimiter, CLEAN_ADDRESS_MS } from '../../src/http/rate-limit';
import { DEFAULT_ISSUANCE_QUOTA_PER_MINUTE } from '../../src/config';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import Redis from 'ioredis';
import { RedisStore } from '../../src/store';
import { ADMIN_TOKEN, basicAuth, buildTestGateway, type TestAccount, type TestGateway, forwardAuthPath } from '../helpers/app';
import { NO_REDIS_REASON } from '../helpers/redis';
import { describeIf } from '../helpers/skip';
import { makeStore, STORE_KINDS, type StoreKind } from '../helpers/stores';

/** One proxy hop is trusted, so X-Forwarded-For names the client address in these tests. */
const PROXIED = { TRUST_PROXY: '1' };

const WRONG = 'at_wrong_wrong_wrong_wrong_wrong_wrong_wrong';

let addressCounter = 0;
/** A fresh client address for each call, so a test never meets another's counters. */
const freshAddress = (): string => {
  addressCounter += 1;
  return `10.${(addressCounter >> 16) & 255}.${(addressCounter >> 8) & 255}.${addressCounter & 255}`;
};

function me(app: Express, credentials: { apiKey: string; authToken: string }, address: string) {
  return request(app).get('/v1/account/me').set('X-Forwarded-For', address).set('Authorization', basicAuth(credentials));
}

function expectRateLimited(res: request.Response, windowSeconds = 60): void {
  expect(res.status).toBe(429);
  expect(res.body.error).toMatchObject({ status: 'RESOURCE_EXHAUSTED', code: 'rate_limited', retryable: true });
  const retryAfter = res.headers['retry-after'];
  expect(retryAfter).toMatch(/^\d+$/);
  expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  expect(Number(retryAfter)).toBeLessThanOrEqual(windowSeconds);
}

describe('which routes count failed credential checks', () => {
  it('are exactly the routes that take account or admin credentials', async () => {
    const gw = await buildTestGateway();
    try {
      const limited = routeTable(gw.context).filter(takesCredentials).map((r) => r.path).sort();
      expect(limited).toEqual(
        [
          '/v1/account/events',
          '/v1/account/me',
          '/v1/account/signing-key',
          '/v1/account/webhooks',
          '/v1/account/webhooks/:webhookId',
          '/v1/account/webhooks/:webhookId/deliveries',
          '/v1/admin/accounts',
          '/v1/admin/accounts/:accountId/webhooks',
          '/v1/admin/accounts/:accountId/webhooks/:webhookId',
          '/v1/admin/accounts/:accountId/webhooks/:webhookId/deliveries',
          '/v1/admin/events',
          '/v1/admin/accounts/:accountId/auth-tokens',
          '/v1/admin/accounts/:accountId/auth-tokens/:authTokenId',
          '/v1/auth/organizations/revoke',
          '/v1/auth/token/get',
          '/v1/auth/token/introspect',
          '/v1/auth/token/revoke',
          '/v1/auth/users/revoke',
          '/v1/users/:userId',
        ].sort(),
      );
    } finally {
      await gw.close();
    }
  });
});

describe.each(STORE_KINDS)('%s store', (kind: StoreKind) => {
  const gateways: TestGateway[] = [];
  const gateway = async (env: Record<string, string> = {}): Promise<TestGateway> => {
    const gw = await buildTestGateway({ store: kind, env: { ...PROXIED, ...env } });
    gateways.push(gw);
    return gw;
  };
  afterEach(async () => {
    await Promise.all(gateways.splice(0).map((gw) => gw.close()));
  });

  describe('the defaults leave room for honest traffic', () => {
    it('allow 60 failed checks a minute from one address before a 429', async () => {
      const gw = await gateway();
      const address = freshAddress();
      for (let i = 0; i < 60; i += 1) {
        // A different (unknown) apiKey each time, so only the address limit is in play.
        const res = await me(gw.app, { apiKey: `ak_unknown_${i}`, authToken: WRONG }, address);
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('invalid_credentials');
      }
      expectRateLimited(await me(gw.app, { apiKey: 'ak_unknown_60', authToken: WRONG }, address));
    });

    it('allow 30 failed checks a minute on one apiKey before a 429', async () => {
      const gw = await gateway();
      const account = await gw.createAccount();
      for (let i = 0; i < 30; i += 1) {
        const res = await me(gw.app, { apiKey: account.apiKey, authToken: WRONG }, freshAddress());
        expect(res.status).toBe(401);
      }
      expectRateLimited(await me(gw.app, { apiKey: account.apiKey, authToken: WRONG }, freshAddress()));
    });
  });

  describe('the apiKey limit is no lock-out', () => {
    let gw: TestGateway;
    let account: TestAccount;
    let attacker: string;
    beforeEach(async () => {
      gw = await gateway({ RATE_LIMIT_FAILED_AUTH_PER_API_KEY: '3', RATE_LIMIT_FAILED_AUTH_PER_ADDRESS: '100' });
      account = await gw.createAccount();
      attacker = freshAddress();
      for (let i = 0; i < 3; i += 1) {
        expect((await me(gw.app, { apiKey: account.apiKey, authToken: WRONG }, attacker)).status).toBe(401);
      }
      expectRateLimited(await me(gw.app, { apiKey: account.apiKey, authToken: WRONG }, attacker));
    });

    it('a wrong credential gets 429 from any address while the apiKey is limited', async () => {
      expectRateLimited(await me(gw.app, { apiKey: account.apiKey, authToken: WRONG }, freshAddress()));
      // No credential at all is a failed check too.
      const bare = await request(gw.app).get('/v1/account/me').set('X-Forwarded-For', freshAddress());
      expect(bare.status).toBe(401);
    });

    it('the correct credential still works, from another address and from the attacker\'s own', async () => {
      const fromElsewhere = await me(gw.app, account, freshAddress());
      expect(fromElsewhere.status).toBe(200);
      expect(fromElsewhere.body.result.data.account.apiKey).toBe(account.apiKey);
      expect((await me(gw.app, account, attacker)).status).toBe(200);
    });

    it('issuance with the correct pair still works; with a wrong one it is 429', async () => {
      await expect(gw.issue(account)).resolves.toMatchObject({ token: expect.any(String) });
      const wrong = await request(gw.app)
        .post('/v1/auth/token/get')
        .set('X-Forwarded-For', freshAddress())
        .send({ data: { apiKey: account.apiKey, authToken: WRONG, userId: 'u', userProperties: { organizationId: 'o' } } });
      expectRateLimited(wrong);
    });

    it('another account is not affected', async () => {
      const other = await gw.createAccount('Other');
      expect((await me(gw.app, { apiKey: other.apiKey, authToken: WRONG }, freshAddress())).status).toBe(401);
    });
  });

  describe('the address limit', () => {
    let gw: TestGateway;
    let account: TestAccount;
    let address: string;
    beforeEach(async () => {
      gw = await gateway({ RATE_LIMIT_FAILED_AUTH_PER_ADDRESS: '3' });
      account = await gw.createAccount();
      address = freshAddress();
      for (let i = 0; i < 3; i += 1) {
        expect((await me(gw.app, { apiKey: `ak_guess_${i}`, authToken: WRONG }, address)).status).toBe(401);
      }
      expectRateLimited(await me(gw.app, { apiKey: 'ak_guess_3', authToken: WRONG }, address));
    });

    it('refuses a limited address before its credentials are checked, right ones included', async () => {
      expectRateLimited(await me(gw.app, account, address));
      const admin = await request(gw.app)
        .post('/v1/admin/accounts')
        .set('X-Forwarded-For', address)
        .set('Authorization', `Bearer ${ADMIN_TOKEN}`)
        .send({ data: { name: 'X' } });
      expectRateLimited(admin);
    });

    it('leaves other addresses alone', async () => {
      expect((await me(gw.app, account, freshAddress())).status).toBe(200);
    });

    it('does not touch routes without account credentials', async () => {
      const { token } = await gw.issue(account);
      const verify = await request(gw.app)
        .get(forwardAuthPath(token))
        .set('X-Forwarded-For', address)
        .set('Authorization', `Bearer ${token}`);
      expect(verify.status).toBe(200);
      const identify = await request(gw.app)
        .post('/v1/auth/identify')
        .set('X-Forwarded-For', address)
        .send({ data: { apiKey: account.apiKey, token, user: { userId: 'user-1', organizationId: 'org-1', email: 'user@example.com' } } });
      expect(identify.status).toBe(200);
      expect((await request(gw.app).get('/healthz').set('X-Forwarded-For', address)).status).toBe(200);
    });

    it('answers OAuth endpoints in their own error shape', async () => {
      const res = await request(gw.app)
        .post('/v1/auth/token/introspect')
        .set('X-Forwarded-For', address)
        .set('Authorization', basicAuth(account))
        .type('form')
        .send({ token: 'x' });
      expect(res.status).toBe(429);
      expect(res.body).toMatchObject({ error: 'temporarily_unavailable', code: 'rate_limited', retryable: true });
      expect(res.headers['retry-after']).toMatch(/^\d+$/);
    });
  });

  it('counts failed admin-token checks per address', async () => {
    const gw = await gateway({ RATE_LIMIT_FAILED_AUTH_PER_ADDRESS: '2' });
    const address = freshAddress();
    const admin = (tokenValue: string) =>
      request(gw.app)
        .post('/v1/admin/accounts')
        .set('X-Forwarded-For', address)
        .set('Authorization', `Bearer ${tokenValue}`)
        .send({ data: { name: 'X' } });
    expect((await admin('wrong-admin-token-xxxxxxxx')).status).toBe(401);
    expect((await admin('wrong-admin-token-xxxxxxxx')).status).toBe(401);
    expectRateLimited(await admin('wrong-admin-token-xxxxxxxx'));
    expectRateLimited(await admin(ADMIN_TOKEN));
  });

  it('counts failed issuance checks, and every body and Basic credential route', async () => {
    const gw = await gateway({ RATE_LIMIT_FAILED_AUTH_PER_API_KEY: '4', RATE_LIMIT_FAILED_AUTH_PER_ADDRESS: '100' });
    const account = await gw.createAccount();
    const wrong = { apiKey: account.apiKey, authToken: WRONG };
    const attempts = [
      request(gw.app)
        .post('/v1/auth/token/get')
        .send({ data: { ...wrong, userId: 'u', userProperties: { organizationId: 'o' } } }),
      request(gw.app).post('/v1/auth/token/revoke').type('form').send({ client_id: wrong.apiKey, client_secret: WRONG, token: 'x' }),
      request(gw.app).post('/v1/auth/users/revoke').send({ ...wrong, data: { userId: 'u' } }),
      request(gw.app).put('/v1/users/alice').set('Authorization', basicAuth(wrong)).send({ data: { organizationIds: ['o'] } }),
    ];
    for (const attempt of attempts) expect((await attempt.set('X-Forwarded-For', freshAddress())).status).toBe(401);
    expectRateLimited(
      await request(gw.app)
        .put('/v1/account/signing-key')
        .set('X-Forwarded-For', freshAddress())
        .set('Authorization', basicAuth(wrong))
        .send({ data: { publicKey: 'x' } }),
    );
  });

  describe('the issuance quota', () => {
    it('is on by default, at 6,000 tokens a minute per apiKey (contract §8)', async () => {
      const gw = await gateway();
      expect(gw.config.rateLimits.issuancePerMinute).toBe(DEFAULT_ISSUANCE_QUOTA_PER_MINUTE);
      expect(DEFAULT_ISSUANCE_QUOTA_PER_MINUTE).toBeGreaterThanOrEqual(6_000);
      const account = await gw.createAccount();
      const other = await gw.createAccount('Other');
      // The quota's counter is shared through the store: use up all but one of this minute's
      // tokens with a limiter of the gateway's own settings, then issue through the API.
      const limiter = new AbuseLimiter({ store: gw.store, limits: gw.config.rateLimits });
      const batch = 50;
      for (let used = 0; used < DEFAULT_ISSUANCE_QUOTA_PER_MINUTE - 1; used += batch) {
        const n = Math.min(batch, DEFAULT_ISSUANCE_QUOTA_PER_MINUTE - 1 - used);
        await Promise.all(Array.from({ length: n }, () => limiter.consumeIssuance(account.apiKey)));
      }
      await gw.issue(account);
      const refused = await request(gw.app)
        .post('/v1/auth/token/get')
        .send({ data: { apiKey: account.apiKey, authToken: account.authToken, userId: 'u', userProperties: { organizationId: 'o' } } });
      expectRateLimited(refused);
      // Another apiKey has its own quota.
      await expect(gw.issue(other)).resolves.toMatchObject({ token: expect.any(String) });
    });

    it('ISSUANCE_QUOTA_PER_MINUTE=0 turns it off', async () => {
      const gw = await gateway({ ISSUANCE_QUOTA_PER_MINUTE: '0' });
      const account = await gw.createAccount();
      const limiter = new AbuseLimiter({ store: gw.store, limits: { ...gw.config.rateLimits, issuancePerMinute: 1 } });
      // Even with another limiter's counter far past any quota, issuance goes on.
      for (let i = 0; i < 3; i += 1) await limiter.consumeIssuance(account.apiKey).catch(() => undefined);
      for (let i = 0; i < 3; i += 1) await gw.issue(account);
    });

    it('refuses the token past the quota with 429 and Retry-After, per apiKey', async () => {
      const gw = await gateway({ ISSUANCE_QUOTA_PER_MINUTE: '2' });
      const account = await gw.createAccount();
      const other = await gw.createAccount('Other');
      // Wrong pairs do not use the quota up: only a token issued does.
      for (let i = 0; i < 3; i += 1) {
        const res = await request(gw.app)
          .post('/v1/auth/token/get')
          .set('X-Forwarded-For', freshAddress())
          .send({ data: { apiKey: account.apiKey, authToken: WRONG, userId: 'u', userProperties: { organizationId: 'o' } } });
        expect(res.status).toBe(401);
      }
      await gw.issue(account);
      await gw.issue(account);
      const refused = await request(gw.app)
        .post('/v1/auth/token/get')
        .send({ data: { apiKey: account.apiKey, authToken: account.authToken, userId: 'u', userProperties: { organizationId: 'o' } } });
      expectRateLimited(refused);
      expect(refused.body.result).toBeUndefined();
      await expect(gw.issue(other)).resolves.toMatchObject({ token: expect.any(String) });
    });
  });

  it('counts an IPv6 client per /64: new addresses in the same /64 do not escape the limit', async () => {
    const gw = await gateway({ RATE_LIMIT_FAILED_AUTH_PER_ADDRESS: '3' });
    const account = await gw.createAccount();
    const site = `2001:db8:${(++addressCounter).toString(16)}`;
    const net = `${site}:7`;
    const hosts = [`${net}::1`, `${net}:ffff:1:2:3`, `${net}:0:0:0:beef`, `${site}:0007::9`];
    for (const host of hosts.slice(0, 3)) {
      expect((await me(gw.app, { apiKey: `ak_v6_${host.length}`, authToken: WRONG }, host)).status).toBe(401);
    }
    // The fourth address of the /64, written differently, is over the limit, right credentials or not.
    expectRateLimited(await me(gw.app, { apiKey: 'ak_v6_x', authToken: WRONG }, hosts[3]!));
    expectRateLimited(await me(gw.app, account, `${net}::abcd`));
    // The next /64 is another client.
    expect((await me(gw.app, account, `2001:db8:${addressCounter.toString(16)}:8::1`)).status).toBe(200);
    // An IPv4 client is counted per address, as before.
    expect((await me(gw.app, account, freshAddress())).status).toBe(200);
  });

  it('a limit of 0 is off', async () => {
    const gw = await gateway({ RATE_LIMIT_FAILED_AUTH_PER_ADDRESS: '0', RATE_LIMIT_FAILED_AUTH_PER_API_KEY: '0' });
    const account = await gw.createAccount();
    const address = freshAddress();
    for (let i = 0; i < 35; i += 1) {
      expect((await me(gw.app, { apiKey: account.apiKey, authToken: WRONG }, address)).status).toBe(401);
    }
  });

  it('without TRUST_PROXY, X-Forwarded-For is ignored: the socket peer is the address', async () => {
    const gw = await buildTestGateway({ store: kind, env: { RATE_LIMIT_FAILED_AUTH_PER_ADDRESS: '2' } });
    gateways.push(gw);
    const account = await gw.createAccount();
    for (let i = 0; i < 2; i += 1) {
      expect((await me(gw.app, { apiKey: `ak_x${i}`, authToken: WRONG }, freshAddress())).status).toBe(401);
    }
    // A new forwarded address each time does not escape the limit.
    expectRateLimited(await me(gw.app, { apiKey: 'ak_x2', authToken: WRONG }, freshAddress()));
    expectRateLimited(await me(gw.app, account, freshAddress()));
  });
});

describeIf(STORE_KINDS.includes('redis'), NO_REDIS_REASON)('limits shared through Redis', () => {
  it('two instances on one store share the address and apiKey limits', async () => {
    const shared = await makeStore('redis');
    const env = { ...PROXIED, RATE_LIMIT_FAILED_AUTH_PER_ADDRESS: '4', RATE_LIMIT_FAILED_AUTH_PER_API_KEY: '3' };
    const a = await buildTestGateway({ store: shared, env });
    const b = await buildTestGateway({ store: shared, env });
    try {
      const account = await a.createAccount();
      const wrong = { apiKey: account.apiKey, authToken: WRONG };
      expect((await me(a.app, wrong, freshAddress())).status).toBe(401);
      expect((await me(b.app, wrong, freshAddress())).status).toBe(401);
      expect((await me(a.app, wrong, freshAddress())).status).toBe(401);
      expectRateLimited(await me(b.app, wrong, freshAddress()));
      expect((await me(b.app, account, freshAddress())).status).toBe(200);

      const address = freshAddress();
      for (let i = 0; i < 4; i += 1) {
        const app = i % 2 === 0 ? a.app : b.app;
        expect((await me(app, { apiKey: `ak_g${i}`, authToken: WRONG }, address)).status).toBe(401);
      }
      expectRateLimited(await me(b.app, { apiKey: 'ak_g4', authToken: WRONG }, address));
      expectRateLimited(await me(a.app, account, address));
    } finally {
      await a.close();
      await b.close();
      await shared.cleanup();
    }
  });
});

describeIf(STORE_KINDS.includes('redis'), NO_REDIS_REASON)('the address check on Redis', () => {
  it('asks Redis about a clean address at most once per second, and an address with failures every time', async () => {
    const gw = await buildTestGateway({ store: 'redis', env: PROXIED });
    const get = jest.spyOn(RateLimiterRedis.prototype, 'get');
    try {
      const account = await gw.createAccount();
      const address = freshAddress();
      for (let i = 0; i < 5; i += 1) expect((await me(gw.app, account, address)).status).toBe(200);
      expect(get).toHaveBeenCalledTimes(1);
      gw.clock.advance(CLEAN_ADDRESS_MS);
      expect((await me(gw.app, account, address)).status).toBe(200);
      expect(get).toHaveBeenCalledTimes(2);

      expect((await me(gw.app, { apiKey: account.apiKey, authToken: WRONG }, address)).status).toBe(401);
      get.mockClear();
      for (let i = 0; i < 3; i += 1) expect((await me(gw.app, account, address)).status).toBe(200);
      expect(get).toHaveBeenCalledTimes(3);
    } finally {
      get.mockRestore();
      await gw.close();
    }
  });

  it('an address limited through another instance is refused here within a second', async () => {
    const shared = await makeStore('redis');
    const env = { ...PROXIED, RATE_LIMIT_FAILED_AUTH_PER_ADDRESS: '4' };
    const a = await buildTestGateway({ store: shared, env });
    const b = await buildTestGateway({ store: shared, env });
    try {
      const account = await a.createAccount();
      const address = freshAddress();
      expect((await me(a.app, account, address)).status).toBe(200); // a finds it clean
      for (let i = 0; i < 4; i += 1) {
        expect((await me(b.app, { apiKey: `ak_h${i}`, authToken: WRONG }, address)).status).toBe(401);
      }
      expectRateLimited(await me(b.app, { apiKey: 'ak_h4', authToken: WRONG }, address));
      a.clock.advance(CLEAN_ADDRESS_MS);
      expectRateLimited(await me(a.app, account, address));
    } finally {
      await a.close();
      await b.close();
      await shared.cleanup();
    }
  });
});

describe('a limiter store failure fails closed', () => {
  it('is store_unavailable, never "allowed"', async () => {
    // A client that never connected: every limiter call meets a Redis that is not ready.
    const client = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false });
    const limiter = new AbuseLimiter({
      store: new RedisStore(client, 'tgtest:dead:'),
      limits: { windowSeconds: 60, failedAuthPerAddress: 60, failedAuthPerApiKey: 30, issuancePerMinute: 10 },
    });
    try {
      await expect(limiter.assertAddressAllowed('10.0.0.1')).rejects.toMatchObject({ code: 'store_unavailable' });
      await expect(limiter.recordFailure('10.0.0.1', 'ak_x')).rejects.toMatchObject({ code: 'store_unavailable' });
      await expect(limiter.consumeIssuance('ak_x')).rejects.toMatchObject({ code: 'store_unavailable' });
    } finally {
      client.disconnect();
    }
  });
});
