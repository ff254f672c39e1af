/**
 * Hostile input never costs more than honest input (contract §8): a JSON body nested deeper than
 * 32 levels is 400 invalid_argument (never a 500, never a stack trace in the log), and no input
 * of any shape makes an answer 500. The property-based part throws arbitrary methods, paths,
 * query strings, headers, content types, bodies and tokens at every route of the table, on the
 * memory store and on Redis, within a bounded time.
 */
import fc from 'fast-check';
import request from 'supertest';
import { memoryDestination } from '../helpers/log';
import { ERROR_CODES } from '../../src/errors';
import { createLogger } from '../../src/http/logging';
import { routeTable } from '../../src/http/routes';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../../src/json-depth';
import { ADMIN_TOKEN, basicAuth, buildTestGateway, type TestAccount, type TestGateway } from '../helpers/app';
import { STORE_KINDS } from '../helpers/stores';

/** Lines at error level or above, or carrying a stack trace. */
const alarming = (lines: string[]): string[] =>
  lines.filter((line) => {
    const entry = JSON.parse(line) as { level?: number };
    return (entry.level ?? 0) >= 50 || /"stack"|RangeError|    at /.test(line);
  });

const nested = (depth: number, inner = '1'): string => `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`;

describe('nestsDeeperThan', () => {
  test.each([
    ['{}', 1, false],
    ['{}', 0, true],
    [nested(32), 32, false],
    [nested(33), 32, true],
    ['{"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', 32, false],
    ['{"a":"\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', 32, false],
    ['[{"a":[{"b":[]}]}]', 5, false],
    ['[{"a":[{"b":[]}]}]', 4, true],
  ])('%s within %i: deeper = %s', (text, max, deeper) => {
    expect(nestsDeeperThan(text, max)).toBe(deeper);
  });
});

