/**
 * Contract §2, §3.2, §4.1 and §7 held to the standards by stock clients against a real
 * listening server: openid-client (RFC 8414 discovery, RFC 7662 introspection, RFC 7009
 * revocation, with client_secret_basic and client_secret_post), jose and jwks-rsa (the JWKS,
 * and every claim of §2 verified with it).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPublicKey, verify as verifySignature } from 'node:crypto';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { JwksClient } from 'jwks-rsa';
import { buildTestGateway, type TestAccount, type TestGateway } from '../helpers/app';
import { freePort } from '../setup/redis-server';

// openid-client@5 is CommonJS.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Issuer } = require('openid-client') as typeof import('openid-client');

describe('stock standard clients against a listening gateway', () => {
  let gw: TestGateway;
  let server: http.Server;
  let issuerUrl: string;
  let acme: TestAccount;

  beforeAll(async () => {
    const port = await freePort();
    issuerUrl = `http://127.0.0.1:${port}`;
    gw = await buildTestGateway({ env: { JWT_ISSUER: issuerUrl } });
    server = await new Promise<http.Server>((resolve, reject) => {
      const s = gw.app.listen(port, '127.0.0.1', () => resolve(s));
      s.once('error', reject);
    });
    expect((server.address() as AddressInfo).port).toBe(port);
    acme = await gw.createAccount('Acme');
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections?.();
    await gw.close();
  });

  /** A raw GET with the headers given, through node:http (so Host can be anything). */
  function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
    const { port } = server.address() as AddressInfo;
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path, method: 'GET', headers, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  describe('RFC 8414 metadata (§7)', () => {
    test('has the members of §7, every URL built from JWT_ISSUER', async () => {
      const res = await get('/.well-known/oauth-authorization-server');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const metadata = JSON.parse(res.body);
      expect(metadata).toMatchObject({
        issuer: issuerUrl,
        jwks_uri: `${issuerUrl}/.well-known/jwks.json`,
        introspection_endpoint: `${issuerUrl}/v1/auth/token/introspect`,
        revocation_endpoint: `${issuerUrl}/v1/auth/token/revoke`,
        introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        response_types_supported: [],
      });
      // Every URL member points under the issuer.
      for (const [name, value] of Object.entries(metadata)) {
        if (typeof value === 'string' && /^https?:/.test(value)) expect([name, value.startsWith(issuerUrl)]).toEqual([name, true]);
      }
    });

    test.each<[string, Record<string, string>]>([
      ['another Host', { Host: 'evil.example' }],
      ['X-Forwarded-Host and X-Forwarded-Proto', { 'X-Forwarded-Host': 'evil.example', 'X-Forwarded-Proto': 'https' }],
      ['Forwarded', { Forwarded: 'host=evil.example;proto=https' }],
      ['all of them', { Host: 'evil.example:8443', 'X-Forwarded-Host': 'other.example', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Port': '9999' }],
    ])('the URLs never come from the request: %s', async (_name, headers) => {
      const plain = await get('/.well-known/oauth-authorization-server');
      const spoofed = await get('/.well-known/oauth-authorization-server', headers);
      expect(spoofed.status).toBe(200);
      expect(spoofed.body).toBe(plain.body);
      expect(spoofed.body).not.toMatch(/evil|other\.example|9999/);
    });
  });

  describe('openid-client@5: discovery, introspection, revocation', () => {
    test('Issuer.discover reads the metadata', async () => {
      const issuer = await Issuer.discover(`${issuerUrl}/.well-known/oauth-authorization-server`);
      expect(issuer.metadata.issuer).toBe(issuerUrl);
      expect(issuer.metadata.introspection_endpoint).toBe(`${issuerUrl}/v1/auth/token/introspect`);
      expect(issuer.metadata.revocation_endpoint).toBe(`${issuerUrl}/v1/auth/token/revoke`);
      expect(issuer.metadata.jwks_uri).toBe(`${issuerUrl}/.well-known/jwks.json`);
    });

    test.each(['client_secret_basic', 'client_secret_post'] as const)(
      '%s: introspect → active with the claims; revoke; introspect → inactive',
      async (method) => {
        const issuer = await Issuer.discover(`${issuerUrl}/.well-known/oauth-authorization-server`);
        const client = new issuer.Client({
          client_id: acme.apiKey,
          client_secret: acme.authToken,
          token_endpoint_auth_method: method,
          introspection_endpoint_auth_method: method,
          revocation_endpoint_auth_method: method,
        });
        const policy = { allow: ['*'], reject: ['document:delete'] };
        const { token, data } = await gw.issue(acme, {
          userProperties: { organizationId: 'org-1', email: 'User@Example.com', isAdmin: true },
          policy,
        });

        const active = await client.introspect(token, 'access_token');
        expect(active).toEqual({
          active: true,
          token_type: 'Bearer',
          client_id: acme.apiKey,
          sub: 'user-1',
          iss: issuerUrl,
          aud: acme.apiKey,
          iat: data.serverTime,
          nbf: data.serverTime,
          exp: data.expiresAt,
          jti: data.tokenId,
          userId: 'user-1',
          organizationId: 'org-1',
          email: 'user@example.com',
          isAdmin: true,
          policy,
        });

        await expect(client.revoke(token, 'access_token')).resolves.toBeUndefined();
        expect(await client.introspect(token)).toEqual({ active: false });
        // Revoking again, or revoking garbage, is still a success to a stock client (RFC 7009 §2.2).
        await expect(client.revoke(token)).resolves.toBeUndefined();
        await expect(client.revoke('garbage')).resolves.toBeUndefined();
        expect(await client.introspect('garbage')).toEqual({ active: false });
      },
    );

    test("another account's token is inactive to a stock client", async () => {
      const globex = await gw.createAccount('Globex');
      const { token } = await gw.issue(globex);
      const issuer = await Issuer.discover(`${issuerUrl}/.well-known/oauth-authorization-server`);
      const client = new issuer.Client({ client_id: acme.apiKey, client_secret: acme.authToken });
      expect(await client.introspect(token)).toEqual({ active: false });
    });

    test('a wrong client secret is an OAuth invalid_client error the client reads', async () => {
      const issuer = await Issuer.discover(`${issuerUrl}/.well-known/oauth-authorization-server`);
      for (const method of ['client_secret_basic', 'client_secret_post'] as const) {
        const client = new issuer.Client({
          client_id: acme.apiKey,
          client_secret: 'at_wrong',
          token_endpoint_auth_method: method,
        });
        await expect(client.introspect('whatever')).rejects.toMatchObject({ error: 'invalid_client' });
        await expect(client.revoke('whatever')).rejects.toMatchObject({ error: 'invalid_client' });
      }
    });
  });

  describe('jose@5 and jwks-rsa@3 against the served JWKS', () => {
    test('jose verifies an issued token with the remote JWKS, issuer and audience; every claim of §2 is there', async () => {
      const policy = { allow: ['calendar:*', 'document:read'], reject: ['document:delete'] };
      const { token, data } = await gw.issue(acme, {
        userId: 'user-42',
        userProperties: { organizationId: 'org-9', email: 'Jane.Doe@Example.COM', isAdmin: false },
        policy,
        expiresIn: 900,
      });
      const jwks = createRemoteJWKSet(new URL(`${issuerUrl}/.well-known/jwks.json`));
      const { payload, protectedHeader } = await jwtVerify(token, jwks, {
        issuer: issuerUrl,
        audience: acme.apiKey,
        algorithms: ['RS256'],
        requiredClaims: ['iss', 'sub', 'aud', 'iat', 'nbf', 'exp', 'jti'],
      });
      expect(protectedHeader).toEqual({ alg: 'RS256', typ: 'JWT', kid: gw.keyRing.signingKey().kid });
      expect(payload).toEqual({
        iss: issuerUrl,
        sub: 'user-42',
        userId: 'user-42',
        aud: acme.apiKey,
        iat: data.serverTime,
        nbf: data.serverTime,
        exp: data.serverTime + 900,
        jti: data.tokenId,
        organizationId: 'org-9',
        email: 'jane.doe@example.com',
        isAdmin: false,
        policy,
      });
      expect(data.expiresAt).toBe(payload.exp);
      expect(data.expiresIn).toBe(900);
      // 128 random bits, base64url.
      expect(payload.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(Buffer.from(payload.jti as string, 'base64url')).toHaveLength(16);
    });

    test('a token without email or policy has neither claim; isAdmin is a boolean', async () => {
      const { token } = await gw.issue(acme, { userProperties: { organizationId: 'org-1' } });
      const jwks = createRemoteJWKSet(new URL(`${issuerUrl}/.well-known/jwks.json`));
      const { payload } = await jwtVerify(token, jwks, { issuer: issuerUrl, audience: acme.apiKey });
      expect(payload).not.toHaveProperty('email');
      expect(payload).not.toHaveProperty('policy');
      expect(payload.isAdmin).toBe(false);
    });

    test('jose refuses the token for another audience or issuer', async () => {
      const { token } = await gw.issue(acme);
      const jwks = createRemoteJWKSet(new URL(`${issuerUrl}/.well-known/jwks.json`));
      await expect(jwtVerify(token, jwks, { issuer: issuerUrl, audience: 'ak_someone_else' })).rejects.toMatchObject({
        code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
      });
      await expect(jwtVerify(token, jwks, { issuer: 'https://elsewhere.example', audience: acme.apiKey })).rejects.toMatchObject({
        code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
      });
    });

    test('jwks-rsa finds the signing key by kid, and its public key verifies the token', async () => {
      const { token } = await gw.issue(acme);
      const { kid, alg } = decodeProtectedHeader(token);
      expect(alg).toBe('RS256');
      const client = new JwksClient({ jwksUri: `${issuerUrl}/.well-known/jwks.json`, cache: false });
      const key = await client.getSigningKey(kid);
      expect(key.kid).toBe(kid);
      expect(key.alg).toBe('RS256');
      const publicKey = createPublicKey(key.getPublicKey());
      expect(publicKey.asymmetricKeyType).toBe('rsa');
      expect(publicKey.asymmetricKeyDetails?.modulusLength).toBeGreaterThanOrEqual(2048);
      const [h, p, s] = token.split('.');
      expect(verifySignature('sha256', Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s!, 'base64url'))).toBe(true);
      // Every key of the JWKS is a usable signing key to jwks-rsa.
      const keys = await client.getSigningKeys();
      expect(keys.length).toBeGreaterThan(0);
      for (const k of keys) expect(k.getPublicKey()).toMatch(/^-----BEGIN PUBLIC KEY-----/);
      await expect(client.getSigningKey('no-such-kid')).rejects.toThrow();
    });

    test('the JWKS members of §7: kty, kid, use "sig", alg, n, e; cacheable, with an ETag', async () => {
      const res = await get('/.well-known/jwks.json');
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toMatch(/^public, max-age=\d+$/);
      expect(res.headers.etag).toBeTruthy();
      const { keys } = JSON.parse(res.body) as { keys: Array<Record<string, unknown>> };
      for (const jwk of keys) {
        expect(jwk).toMatchObject({ kty: 'RSA', use: 'sig', alg: 'RS256', kid: expect.any(String), n: expect.any(String), e: expect.any(String) });
        // Never a private member.
        for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(jwk).not.toHaveProperty(member);
      }
    });
  });
});
