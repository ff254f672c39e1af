/** Contract §7 discovery: the JWKS (Cache-Control, ETag, 304) and RFC 8414 metadata. */
import { createLocalJWKSet, jwtVerify } from 'jose';
import request from 'supertest';
import { buildTestGateway, ISSUER, type TestGateway } from '../helpers/app';

describe('discovery', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await buildTestGateway();
  });
  afterAll(() => gw.close());

  test('the JWKS publishes every live key with kty, kid, use, alg, n, e and no private member', async () => {
    const res = await request(gw.app).get('/.well-known/jwks.json');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['cache-control']).toBe('public, max-age=300');
    expect(res.headers.etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(res.body.keys).toHaveLength(1);
    const [key] = res.body.keys;
    expect(Object.keys(key).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
    expect(key).toMatchObject({ kty: 'RSA', use: 'sig', alg: 'RS256', kid: gw.keyRing.signingKey().kid });
  });

  test('If-None-Match with the ETag answers 304', async () => {
    const { headers } = await request(gw.app).get('/.well-known/jwks.json');
    const res = await request(gw.app).get('/.well-known/jwks.json').set('If-None-Match', String(headers.etag));
    expect(res.status).toBe(304);
    expect(res.text).toBe('');
  });

  test('an issued token verifies with jose against the served JWKS, every claim checked', async () => {
    const acme = await gw.createAccount();
    const { token, data } = await gw.issue(acme, { policy: { allow: ['doc:read'] } });
    const jwks = createLocalJWKSet((await request(gw.app).get('/.well-known/jwks.json')).body);
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer: ISSUER,
      audience: acme.apiKey,
      algorithms: ['RS256'],
      currentDate: new Date(gw.clock.now()),
      requiredClaims: ['iat', 'nbf', 'exp', 'jti', 'sub'],
    });
    expect(protectedHeader).toEqual({ alg: 'RS256', typ: 'JWT', kid: gw.keyRing.signingKey().kid });
    expect(payload).toEqual({
      iss: ISSUER,
      sub: 'user-1',
      userId: 'user-1',
      aud: acme.apiKey,
      iat: data.serverTime,
      nbf: data.serverTime,
      exp: data.expiresAt,
      jti: data.tokenId,
      organizationId: 'org-1',
      email: 'user@example.com',
      isAdmin: false,
      policy: { allow: ['doc:read'] },
    });
  });

  test('RFC 8414 metadata, every URL built from JWT_ISSUER and never from request headers', async () => {
    const res = await request(gw.app)
      .get('/.well-known/oauth-authorization-server')
      .set('Host', 'evil.example')
      .set('X-Forwarded-Host', 'evil.example')
      .set('X-Forwarded-Proto', 'http');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      issuer: ISSUER,
      jwks_uri: `${ISSUER}/.well-known/jwks.json`,
      introspection_endpoint: `${ISSUER}/v1/auth/token/introspect`,
      revocation_endpoint: `${ISSUER}/v1/auth/token/revoke`,
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      response_types_supported: [],
    });
    expect(res.text).not.toContain('evil');
  });

  test('/healthz and /readyz', async () => {
    expect((await request(gw.app).get('/healthz')).body).toEqual({ status: 'ok' });
    const ready = await request(gw.app).get('/readyz');
    expect(ready.status).toBe(200);
    gw.context.lifecycle.shuttingDown = true;
    const draining = await request(gw.app).get('/readyz');
    gw.context.lifecycle.shuttingDown = false;
    expect(draining.status).toBe(503);
    expect(draining.headers.connection).toBe('close');
  });
});