describe.each(STORE_KINDS)('hostile input on the %s store', (kind) => {
  let gw: TestGateway;
  let acme: TestAccount;
  let token: string;
  let destination: ReturnType<typeof memoryDestination>;

  beforeAll(async () => {
    destination = memoryDestination();
    gw = await buildTestGateway({ store: kind, logger: createLogger('info', destination) });
    acme = await gw.createAccount('Acme');
    token = (await gw.issue(acme)).token;
  });
  afterAll(() => gw.close());
  beforeEach(() => {
    destination.lines.length = 0;
  });

  describe(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`, () => {
    const routes = [
      '/v1/auth/token/get',
      '/v1/auth/identify',
      '/v1/auth/authorize',
      '/v1/auth/token/introspect',
      '/v1/auth/token/revoke',
      '/v1/auth/users/revoke',
    ];

    test.each(routes)('16 KB of [[[…]]] to %s is 400 invalid_argument, with nothing alarming in the log', async (path) => {
      const body = nested(8000).slice(0, 16 * 1024 - 10);
      const res = await request(gw.app).post(path).set('Content-Type', 'application/json').send(body);
      expect(res.status).toBe(400);
      const code = res.body.error?.code ?? res.body.code;
      expect(code).toBe('invalid_argument');
      expect(JSON.stringify(res.body)).toContain(`${MAX_JSON_DEPTH} levels`);
      expect(alarming(destination.lines)).toEqual([]);
    });

    test('a request 32 levels deep is taken; 33 levels is 400 and issues nothing', async () => {
      const data = {
        apiKey: acme.apiKey,
        authToken: acme.authToken,
        userId: 'deep-user',
        userProperties: { organizationId: 'org-1' },
      };
      // {"data": ..., "extra": [[...]]}: the body object is level 1, its arrays the rest.
      const body = (depth: number) => `{"data":${JSON.stringify(data)},"extra":${nested(depth - 1)}}`;
      expect(nestsDeeperThan(body(32))).toBe(false);
      expect(nestsDeeperThan(body(33))).toBe(true);
      const ok = await request(gw.app).post('/v1/auth/token/get').set('Content-Type', 'application/json').send(body(32));
      expect(ok.status).toBe(200);
      const deep = await request(gw.app).post('/v1/auth/token/get').set('Content-Type', 'application/json').send(body(33));
      expect(deep.status).toBe(400);
      expect(deep.body.error.code).toBe('invalid_argument');
      expect(deep.body.result).toBeUndefined();
    });

    test('a token whose payload nests deeper is token_invalid, before any signature check', async () => {
      const [header, , signature] = token.split('.');
      const payload = Buffer.from(`{"iss":"x","deep":${nested(200)}}`).toString('base64url');
      const res = await request(gw.app)
        .post('/v1/auth/identify')
        .send({ data: { apiKey: acme.apiKey, token: `${header}.${payload}.${signature}`, user: { userId: 'u', organizationId: 'o' } } });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('token_invalid');
      expect(res.body.error.message).toMatch(/nested too deeply/);
    });
  });

  describe('arbitrary requests to every route (property-based)', () => {
    const paths = (): string[] =>
      routeTable(gw.context).map((route) =>
        route.path
          .replace(':accountId', encodeURIComponent(acme.account.id))
          .replace(':authTokenId', 'atk_unknown')
          .replace(':userId', 'user-1'),
      );

    const printable = fc.string({ maxLength: 40 }).filter((s) => /^[\x20-\x7e]*$/.test(s));
    const segment = fc.oneof(
      fc.constant(''),
      printable.map((s) => Buffer.from(s).toString('base64url')),
      fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v)).toString('base64url')),
      fc.constantFrom('eyJhbGciOiJub25lIn0', 'eyJhbGciOiJSUzI1NiJ9', '__', '-_'),
    );
    /** Tokens: the real one, pieces of it recombined, arbitrary segments, junk. */
    const tokens = fc.oneof(
      fc.constant(''),
      printable,
      fc.tuple(segment, segment, segment).map((parts) => parts.join('.')),
      fc.tuple(segment, segment).map(([h, p]) => {
        const [, , s] = (token ?? '..').split('.');
        return `${h}.${p}.${s}`;
      }),
      fc.constant('real').map(() => token),
      fc.integer({ min: 0, max: 200 }).map((n) => `${(token ?? '').slice(0, n)}`),
    );
    const authorization = fc.oneof(
      fc.constant(undefined),
      tokens.map((t) => `Bearer ${t}`),
      tokens.map((t) => `DPoP ${t}`),
      printable.map((s) => `Basic ${Buffer.from(s).toString('base64')}`),
      fc.constant('').map(() => basicAuth(acme)),
      fc.constant(`Bearer ${ADMIN_TOKEN}`),
      printable,
    );
    const contentType = fc.oneof(
      { arbitrary: fc.constant('application/json'), weight: 4 },
      fc.constantFrom(
      undefined,
      'application/json',
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'application/x-www-form-urlencoded',
      'text/plain',
      'application/merge-patch+json',
      'multipart/form-data; boundary=x',
      'application/octet-stream',
      '*/*',
      ';;;',
      ),
    );
    const member = fc.constantFrom('apiKey', 'authToken', 'token', 'userId', 'permission', 'data', 'client_id', 'client_secret', 'user');
    const body = fc.oneof(
      fc.constant(undefined),
      printable,
      fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v)),
      fc.dictionary(member, fc.oneof(tokens, fc.jsonValue({ maxDepth: 3 })), { maxKeys: 5 }).map((d) => JSON.stringify(d)),
      fc.dictionary(member, fc.oneof(tokens, fc.jsonValue({ maxDepth: 3 })), { maxKeys: 5 }).map((d) => JSON.stringify({ data: d })),
      fc.dictionary(member, tokens, { maxKeys: 4 }).map((d) => new URLSearchParams(d).toString()),
      { arbitrary: fc.integer({ min: 1, max: 8000 }).map((n) => nested(n)), weight: 3 },
      fc.integer({ min: 1, max: 3000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
      fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
    );
    const query = fc.array(fc.tuple(fc.oneof(member, printable), fc.oneof(printable, tokens)), { maxLength: 4 });
    const method = fc.constantFrom('get', 'post', 'put', 'delete', 'patch', 'options', 'head') as fc.Arbitrary<
      'get' | 'post' | 'put' | 'delete' | 'patch' | 'options' | 'head'
    >;
    const extraPath = fc.constantFrom('', '/', '/x', '%', '%zz', '/..', '?');

    test('no answer is a 500, every failure is a known code, and nothing alarming is logged', async () => {
      const all = paths();
      const known = new Set(Object.keys(ERROR_CODES));
      known.add('invalid_request').add('invalid_client').add('temporarily_unavailable');
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...all),
          extraPath,
          method,
          query,
          authorization,
          contentType,
          body,
          fc.option(printable),
          async (path, extra, verb, members, auth, type, payload, origin) => {
            const search = members.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
            let req = request(gw.app)[verb](`${path}${extra}${search ? `?${search}` : ''}`);
            if (auth !== undefined) req = req.set('Authorization', auth);
            if (origin !== null) req = req.set('Origin', origin);
            if (type !== undefined) req = req.set('Content-Type', type);
            if (payload !== undefined && verb !== 'get' && verb !== 'head') req = req.send(payload);
            const res = await req;
            const code = res.body?.error?.code ?? res.body?.code;
            // A store that did not answer in time is a 503 (never a guess); nothing else is 5xx.
            if (res.status >= 500) expect({ status: res.status, code }).toEqual({ status: 503, code: 'store_unavailable' });
            if (res.status >= 400 && code !== undefined) expect(known).toContain(code);
          },
        ),
        { numRuns: 400, interruptAfterTimeLimit: 25_000 },
      );
      expect(alarming(destination.lines)).toEqual([]);
    }, 60_000);
  });
});
