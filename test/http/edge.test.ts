/**
 * The HTTP edge (contract §8): helmet's security headers on every answer (errors and 404
 * included), no X-Powered-By, and an X-Request-Id on every answer: the caller's when it is
 * 1–128 letters, digits, `.`, `_`, `-`, a new one otherwise.
 */
import request from 'supertest';
import { helmetHeaders } from '../../src/http/security-headers';
import { basicAuth, buildTestGateway, type TestAccount, type TestGateway, forwardAuthPath } from '../helpers/app';

const SECURITY_HEADERS: Record<string, RegExp> = {
  'x-content-type-options': /^nosniff$/,
  'x-frame-options': /^SAMEORIGIN$|^DENY$/,
  'content-security-policy': /default-src 'self'/,
  'strict-transport-security': /max-age=\d+/,
  'referrer-policy': /no-referrer/,
  'cross-origin-opener-policy': /same-origin/,
  'cross-origin-resource-policy': /same-origin/,
  'x-dns-prefetch-control': /^off$/,
  'x-download-options': /^noopen$/,
  'x-permitted-cross-domain-policies': /^none$/,
};

describe('the HTTP edge', () => {
  let gw: TestGateway;
  let account: TestAccount;
  let token: string;
  beforeAll(async () => {
    gw = await buildTestGateway();
    account = await gw.createAccount();
    ({ token } = await gw.issue(account));
  });
  afterAll(() => gw.close());

  /** Answers of every kind: success, bare JSON, empty, each error status, 404, 405, 413, 415, 503. */
  const answers: Array<[string, () => request.Test, number]> = [
    ['healthz', () => request(gw.app).get('/healthz'), 200],
    ['readyz', () => request(gw.app).get('/readyz'), 200],
    ['metrics', () => request(gw.app).get('/metrics'), 200],
    ['jwks', () => request(gw.app).get('/.well-known/jwks.json'), 200],
    ['forward auth (empty 200)', () => request(gw.app).get(forwardAuthPath(token)).set('Authorization', `Bearer ${token}`), 200],
    ['forward auth 401', () => request(gw.app).get(forwardAuthPath(token)), 401],
    [
      'introspection (bare JSON)',
      () => request(gw.app).post('/v1/auth/token/introspect').set('Authorization', basicAuth(account)).type('form').send({ token }),
      200,
    ],
    ['issuance 400', () => request(gw.app).post('/v1/auth/token/get').send({ data: {} }), 400],
    ['invalid JSON 400', () => request(gw.app).post('/v1/auth/token/get').type('json').send('{"data":'), 400],
    ['account 401', () => request(gw.app).get('/v1/account/me'), 401],
    ['HEAD 404', () => request(gw.app).head('/nowhere'), 404],
    ['unknown route 404', () => request(gw.app).get('/nowhere/at/all'), 404],
    ['405', () => request(gw.app).get('/v1/auth/token/get'), 405],
    ['413', () => request(gw.app).post('/v1/auth/token/get').type('json').send(JSON.stringify({ data: { x: 'a'.repeat(20_000) } })), 413],
    ['415', () => request(gw.app).post('/v1/auth/token/get').type('text/plain').send('hello'), 415],
  ];

  describe.each(answers)('%s', (_name, send, status) => {
    let res: request.Response;
    beforeAll(async () => {
      res = await send();
    });

    it(`answers ${status}`, () => {
      expect(res.status).toBe(status);
    });

    it('carries the security headers', () => {
      for (const [name, pattern] of Object.entries(SECURITY_HEADERS)) {
        expect([name, res.headers[name]]).toEqual([name, expect.stringMatching(pattern)]);
      }
    });

    it('has no X-Powered-By', () => {
      expect(res.headers['x-powered-by']).toBeUndefined();
    });

    it('carries a well-formed request id', () => {
      expect(res.headers['x-request-id']).toMatch(/^[A-Za-z0-9._-]{1,128}$/);
    });
  });

  it('carries the headers on a 503 too', async () => {
    const store = gw.store as { failing?: boolean };
    store.failing = true;
    try {
      const res = await request(gw.app).get('/v1/account/me').set('Authorization', basicAuth(account));
      expect(res.status).toBe(503);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-request-id']).toMatch(/^[A-Za-z0-9._-]{1,128}$/);
      expect(res.headers['x-powered-by']).toBeUndefined();
    } finally {
      store.failing = false;
    }
  });

  describe('X-Request-Id', () => {
    it.each([
      ['one character', 'a'],
      ['letters, digits, dot, underscore, dash', 'Req_1.2-abc'],
      ['a UUID', '3f1c9a52-6d0e-4c47-9b1a-2f6e1e0c7d11'],
      ['128 characters', 'x'.repeat(128)],
    ])('takes the caller\'s when well-formed: %s', async (_name, id) => {
      for (const send of [
        () => request(gw.app).get('/healthz'),
        () => request(gw.app).get('/nowhere'),
        () => request(gw.app).post('/v1/auth/token/get').send({ data: {} }),
      ]) {
        const res = await send().set('X-Request-Id', id);
        expect(res.headers['x-request-id']).toBe(id);
      }
    });

    it.each([
      ['129 characters', 'x'.repeat(129)],
      ['a space', 'abc def'],
      ['unicode', 'req-\u00e9\u00e8'],
      ['a slash', 'a/b'],
      ['a colon', 'a:b'],
      ['a quote', 'a"b'],
      ['empty', ''],
    ])('replaces it otherwise: %s', async (_name, id) => {
      const res = await request(gw.app).get('/healthz').set('X-Request-Id', id);
      const answered = res.headers['x-request-id'] as string;
      expect(answered).toMatch(/^[A-Za-z0-9._-]{1,128}$/);
      expect(answered).not.toBe(id);
    });

    it('replaces a request id sent twice', async () => {
      const res = await request(gw.app).get('/healthz').set('X-Request-Id', ['one', 'two'] as unknown as string);
      expect(res.headers['x-request-id']).toMatch(/^[A-Za-z0-9._-]{1,128}$/);
    });

    it('makes a new, different one for each request without one', async () => {
      const ids = new Set<string>();
      for (let i = 0; i < 5; i += 1) ids.add((await request(gw.app).get('/healthz')).headers['x-request-id'] as string);
      expect(ids.size).toBe(5);
    });

    it('is on a preflight answer too', async () => {
      const res = await request(gw.app)
        .options('/v1/auth/identify')
        .set('Origin', 'https://example.com')
        .set('Access-Control-Request-Method', 'POST')
        .set('X-Request-Id', 'preflight-1');
      expect(res.headers['x-request-id']).toBe('preflight-1');
    });
  });
});

describe('the security headers worked out once', () => {
  it('are exactly what helmet() writes on an answer, values and names', async () => {
    // helmet run per request, on a bare express app: the reference.
    const express = (await import('express')).default;
    const helmet = (await import('helmet')).default;
    const reference = express();
    reference.disable('x-powered-by');
    reference.use(helmet());
    reference.get('/', (_req, res) => {
      res.status(204).end();
    });
    const expected = (await request(reference).get('/')).headers;
    const gw = await buildTestGateway();
    try {
      const actual = (await request(gw.app).get('/healthz')).headers;
      const names = helmetHeaders().map(([name]) => name.toLowerCase());
      expect(names.length).toBeGreaterThanOrEqual(10);
      for (const name of Object.keys(expected)) {
        if (['date', 'connection', 'keep-alive', 'content-length', 'content-type'].includes(name)) continue;
        expect([name, actual[name]]).toEqual([name, expected[name]]);
        expect(names).toContain(name);
      }
    } finally {
      await gw.close();
    }
  });
});
