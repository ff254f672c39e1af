/**
 * Contract §4.1 and §8: instances sharing a store agree. Two gateway apps share one Redis
 * prefix and one keys folder; what is done on the first takes effect on the second at once:
 * a token revocation, a user revocation, a deleted auth token, a removed customer signing key.
 *
 * Run twice: with both apps on the one TestStore, and with the second reaching Redis through its
 * own connection (its own mirrored Redis store on the same prefix), as a separate process would.
 * Across instances the contract's bound is 1 s (the mirrors hear of a change through pub/sub),
 * so the second instance is given up to that long, and no longer.
 */
import { sign } from 'node:crypto';
import request from 'supertest';
import { ManualClock } from '../../src/clock';
import { createRedisClient, redisStore, type GatewayStore } from '../../src/store';
import { ADMIN_TOKEN, basicAuth, buildTestGateway, type TestAccount, type TestGateway, forwardAuthPath } from '../helpers/app';
import { makeKeysDir, rsaKeyPairPem } from '../helpers/keys';
import { describeWithRedis, testRedisUrl } from '../helpers/redis';
import { makeStore, type TestStore } from '../helpers/stores';

const USER = { userId: 'user-1', organizationId: 'org-1', email: 'user@example.com' };

async function ready(store: GatewayStore): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      await store.ping();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

