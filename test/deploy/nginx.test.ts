/**
 * The sidecar deployment, proven with a real nginx running the project's own template
 * (deploy/nginx/token-gateway.conf.template): nginx -> auth_request -> token-gateway, then
 * nginx -> a recording upstream. Skipped loudly when nginx is missing, except under CI=true,
 * where it is installed (and a failure to install fails the run).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import type { MemoryStore } from '../../src/store';
import { basicAuth, buildTestGateway, type TestAccount, type TestGateway } from '../helpers/app';
import { freePort } from '../setup/redis-server';
import { dpopKey, makeProof } from '../helpers/dpop';
import {
  IDENTITY_HEADERS,
  nginxForTests,
  send,
  startNginx,
  startRecordingUpstream,
  type RecordingUpstream,
  type RunningNginx,
} from './harness';

const nginxBinary = nginxForTests();
// nginxForTests has printed why when it found none.
const describeWithNginx = nginxBinary ? describe : describe.skip;

/** What a client puts in the identity headers to impersonate an administrator. */
const FORGED: Record<string, string> = {
  'X-Auth-User-Id': 'admin',
  'X-Auth-Organization-Id': 'forged-org',
  'X-Auth-Email': 'forged@evil.test',
  'X-Auth-Is-Admin': 'true',
  'X-Auth-Token-Id': 'forged-jti',
  'X-Auth-Account': 'ak_forged',
};

