/**
 * Contract §5: the admin API, auth-token rotation, /v1/account/me and the user directory,
 * on both stores.
 */
import request from 'supertest';
import { ADMIN_TOKEN, basicAuth, buildTestGateway, type TestAccount, type TestGateway } from '../helpers/app';
import { STORE_KINDS } from '../helpers/stores';

const admin = `Bearer ${ADMIN_TOKEN}`;

describe.each(STORE_KINDS)('accounts on the %s store', (kind) => {
  let gw: TestGateway;
  beforeEach(async () => {
    gw = await buildTestGateway({ store: kind });
  });
  afterEach(() => gw.close());

  describe('POST /v1/admin/accounts', () => {
    test('creates an account and shows its first auth token once', async () => {
      const res = await request(gw.app).post('/v1/admin/accounts').set('Authorization', admin).send({ data: { name: 'Acme' } });
      expect(res.status).toBe(201);
      expect(res.headers['cache-control']).toBe('no-store');
      const { account, authTokenId, authToken } = res.body.result.data;
      expect(res.body.result.status).toBe('success');
      expect(Object.keys(account).sort()).toEqual(['apiKey', 'createdAt', 'id', 'name']);
      expect(account.name).toBe('Acme');
      expect(account.apiKey).toMatch(/^ak_[A-Za-z0-9_-]+$/);
      expect(authToken).toMatch(/^at_[A-Za-z0-9_-]{43}$/);
      expect(authTokenId).toMatch(/^atk_/);
      expect(new Date(account.createdAt).toISOString()).toBe(account.createdAt);
      // Stored only as a hash.
      const creds = await gw.store.getCredentials(account.apiKey);
      expect(JSON.stringify(creds)).not.toContain(authToken);
      expect(creds?.authTokens[0]?.hash).toMatch(/^[0-9a-f]{64}$/);
    });

    test.each([
      ['no Authorization', undefined],
      ['a wrong admin token', 'Bearer wrong-admin-token-0000000000'],
      ['another scheme', `Basic ${Buffer.from(`x:${ADMIN_TOKEN}`).toString('base64')}`],
    ])('%s → 401 invalid_credentials, nothing created', async (_name, authorization) => {
      const req = request(gw.app).post('/v1/admin/accounts');
      if (authorization) req.set('Authorization', authorization);
      const res = await req.send({ data: { name: 'Acme' } });
      expect(res.status).toBe(401);
      expect(res.body.error).toEqual({
        message: 'The credentials are not valid.',
        status: 'UNAUTHENTICATED',
        code: 'invalid_credentials',
        retryable: false,
      });
      expect(res.text).not.toContain(ADMIN_TOKEN);
    });

    test.each([
      [{ data: {} }, 'data.name is required.'],
      [{ data: { name: '' } }, 'data.name must not be empty.'],
      [{ data: { name: 5 } }, 'data.name must be a string.'],
      [{}, 'data is required.'],
    ])('%j → 400', async (payload, message) => {
      const res = await request(gw.app).post('/v1/admin/accounts').set('Authorization', admin).send(payload);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'invalid_argument', message });
    });
  });

  describe('auth tokens', () => {
    let acme: TestAccount;
    beforeEach(async () => {
      acme = await gw.createAccount('Acme');
    });
    const path = (suffix = '') => `/v1/admin/accounts/${acme.account.id}/auth-tokens${suffix}`;
    const me = (account: { apiKey: string; authToken: string }) =>
      request(gw.app).get('/v1/account/me').set('Authorization', basicAuth(account));

    test('a second token works alongside the first; the list shows ids and dates, never secrets', async () => {
      const added = await request(gw.app).post(path()).set('Authorization', admin);
      expect(added.status).toBe(201);
      const second = added.body.result.data;
      expect(second.authToken).toMatch(/^at_/);
      expect((await me(acme)).status).toBe(200);
      expect((await me({ apiKey: acme.apiKey, authToken: second.authToken })).status).toBe(200);
      const list = await request(gw.app).get(path()).set('Authorization', admin);
      expect(list.status).toBe(200);
      expect(list.body.result.data.authTokens.map((t: { authTokenId: string }) => t.authTokenId).sort()).toEqual(
        [acme.authTokenId, second.authTokenId].sort(),
      );
      for (const t of list.body.result.data.authTokens) expect(Object.keys(t).sort()).toEqual(['authTokenId', 'createdAt']);
      expect(list.text).not.toContain(acme.authToken);
      expect(list.text).not.toContain(second.authToken);
    });

    test('a deleted token stops working at once', async () => {
      const del = await request(gw.app).delete(path(`/${acme.authTokenId}`)).set('Authorization', admin);
      expect(del.status).toBe(200);
      const res = await me(acme);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="token-gateway"');
    });

    test('an unknown account or auth token id is 404', async () => {
      for (const res of [
        await request(gw.app).post('/v1/admin/accounts/acc_nope/auth-tokens').set('Authorization', admin),
        await request(gw.app).get('/v1/admin/accounts/acc_nope/auth-tokens').set('Authorization', admin),
        await request(gw.app).delete(path('/atk_nope')).set('Authorization', admin),
      ]) {
        expect(res.status).toBe(404);
        expect(res.body.error).toMatchObject({ status: 'NOT_FOUND', code: 'not_found', retryable: false });
      }
    });
  });

  describe('GET /v1/account/me', () => {
    test('answers the caller’s account with hasSigningKey, by Basic or body credentials; never a secret', async () => {
      const acme = await gw.createAccount('Acme');
      const res = await request(gw.app).get('/v1/account/me').set('Authorization', basicAuth(acme));
      expect(res.status).toBe(200);
      expect(res.body.result.data.account).toEqual({ ...acme.account, hasSigningKey: false });
      expect(res.text).not.toContain(acme.authToken);
    });

    test('raw (not form-encoded) Basic halves work too', async () => {
      const acme = await gw.createAccount('Acme');
      const raw = `Basic ${Buffer.from(`${acme.apiKey}:${acme.authToken}`).toString('base64')}`;
      expect((await request(gw.app).get('/v1/account/me').set('Authorization', raw)).status).toBe(200);
    });

    test.each([
      ['no credentials', undefined],
      ['a wrong secret', 'wrong'],
      ['garbage Basic', 'garbage'],
    ])('%s → 401 with a Basic challenge', async (_name, variant) => {
      const acme = await gw.createAccount('Acme');
      const req = request(gw.app).get('/v1/account/me');
      if (variant === 'wrong') req.set('Authorization', basicAuth({ apiKey: acme.apiKey, authToken: 'at_wrong' }));
      if (variant === 'garbage') req.set('Authorization', 'Basic !!!');
      const res = await req;
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="token-gateway"');
      expect(res.body.error).toMatchObject({ code: 'invalid_credentials', status: 'UNAUTHENTICATED' });
    });
  });

  describe('the user directory', () => {
    let acme: TestAccount;
    beforeEach(async () => {
      acme = await gw.createAccount('Acme');
    });
    const user = (id: string) => `/v1/users/${encodeURIComponent(id)}`;

    test('PUT records, GET reads, DELETE removes; issuance checks against it', async () => {
      const put = await request(gw.app)
        .put(user('user 1/x'))
        .set('Authorization', basicAuth(acme))
        .send({ data: { organizationIds: ['org-1', 'org-2'], email: 'Ada@Example.com' } });
      expect(put.status).toBe(200);
      expect(put.body.result.data.user).toMatchObject({
        userId: 'user 1/x',
        organizationIds: ['org-1', 'org-2'],
        email: 'ada@example.com',
      });
      const get = await request(gw.app).get(user('user 1/x')).set('Authorization', basicAuth(acme));
      expect(get.status).toBe(200);
      expect(get.body.result.data.user).toEqual(put.body.result.data.user);

      const denied = await request(gw.app).post('/v1/auth/token/get').send({
        data: { apiKey: acme.apiKey, authToken: acme.authToken, userId: 'user 1/x', userProperties: { organizationId: 'org-3' } },
      });
      expect(denied.status).toBe(403);
      expect(denied.body.error.code).toBe('organization_mismatch');

      const del = await request(gw.app).delete(user('user 1/x')).set('Authorization', basicAuth(acme));
      expect(del.status).toBe(200);
      expect((await request(gw.app).get(user('user 1/x')).set('Authorization', basicAuth(acme))).status).toBe(404);
      expect((await request(gw.app).delete(user('user 1/x')).set('Authorization', basicAuth(acme))).status).toBe(404);
    });

    test('credentials may also come in the body, at the top or inside data', async () => {
      const top = await request(gw.app)
        .put(user('u1'))
        .send({ apiKey: acme.apiKey, authToken: acme.authToken, data: { organizationIds: ['o'] } });
      expect(top.status).toBe(200);
      const inside = await request(gw.app)
        .put(user('u2'))
        .send({ data: { apiKey: acme.apiKey, authToken: acme.authToken, organizationIds: ['o'] } });
      expect(inside.status).toBe(200);
    });

    test('entries are per account', async () => {
      const other = await gw.createAccount('Other');
      await request(gw.app).put(user('u1')).set('Authorization', basicAuth(acme)).send({ data: { organizationIds: ['o'] } });
      expect((await request(gw.app).get(user('u1')).set('Authorization', basicAuth(other))).status).toBe(404);
    });

    test.each([
      [{ data: {} }, 'data.organizationIds is required.'],
      [{ data: { organizationIds: [] } }, 'data.organizationIds must have at least 1 entries.'],
      [{ data: { organizationIds: 'org-1' } }, 'data.organizationIds must be an array.'],
      [{ data: { organizationIds: [''] } }, 'data.organizationIds.0 must not be empty.'],
      [{ data: { organizationIds: ['o'], email: 'nope' } }, 'data.email must be a valid email address.'],
    ])('%j → 400 naming the field, nothing stored', async (payload, message) => {
      const res = await request(gw.app).put(user('u1')).set('Authorization', basicAuth(acme)).send(payload);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'invalid_argument', message });
      expect(await gw.store.getUser(acme.apiKey, 'u1')).toBeNull();
    });

    test('a userId that is not printable ASCII is 400', async () => {
      const res = await request(gw.app).get('/v1/users/%C3%A9t%C3%A9').set('Authorization', basicAuth(acme));
      expect(res.status).toBe(400);
      expect(res.body.error.message).toBe('userId must contain only printable ASCII characters.');
    });

    test('PATCH is 405 with Allow', async () => {
      const res = await request(gw.app).patch(user('u1')).set('Authorization', basicAuth(acme));
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('PUT, GET, HEAD, DELETE');
    });
  });
});

