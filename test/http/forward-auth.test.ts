/**
 * Contract §3.3: forward auth for a sidecar (nginx auth_request, Traefik ForwardAuth, Envoy
 * ext_authz), on both stores: exactly 200 with every identity header, any method, no body
 * read, RFC 6750 challenges for each denial.
 */
import { sign } from 'node:crypto';
import request from 'supertest';
import { rsaKeyPairPem } from '../helpers/keys';
import { basicAuth, buildTestGateway, type TestAccount, type TestGateway } from '../helpers/app';
import { STORE_KINDS } from '../helpers/stores';

const PATH = '/v1/auth/verify';
const IDENTITY_HEADERS = [
  'x-auth-user-id',
  'x-auth-organization-id',
  'x-auth-email',
  'x-auth-is-admin',
  'x-auth-token-id',
  'x-auth-account',
];
const METHODS = ['get', 'post', 'put', 'delete', 'patch'] as const;

describe.each(STORE_KINDS)('forward auth on the %s store', (kind) => {
  let gw: TestGateway;
  let acme: TestAccount;

  beforeEach(async () => {
    gw = await buildTestGateway({ store: kind });
    acme = await gw.createAccount('Acme');
  });
  afterEach(() => gw.close());

  /** The path a proxy configured for acme calls (contract §3.3). */
  const scoped = () => `${PATH}?apiKey=${acme.apiKey}`;
  const verify = (token: string, path = scoped()) => request(gw.app).get(path).set('Authorization', `Bearer ${token}`);

  function expectAllowed(res: request.Response): void {
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    expect(res.headers['content-length'] ?? '0').toBe('0');
    for (const name of IDENTITY_HEADERS) expect(res.headers).toHaveProperty(name);
    expect(res.headers['www-authenticate']).toBeUndefined();
  }

  function expectEnvelope(res: request.Response, httpStatus: number, status: string, code: string): void {
    expect(res.status).toBe(httpStatus);
    expect(res.body).toEqual({ error: { message: expect.any(String), status, code, retryable: false } });
    for (const name of IDENTITY_HEADERS) expect(res.headers[name]).toBeUndefined();
  }

  describe('a valid token', () => {
    test('exactly 200, empty body, all six X-Auth-* headers with the token values', async () => {
      const { token, data } = await gw.issue(acme, {
        userProperties: { organizationId: 'org-1', email: 'User@Example.com', isAdmin: true },
      });
      const res = await verify(token);
      expectAllowed(res);
      expect(res.headers['x-auth-user-id']).toBe('user-1');
      expect(res.headers['x-auth-organization-id']).toBe('org-1');
      expect(res.headers['x-auth-email']).toBe('user@example.com');
      expect(res.headers['x-auth-is-admin']).toBe('true');
      expect(res.headers['x-auth-token-id']).toBe(data.tokenId);
      expect(res.headers['x-auth-account']).toBe(acme.apiKey);
    });

    test('without email or isAdmin: X-Auth-Email present and empty, X-Auth-Is-Admin "false"', async () => {
      const { token } = await gw.issue(acme, { userProperties: { organizationId: 'org-1' } });
      const res = await verify(token);
      expectAllowed(res);
      expect(res.headers['x-auth-email']).toBe('');
      expect(res.headers['x-auth-is-admin']).toBe('false');
    });

    test('identifiers with spaces and punctuation travel unchanged in the headers', async () => {
      const userId = 'Jane Doe <jane>; "x"=1';
      const organizationId = 'Org #1, Ltd.';
      const { token } = await gw.issue(acme, { userId, userProperties: { organizationId } });
      const res = await verify(token);
      expectAllowed(res);
      expect(res.headers['x-auth-user-id']).toBe(userId);
      expect(res.headers['x-auth-organization-id']).toBe(organizationId);
    });

    test('a customer token without organizationId, email, isAdmin or jti: those headers present and empty, Is-Admin "false"', async () => {
      const { publicKey, privateKey } = rsaKeyPairPem();
      const put = await request(gw.app).put('/v1/account/signing-key').set('Authorization', basicAuth(acme)).send({ data: { publicKey } });
      expect(put.status).toBe(200);
      const iat = Math.floor(gw.clock.now() / 1000);
      const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const input = `${encode({ alg: 'RS256', typ: 'JWT' })}.${encode({ iss: acme.apiKey, sub: 'cust-user', iat, exp: iat + 300 })}`;
      const token = `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
      const res = await request(gw.app)
        .get(scoped())
        .set('Authorization', `Bearer ${token}`)
        .set('X-Auth-Organization-Id', 'spoofed')
        .set('X-Auth-Token-Id', 'spoofed');
      expectAllowed(res);
      expect(res.headers['x-auth-user-id']).toBe('cust-user');
      expect(res.headers['x-auth-organization-id']).toBe('');
      expect(res.headers['x-auth-email']).toBe('');
      expect(res.headers['x-auth-is-admin']).toBe('false');
      expect(res.headers['x-auth-token-id']).toBe('');
      expect(res.headers['x-auth-account']).toBe(acme.apiKey);
    });

    test('X-Auth-* headers sent by the client are overwritten', async () => {
      const { token } = await gw.issue(acme, { userProperties: { organizationId: 'org-1' } });
      const res = await verify(token).set('X-Auth-User-Id', 'admin').set('X-Auth-Email', 'boss@example.com').set('X-Auth-Is-Admin', 'true');
      expectAllowed(res);
      expect(res.headers['x-auth-user-id']).toBe('user-1');
      expect(res.headers['x-auth-email']).toBe('');
      expect(res.headers['x-auth-is-admin']).toBe('false');
    });

    test.each(METHODS)('method %s is accepted', async (method) => {
      const { token } = await gw.issue(acme);
      const res = await request(gw.app)[method](scoped()).set('Authorization', `Bearer ${token}`);
      expectAllowed(res);
      expect(res.headers['x-auth-user-id']).toBe('user-1');
    });

    test('HEAD and OPTIONS are accepted too', async () => {
      const { token } = await gw.issue(acme);
      const head = await request(gw.app).head(scoped()).set('Authorization', `Bearer ${token}`);
      expect(head.status).toBe(200);
      expect(head.headers['x-auth-user-id']).toBe('user-1');
      const options = await request(gw.app).options(scoped()).set('Authorization', `Bearer ${token}`);
      expectAllowed(options);
    });

    test('the body is never read: a body far over BODY_LIMIT, or one that is not JSON, is still 200', async () => {
      const { token } = await gw.issue(acme);
      const huge = 'x'.repeat(gw.config.bodyLimitBytes * 8);
      expectAllowed(await request(gw.app).post(scoped()).set('Authorization', `Bearer ${token}`).type('json').send(huge));
      expectAllowed(await request(gw.app).put(scoped()).set('Authorization', `Bearer ${token}`).type('json').send('{not json'));
      expectAllowed(
        await request(gw.app).patch(scoped()).set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/octet-stream').send(Buffer.alloc(1024, 7)),
      );
    });

    test('the scheme name is case-insensitive', async () => {
      const { token } = await gw.issue(acme);
      expectAllowed(await request(gw.app).get(scoped()).set('Authorization', `bearer ${token}`));
    });
  });

  describe('no token → 401 token_missing, a challenge without error=', () => {
    test.each<[string, string | undefined]>([
      ['no Authorization header', undefined],
      ['another scheme (Basic)', 'Basic dXNlcjpwYXNz'],
      ['Bearer with nothing after it', 'Bearer'],
      ['Bearer with only spaces after it', 'Bearer    '],
    ])('%s', async (_name, authorization) => {
      const req = request(gw.app).get(scoped());
      if (authorization !== undefined) req.set('Authorization', authorization);
      const res = await req;
      expectEnvelope(res, 401, 'UNAUTHENTICATED', 'token_missing');
      expect(res.headers['www-authenticate']).toBe('Bearer realm="token-gateway"');
      expect(res.headers['www-authenticate']).not.toMatch(/error=/);
    });

    test('a token in the body or query is not read', async () => {
      const { token } = await gw.issue(acme);
      const res = await request(gw.app).post(`${scoped()}&access_token=${token}`).type('form').send({ access_token: token });
      expectEnvelope(res, 401, 'UNAUTHENTICATED', 'token_missing');
    });
  });

  describe('an invalid, expired or revoked token → 401 with error="invalid_token" and the code', () => {
    function expectInvalidToken(res: request.Response, code: string): void {
      expectEnvelope(res, 401, 'UNAUTHENTICATED', code);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token", error_description="[^"]+"$/);
      // The description is the envelope's message, made safe for a quoted string.
      const description = /error_description="([^"]*)"/.exec(res.headers['www-authenticate']!)![1];
      expect(description).toBe(res.body.error.message.replace(/["\\]/g, "'"));
    }

    test('garbage → token_invalid', async () => {
      const res = await verify('garbage');
      expectInvalidToken(res, 'token_invalid');
      expect(res.text).not.toContain('garbage');
    });

    test('a forged signature → token_invalid', async () => {
      const { token } = await gw.issue(acme);
      const forged = `${token.slice(0, token.lastIndexOf('.') + 1)}${Buffer.alloc(256, 1).toString('base64url')}`;
      expectInvalidToken(await verify(forged), 'token_invalid');
    });

    test('a token whose aud was altered → token_invalid', async () => {
      const { token } = await gw.issue(acme);
      const [h, p, s] = token.split('.');
      const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
      claims.aud = 'ak_nobody';
      expectInvalidToken(await verify(`${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`), 'token_invalid');
    });

    test('expired → token_expired', async () => {
      const { token } = await gw.issue(acme, { expiresIn: 60 });
      gw.clock.advanceSeconds(60 + gw.config.clockToleranceSeconds);
      expectInvalidToken(await verify(token), 'token_expired');
    });

    test('not yet valid → token_not_yet_valid', async () => {
      const { token } = await gw.issue(acme);
      gw.clock.advanceSeconds(-60);
      expectInvalidToken(await verify(token), 'token_not_yet_valid');
    });

    test('revoked (RFC 7009) → token_revoked', async () => {
      const { token } = await gw.issue(acme);
      expectAllowed(await verify(token));
      const r = await request(gw.app).post('/v1/auth/token/revoke').set('Authorization', basicAuth(acme)).type('form').send({ token });
      expect(r.status).toBe(200);
      expectInvalidToken(await verify(token), 'token_revoked');
    });

    test('revoked by user or organization → token_revoked', async () => {
      const { token: a } = await gw.issue(acme, { userId: 'u-a', userProperties: { organizationId: 'o-a' } });
      const { token: b } = await gw.issue(acme, { userId: 'u-b', userProperties: { organizationId: 'o-b' } });
      await request(gw.app).post('/v1/auth/users/revoke').set('Authorization', basicAuth(acme)).send({ data: { userId: 'u-a' } });
      await request(gw.app).post('/v1/auth/organizations/revoke').set('Authorization', basicAuth(acme)).send({ data: { organizationId: 'o-b' } });
      expectInvalidToken(await verify(a), 'token_revoked');
      expectInvalidToken(await verify(b), 'token_revoked');
    });

    test('denials work for every method too', async () => {
      for (const method of METHODS) {
        const res = await request(gw.app)[method](scoped()).set('Authorization', 'Bearer garbage');
        expectInvalidToken(res, 'token_invalid');
      }
    });
  });

  describe('?permission=', () => {
    const policy = { allow: ['document:read', 'document:write'], reject: ['document:write'] };

    test('a granted permission → 200 with the headers', async () => {
      const { token } = await gw.issue(acme, { policy });
      expectAllowed(await verify(token, `${scoped()}&permission=document:read`));
    });

    test('"*" in allow grants any permission not rejected', async () => {
      const { token } = await gw.issue(acme, { policy: { allow: ['*'], reject: ['document:delete'] } });
      expectAllowed(await verify(token, `${scoped()}&permission=${encodeURIComponent('calendar:read')}`));
      const denied = await verify(token, `${scoped()}&permission=document:delete`);
      expect(denied.status).toBe(403);
    });

    test.each([
      ['a permission the policy does not allow', 'calendar:read'],
      ['a permission the policy rejects (reject wins)', 'document:write'],
    ])('%s → 403 permission_denied with error="insufficient_scope"', async (_name, permission) => {
      const { token } = await gw.issue(acme, { policy });
      const res = await verify(token, `${scoped()}&permission=${encodeURIComponent(permission)}`);
      expectEnvelope(res, 403, 'PERMISSION_DENIED', 'permission_denied');
      expect(res.headers['www-authenticate']).toBe('Bearer error="insufficient_scope"');
    });

    test('a token without a policy is granted no permission, even an admin', async () => {
      const { token } = await gw.issue(acme, { userProperties: { organizationId: 'org-1', isAdmin: true } });
      const res = await verify(token, `${scoped()}&permission=document:read`);
      expectEnvelope(res, 403, 'PERMISSION_DENIED', 'permission_denied');
      expect(res.headers['www-authenticate']).toBe('Bearer error="insufficient_scope"');
      // Without ?permission= the same token passes.
      expectAllowed(await verify(token));
    });

    test('a token check failure comes before the permission check', async () => {
      const { token } = await gw.issue(acme, { policy, expiresIn: 60 });
      gw.clock.advanceSeconds(3600);
      const res = await verify(token, `${scoped()}&permission=calendar:read`);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('token_expired');
    });
  });
});
