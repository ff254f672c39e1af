/**
 * Contract §3.2: POST /v1/auth/token/introspect (RFC 7662), on both stores: every way a caller
 * authenticates, form and JSON bodies, the exact members of an active answer, and one
 * byte-identical `{"active":false}` for everything else. Failures are in RFC 6749 §5.2 form.
 */
import { sign } from 'node:crypto';
import request from 'supertest';
import { rsaKeyPairPem } from '../helpers/keys';
import { basicAuth, buildTestGateway, ISSUER, type TestAccount, type TestGateway } from '../helpers/app';
import { STORE_KINDS } from '../helpers/stores';

const PATH = '/v1/auth/token/introspect';
const INACTIVE = '{"active":false}';

describe.each(STORE_KINDS)('introspection on the %s store', (kind) => {
  let gw: TestGateway;
  let acme: TestAccount;
  let globex: TestAccount;

  beforeEach(async () => {
    gw = await buildTestGateway({ store: kind });
    acme = await gw.createAccount('Acme');
    globex = await gw.createAccount('Globex');
  });
  afterEach(() => gw.close());

  const introspect = () => request(gw.app).post(PATH);
  const withBasic = (account: TestAccount) => introspect().set('Authorization', basicAuth(account));

  function expectActive(res: request.Response): void {
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body.active).toBe(true);
  }

  function expectInactive(res: request.Response): void {
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.text).toBe(INACTIVE);
  }

  function expectOAuthError(res: request.Response, httpStatus: number, error: string, status: string, code: string, retryable = false): void {
    expect(res.status).toBe(httpStatus);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({ error, error_description: expect.any(String), status, code, retryable });
    expect(res.body.error_description.length).toBeGreaterThan(0);
  }

  describe('the active answer', () => {
    test('exactly the members of §3.2, with the values of the token', async () => {
      const policy = { allow: ['*'], reject: ['document:delete'] };
      const { token, data } = await gw.issue(acme, {
        userProperties: { organizationId: 'org-1', email: 'User@Example.com', isAdmin: true },
        policy,
      });
      const res = await withBasic(acme).type('form').send({ token });
      expectActive(res);
      const iat = data.serverTime as number;
      expect(res.body).toEqual({
        active: true,
        token_type: 'Bearer',
        client_id: acme.apiKey,
        sub: 'user-1',
        iss: ISSUER,
        aud: acme.apiKey,
        iat,
        nbf: iat,
        exp: data.expiresAt,
        jti: data.tokenId,
        userId: 'user-1',
        organizationId: 'org-1',
        email: 'user@example.com',
        isAdmin: true,
        policy,
      });
    });

    test('members the token has not (email, policy) are absent, isAdmin defaults to false', async () => {
      const { token } = await gw.issue(acme, { userProperties: { organizationId: 'org-1' } });
      const res = await withBasic(acme).type('form').send({ token });
      expectActive(res);
      expect(Object.keys(res.body).sort()).toEqual(
        ['active', 'aud', 'client_id', 'exp', 'iat', 'iss', 'isAdmin', 'jti', 'nbf', 'organizationId', 'sub', 'token_type', 'userId'].sort(),
      );
      expect(res.body.isAdmin).toBe(false);
    });
  });

  test('a customer token (§6): active, with only the members it has (no aud, nbf or jti here)', async () => {
    const { publicKey, privateKey } = rsaKeyPairPem();
    const put = await request(gw.app).put('/v1/account/signing-key').set('Authorization', basicAuth(acme)).send({ data: { publicKey } });
    expect(put.status).toBe(200);
    const iat = Math.floor(gw.clock.now() / 1000);
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const input = `${encode({ alg: 'RS256', typ: 'JWT' })}.${encode({ iss: acme.apiKey, sub: 'cust-user', iat, exp: iat + 300 })}`;
    const token = `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
    const res = await withBasic(acme).type('form').send({ token });
    expectActive(res);
    expect(res.body).toEqual({
      active: true,
      token_type: 'Bearer',
      client_id: acme.apiKey,
      sub: 'cust-user',
      iss: acme.apiKey,
      iat,
      exp: iat + 300,
      userId: 'cust-user',
      isAdmin: false,
    });
    // Another account introspecting it: inactive, byte for byte.
    expectInactive(await withBasic(globex).type('form').send({ token }));
  });

  describe('how the caller authenticates', () => {
    test('HTTP Basic with each half form-urlencoded (as OAuth clients send it)', async () => {
      const { token } = await gw.issue(acme);
      expectActive(await withBasic(acme).type('form').send({ token }));
    });

    test('HTTP Basic halves are form-decoded: every character percent-encoded still authenticates', async () => {
      const { token } = await gw.issue(acme);
      const encodeAll = (s: string) => [...Buffer.from(s)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
      const header = `Basic ${Buffer.from(`${encodeAll(acme.apiKey)}:${encodeAll(acme.authToken)}`).toString('base64')}`;
      expectActive(await introspect().set('Authorization', header).type('form').send({ token }));
      // The scheme name is case-insensitive (RFC 7235 §2.1).
      expectActive(await introspect().set('Authorization', header.replace('Basic', 'basic')).type('form').send({ token }));
    });

    test('HTTP Basic with raw halves', async () => {
      const { token } = await gw.issue(acme);
      const raw = `Basic ${Buffer.from(`${acme.apiKey}:${acme.authToken}`).toString('base64')}`;
      expectActive(await introspect().set('Authorization', raw).type('form').send({ token }));
    });

    test('client_id and client_secret in a form body', async () => {
      const { token } = await gw.issue(acme);
      expectActive(await introspect().type('form').send({ token, client_id: acme.apiKey, client_secret: acme.authToken }));
    });

    test('client_id and client_secret in a JSON body', async () => {
      const { token } = await gw.issue(acme);
      expectActive(await introspect().send({ token, client_id: acme.apiKey, client_secret: acme.authToken }));
    });

    test('apiKey and authToken in a form body', async () => {
      const { token } = await gw.issue(acme);
      expectActive(await introspect().type('form').send({ token, apiKey: acme.apiKey, authToken: acme.authToken }));
    });

    test('apiKey and authToken in a JSON body', async () => {
      const { token } = await gw.issue(acme);
      expectActive(await introspect().send({ token, apiKey: acme.apiKey, authToken: acme.authToken }));
    });

    test('apiKey, authToken and token inside a JSON `data` envelope', async () => {
      const { token } = await gw.issue(acme);
      expectActive(await introspect().send({ data: { token, apiKey: acme.apiKey, authToken: acme.authToken } }));
    });

    test('a JSON body with Basic credentials', async () => {
      const { token } = await gw.issue(acme);
      expectActive(await withBasic(acme).send({ token }));
    });
  });

  describe('the body', () => {
    test('token_type_hint is ignored, whatever it says', async () => {
      const { token } = await gw.issue(acme);
      for (const hint of ['access_token', 'refresh_token', 'nonsense']) {
        expectActive(await withBasic(acme).type('form').send({ token, token_type_hint: hint }));
      }
    });

    test('unknown members such as scope are ignored (form and JSON)', async () => {
      const { token } = await gw.issue(acme);
      expectActive(await withBasic(acme).type('form').send({ token, scope: 'openid profile', foo: 'bar' }));
      expectActive(await withBasic(acme).send({ token, scope: 'openid', extra: { nested: true } }));
    });

    test.each([
      ['a form without token', (r: request.Test) => r.type('form').send({ token_type_hint: 'access_token' })],
      ['a JSON body without token', (r: request.Test) => r.send({ scope: 'x' })],
      ['an empty token', (r: request.Test) => r.type('form').send({ token: '' })],
      ['no body at all', (r: request.Test) => r],
    ])('%s → 400 invalid_request (OAuth shape)', async (_name, send) => {
      const res = await send(withBasic(acme));
      expectOAuthError(res, 400, 'invalid_request', 'INVALID_ARGUMENT', 'invalid_argument');
      expect(res.body.error_description).toMatch(/token/);
    });

    test('a body over BODY_LIMIT → 413 invalid_request (OAuth shape)', async () => {
      const res = await withBasic(acme).type('form').send({ token: 'x'.repeat(gw.config.bodyLimitBytes + 1) });
      expectOAuthError(res, 413, 'invalid_request', 'PAYLOAD_TOO_LARGE', 'payload_too_large');
    });

    test('broken JSON → 400 invalid_request with code invalid_json', async () => {
      const res = await withBasic(acme).type('json').send('{"token":');
      expectOAuthError(res, 400, 'invalid_request', 'INVALID_ARGUMENT', 'invalid_json');
    });

    test('a body of another media type → 415 invalid_request', async () => {
      const res = await withBasic(acme).set('Content-Type', 'text/plain').send('token=abc');
      expectOAuthError(res, 415, 'invalid_request', 'UNSUPPORTED_MEDIA_TYPE', 'unsupported_media_type');
    });
  });

  describe('a missing or bad caller credential → 401 invalid_client with a Basic challenge', () => {
    let token: string;
    beforeEach(async () => {
      ({ token } = await gw.issue(acme));
    });

    test.each<[string, (r: request.Test) => request.Test]>([
      ['no credential at all', (r) => r.type('form').send({ token })],
      ['a wrong authToken (Basic)', (r) => r.set('Authorization', basicAuth({ apiKey: acme.apiKey, authToken: globex.authToken })).type('form').send({ token })],
      ['an unknown apiKey (Basic)', (r) => r.set('Authorization', basicAuth({ apiKey: 'ak_unknown', authToken: acme.authToken })).type('form').send({ token })],
      ['a Basic header that is not base64 of a pair', (r) => r.set('Authorization', 'Basic bm9jb2xvbg==').type('form').send({ token })],
      ['a Bearer token instead of a client credential', (r) => r.set('Authorization', `Bearer ${token}`).type('form').send({ token })],
      ['a wrong client_secret in the body', (r) => r.type('form').send({ token, client_id: acme.apiKey, client_secret: 'at_wrong' })],
      ['client_id without client_secret', (r) => r.type('form').send({ token, client_id: acme.apiKey })],
    ])('%s', async (_name, send) => {
      const res = await send(introspect());
      expectOAuthError(res, 401, 'invalid_client', 'UNAUTHENTICATED', 'invalid_credentials');
      expect(res.headers['www-authenticate']).toBe('Basic realm="token-gateway"');
      expect(res.text).not.toContain(token);
      expect(res.text).not.toContain(acme.authToken);
    });
  });

  describe('methods', () => {
    test.each(['get', 'put', 'delete', 'patch'] as const)('%s → 405 invalid_request with Allow: POST', async (method) => {
      const res = await request(gw.app)[method](PATH).set('Authorization', basicAuth(acme));
      expectOAuthError(res, 405, 'invalid_request', 'METHOD_NOT_ALLOWED', 'method_not_allowed');
      expect(res.headers.allow).toBe('POST');
    });
  });

  describe('exactly {"active":false} for anything that is not a live token of the caller', () => {
    test('expired, revoked, garbage and another account\'s token answer byte for byte the same', async () => {
      const { token: expiring } = await gw.issue(acme, { expiresIn: 60 });
      const { token: revoked } = await gw.issue(acme);
      const { token: foreign } = await gw.issue(globex);
      const r = await request(gw.app).post('/v1/auth/token/revoke').set('Authorization', basicAuth(acme)).type('form').send({ token: revoked });
      expect(r.status).toBe(200);
      gw.clock.advanceSeconds(60 + gw.config.clockToleranceSeconds);

      const answers = [
        await withBasic(acme).type('form').send({ token: expiring }),
        await withBasic(acme).type('form').send({ token: revoked }),
        await withBasic(acme).type('form').send({ token: 'garbage' }),
        await withBasic(acme).type('form').send({ token: foreign }),
        await withBasic(acme).send({ token: foreign }),
      ];
      for (const res of answers) expectInactive(res);
      // The foreign token is live for its own account.
      expectActive(await withBasic(globex).type('form').send({ token: foreign }));
    });

    test('a token from the future (beyond the tolerance) is inactive', async () => {
      const { token } = await gw.issue(acme);
      gw.clock.advanceSeconds(-60);
      expectInactive(await withBasic(acme).type('form').send({ token }));
    });

    test('a tampered token is inactive', async () => {
      const { token } = await gw.issue(acme);
      const at = token.lastIndexOf('.') + 1; // the signature's first character, always changed
      const tampered = `${token.slice(0, at)}${token[at] === 'A' ? 'B' : 'A'}${token.slice(at + 1)}`;
      expectInactive(await withBasic(acme).type('form').send({ token: tampered }));
    });

    test('tokens of a revoked user and organization are inactive; a later one is active', async () => {
      const { token: userToken } = await gw.issue(acme, { userId: 'user-7', userProperties: { organizationId: 'org-a' } });
      const { token: orgToken } = await gw.issue(acme, { userId: 'user-8', userProperties: { organizationId: 'org-b' } });
      await request(gw.app).post('/v1/auth/users/revoke').set('Authorization', basicAuth(acme)).send({ data: { userId: 'user-7' } });
      await request(gw.app).post('/v1/auth/organizations/revoke').set('Authorization', basicAuth(acme)).send({ data: { organizationId: 'org-b' } });
      expectInactive(await withBasic(acme).type('form').send({ token: userToken }));
      expectInactive(await withBasic(acme).type('form').send({ token: orgToken }));
      gw.clock.advanceSeconds(1);
      const { token: later } = await gw.issue(acme, { userId: 'user-7', userProperties: { organizationId: 'org-b' } });
      expectActive(await withBasic(acme).type('form').send({ token: later }));
    });
  });
});
