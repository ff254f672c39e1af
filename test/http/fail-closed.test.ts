/**
 * Fail closed (contract §3.2, §4, §8): when the caller's credentials check out but the token's
 * own context cannot be read (a blip between two round trips, or on a Redis Cluster the node
 * holding that account down), every check answers 503 store_unavailable: never
 * {"active": false}, never a silent 200 for a revocation that did not happen, never 200 for
 * forward auth. On both stores.
 */
import request from 'supertest';
import { StoreUnavailableError } from '../../src/store';
import { basicAuth, buildTestGateway, type TestAccount, type TestGateway, forwardAuthPath } from '../helpers/app';
import { STORE_KINDS } from '../helpers/stores';

const USER = { userId: 'user-1', organizationId: 'org-1', email: 'user@example.com' };

describe.each(STORE_KINDS)('token context unreadable, caller fine, on the %s store', (kind) => {
  let gw: TestGateway;
  let acme: TestAccount;
  let token: string;

  beforeEach(async () => {
    gw = await buildTestGateway({ store: kind });
    acme = await gw.createAccount('Acme');
    ({ token } = await gw.issue(acme, { policy: { allow: ['*'] } }));
    // Read once while the store answers, so that any cache in front of it is warm.
    expect((await request(gw.app).get(forwardAuthPath(token)).set('Authorization', `Bearer ${token}`)).status).toBe(200);
    jest.spyOn(gw.store, 'getTokenContext').mockRejectedValue(new StoreUnavailableError());
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await gw.close();
  });

  const oauthUnavailable = {
    error: 'temporarily_unavailable',
    error_description: expect.any(String),
    status: 'UNAVAILABLE',
    code: 'store_unavailable',
    retryable: true,
  };
  const envelopeUnavailable = {
    error: { message: expect.any(String), status: 'UNAVAILABLE', code: 'store_unavailable', retryable: true },
  };

  test('introspection is 503, never an answer', async () => {
    const res = await request(gw.app).post('/v1/auth/token/introspect').set('Authorization', basicAuth(acme)).type('form').send({ token });
    expect(res.status).toBe(503);
    expect(res.body).toEqual(oauthUnavailable);
    expect(res.body.active).toBeUndefined();
  });

  test('token revocation is 503, never a silent 200', async () => {
    const revoke = jest.spyOn(gw.store, 'revokeToken');
    const res = await request(gw.app).post('/v1/auth/token/revoke').set('Authorization', basicAuth(acme)).type('form').send({ token });
    expect(res.status).toBe(503);
    expect(res.body).toEqual(oauthUnavailable);
    expect(revoke).not.toHaveBeenCalled();
  });

  test.each([
    ['identify', () => request(gw.app).post('/v1/auth/identify').send({ data: { apiKey: acme.apiKey, token, user: USER } })],
    ['forward auth', () => request(gw.app).get(forwardAuthPath(token)).set('Authorization', `Bearer ${token}`)],
    ['authorize', () => request(gw.app).post('/v1/auth/authorize').send({ data: { apiKey: acme.apiKey, token, permission: 'x' } })],
  ])('%s is 503', async (_name, send) => {
    const res = await send();
    expect(res.status).toBe(503);
    expect(res.body).toEqual(envelopeUnavailable);
    expect(res.headers['x-auth-user-id']).toBeUndefined();
  });
});

describe.each(STORE_KINDS)('the whole store failing, on the %s store', (kind) => {
  let gw: TestGateway;
  let acme: TestAccount;
  let token: string;

  beforeEach(async () => {
    gw = await buildTestGateway({ store: kind });
    acme = await gw.createAccount('Acme');
    ({ token } = await gw.issue(acme));
    const fail = () => Promise.reject(new StoreUnavailableError());
    for (const method of ['getTokenContext', 'getCredentials', 'getIssuanceContext', 'revokeUser', 'revokeOrganization', 'revokeToken'] as const) {
      jest.spyOn(gw.store, method).mockImplementation(fail);
    }
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await gw.close();
  });

  test.each([
    ['issuance', 'envelope', () =>
      request(gw.app).post('/v1/auth/token/get').send({
        data: { apiKey: acme.apiKey, authToken: acme.authToken, userId: 'user-1', userProperties: { organizationId: 'org-1' } },
      })],
    ['identify', 'envelope', () => request(gw.app).post('/v1/auth/identify').send({ data: { apiKey: acme.apiKey, token, user: USER } })],
    ['introspection', 'oauth', () =>
      request(gw.app).post('/v1/auth/token/introspect').set('Authorization', basicAuth(acme)).type('form').send({ token })],
    ['forward auth', 'envelope', () => request(gw.app).get(forwardAuthPath(token)).set('Authorization', `Bearer ${token}`)],
    ['token revocation', 'oauth', () =>
      request(gw.app).post('/v1/auth/token/revoke').set('Authorization', basicAuth(acme)).type('form').send({ token })],
    ['user revocation', 'envelope', () =>
      request(gw.app).post('/v1/auth/users/revoke').set('Authorization', basicAuth(acme)).send({ data: { userId: 'user-1' } })],
    ['organization revocation', 'envelope', () =>
      request(gw.app).post('/v1/auth/organizations/revoke').set('Authorization', basicAuth(acme)).send({ data: { organizationId: 'org-1' } })],
  ])('%s is 503 store_unavailable', async (_name, style, send) => {
    const res = await send();
    expect(res.status).toBe(503);
    expect(res.body.code ?? res.body.error?.code).toBe('store_unavailable');
    if (style === 'oauth') expect(res.body.error).toBe('temporarily_unavailable');
    expect(res.text).not.toContain(token);
  });
});
