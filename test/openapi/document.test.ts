/**
 * The OpenAPI document (contract §9): the committed docs/openapi.json is what the generator
 * makes now, the gateway serves the same at GET /openapi.json, every route and method of the
 * route table is documented and nothing else is, and the JSON Schema the document states for a
 * request accepts exactly what the endpoint's own zod schema accepts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import request from 'supertest';
import { loadConfig } from '../../src/config';
import type { HttpContext } from '../../src/http/context';
import { issueTokenRequest } from '../../src/http/endpoints/issue-token';
import { putUserRequest } from '../../src/http/endpoints/users';
import { buildOpenApiDocument, openApiJson, OPENAPI_VERSION } from '../../src/http/openapi';
import { routeTable } from '../../src/http/routes';
import { buildTestGateway, type TestGateway } from '../helpers/app';

const ROOT = path.resolve(__dirname, '../..');
const document = buildOpenApiDocument() as Record<string, any>;

describe('docs/openapi.json', () => {
  test('is what `npm run openapi` writes from the current schemas', () => {
    const committed = readFileSync(path.join(ROOT, 'docs/openapi.json'), 'utf8');
    // On a difference: run `npm run openapi` and commit docs/openapi.json.
    expect(committed === openApiJson()).toBe(true);
  });

  test('is OpenAPI 3.1 with a security scheme for each kind of caller', () => {
    expect(document.openapi).toBe(OPENAPI_VERSION);
    expect(document.openapi).toMatch(/^3\.1\./);
    expect(Object.keys(document.components.securitySchemes).sort()).toEqual([
      'accountBasic',
      'adminBearer',
      'metricsBearer',
      'tokenBearer',
      'tokenDPoP',
    ]);
  });
});

describe('GET /openapi.json', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await buildTestGateway();
  });
  afterAll(() => gw.close());

  test('serves the document, public and cacheable, with an ETag', async () => {
    const res = await request(gw.app).get('/openapi.json').expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.text).toBe(openApiJson());
    expect(res.headers['cache-control']).toMatch(/^public, max-age=\d+$/);
    expect(res.headers.etag).toMatch(/^"[^"]+"$/);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    const again = await request(gw.app).get('/openapi.json').set('If-None-Match', res.headers.etag!).expect(304);
    expect(again.text).toBe('');
    await request(gw.app).get('/openapi.json').set('If-None-Match', '"other"').expect(200);
  });

  test('needs no credential, and answers 405 to other methods', async () => {
    await request(gw.app).post('/openapi.json').expect(405).expect('Allow', 'GET, HEAD');
  });
});

describe('the document and the route table', () => {
  const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
  const routes = routeTable({ config: loadConfig({}) } as HttpContext);
  const openApiPath = (expressPath: string) => expressPath.replace(/:([A-Za-z]+)/g, '{$1}');

  test('every route and method is documented', () => {
    const missing: string[] = [];
    for (const route of routes) {
      const item = document.paths[openApiPath(route.path)];
      for (const method of Object.keys(route.methods)) {
        const expected = method === 'ALL' ? METHODS : [method.toLowerCase()];
        for (const m of expected) if (!item?.[m]) missing.push(`${m.toUpperCase()} ${route.path}`);
      }
      if (route.cors && !item?.options) missing.push(`OPTIONS ${route.path} (CORS preflight)`);
    }
    expect(missing).toEqual([]);
  });

  test('every documented operation is a route (/metrics is served outside the table)', () => {
    const served = new Map(routes.map((route) => [openApiPath(route.path), route]));
    const extra: string[] = [];
    for (const [p, item] of Object.entries(document.paths as Record<string, Record<string, unknown>>)) {
      const route = served.get(p);
      for (const m of METHODS.filter((method) => item[method])) {
        if (p === '/metrics' && m === 'get') continue;
        const ok =
          route !== undefined &&
          (route.methods.ALL !== undefined ||
            route.methods[m.toUpperCase() as 'GET'] !== undefined ||
            (m === 'options' && route.cors === true));
        if (!ok) extra.push(`${m.toUpperCase()} ${p}`);
      }
    }
    expect(extra).toEqual([]);
  });

  test('operation ids are unique', () => {
    const ids = Object.values(document.paths as Record<string, Record<string, any>>).flatMap((item) =>
      METHODS.filter((m) => item[m]).map((m) => item[m].operationId as string),
    );
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('request schemas: the document accepts exactly what the endpoint accepts', () => {
  const ajv = new Ajv2020({ strict: false });
  addFormats(ajv);
  ajv.addSchema(document, 'openapi.json');
  const documented = (name: string) => ajv.compile({ $ref: `openapi.json#/components/schemas/${name}` });

  // Identifiers and permission names at and around every edge of their rules.
  const text = fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.string({ minLength: 250, maxLength: 260, unit: fc.constantFrom('a', ' ', '~') }),
    fc.constantFrom('', ' ', 'a', ' a', 'a ', 'a b', 'é', '\t', '\x7f', 'x'.repeat(256), 'x'.repeat(257), '*'),
  );
  const policy = fc.oneof(
    fc.record({ allow: fc.array(text, { maxLength: 3 }), reject: fc.array(text, { maxLength: 3 }) }, { requiredKeys: [] }),
    fc.constantFrom(null, [], 'all', { allow: '*' }, { allow: ['*'], other: [] }, { allow: Array(257).fill('p') }),
  );
  const expiresIn = fc.oneof(fc.integer({ min: 0, max: 200_000 }), fc.constantFrom(59, 60, 172_800, 172_801, 60.5, '3600', null));

  test('issuance', () => {
    const check = documented('IssueTokenRequest');
    fc.assert(
      fc.property(
        fc.record(
          {
            apiKey: fc.oneof(fc.constant('ak_1'), fc.constant(''), fc.constant(7)),
            authToken: fc.constant('at_1'),
            userId: text,
            userProperties: fc.record(
              { organizationId: text, email: fc.constantFrom('a@b.co', 'not-an-email'), isAdmin: fc.constantFrom(true, 'yes') },
              { requiredKeys: ['organizationId'] },
            ),
            policy,
            expiresIn,
          },
          { requiredKeys: ['apiKey', 'authToken', 'userId', 'userProperties'] },
        ),
        (data) => {
          const body = { data };
          expect({ data, documented: check(body) }).toEqual({ data, documented: issueTokenRequest.safeParse(body).success });
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('the user directory', () => {
    const check = documented('PutUserRequest');
    fc.assert(
      fc.property(fc.record({ organizationIds: fc.array(text, { maxLength: 3 }) }), (data) => {
        const body = { data };
        expect({ data, documented: check(body) }).toEqual({ data, documented: putUserRequest.safeParse(body).success });
      }),
      { numRuns: 1000 },
    );
  });
});
