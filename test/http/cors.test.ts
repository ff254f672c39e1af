/**
 * CORS (contract §8): identify, authorize and /.well-known/* answer browsers from the origins
 * in CORS_ORIGINS, preflight included; no other route sends a CORS header.
 */
import request from 'supertest';
import { basicAuth, buildTestGateway, type TestAccount, type TestGateway, forwardAuthPath } from '../helpers/app';

const ALLOWED = 'https://app.example.com';
const OTHER_ALLOWED = 'https://admin.example.com';
const FOREIGN = 'https://evil.example.net';

const corsHeaders = (res: request.Response): string[] =>
  Object.keys(res.headers).filter((name) => name.startsWith('access-control-'));

describe('CORS', () => {
  let gw: TestGateway;
  let account: TestAccount;
  let token: string;
  beforeAll(async () => {
    gw = await buildTestGateway({ env: { CORS_ORIGINS: `${ALLOWED}, ${OTHER_ALLOWED}` } });
    account = await gw.createAccount();
    ({ token } = await gw.issue(account));
  });
  afterAll(() => gw.close());

  const identifyBody = () => ({
    data: { apiKey: account.apiKey, token, user: { userId: 'user-1', organizationId: 'org-1', email: 'user@example.com' } },
  });

  describe.each([
    ['POST', '/v1/auth/identify'],
    ['POST', '/v1/auth/authorize'],
    ['GET', '/.well-known/jwks.json'],
    ['GET', '/.well-known/oauth-authorization-server'],
  ])('%s %s', (method, path) => {
    it('answers a preflight from an allowed origin', async () => {
      const res = await request(gw.app)
        .options(path)
        .set('Origin', ALLOWED)
        .set('Access-Control-Request-Method', method)
        .set('Access-Control-Request-Headers', 'content-type');
      expect(res.status).toBeLessThan(300);
      expect(res.headers['access-control-allow-origin']).toBe(ALLOWED);
      expect(res.headers['access-control-allow-methods']).toContain(method);
      expect(res.headers['access-control-allow-headers']?.toLowerCase()).toContain('content-type');
      expect(res.headers['vary']).toMatch(/origin/i);
    });

    it('answers the request itself from each allowed origin', async () => {
      for (const origin of [ALLOWED, OTHER_ALLOWED]) {
        const req = method === 'GET' ? request(gw.app).get(path) : request(gw.app).post(path);
        const res = await req.set('Origin', origin).send(method === 'GET' ? undefined : identifyBody());
        expect(res.headers['access-control-allow-origin']).toBe(origin);
        expect(res.headers['access-control-expose-headers']).toMatch(/X-Request-Id/i);
      }
    });

    it('gives a foreign origin no CORS grant', async () => {
      const preflight = await request(gw.app)
        .options(path)
        .set('Origin', FOREIGN)
        .set('Access-Control-Request-Method', method);
      expect(corsHeaders(preflight)).toEqual([]);
      expect(preflight.headers['vary']).toMatch(/origin/i);
      const req = method === 'GET' ? request(gw.app).get(path) : request(gw.app).post(path);
      const res = await req.set('Origin', FOREIGN).send(method === 'GET' ? undefined : identifyBody());
      expect(corsHeaders(res)).toEqual([]);
      expect(res.headers['vary']).toMatch(/origin/i);
    });
  });

  it('sends CORS headers on error answers of a browser route too, so the browser can read them', async () => {
    const res = await request(gw.app)
      .post('/v1/auth/identify')
      .set('Origin', ALLOWED)
      .send({ data: { apiKey: account.apiKey, token: 'not-a-jwt', user: { userId: 'user-1', organizationId: 'org-1' } } });
    expect(res.status).toBe(401);
    expect(res.headers['access-control-allow-origin']).toBe(ALLOWED);
  });

  describe('no other route sends CORS headers, even to an allowed origin', () => {
    const cases: Array<[string, (origin: string) => request.Test]> = [
      ['POST /v1/auth/token/get', (o) => request(gw.app).post('/v1/auth/token/get').set('Origin', o).send({ data: {} })],
      [
        'POST /v1/auth/token/introspect',
        (o) => request(gw.app).post('/v1/auth/token/introspect').set('Origin', o).set('Authorization', basicAuth(account)).type('form').send({ token }),
      ],
      ['POST /v1/auth/token/revoke', (o) => request(gw.app).post('/v1/auth/token/revoke').set('Origin', o).type('form').send({ token: 'x' })],
      ['GET /v1/auth/verify', (o) => request(gw.app).get(forwardAuthPath(token)).set('Origin', o).set('Authorization', `Bearer ${token}`)],
      ['GET /v1/account/me', (o) => request(gw.app).get('/v1/account/me').set('Origin', o).set('Authorization', basicAuth(account))],
      ['POST /v1/admin/accounts', (o) => request(gw.app).post('/v1/admin/accounts').set('Origin', o).send({ data: { name: 'x' } })],
      ['GET /v1/users/alice', (o) => request(gw.app).get('/v1/users/alice').set('Origin', o).set('Authorization', basicAuth(account))],
      ['GET /healthz', (o) => request(gw.app).get('/healthz').set('Origin', o)],
      ['GET /metrics', (o) => request(gw.app).get('/metrics').set('Origin', o)],
      ['GET /no/such/route', (o) => request(gw.app).get('/no/such/route').set('Origin', o)],
    ];
    it.each(cases)('%s', async (_name, send) => {
      const res = await send(ALLOWED);
      expect(res.status).toBeGreaterThanOrEqual(200);
      expect(corsHeaders(res)).toEqual([]);
    });

    it.each([
      ['/v1/auth/token/get', 'POST'],
      ['/v1/auth/token/introspect', 'POST'],
      ['/v1/account/me', 'GET'],
      ['/v1/admin/accounts', 'POST'],
      ['/v1/auth/verify', 'GET'],
    ])('no preflight grant on %s', async (path, method) => {
      const res = await request(gw.app)
        .options(path)
        .set('Origin', ALLOWED)
        .set('Access-Control-Request-Method', method)
        .set('Access-Control-Request-Headers', 'authorization, content-type');
      expect(corsHeaders(res)).toEqual([]);
    });
  });
});

describe('CORS without CORS_ORIGINS', () => {
  it('grants no origin', async () => {
    const gw = await buildTestGateway();
    try {
      const res = await request(gw.app)
        .options('/v1/auth/identify')
        .set('Origin', ALLOWED)
        .set('Access-Control-Request-Method', 'POST');
      expect(corsHeaders(res)).toEqual([]);
      const jwks = await request(gw.app).get('/.well-known/jwks.json').set('Origin', ALLOWED);
      expect(jwks.status).toBe(200);
      expect(corsHeaders(jwks)).toEqual([]);
    } finally {
      await gw.close();
    }
  });
});
