/**
 * Contract §4: revoking one token (RFC 7009), a user and an organization, on both stores.
 * Every revoked token is then rejected by identify, introspection, forward auth and
 * authorize; revocation records are bounded in time. Time moves through the ManualClock only.
 */
import { sign } from 'node:crypto';
import request from 'supertest';
import { MemoryStore } from '../../src/store';
import { REVOCATION_EXPIRY_MARGIN_SECONDS } from '../../src/tokens';
import { basicAuth, buildTestGateway, type TestAccount, type TestGateway, forwardAuthPath } from '../helpers/app';
import { rsaKeyPairPem } from '../helpers/keys';
import { NO_REDIS_REASON, rawRedis } from '../helpers/redis';
import { testIf } from '../helpers/skip';
import { makeStore, STORE_KINDS, type TestStore } from '../helpers/stores';
import { ManualClock } from '../../src/clock';

const REVOKE = '/v1/auth/token/revoke';
const USER = { userId: 'user-1', organizationId: 'org-1', email: 'user@example.com' };
const CUSTOMER_KEY = rsaKeyPairPem();

/** A customer token (contract §6.2), signed RS256 with node:crypto. */
function customerToken(claims: Record<string, unknown>, privateKey = CUSTOMER_KEY.privateKey): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${encode({ alg: 'RS256', typ: 'JWT' })}.${encode(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}

describe.each(STORE_KINDS)('revocation on the %s store', (kind) => {
  let gw: TestGateway;
  let acme: TestAccount;
  let globex: TestAccount;

  beforeEach(async () => {
    gw = await buildTestGateway({ store: kind });
    acme = await gw.createAccount('Acme');
    globex = await gw.createAccount('Globex');
  });
  afterEach(() => gw.close());

  const revoke = (account: TestAccount, token: string) =>
    request(gw.app).post(REVOKE).set('Authorization', basicAuth(account)).type('form').send({ token });
  const identify = (account: TestAccount, token: string, user: Record<string, unknown> = USER) =>
    request(gw.app).post('/v1/auth/identify').send({ data: { apiKey: account.apiKey, token, user } });
  const introspect = (account: TestAccount, token: string) =>
    request(gw.app).post('/v1/auth/token/introspect').set('Authorization', basicAuth(account)).type('form').send({ token });
  const verify = (token: string) => request(gw.app).get(forwardAuthPath(token)).set('Authorization', `Bearer ${token}`);
  const authorize = (account: TestAccount, token: string, permission = 'document:read') =>
    request(gw.app).post('/v1/auth/authorize').send({ data: { apiKey: account.apiKey, token, permission } });
  const nowSeconds = () => Math.floor(gw.clock.now() / 1000);

  /** The token passes identify, introspection, forward auth and authorize. */
  async function expectAccepted(account: TestAccount, token: string, user: Record<string, unknown> = USER): Promise<void> {
    expect((await identify(account, token, user)).status).toBe(200);
    expect((await introspect(account, token)).body.active).toBe(true);
    expect((await verify(token)).status).toBe(200);
    expect((await authorize(account, token)).status).toBe(200);
  }

  /** The token is rejected everywhere as token_revoked (introspection: inactive). */
  async function expectRevoked(account: TestAccount, token: string, user: Record<string, unknown> = USER): Promise<void> {
    const id = await identify(account, token, user);
    expect(id.status).toBe(401);
    expect(id.body.error.code).toBe('token_revoked');
    const intro = await introspect(account, token);
    expect(intro.status).toBe(200);
    expect(intro.text).toBe('{"active":false}');
    const fwd = await verify(token);
    expect(fwd.status).toBe(401);
    expect(fwd.body.error.code).toBe('token_revoked');
    expect(fwd.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
    const az = await authorize(account, token);
    expect(az.status).toBe(401);
    expect(az.body.error.code).toBe('token_revoked');
  }

  const policy = { allow: ['*'] };

  describe('POST /v1/auth/token/revoke (RFC 7009)', () => {
    test('revokes the caller\'s own token: then rejected by identify, introspection, forward auth and authorize', async () => {
      const { token } = await gw.issue(acme, { policy });
      const other = (await gw.issue(acme, { policy })).token;
      await expectAccepted(acme, token);
      const res = await revoke(acme, token);
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual({ result: { status: 'success', message: 'Revocation processed.', data: {} } });
      await expectRevoked(acme, token);
      // Only that token: another of the same user stays live.
      await expectAccepted(acme, other);
    });

    test('the same 200 body for own, unknown, garbage, expired, already revoked and foreign tokens', async () => {
      const { token: own } = await gw.issue(acme);
      const { token: expiring } = await gw.issue(acme, { expiresIn: 60 });
      const { token: foreign } = await gw.issue(globex);
      const unknownJti = customerToken({ iss: 'ak_unknown', sub: 'u', iat: nowSeconds(), exp: nowSeconds() + 60, jti: 'x' });

      const first = await revoke(acme, own);
      const again = await revoke(acme, own);
      gw.clock.advanceSeconds(60 + gw.config.clockToleranceSeconds);
      const answers = [
        again,
        await revoke(acme, unknownJti),
        await revoke(acme, 'garbage'),
        await revoke(acme, expiring),
        await revoke(acme, foreign),
      ];
      for (const res of answers) {
        expect(res.status).toBe(200);
        expect(res.headers['cache-control']).toBe('no-store');
        expect(res.text).toBe(first.text);
      }
      // The foreign token was not revoked: its own account still sees it live.
      expect((await introspect(globex, foreign)).body.active).toBe(true);
      expect((await verify(foreign)).status).toBe(200);
    });

    test('a token not valid yet (issued by a clock ahead of this one) is revoked too, not silently kept', async () => {
      const { token } = await gw.issue(acme, { policy });
      // This instance's clock is a minute behind the one that issued the token.
      gw.clock.advanceSeconds(-60);
      expect((await verify(token)).body.error.code).toBe('token_not_yet_valid');
      const res = await revoke(acme, token);
      expect(res.status).toBe(200);
      // Once the token's time comes, it is rejected as revoked, not accepted.
      gw.clock.advanceSeconds(60);
      await expectRevoked(acme, token);
    });

    test('form and JSON bodies, Basic or body credentials, token_type_hint ignored', async () => {
      const tokens = await Promise.all([1, 2, 3, 4].map(() => gw.issue(acme).then((t) => t.token)));
      const sends = [
        request(gw.app).post(REVOKE).set('Authorization', basicAuth(acme)).send({ token: tokens[0], token_type_hint: 'refresh_token' }),
        request(gw.app).post(REVOKE).type('form').send({ token: tokens[1], client_id: acme.apiKey, client_secret: acme.authToken }),
        request(gw.app).post(REVOKE).send({ token: tokens[2], apiKey: acme.apiKey, authToken: acme.authToken, scope: 'x' }),
        request(gw.app).post(REVOKE).send({ data: { token: tokens[3], apiKey: acme.apiKey, authToken: acme.authToken } }),
      ];
      for (const send of sends) expect((await send).status).toBe(200);
      for (const token of tokens) expect((await introspect(acme, token!)).text).toBe('{"active":false}');
    });

    test('a missing token → 400 invalid_request (OAuth shape)', async () => {
      const res = await request(gw.app).post(REVOKE).set('Authorization', basicAuth(acme)).type('form').send({ token_type_hint: 'access_token' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: 'invalid_request',
        error_description: expect.stringMatching(/token/),
        status: 'INVALID_ARGUMENT',
        code: 'invalid_argument',
        retryable: false,
      });
    });

    test('a missing or bad caller → 401 invalid_client with a Basic challenge; nothing revoked', async () => {
      const { token } = await gw.issue(acme);
      for (const res of [
        await request(gw.app).post(REVOKE).type('form').send({ token }),
        await request(gw.app).post(REVOKE).set('Authorization', basicAuth({ apiKey: acme.apiKey, authToken: globex.authToken })).type('form').send({ token }),
      ]) {
        expect(res.status).toBe(401);
        expect(res.headers['www-authenticate']).toBe('Basic realm="token-gateway"');
        expect(res.body).toEqual({
          error: 'invalid_client',
          error_description: expect.any(String),
          status: 'UNAUTHENTICATED',
          code: 'invalid_credentials',
          retryable: false,
        });
      }
      expect((await verify(token)).status).toBe(200);
    });

    test.each(['get', 'put', 'delete'] as const)('%s → 405 invalid_request with Allow: POST', async (method) => {
      const res = await request(gw.app)[method](REVOKE).set('Authorization', basicAuth(acme));
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('POST');
      expect(res.body).toMatchObject({ error: 'invalid_request', status: 'METHOD_NOT_ALLOWED', code: 'method_not_allowed', retryable: false });
    });

    describe('customer tokens: keyed on (account, jti)', () => {
      beforeEach(async () => {
        for (const account of [acme, globex]) {
          const res = await request(gw.app)
            .put('/v1/account/signing-key')
            .set('Authorization', basicAuth(account))
            .send({ data: { publicKey: CUSTOMER_KEY.publicKey } });
          expect(res.status).toBe(200);
        }
      });
      const claims = (account: TestAccount, extra: Record<string, unknown> = {}) => ({
        iss: account.apiKey,
        sub: 'user-1',
        organizationId: 'org-1',
        iat: nowSeconds(),
        exp: nowSeconds() + 3600,
        policy,
        ...extra,
      });

      test('revoking one token revokes every token of the account with that jti, and no other account\'s', async () => {
        const first = customerToken(claims(acme, { jti: 'shared-jti' }));
        const second = customerToken(claims(acme, { jti: 'shared-jti', email: 'user@example.com' }));
        const otherJti = customerToken(claims(acme, { jti: 'other-jti' }));
        const globexSame = customerToken(claims(globex, { jti: 'shared-jti' }));
        await expectAccepted(acme, first);
        expect((await revoke(acme, first)).status).toBe(200);
        await expectRevoked(acme, first);
        await expectRevoked(acme, second);
        await expectAccepted(acme, otherJti);
        await expectAccepted(globex, globexSame);
        // A token with that jti signed later is revoked too.
        gw.clock.advanceSeconds(10);
        await expectRevoked(acme, customerToken(claims(acme, { jti: 'shared-jti' })));
      });

      test('a customer token without jti is not revoked by RFC 7009 (200 all the same), only per user', async () => {
        const token = customerToken(claims(acme));
        const res = await revoke(acme, token);
        expect(res.status).toBe(200);
        await expectAccepted(acme, token);
        const user = await request(gw.app).post('/v1/auth/users/revoke').set('Authorization', basicAuth(acme)).send({ data: { userId: 'user-1' } });
        expect(user.status).toBe(200);
        await expectRevoked(acme, token);
      });
    });
  });

  describe('POST /v1/auth/users/revoke', () => {
    const revokeUser = (account: TestAccount, userId: string) =>
      request(gw.app).post('/v1/auth/users/revoke').set('Authorization', basicAuth(account)).send({ data: { userId } });

    test('answers userId and revokedBefore, the second of the revocation', async () => {
      gw.clock.set(Math.floor(gw.clock.now() / 1000) * 1000 + 400);
      const res = await revokeUser(acme, 'user-1');
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual({
        result: { status: 'success', message: expect.any(String), data: { userId: 'user-1', revokedBefore: nowSeconds() } },
      });
    });

    test('tokens with iat <= revokedBefore are rejected, also one issued later in the same second; a second later is accepted', async () => {
      gw.clock.set(Math.floor(gw.clock.now() / 1000) * 1000 + 100);
      const { token: before } = await gw.issue(acme, { policy });
      const res = await revokeUser(acme, 'user-1');
      const { revokedBefore } = res.body.result.data;
      gw.clock.advance(800); // still the same second
      const { token: sameSecond, data } = await gw.issue(acme, { policy });
      expect(data.serverTime).toBe(revokedBefore);
      await expectRevoked(acme, before);
      await expectRevoked(acme, sameSecond);
      gw.clock.advance(200); // the next second
      const { token: later, data: laterData } = await gw.issue(acme, { policy });
      expect(laterData.serverTime).toBe(revokedBefore + 1);
      await expectAccepted(acme, later);
    });

    test('only that user, only in the caller\'s account', async () => {
      const { token: otherUser } = await gw.issue(acme, { userId: 'user-2', policy });
      const { token: otherAccount } = await gw.issue(globex, { policy });
      expect((await revokeUser(acme, 'user-1')).status).toBe(200);
      await expectAccepted(acme, otherUser, { ...USER, userId: 'user-2' });
      await expectAccepted(globex, otherAccount);
    });

    test('a missing or bad caller → 401 invalid_credentials (envelope) with a Basic challenge', async () => {
      for (const res of [
        await request(gw.app).post('/v1/auth/users/revoke').send({ data: { userId: 'user-1' } }),
        await revokeUser({ ...acme, authToken: globex.authToken }, 'user-1'),
      ]) {
        expect(res.status).toBe(401);
        expect(res.headers['www-authenticate']).toBe('Basic realm="token-gateway"');
        expect(res.body).toEqual({
          error: { message: expect.any(String), status: 'UNAUTHENTICATED', code: 'invalid_credentials', retryable: false },
        });
      }
    });

    test('credentials inside data work too', async () => {
      const res = await request(gw.app)
        .post('/v1/auth/users/revoke')
        .send({ data: { apiKey: acme.apiKey, authToken: acme.authToken, userId: 'user-1' } });
      expect(res.status).toBe(200);
      expect(res.body.result.data.userId).toBe('user-1');
    });

    test('a missing userId → 400 naming the field; GET → 405', async () => {
      const res = await request(gw.app).post('/v1/auth/users/revoke').set('Authorization', basicAuth(acme)).send({ data: {} });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'invalid_argument', message: 'data.userId is required.' });
      const get = await request(gw.app).get('/v1/auth/users/revoke').set('Authorization', basicAuth(acme));
      expect(get.status).toBe(405);
      expect(get.headers.allow).toBe('POST');
    });
  });

  describe('POST /v1/auth/organizations/revoke', () => {
    const revokeOrg = (account: TestAccount, organizationId: string) =>
      request(gw.app).post('/v1/auth/organizations/revoke').set('Authorization', basicAuth(account)).send({ data: { organizationId } });

    test('answers organizationId and revokedBefore; every user of it is rejected, a token a second later accepted', async () => {
      const { token: a } = await gw.issue(acme, { userId: 'user-a', policy });
      const { token: b } = await gw.issue(acme, { userId: 'user-b', policy });
      const { token: otherOrg } = await gw.issue(acme, { userId: 'user-c', userProperties: { organizationId: 'org-2' }, policy });
      const { token: otherAccount } = await gw.issue(globex, { policy });
      const res = await revokeOrg(acme, 'org-1');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        result: { status: 'success', message: expect.any(String), data: { organizationId: 'org-1', revokedBefore: nowSeconds() } },
      });
      await expectRevoked(acme, a, { ...USER, userId: 'user-a' });
      await expectRevoked(acme, b, { ...USER, userId: 'user-b' });
      await expectAccepted(acme, otherOrg, { userId: 'user-c', organizationId: 'org-2', email: USER.email });
      await expectAccepted(globex, otherAccount);
      gw.clock.advanceSeconds(1);
      const { token: later } = await gw.issue(acme, { userId: 'user-a', policy });
      await expectAccepted(acme, later, { ...USER, userId: 'user-a' });
    });

    test('a missing organizationId → 400 naming the field; a bad caller → 401', async () => {
      const res = await request(gw.app).post('/v1/auth/organizations/revoke').set('Authorization', basicAuth(acme)).send({ data: {} });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'invalid_argument', message: 'data.organizationId is required.' });
      const bad = await request(gw.app).post('/v1/auth/organizations/revoke').send({ data: { organizationId: 'org-1' } });
      expect(bad.status).toBe(401);
      expect(bad.body.error.code).toBe('invalid_credentials');
    });
  });
});