describeWithNginx('nginx auth_request sidecar (deploy/nginx)', () => {
  let gw: TestGateway;
  let gatewayServer: http.Server;
  let upstream: RecordingUpstream;
  let nginx: RunningNginx;
  let acme: TestAccount;
  /** Another tenant of the same gateway. */
  let evil: TestAccount;

  beforeAll(async () => {
    gw = await buildTestGateway();
    gatewayServer = await new Promise<http.Server>((resolve) => {
      const server = gw.app.listen(0, '127.0.0.1', () => resolve(server));
    });
    upstream = await startRecordingUpstream();
    acme = await gw.createAccount('Acme');
    evil = await gw.createAccount('Evil');
    nginx = await startNginx(nginxBinary!, {
      port: await freePort(),
      gatewayAddr: `127.0.0.1:${(gatewayServer.address() as AddressInfo).port}`,
      appAddr: `127.0.0.1:${upstream.port}`,
      apiKey: acme.apiKey,
    });
  }, 60_000);

  afterAll(async () => {
    await nginx?.stop();
    await upstream?.close();
    if (gatewayServer?.listening) {
      gatewayServer.closeAllConnections();
      await new Promise((resolve) => gatewayServer.close(resolve));
    }
    await gw?.close();
  });

  beforeEach(() => {
    upstream.requests.length = 0;
  });

  const through = (path: string, headers: Record<string, string> = {}, method = 'GET', body?: string) =>
    send({ port: nginx.port, path, headers, method, ...(body === undefined ? {} : { body }) });

  it('lets a valid token through with the identity headers of the token', async () => {
    const { token, data } = await gw.issue(acme, {
      userId: 'user-42',
      userProperties: { organizationId: 'org-7', email: 'Jane@Example.com', isAdmin: true },
    });
    const res = await through('/documents/1?x=1', { Authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    expect(res.body).toBe('upstream-ok');
    expect(upstream.requests).toHaveLength(1);
    const seen = upstream.requests[0]!;
    expect(seen.url).toBe('/documents/1?x=1');
    expect(seen.headers['x-auth-user-id']).toBe('user-42');
    expect(seen.headers['x-auth-organization-id']).toBe('org-7');
    expect(seen.headers['x-auth-email']).toBe('jane@example.com');
    expect(seen.headers['x-auth-is-admin']).toBe('true');
    expect(seen.headers['x-auth-token-id']).toBe(data.tokenId);
    expect(seen.headers['x-auth-account']).toBe(acme.apiKey);
    expect(seen.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
  });

  it('replaces every identity header a client sends with the gateway values', async () => {
    const { token, data } = await gw.issue(acme, { userId: 'user-1' });
    const res = await through('/anything', { Authorization: `Bearer ${token}`, ...FORGED });
    expect(res.status).toBe(200);
    const seen = upstream.requests[0]!;
    expect(seen.headers['x-auth-user-id']).toBe('user-1');
    expect(seen.headers['x-auth-organization-id']).toBe('org-1');
    expect(seen.headers['x-auth-email']).toBe('user@example.com');
    expect(seen.headers['x-auth-is-admin']).toBe('false');
    expect(seen.headers['x-auth-token-id']).toBe(data.tokenId);
    expect(seen.headers['x-auth-account']).toBe(acme.apiKey);
    // No forged value, not even as a second copy of a header.
    for (const name of IDENTITY_HEADERS) {
      const copies = seen.rawHeaders.filter((_v, i) => i % 2 === 0 && seen.rawHeaders[i]!.toLowerCase() === name.toLowerCase());
      expect(copies).toHaveLength(1);
    }
    const values = seen.rawHeaders.filter((_v, i) => i % 2 === 1);
    for (const forged of Object.values(FORGED)) expect(values).not.toContain(forged);
  });

  it('drops a forged header when the token has no value for it (the gateway sends it empty)', async () => {
    const { token } = await gw.issue(acme, { userProperties: { organizationId: 'org-1' } });
    const res = await through('/anything', { Authorization: `Bearer ${token}`, 'X-Auth-Email': 'forged@evil.test' });
    expect(res.status).toBe(200);
    const seen = upstream.requests[0]!;
    expect(seen.headers['x-auth-email']).toBeUndefined();
    expect(seen.headers['x-auth-user-id']).toBe('user-1');
  });

  it('does not forward the request body to the gateway, but does to the application', async () => {
    const { token } = await gw.issue(acme);
    const res = await through(
      '/upload',
      { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      'POST',
      JSON.stringify({ big: 'x'.repeat(20_000) }), // over the gateway's 16 KiB body limit
    );
    expect(res.status).toBe(200);
    expect(upstream.requests[0]!.method).toBe('POST');
    expect(upstream.requests[0]!.headers['content-length']).toBe(String(20_000 + 10));
  });

  describe('denials never reach the application', () => {
    it('a request without a token is 401 with the Bearer challenge', async () => {
      const res = await through('/documents/1', FORGED);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="token-gateway"');
      expect(upstream.requests).toHaveLength(0);
    });

    it('another scheme, or Bearer with nothing after it, is 401', async () => {
      for (const authorization of ['Basic dXNlcjpwYXNz', 'Bearer ', 'Bearer']) {
        const res = await through('/documents/1', { Authorization: authorization, ...FORGED });
        expect(res.status).toBe(401);
      }
      expect(upstream.requests).toHaveLength(0);
    });

    it('a bad token is 401 invalid_token', async () => {
      for (const token of ['not-a-jwt', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.']) {
        const res = await through('/documents/1', { Authorization: `Bearer ${token}`, ...FORGED });
        expect(res.status).toBe(401);
        expect(res.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
      }
      expect(upstream.requests).toHaveLength(0);
    });

    it("another tenant's admin token (isAdmin, allow *) never reaches the application, not even /admin/", async () => {
      const { token } = await gw.issue(evil, {
        userId: 'victim-ceo',
        userProperties: { organizationId: 'victim-org', isAdmin: true },
        policy: { allow: ['*'] },
      });
      for (const path of ['/documents/1', '/admin/users']) {
        const res = await through(path, { Authorization: `Bearer ${token}`, ...FORGED });
        expect(res.status).toBe(401);
        expect(res.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token", error_description=".*another account/);
      }
      expect(upstream.requests).toHaveLength(0);
      // The same kind of token from the application's own account does get in.
      const own = await gw.issue(acme, { userProperties: { organizationId: 'org-1', isAdmin: true }, policy: { allow: ['*'] } });
      expect((await through('/admin/users', { Authorization: `Bearer ${own.token}` })).status).toBe(200);
      expect(upstream.requests).toHaveLength(1);
    });

    it('a token signed with a tampered payload is 401', async () => {
      const { token } = await gw.issue(acme);
      const [header, payload, signature] = token.split('.');
      const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
      const forged = Buffer.from(JSON.stringify({ ...claims, sub: 'admin', userId: 'admin' })).toString('base64url');
      const res = await through('/documents/1', { Authorization: `Bearer ${header}.${forged}.${signature}` });
      expect(res.status).toBe(401);
      expect(upstream.requests).toHaveLength(0);
    });

    it('a revoked token is 401 token_revoked', async () => {
      const { token } = await gw.issue(acme);
      expect((await through('/documents/1', { Authorization: `Bearer ${token}` })).status).toBe(200);
      const revoked = await request(gw.app)
        .post('/v1/auth/token/revoke')
        .set('Authorization', basicAuth(acme))
        .type('form')
        .send({ token });
      expect(revoked.status).toBe(200);
      upstream.requests.length = 0;
      const res = await through('/documents/1', { Authorization: `Bearer ${token}`, ...FORGED });
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/);
      expect(upstream.requests).toHaveLength(0);
    });

    it('an expired token is 401', async () => {
      const { token } = await gw.issue(acme, { expiresIn: 60 });
      expect((await through('/documents/1', { Authorization: `Bearer ${token}` })).status).toBe(200);
      upstream.requests.length = 0;
      gw.clock.advanceSeconds(60 + gw.config.clockToleranceSeconds + 1);
      const res = await through('/documents/1', { Authorization: `Bearer ${token}`, ...FORGED });
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/);
      expect(upstream.requests).toHaveLength(0);
    });
  });

  describe('a permission named in ?permission= (location /admin/)', () => {
    it('is 403 insufficient_scope when the token lacks it', async () => {
      // isAdmin grants nothing by itself (contract §6.3).
      const { token } = await gw.issue(acme, {
        userProperties: { organizationId: 'org-1', isAdmin: true },
        policy: { allow: ['document:read'] },
      });
      const res = await through('/admin/users', { Authorization: `Bearer ${token}`, ...FORGED });
      expect(res.status).toBe(403);
      expect(upstream.requests).toHaveLength(0);
      // The same token is fine outside /admin/.
      expect((await through('/documents/1', { Authorization: `Bearer ${token}` })).status).toBe(200);
    });

    it('lets a token through when its policy grants it', async () => {
      const { token } = await gw.issue(acme, { policy: { allow: ['admin:access'] } });
      const res = await through('/admin/users', { Authorization: `Bearer ${token}` });
      expect(res.status).toBe(200);
      expect(upstream.requests[0]!.url).toBe('/admin/users');
      expect(upstream.requests[0]!.headers['x-auth-user-id']).toBe('user-1');
    });

    it('is 403 when a reject entry wins', async () => {
      const { token } = await gw.issue(acme, { policy: { allow: ['*'], reject: ['admin:access'] } });
      expect((await through('/admin/users', { Authorization: `Bearer ${token}` })).status).toBe(403);
      expect(upstream.requests).toHaveLength(0);
    });
  });

  describe('a DPoP-bound token (contract §10)', () => {
    const nginxUrl = (path: string) => `http://127.0.0.1:${nginx.port}${path}`;

    it('passes with a proof for the request nginx received; a forged X-Forwarded-* changes nothing', async () => {
      const key = dpopKey('ES256');
      const { token } = await gw.issue(acme, { dpopJkt: key.jkt });
      const proof = (htu: string, method = 'GET') => makeProof(key, { htm: method, htu, token, iat: Math.floor(gw.clock.now() / 1000) });
      const ok = await through('/documents/1?x=1', { Authorization: `DPoP ${token}`, DPoP: proof(nginxUrl('/documents/1')) });
      expect(ok.status).toBe(200);
      expect(upstream.requests[0]!.headers['x-auth-user-id']).toBe('user-1');
      upstream.requests.length = 0;

      // Without a proof, or sent as a Bearer token: refused, and never upstream.
      expect((await through('/documents/1', { Authorization: `DPoP ${token}` })).status).toBe(401);
      expect((await through('/documents/1', { Authorization: `Bearer ${token}`, DPoP: proof(nginxUrl('/documents/1')) })).status).toBe(401);
      // A proof the client made for another request, with X-Forwarded-* forged to match it:
      // nginx replaces those headers with what it received, so the proof does not fit.
      const forged = await through('/admin/users', {
        Authorization: `DPoP ${token}`,
        DPoP: proof('https://elsewhere.example/documents/1', 'POST'),
        'X-Forwarded-Method': 'POST',
        'X-Forwarded-Proto': 'https',
        'X-Forwarded-Host': 'elsewhere.example',
        'X-Forwarded-Uri': '/documents/1',
      });
      expect(forged.status).toBe(401);
      expect(forged.headers['www-authenticate']).toMatch(/^DPoP error="invalid_dpop_proof"/);
      // A proof for the real request still passes whatever the client forges beside it.
      const honest = await through('/documents/2', {
        Authorization: `DPoP ${token}`,
        DPoP: proof(nginxUrl('/documents/2')),
        'X-Forwarded-Host': 'elsewhere.example',
        'X-Forwarded-Uri': '/other',
      });
      expect(honest.status).toBe(200);
      expect(upstream.requests.map((r) => r.url)).toEqual(['/documents/2']);
    });
  });

  describe('a failing or absent gateway is a denial', () => {
    it('a gateway 503 (token store down) is an error answer, never the application', async () => {
      const { token } = await gw.issue(acme);
      const store = gw.store as MemoryStore;
      store.failing = true;
      try {
        const res = await through('/documents/1', { Authorization: `Bearer ${token}`, ...FORGED });
        expect([500, 502, 503]).toContain(res.status);
        expect(upstream.requests).toHaveLength(0);
      } finally {
        store.failing = false;
      }
      expect((await through('/documents/1', { Authorization: `Bearer ${token}` })).status).toBe(200);
    });

    it('a stopped gateway is an error answer, never the application', async () => {
      const { token } = await gw.issue(acme);
      expect((await through('/documents/1', { Authorization: `Bearer ${token}` })).status).toBe(200);
      upstream.requests.length = 0;
      // Stop listening and drop nginx's pooled keep-alive connections to the gateway too.
      await new Promise<void>((resolve) => {
        gatewayServer.close(() => resolve());
        gatewayServer.closeAllConnections();
      });
      for (const path of ['/documents/1', '/admin/users']) {
        const res = await through(path, { Authorization: `Bearer ${token}`, ...FORGED });
        expect([500, 502, 503]).toContain(res.status);
      }
      expect(upstream.requests).toHaveLength(0);
      expect(nginx.errorLog()).toMatch(/connect\(\) failed|auth request unexpected status/);
    });
  });
});
