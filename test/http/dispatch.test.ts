/**
 * The static route map answers exactly as express's router did: the same status, code and
 * Allow header for every route, method and path spelling (case, trailing slash, escapes,
 * doubled slashes), compared with the same app registered on the router (as it is while the
 * express instrumentation names spans). And chainOf runs a route's handlers as the router does.
 */
import type { NextFunction, Request, Response } from 'express';
import request from 'supertest';
import { chainOf, staticPathKey, StaticRoutes } from '../../src/http/dispatch';
import { routeTable } from '../../src/http/routes';
import { buildTestGateway, type TestGateway } from '../helpers/app';

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