describe('revocation records are bounded', () => {
  const lifetime = 3600;

  test('memory store: after the longest lifetime plus the tolerance and margin, a sweep leaves nothing tracked', async () => {
    const gw = await buildTestGateway({ store: 'memory' });
    try {
      const acme = await gw.createAccount('Acme');
      const store = gw.store as MemoryStore;
      const { token } = await gw.issue(acme, { expiresIn: lifetime });
      const auth = basicAuth(acme);
      expect((await request(gw.app).post(REVOKE).set('Authorization', auth).type('form').send({ token })).status).toBe(200);
      await request(gw.app).post('/v1/auth/users/revoke').set('Authorization', auth).send({ data: { userId: 'user-1' } });
      await request(gw.app).post('/v1/auth/organizations/revoke').set('Authorization', auth).send({ data: { organizationId: 'org-1' } });
      // The issued record, the jti mark, the user mark and the organization mark.
      expect(store.trackedEntryCount()).toBe(4);

      // The jti mark goes once the token could no longer be accepted (plus the skew margin).
      gw.clock.advanceSeconds(lifetime + gw.config.clockToleranceSeconds + REVOCATION_EXPIRY_MARGIN_SECONDS);
      store.sweep();
      expect(store.trackedEntryCount()).toBe(2);

      // The user and organization marks go once any token they cover has expired.
      const longest = Math.max(gw.config.maxTokenTtlSeconds, gw.config.customerTokenMaxTtlSeconds);
      gw.clock.advanceSeconds(longest);
      store.sweep();
      expect(store.trackedEntryCount()).toBe(0);
    } finally {
      await gw.close();
    }
  });

  const redisOnly = testIf(STORE_KINDS.includes('redis'), `the PXAT expiry test: ${NO_REDIS_REASON}`);
  redisOnly('Redis store: every record and mark carries an absolute expiry (PXAT) taken from token times', async () => {
    const clock = new ManualClock(Date.now());
    const testStore: TestStore = await makeStore('redis', clock);
    const gw = await buildTestGateway({ store: testStore, clock });
    const raw = rawRedis();
    try {
      const acme = await gw.createAccount('Acme');
      const { token, data } = await gw.issue(acme, { expiresIn: lifetime });
      const auth = basicAuth(acme);
      await request(gw.app).post(REVOKE).set('Authorization', auth).type('form').send({ token });
      const user = await request(gw.app).post('/v1/auth/users/revoke').set('Authorization', auth).send({ data: { userId: 'user-1' } });
      const org = await request(gw.app).post('/v1/auth/organizations/revoke').set('Authorization', auth).send({ data: { organizationId: 'org-1' } });
      const key = (suffix: string) => `${testStore.prefix}{${acme.apiKey}}:${suffix}`;
      const expiry = async (suffix: string) => Number(await raw.call('PEXPIRETIME', key(suffix)));

      const tolerance = gw.config.clockToleranceSeconds;
      const longest = Math.max(gw.config.maxTokenTtlSeconds, gw.config.customerTokenMaxTtlSeconds);
      expect(await expiry(`t:${data.tokenId}`)).toBe(data.expiresAt * 1000);
      const margin = REVOCATION_EXPIRY_MARGIN_SECONDS;
      expect(margin).toBeGreaterThanOrEqual(30); // room for a Redis clock ahead of the gateway's
      expect(await expiry(`r:${data.tokenId}`)).toBe((data.expiresAt + tolerance + margin) * 1000);
      expect(await expiry('ru:user-1')).toBe((user.body.result.data.revokedBefore + longest + tolerance + margin) * 1000);
      expect(await expiry('ro:org-1')).toBe((org.body.result.data.revokedBefore + longest + tolerance + margin) * 1000);

      // Nothing under the account's prefix lives forever except the account itself and its secrets.
      const keys = await raw.keys(`${testStore.prefix}*`);
      for (const k of keys) {
        const pttl = await raw.pttl(k);
        if (/:(t|r|ru|ro):/.test(k)) expect(pttl).toBeGreaterThan(0);
      }
    } finally {
      raw.disconnect();
      await testStore.cleanup();
    }
  });
});