describe('without ADMIN_TOKEN', () => {
  test('the admin routes answer 404 not_found', async () => {
    const gw = await buildTestGateway({ env: { ADMIN_TOKEN: '' } });
    for (const res of [
      await request(gw.app).post('/v1/admin/accounts').set('Authorization', admin).send({ data: { name: 'x' } }),
      await request(gw.app).get('/v1/admin/accounts/acc_1/auth-tokens').set('Authorization', admin),
      await request(gw.app).delete('/v1/admin/accounts/acc_1/auth-tokens/atk_1'),
      await request(gw.app).get('/v1/admin/accounts/%E0%A4%A/auth-tokens').set('Authorization', admin),
    ]) {
      expect(res.status).toBe(404);
      expect(res.body.error).toMatchObject({ status: 'NOT_FOUND', code: 'not_found' });
    }
    await gw.close();
  });

  test('they answer 404 even when the store is down (nothing is looked at first)', async () => {
    const gw = await buildTestGateway({ env: { ADMIN_TOKEN: '' } });
    (gw.store as unknown as { failing: boolean }).failing = true;
    const res = await request(gw.app).post('/v1/admin/accounts').set('Authorization', admin).send({ data: { name: 'x' } });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
    await gw.close();
  });
});

describe('a path parameter that is not valid percent-encoding', () => {
  test('is 400 invalid_argument, not an internal error', async () => {
    const gw = await buildTestGateway();
    const acme = await gw.createAccount();
    for (const path of ['/v1/users/%ZZ', '/v1/admin/accounts/%E0%A4%A/auth-tokens']) {
      const res = await request(gw.app).get(path).set('Authorization', path.includes('admin') ? admin : basicAuth(acme));
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: {
          message: 'The request path is not valid percent-encoding.',
          status: 'INVALID_ARGUMENT',
          code: 'invalid_argument',
          retryable: false,
        },
      });
    }
    await gw.close();
  });
});

describe('unknown routes', () => {
  test('404 not_found in the envelope', async () => {
    const gw = await buildTestGateway();
    const res = await request(gw.app).get('/v1/nope');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      error: { message: 'No route matches this path.', status: 'NOT_FOUND', code: 'not_found', retryable: false },
    });
    await gw.close();
  });
});
