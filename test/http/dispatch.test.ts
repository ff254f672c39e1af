/**
 * The static route map answers exactly as express's router did: the same status, code and
 * Allow header for every route, method and path spelling (case, trailing slash, escapes,
 * doubled slashes), compared with the same app registered on the router (as it is while the
 * express instrumentation names spans). The token checks, served before express, answer every
 * case (success, each refusal, each body error, CORS) with the same status, headers and body
 * as through express, and never reach express's router. And chainOf runs a route's handlers as
 * the router does.
 */
import type { NextFunction, Request, Response } from 'express';
import request from 'supertest';
import { chainOf, staticPathKey, StaticRoutes } from '../../src/http/dispatch';
import { routeTable } from '../../src/http/routes';
import { basicAuth, buildTestGateway, type TestAccount, type TestGateway } from '../helpers/app';

describe('the static route map against the router', () => {
  let mapped: TestGateway;
  let routed: TestGateway;
  beforeAll(async () => {
    mapped = await buildTestGateway();
    // Tracing settings with express instrumented: every route goes to express's router.
    routed = await buildTestGateway({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' } });
  });
  afterAll(async () => {
    await mapped.close();
    await routed.close();
  });

  const staticPaths = (gw: TestGateway) =>
    routeTable(gw.context)
      .map((route) => route.path)
      .filter((path) => StaticRoutes.accepts(path));
  const spellings = (path: string): string[] => [
    path,
    `${path}/`,
    `${path}//`,
    path.toUpperCase(),
    `${path}?x=1`,
    `/${path}`,
    path.replace(/[a-z]$/, (c) => `%${c.charCodeAt(0).toString(16)}`),
    `${path}/extra`,
  ];
  const methods = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'] as const;

  it('covers the parameter-free routes of the table', () => {
    expect(staticPaths(mapped)).toEqual(expect.arrayContaining(['/v1/auth/verify', '/v1/auth/token/introspect', '/v1/auth/identify', '/healthz']));
  });

  it('same answer for every route, method and spelling', async () => {
    for (const path of [...staticPaths(mapped), '/metrics']) for (const spelling of spellings(path)) {
      for (const method of methods) {
        const send = (gw: TestGateway) =>
          request(gw.app)
            [method.toLowerCase() as 'get'](spelling)
            .set('Origin', 'https://app.example')
            .set('Content-Type', 'application/json')
            .send(method === 'GET' || method === 'HEAD' ? undefined : '{}');
        const [a, b] = [await send(mapped), await send(routed)];
        const summary = (res: request.Response) => ({ status: res.status, allow: res.headers.allow, code: res.body?.error?.code ?? res.body?.error });
        expect([method, spelling, summary(a)]).toEqual([method, spelling, summary(b)]);
      }
    }
  }, 60_000); // About 300 requests to each of two apps: over 10 s on a loaded 2-core machine.
});

describe('the token checks, served before express', () => {
  let mapped: TestGateway;
  let routed: TestGateway;
  const env = { CORS_ORIGINS: 'https://app.example', BODY_LIMIT: '1kb' };
  beforeAll(async () => {
    mapped = await buildTestGateway({ env });
    routed = await buildTestGateway({ env: { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' } });
  });
  afterAll(async () => {
    await mapped.close();
    await routed.close();
  });

  interface Party {
    gw: TestGateway;
    account: TestAccount;
    token: string;
    other: string;
  }
  const party = async (gw: TestGateway): Promise<Party> => {
    const account = await gw.createAccount('Acme');
    const { token } = await gw.issue(account);
    const { token: other } = await gw.issue(await gw.createAccount('Other'));
    return { gw, account, token, other };
  };

  type Case = (p: Party) => request.Test;
  const user = { userId: 'user-1', organizationId: 'org-1', email: 'user@example.com' };
  const cases: Record<string, Case> = {
    'introspection, live (form)': (p) =>
      request(p.gw.app).post('/v1/auth/token/introspect').set('Authorization', basicAuth(p.account)).type('form').send({ token: p.token }),
    'introspection, live (JSON, credentials in the body)': (p) =>
      request(p.gw.app)
        .post('/v1/auth/token/introspect')
        .send({ token: p.token, client_id: p.account.apiKey, client_secret: p.account.authToken }),
    "introspection, another account's token": (p) =>
      request(p.gw.app).post('/v1/auth/token/introspect').set('Authorization', basicAuth(p.account)).type('form').send({ token: p.other }),
    'introspection, wrong secret': (p) =>
      request(p.gw.app)
        .post('/v1/auth/token/introspect')
        .set('Authorization', basicAuth({ apiKey: p.account.apiKey, authToken: 'wrong' }))
        .type('form')
        .send({ token: p.token }),
    'introspection, no token': (p) => request(p.gw.app).post('/v1/auth/token/introspect').set('Authorization', basicAuth(p.account)).type('form').send(''),
    'introspection, text body': (p) =>
      request(p.gw.app).post('/v1/auth/token/introspect').set('Authorization', basicAuth(p.account)).type('text').send('token=x'),
    'introspection, body over the limit': (p) =>
      request(p.gw.app).post('/v1/auth/token/introspect').set('Authorization', basicAuth(p.account)).type('form').send(`token=${'x'.repeat(2048)}`),
    'introspection, broken JSON': (p) =>
      request(p.gw.app).post('/v1/auth/token/introspect').set('Authorization', basicAuth(p.account)).type('json').send('{"token":'),
    'introspection, repeated form member': (p) =>
      request(p.gw.app).post('/v1/auth/token/introspect').set('Authorization', basicAuth(p.account)).type('form').send('token=a&token=b'),
    'forward auth, live': (p) => request(p.gw.app).get(`/v1/auth/verify?apiKey=${p.account.apiKey}`).set('Authorization', `Bearer ${p.token}`),
    'forward auth, HEAD': (p) => request(p.gw.app).head(`/v1/auth/verify?apiKey=${p.account.apiKey}`).set('Authorization', `Bearer ${p.token}`),
    'forward auth, POST with a body': (p) =>
      request(p.gw.app).post(`/v1/auth/verify?apiKey=${p.account.apiKey}`).set('Authorization', `Bearer ${p.token}`).send({ a: 1 }),
    'forward auth, no token': (p) => request(p.gw.app).get(`/v1/auth/verify?apiKey=${p.account.apiKey}`),
    'forward auth, no scope': (p) => request(p.gw.app).get('/v1/auth/verify').set('Authorization', `Bearer ${p.token}`),
    'forward auth, scope given twice': (p) =>
      request(p.gw.app).get(`/v1/auth/verify?apiKey=${p.account.apiKey}&apiKey=x`).set('Authorization', `Bearer ${p.token}`),
    'forward auth, permission not granted': (p) =>
      request(p.gw.app).get(`/v1/auth/verify?apiKey=${p.account.apiKey}&permission=admin`).set('Authorization', `Bearer ${p.token}`),
    "forward auth, another account's token": (p) =>
      request(p.gw.app).get(`/v1/auth/verify?apiKey=${p.account.apiKey}`).set('Authorization', `Bearer ${p.other}`),
    'forward auth, a spelling of the path': (p) =>
      request(p.gw.app).get(`/V1/Auth/Verify/?apiKey=${p.account.apiKey}`).set('Authorization', `Bearer ${p.token}`),
    'identify, from an allowed origin': (p) =>
      request(p.gw.app).post('/v1/auth/identify').set('Origin', 'https://app.example').send({ data: { apiKey: p.account.apiKey, token: p.token, user } }),
    'identify, from another origin': (p) =>
      request(p.gw.app).post('/v1/auth/identify').set('Origin', 'https://evil.example').send({ data: { apiKey: p.account.apiKey, token: p.token, user } }),
    'identify, another user': (p) =>
      request(p.gw.app).post('/v1/auth/identify').send({ data: { apiKey: p.account.apiKey, token: p.token, user: { ...user, userId: 'user-2' } } }),
    'identify, a forbidden key': (p) =>
      request(p.gw.app).post('/v1/auth/identify').type('json').send('{"data":{"__proto__":{}}}'),
    'identify, preflight': (p) =>
      request(p.gw.app).options('/v1/auth/identify').set('Origin', 'https://app.example').set('Access-Control-Request-Method', 'POST'),
    'authorize, not granted': (p) =>
      request(p.gw.app).post('/v1/auth/authorize').send({ data: { apiKey: p.account.apiKey, token: p.token, permission: 'admin' } }),
    'authorize, a bad permission name': (p) =>
      request(p.gw.app).post('/v1/auth/authorize').send({ data: { apiKey: p.account.apiKey, token: p.token, permission: '' } }),
  };

  /** Everything of an answer but what differs between two gateways by nature (ids, keys, times). */
  const comparable = (p: Party, res: request.Response) => {
    const volatile = [p.token, p.other, p.account.apiKey, p.account.account.id];
    const scrub = (text: string) => volatile.reduce((t, v) => t.split(v).join('<v>'), text);
    const headers = Object.fromEntries(
      Object.entries(res.headers)
        .filter(([name]) => !['date', 'x-request-id', 'x-auth-token-id', 'content-length', 'connection', 'keep-alive'].includes(name))
        .map(([name, value]) => [name, scrub(String(value))]),
    );
    const body = scrub(res.text ?? '').replace(/"(iat|exp|nbf|jti|expiresAt)":("[^"]*"|\d+)/g, '"$1":<v>');
    return { status: res.status, headers, body };
  };

  it('answer every case as through express', async () => {
    const [a, b] = [await party(mapped), await party(routed)];
    for (const [name, send] of Object.entries(cases)) {
      expect([name, comparable(a, await send(a))]).toEqual([name, comparable(b, await send(b))]);
    }
  });

  it("never reach express's router; every other route does", async () => {
    const p = await party(mapped);
    const router = (mapped.app as unknown as { router: { handle: (...args: unknown[]) => unknown } }).router;
    const handle = jest.spyOn(router, 'handle');
    try {
      for (const send of Object.values(cases).filter((_, i) => i !== Object.keys(cases).indexOf('identify, preflight'))) await send(p);
      expect(handle).not.toHaveBeenCalled();
      await request(mapped.app).get('/healthz').expect(200);
      await request(mapped.app).options('/v1/auth/identify').set('Origin', 'https://app.example');
      expect(handle).toHaveBeenCalledTimes(2);
    } finally {
      handle.mockRestore();
    }
  });
});

describe('chainOf', () => {
  const run = (handlers: Array<(req: Request, res: Response, next: NextFunction) => unknown>) =>
    new Promise<unknown>((resolve) => chainOf(handlers as never)({} as Request, {} as Response, (error?: unknown) => resolve(error ?? 'next')));

  it('runs the handlers in order and goes on after the last', async () => {
    const seen: number[] = [];
    const step = (n: number) => (_req: Request, _res: Response, next: NextFunction) => {
      seen.push(n);
      next();
    };
    expect(await run([step(1), step(2), step(3)])).toBe('next');
    expect(seen).toEqual([1, 2, 3]);
  });

  it('hands on an error thrown, passed to next, or rejected, and stops there', async () => {
    const boom = new Error('boom');
    const after = jest.fn();
    expect(await run([() => { throw boom; }, after])).toBe(boom);
    expect(await run([(_q, _s, next) => next(boom), after])).toBe(boom);
    expect(await run([async () => { throw boom; }, after])).toBe(boom);
    expect(after).not.toHaveBeenCalled();
  });
});

describe('staticPathKey', () => {
  it('matches as the router does: not case-sensitive, one trailing slash optional', () => {
    expect(staticPathKey('/V1/Auth/Verify/')).toBe('/v1/auth/verify');
    expect(staticPathKey('/v1/auth/verify//')).toBe('/v1/auth/verify/');
    expect(staticPathKey('/')).toBe('/');
  });
});
