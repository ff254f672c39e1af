/**
 * POST /v1/auth/token/get, every sentence of contract §2, on both stores.
 */
import { createPublicKey } from 'node:crypto';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { MemoryStore } from '../../src/store';
import { buildTestGateway, ISSUER, type TestAccount, type TestGateway } from '../helpers/app';
import { STORE_KINDS } from '../helpers/stores';

const decode = (token: string) => jwt.decode(token, { complete: true }) as jwt.Jwt & { payload: Record<string, unknown> };

describe.each(STORE_KINDS)('issuance on the %s store', (kind) => {
  let gw: TestGateway;
  let acme: TestAccount;
  let other: TestAccount;

  beforeEach(async () => {
    gw = await buildTestGateway({ store: kind });
    acme = await gw.createAccount('Acme');
    other = await gw.createAccount('Other');
  });
  afterEach(() => gw.close());

  const body = (data: Record<string, unknown>) => ({ data });
  const valid = (overrides: Record<string, unknown> = {}) => ({
    apiKey: acme.apiKey,
    authToken: acme.authToken,
    userId: 'user-1',
    userProperties: { organizationId: 'org-1', email: 'Ada@Example.com', isAdmin: true },
    ...overrides,
  });
  const post = (payload: unknown) => request(gw.app).post('/v1/auth/token/get').send(payload as object);

  test('signs a token with every claim and answers the Velt envelope', async () => {
    const now = Math.floor(gw.clock.now() / 1000);
    const res = await post(body(valid({ policy: { allow: ['*'], reject: ['document:delete'] } })));
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body.result).toMatchObject({ status: 'success', message: 'Token generated successfully.' });
    const data = res.body.result.data;
    expect(Object.keys(data).sort()).toEqual(['expiresAt', 'expiresIn', 'serverTime', 'token', 'tokenId', 'tokenType']);
    expect(data.tokenType).toBe('Bearer');
    expect(data).toMatchObject({ expiresIn: 172_800, serverTime: now, expiresAt: now + 172_800 });

    const { header, payload } = decode(data.token);
    const key = gw.keyRing.signingKey();
    expect(header).toEqual({ alg: 'RS256', typ: 'JWT', kid: key.kid });
    expect(payload).toEqual({
      iss: ISSUER,
      sub: 'user-1',
      userId: 'user-1',
      aud: acme.apiKey,
      iat: now,
      nbf: now,
      exp: now + 172_800,
      jti: data.tokenId,
      organizationId: 'org-1',
      email: 'ada@example.com',
      isAdmin: true,
      policy: { allow: ['*'], reject: ['document:delete'] },
    });
    expect(data.tokenId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(Buffer.from(data.tokenId, 'base64url')).toHaveLength(16);
    // It verifies with the published public key only, RS256 pinned.
    const publicKey = createPublicKey(gw.keyRing.signingKey().publicKey.export({ type: 'spki', format: 'pem' }));
    expect(() => jwt.verify(data.token, publicKey, { algorithms: ['RS256'], audience: acme.apiKey, issuer: ISSUER })).not.toThrow();
  });

  test('email and policy are absent when not given; isAdmin defaults to false', async () => {
    const res = await post(body(valid({ userProperties: { organizationId: 'org-1' } })));
    expect(res.status).toBe(200);
    const { payload } = decode(res.body.result.data.token);
    expect(payload).not.toHaveProperty('email');
    expect(payload).not.toHaveProperty('policy');
    expect(payload.isAdmin).toBe(false);
  });

  test('expiresIn sets the lifetime within 60..172800', async () => {
    for (const expiresIn of [60, 3600, 172_800]) {
      const res = await post(body(valid({ expiresIn })));
      expect(res.status).toBe(200);
      const { payload } = decode(res.body.result.data.token);
      expect(payload.exp).toBe((payload.iat as number) + expiresIn);
      expect(res.body.result.data.expiresIn).toBe(expiresIn);
    }
  });

  test('each issued token is recorded in the store until it expires', async () => {
    const res = await post(body(valid({ expiresIn: 600 })));
    const { tokenId, expiresAt, serverTime } = res.body.result.data;
    expect(await gw.store.getIssuedToken(acme.apiKey, tokenId)).toEqual({
      jti: tokenId,
      apiKey: acme.apiKey,
      userId: 'user-1',
      organizationId: 'org-1',
      iat: serverTime,
      exp: expiresAt,
    });
  });

  describe('credentials', () => {
    test('a wrong authToken, an unknown apiKey, another account’s authToken and malformed keys all get the same 401', async () => {
      const attempts = [
        valid({ authToken: 'at_wrongwrongwrongwrongwrongwrongwrongwrongwro' }),
        valid({ apiKey: 'ak_unknownunknownunknown' }),
        valid({ authToken: other.authToken }),
        valid({ apiKey: 'ak with spaces' }),
        valid({ authToken: 'at_!!!' }),
      ];
      const answers = await Promise.all(attempts.map((a) => post(body(a))));
      for (const res of answers) {
        expect(res.status).toBe(401);
        expect(res.body).toEqual({
          error: {
            message: 'The credentials are not valid.',
            status: 'UNAUTHENTICATED',
            code: 'invalid_credentials',
            retryable: false,
          },
        });
      }
    });

    test('a deleted auth token stops working at once; the others keep working', async () => {
      const second = await request(gw.app)
        .post(`/v1/admin/accounts/${acme.account.id}/auth-tokens`)
        .set('Authorization', 'Bearer test-admin-token-0123456789');
      expect(second.status).toBe(201);
      const del = await request(gw.app)
        .delete(`/v1/admin/accounts/${acme.account.id}/auth-tokens/${acme.authTokenId}`)
        .set('Authorization', 'Bearer test-admin-token-0123456789');
      expect(del.status).toBe(200);
      expect((await post(body(valid()))).status).toBe(401);
      expect((await post(body(valid({ authToken: second.body.result.data.authToken })))).status).toBe(200);
    });
  });

  describe('user directory', () => {
    beforeEach(async () => {
      await gw.store.putUser(acme.apiKey, 'user-1', {
        organizationIds: ['org-1', 'org-2'],
        email: 'ada@example.com',
        updatedAt: new Date().toISOString(),
      });
    });

    test('an organization the user is not in is 403 organization_mismatch', async () => {
      const res = await post(body(valid({ userProperties: { organizationId: 'org-9' } })));
      expect(res.status).toBe(403);
      expect(res.body.error).toMatchObject({ status: 'PERMISSION_DENIED', code: 'organization_mismatch' });
    });

    test('another email is 403 email_mismatch; the same one in other case passes', async () => {
      const wrong = await post(body(valid({ userProperties: { organizationId: 'org-2', email: 'eve@example.com' } })));
      expect(wrong.status).toBe(403);
      expect(wrong.body.error).toMatchObject({ status: 'PERMISSION_DENIED', code: 'email_mismatch' });
      const same = await post(body(valid({ userProperties: { organizationId: 'org-2', email: 'ADA@example.COM' } })));
      expect(same.status).toBe(200);
    });

    test('without an entry for the user, nothing is checked', async () => {
      const res = await post(body(valid({ userId: 'user-2', userProperties: { organizationId: 'org-9' } })));
      expect(res.status).toBe(200);
    });
  });

  describe('bad input: the contract error, nothing changes', () => {
    const long = 'u'.repeat(257);
    const cases: Array<[string, unknown, string, string?]> = [
      ['no body', undefined, 'data is required.'],
      ['an array', [1, 2], 'The request body must be a JSON object.'],
      ['a string', 'hello', 'The request body must be a JSON object.'],
      ['data missing', { nope: 1 }, 'data is required.'],
      ['data not an object', { data: 'x' }, 'data must be an object.'],
      ['data an array', { data: [] }, 'data must be an object.'],
      ['apiKey missing', { data: { authToken: 'a', userId: 'u', userProperties: { organizationId: 'o' } } }, 'data.apiKey is required.'],
      ['apiKey empty', 'apiKey:', 'data.apiKey must not be empty.'],
      ['apiKey a number', 'apiKey:5', 'data.apiKey must be a string.'],
      ['authToken missing', 'authToken:undefined', 'data.authToken is required.'],
      ['authToken null', 'authToken:null', 'data.authToken must be a string.'],
      ['userId missing', 'userId:undefined', 'data.userId is required.'],
      ['userId empty', 'userId:', 'data.userId must not be empty.'],
      ['userId a number', 'userId:7', 'data.userId must be a string.'],
      ['userId too long', `userId:${long}`, 'data.userId must be at most 256 characters.'],
      ['userId with a newline', 'userId:a\nb', 'data.userId must contain only printable ASCII characters.'],
      ['userId with a leading space', 'userId: a', 'data.userId must not start or end with a space.'],
      ['userProperties missing', 'userProperties:undefined', 'data.userProperties is required.'],
      ['organizationId missing', 'org:undefined', 'data.userProperties.organizationId is required.'],
      ['organizationId empty', 'org:', 'data.userProperties.organizationId must not be empty.'],
      ['organizationId too long', `org:${long}`, 'data.userProperties.organizationId must be at most 256 characters.'],
      ['an invalid email', 'email:not-an-email', 'data.userProperties.email must be a valid email address.'],
      ['isAdmin a string', 'isAdmin:yes', 'data.userProperties.isAdmin must be a boolean.'],
      ['expiresIn 59', 'expiresIn:59', 'data.expiresIn must be a whole number of seconds from 60 to 172800.'],
      ['expiresIn 172801', 'expiresIn:172801', 'data.expiresIn must be a whole number of seconds from 60 to 172800.'],
      ['expiresIn 1.5', 'expiresIn:1.5', 'data.expiresIn must be a whole number of seconds from 60 to 172800.'],
      ['expiresIn "60"', 'expiresIn:"60"', 'data.expiresIn must be a whole number of seconds from 60 to 172800.'],
      ['a policy that is not two arrays', 'policy:{"allow":"*"}', 'data.policy.allow must be an array of permission names.'],
    ];

    function build(spec: unknown): unknown {
      if (typeof spec !== 'string' || !spec.includes(':') || spec === 'hello') return spec;
      const [field, ...rest] = spec.split(':');
      const raw = rest.join(':');
      const data = valid() as Record<string, any>;
      data.userProperties = { ...data.userProperties };
      const value =
        raw === 'undefined' ? undefined : raw === 'null' ? null : /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw.startsWith('"') || raw.startsWith('{') ? JSON.parse(raw) : raw;
      if (field === 'org') data.userProperties.organizationId = value;
      else if (field === 'email') data.userProperties.email = value;
      else if (field === 'isAdmin') data.userProperties.isAdmin = value;
      else data[field!] = value;
      for (const k of Object.keys(data)) if (data[k] === undefined) delete data[k];
      for (const k of Object.keys(data.userProperties ?? {})) if (data.userProperties[k] === undefined) delete data.userProperties[k];
      return { data };
    }

    test.each(cases)('%s → 400 invalid_argument naming the field', async (_name, spec, message) => {
      const payload = build(spec);
      const req = request(gw.app).post('/v1/auth/token/get');
      const res =
        payload === undefined
          ? await req
          : typeof payload === 'string'
            ? await req.set('Content-Type', 'application/json').send(JSON.stringify(payload))
            : await req.send(payload as object);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: { message, status: 'INVALID_ARGUMENT', code: 'invalid_argument', retryable: false },
      });
      expect(res.text).not.toContain(acme.authToken);
    });

    test.each([
      ['__proto__', (body: string) => body.replace('{"apiKey"', '{"__proto__":{"isAdmin":true},"apiKey"'), 'data.__proto__'],
      ['constructor', (body: string) => body.replace('{"apiKey"', '{"constructor":{"prototype":{"isAdmin":true}},"apiKey"'), 'data.constructor'],
      ['constructor (top level)', (body: string) => body.replace('{"data"', '{"constructor":"x","data"'), 'constructor'],
      ['prototype (nested)', (body: string) => body.replace('"isAdmin":false', '"isAdmin":false,"prototype":{}'), 'data.userProperties.prototype'],
    ])('a %s key in an otherwise valid body → 400 naming it, and no token', async (_name, inject, path) => {
      const valid = JSON.stringify({
        data: { apiKey: acme.apiKey, authToken: acme.authToken, userId: 'user-1', userProperties: { organizationId: 'org-1', isAdmin: false } },
      });
      const control = await request(gw.app).post('/v1/auth/token/get').set('Content-Type', 'application/json').send(valid);
      expect(control.status).toBe(200);
      const record = jest.spyOn(gw.store, 'recordIssuedToken');
      const text = inject(valid);
      expect(text).not.toBe(valid);
      const res = await request(gw.app).post('/v1/auth/token/get').set('Content-Type', 'application/json').send(text);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: { message: `${path} is a forbidden key.`, status: 'INVALID_ARGUMENT', code: 'invalid_argument', retryable: false },
      });
      expect(record).not.toHaveBeenCalled();
      record.mockRestore();
    });

    test('a body that is not JSON → 400 invalid_json', async () => {
      const res = await request(gw.app).post('/v1/auth/token/get').set('Content-Type', 'application/json').send('{"data":');
      expect(res.status).toBe(400);
      expect(res.body.error).toEqual({
        message: 'The request body is not valid JSON.',
        status: 'INVALID_ARGUMENT',
        code: 'invalid_json',
        retryable: false,
      });
    });

    test('another content type → 415 unsupported_media_type', async () => {
      const res = await request(gw.app).post('/v1/auth/token/get').set('Content-Type', 'text/plain').send('data');
      expect(res.status).toBe(415);
      expect(res.body.error).toMatchObject({ status: 'UNSUPPORTED_MEDIA_TYPE', code: 'unsupported_media_type', retryable: false });
      const form = await request(gw.app).post('/v1/auth/token/get').type('form').send('data=1');
      expect(form.status).toBe(415);
    });

    test('a body over BODY_LIMIT → 413 payload_too_large', async () => {
      const res = await post(body(valid({ userId: 'u', padding: 'x'.repeat(17 * 1024) })));
      expect(res.status).toBe(413);
      expect(res.body.error).toMatchObject({ status: 'PAYLOAD_TOO_LARGE', code: 'payload_too_large', retryable: false });
    });

    test('nothing is written for a refused request', async () => {
      const writes = (['recordIssuedToken', 'revokeToken', 'revokeUser', 'revokeOrganization', 'putUser', 'addAuthToken'] as const).map(
        (method) => jest.spyOn(gw.store, method),
      );
      const before = gw.store instanceof MemoryStore ? gw.store.trackedEntryCount() : 0;
      const refused = [
        await post(body(valid({ expiresIn: 59 }))),
        await post(body(valid({ authToken: other.authToken }))),
        await post(body(valid({ userId: '' }))),
        await post(body(valid({ policy: { allow: 'x' } }))),
        await request(gw.app).post('/v1/auth/token/get').set('Content-Type', 'application/json').send('{"data":'),
      ];
      expect(refused.map((r) => r.status)).toEqual([400, 401, 400, 400, 400]);
      for (const write of writes) expect(write).not.toHaveBeenCalled();
      if (gw.store instanceof MemoryStore) expect(gw.store.trackedEntryCount()).toBe(before);
      for (const write of writes) write.mockRestore();
    });
  });

  test('TOKEN_TTL_SECONDS sets the lifetime of a token whose request names none', async () => {
    const short = await buildTestGateway({ store: kind, env: { TOKEN_TTL_SECONDS: '600' } });
    try {
      const account = await short.createAccount();
      const { token, data } = await short.issue(account);
      expect(data.expiresIn).toBe(600);
      expect(data.expiresAt - data.serverTime).toBe(600);
      const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
      expect(claims.exp - claims.iat).toBe(600);
      const asked = await short.issue(account, { expiresIn: 3600 });
      expect(asked.data.expiresIn).toBe(3600);
    } finally {
      await short.close();
    }
  });

  test('a store that cannot record the token: 503 store_unavailable and no token', async () => {
    const original = gw.store.recordIssuedToken.bind(gw.store);
    const { StoreUnavailableError } = await import('../../src/store');
    gw.store.recordIssuedToken = async () => {
      throw new StoreUnavailableError();
    };
    const res = await post(body(valid()));
    gw.store.recordIssuedToken = original;
    expect(res.status).toBe(503);
    expect(res.body).toEqual({
      error: {
        message: 'The token store is unavailable; try again shortly.',
        status: 'UNAVAILABLE',
        code: 'store_unavailable',
        retryable: true,
      },
    });
    expect(res.text).not.toMatch(/eyJ/);
  });

  test('GET is 405 with Allow', async () => {
    const res = await request(gw.app).get('/v1/auth/token/get');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
    expect(res.body.error).toMatchObject({ status: 'METHOD_NOT_ALLOWED', code: 'method_not_allowed' });
  });
});