describeWithRedis.each(['the same store object', 'its own connection'])('two instances sharing one Redis prefix and one keys folder, the second on %s', (mode) => {
  let shared: TestStore;
  let secondStore: GatewayStore;
  let one: TestGateway;
  let two: TestGateway;
  let acme: TestAccount;

  beforeEach(async () => {
    const now = Date.now();
    shared = await makeStore('redis');
    secondStore = redisStore(createRedisClient(testRedisUrl()), shared.prefix, true);
    await ready(secondStore);
    const keysDir = makeKeysDir();
    one = await buildTestGateway({ store: shared, keysDir, clock: new ManualClock(now) });
    two = await buildTestGateway({
      store: mode === 'its own connection' ? { store: secondStore, prefix: shared.prefix, cleanup: () => secondStore.close() } : shared,
      keysDir,
      clock: new ManualClock(now),
    });
    acme = await one.createAccount('Acme');
  });
  afterEach(async () => {
    await secondStore.close();
    await shared.cleanup();
  });

  const identify = (gw: TestGateway, token: string) =>
    request(gw.app).post('/v1/auth/identify').send({ data: { apiKey: acme.apiKey, token, user: USER } });
  const introspect = (gw: TestGateway, token: string, caller: { apiKey: string; authToken: string } = acme) =>
    request(gw.app).post('/v1/auth/token/introspect').set('Authorization', basicAuth(caller)).type('form').send({ token });
  const verify = (gw: TestGateway, token: string) =>
    request(gw.app).get(forwardAuthPath(token)).set('Authorization', `Bearer ${token}`);

  async function expectAcceptedOn(gw: TestGateway, token: string): Promise<void> {
    expect((await identify(gw, token)).status).toBe(200);
    expect((await introspect(gw, token)).body.active).toBe(true);
    expect((await verify(gw, token)).status).toBe(200);
  }

  /** Retries `assertions` until they hold, for at most the contract's 1 s. */
  async function withinOneSecond(assertions: () => Promise<void>): Promise<void> {
    const started = Date.now();
    for (;;) {
      try {
        await assertions();
        return;
      } catch (error) {
        if (Date.now() - started > 1000) throw error;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }

  const expectRejectedOn = (gw: TestGateway, token: string, code: string) =>
    withinOneSecond(() => expectRejectedNow(gw, token, code));

  async function expectRejectedNow(gw: TestGateway, token: string, code: string): Promise<void> {
    const id = await identify(gw, token);
    expect(id.status).toBe(401);
    expect(id.body.error.code).toBe(code);
    const intro = await introspect(gw, token);
    expect(intro.status).toBe(200);
    expect(intro.text).toBe('{"active":false}');
    const fwd = await verify(gw, token);
    expect(fwd.status).toBe(401);
    expect(fwd.body.error.code).toBe(code);
  }

  test('a token issued on the first verifies on the second (same keys folder, same store)', async () => {
    const { token } = await one.issue(acme);
    await expectAcceptedOn(two, token);
  });

  test('revoked on the first (RFC 7009) → rejected by the first at once and by the second within 1 s', async () => {
    const { token } = await one.issue(acme);
    await expectAcceptedOn(two, token);
    const res = await request(one.app).post('/v1/auth/token/revoke').set('Authorization', basicAuth(acme)).type('form').send({ token });
    expect(res.status).toBe(200);
    await expectRejectedNow(one, token, 'token_revoked');
    await expectRejectedOn(two, token, 'token_revoked');
  });

  test('a user revoked on the first → rejected by the second; a token issued a second later is accepted by both', async () => {
    const { token } = await one.issue(acme);
    await expectAcceptedOn(two, token);
    const res = await request(one.app).post('/v1/auth/users/revoke').set('Authorization', basicAuth(acme)).send({ data: { userId: 'user-1' } });
    expect(res.status).toBe(200);
    await expectRejectedOn(two, token, 'token_revoked');
    one.clock.advanceSeconds(1);
    two.clock.advanceSeconds(1);
    const { token: later } = await two.issue(acme);
    await expectAcceptedOn(one, later);
    await expectAcceptedOn(two, later);
  });

  test('an organization revoked on the second → rejected by the first', async () => {
    const { token } = await one.issue(acme);
    const res = await request(two.app).post('/v1/auth/organizations/revoke').set('Authorization', basicAuth(acme)).send({ data: { organizationId: 'org-1' } });
    expect(res.status).toBe(200);
    await expectRejectedOn(one, token, 'token_revoked');
  });

  test('an auth token deleted on the first stops working on the first at once and on the second within 1 s; the other keeps working', async () => {
    const added = await request(one.app)
      .post(`/v1/admin/accounts/${acme.account.id}/auth-tokens`)
      .set('Authorization', `Bearer ${ADMIN_TOKEN}`);
    expect(added.status).toBe(201);
    const spare = { apiKey: acme.apiKey, authToken: added.body.result.data.authToken as string };
    const { token } = await one.issue(acme);
    expect((await introspect(two, token, acme)).body.active).toBe(true);

    const deleted = await request(one.app)
      .delete(`/v1/admin/accounts/${acme.account.id}/auth-tokens/${acme.authTokenId}`)
      .set('Authorization', `Bearer ${ADMIN_TOKEN}`);
    expect(deleted.status).toBe(200);
    expect((await introspect(one, token, acme)).status).toBe(401);

    await withinOneSecond(async () => {
      const intro = await introspect(two, token, acme);
      expect(intro.status).toBe(401);
      expect(intro.body).toMatchObject({ error: 'invalid_client', code: 'invalid_credentials' });
    });
    const issue = await request(two.app)
      .post('/v1/auth/token/get')
      .send({ data: { apiKey: acme.apiKey, authToken: acme.authToken, userId: 'user-1', userProperties: { organizationId: 'org-1' } } });
    expect(issue.status).toBe(401);
    expect(issue.body.error.code).toBe('invalid_credentials');
    const me = await request(two.app).get('/v1/account/me').set('Authorization', basicAuth(acme));
    expect(me.status).toBe(401);

    // The other auth token of the account works on both.
    expect((await introspect(two, token, spare)).body.active).toBe(true);
    expect((await introspect(one, token, spare)).body.active).toBe(true);
  });

  test('a customer signing key set on the first is used by the second; removed on the first, the token fails on the second', async () => {
    const { publicKey, privateKey } = rsaKeyPairPem();
    const put = await request(one.app).put('/v1/account/signing-key').set('Authorization', basicAuth(acme)).send({ data: { publicKey } });
    expect(put.status).toBe(200);

    const iat = Math.floor(two.clock.now() / 1000);
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const input = `${encode({ alg: 'RS256', typ: 'JWT' })}.${encode({
      iss: acme.apiKey,
      sub: 'user-1',
      organizationId: 'org-1',
      iat,
      exp: iat + 600,
      jti: 'customer-1',
    })}`;
    const token = `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
    await expectAcceptedOn(two, token);

    const removed = await request(one.app).delete('/v1/account/signing-key').set('Authorization', basicAuth(acme));
    expect(removed.status).toBe(200);
    await expectRejectedOn(two, token, 'token_invalid');
    await expectRejectedOn(one, token, 'token_invalid');

    // Set again on the second: accepted again on the first.
    const again = await request(two.app).put('/v1/account/signing-key').set('Authorization', basicAuth(acme)).send({ data: { publicKey } });
    expect(again.status).toBe(200);
    await withinOneSecond(() => expectAcceptedOn(one, token));
  });
});
