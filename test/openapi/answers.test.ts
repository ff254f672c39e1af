/**
 * The answer check itself (test/helpers/openapi-answers.ts): it passes what the gateway really
 * sends and refuses what the document does not describe, an extra status, field or header, a
 * missing required header, a wrong Allow, so that a test whose gateway answers so fails.
 */
import express from 'express';
import request from 'supertest';
import { AnswerChecker, observeAnswers, type ObservedAnswer } from '../helpers/openapi-answers';
import { basicAuth, buildTestGateway, type TestGateway } from '../helpers/app';

const checker = new AnswerChecker();

const answer = (overrides: Partial<ObservedAnswer> & { json?: unknown }): ObservedAnswer => {
  const { json, ...rest } = overrides;
  return {
    method: 'GET',
    url: '/healthz',
    status: 200,
    headers: { 'x-request-id': 'req-1', 'cache-control': 'no-store', 'content-type': 'application/json; charset=utf-8' },
    body: Buffer.from(JSON.stringify(json ?? { status: 'ok' })),
    ...rest,
  };
};

const envelopeError = (status: string, code: string, retryable = false) => ({
  error: { message: 'Something.', status, code, retryable },
});

describe('the answer check', () => {
  test('passes a documented answer', () => {
    expect(checker.problems(answer({}))).toEqual([]);
  });

  test('refuses an undocumented field', () => {
    expect(checker.problems(answer({ json: { status: 'ok', uptime: 3 } })).join()).toMatch(/does not match.*additional/);
  });

  test('refuses an undocumented status', () => {
    expect(checker.problems(answer({ status: 418 })).join()).toMatch(/status 418 is not documented/);
    // A documented status with the body of another.
    expect(
      checker.problems(answer({ url: '/v1/account/me', status: 404, json: envelopeError('NOT_FOUND', 'not_found') })).join(),
    ).toMatch(/status 404 is not documented/);
  });

  test('refuses a missing required header, and an undocumented header that matters', () => {
    expect(checker.problems(answer({ headers: { 'content-type': 'application/json' } })).join()).toMatch(/X-Request-Id is missing/i);
    const withChallenge = answer({ headers: { ...answer({}).headers, 'www-authenticate': 'Basic realm="x"' } });
    expect(checker.problems(withChallenge).join()).toMatch(/www-authenticate is sent but not documented/);
  });

  test('refuses a header value the document does not allow', () => {
    const meUnauthenticated = answer({
      url: '/v1/account/me',
      status: 401,
      headers: { ...answer({}).headers, 'www-authenticate': 'Bearer realm="token-gateway"' },
      json: envelopeError('UNAUTHENTICATED', 'invalid_credentials'),
    });
    expect(checker.problems(meUnauthenticated).join()).toMatch(/header www-authenticate/);
  });

  test('refuses a failure whose status and code do not belong together, or the wrong error shape', () => {
    const base = { url: '/v1/account/me', status: 401, headers: { ...answer({}).headers, 'www-authenticate': 'Basic realm="token-gateway"' } };
    expect(checker.problems(answer({ ...base, json: envelopeError('UNAUTHENTICATED', 'invalid_credentials') }))).toEqual([]);
    expect(checker.problems(answer({ ...base, json: envelopeError('UNAUTHENTICATED', 'not_found') })).join()).toMatch(/code/);
    expect(checker.problems(answer({ ...base, json: envelopeError('UNAUTHENTICATED', 'invalid_credentials', true) })).join()).toMatch(/retryable/);
    const oauthShape = { error: 'invalid_client', error_description: 'x', status: 'UNAUTHENTICATED', code: 'invalid_credentials', retryable: false };
    expect(checker.problems(answer({ ...base, json: oauthShape })).join()).toMatch(/does not match/);
    expect(checker.problems(answer({ ...base, url: '/v1/auth/token/introspect', method: 'POST', json: oauthShape }))).toEqual([]);
  });

  test('a method the path does not list must be a 405 naming exactly the documented methods', () => {
    const notAllowed = {
      method: 'DELETE',
      url: '/v1/account/me',
      status: 405,
      json: envelopeError('METHOD_NOT_ALLOWED', 'method_not_allowed'),
    };
    expect(checker.problems(answer({ ...notAllowed, headers: { ...answer({}).headers, allow: 'GET, HEAD' } }))).toEqual([]);
    expect(checker.problems(answer({ ...notAllowed, headers: { ...answer({}).headers, allow: 'GET, HEAD, DELETE' } })).join()).toMatch(
      /Allow is/,
    );
    expect(checker.problems(answer({ ...notAllowed, status: 200, headers: { ...answer({}).headers, allow: 'GET, HEAD' } })).join()).toMatch(
      /does not match|not documented/,
    );
  });

  test('an unknown path must be the 404 envelope', () => {
    expect(checker.problems(answer({ url: '/nowhere', status: 404, json: envelopeError('NOT_FOUND', 'not_found') }))).toEqual([]);
    expect(checker.problems(answer({ url: '/nowhere', status: 200 })).join()).toMatch(/not documented|does not match/);
  });
});

describe('an app whose answers are observed', () => {
  test('a wrong answer on a documented route is reported, a right one is not', async () => {
    const seen: string[][] = [];
    const wrong = express();
    wrong.get('/healthz', (_req, res) => {
      res.setHeader('X-Request-Id', 'r1');
      res.setHeader('Cache-Control', 'no-store');
      res.json({ status: 'ok', version: '1.2.3' });
    });
    wrong.get('/readyz', (_req, res) => {
      res.setHeader('X-Request-Id', 'r2');
      res.setHeader('Cache-Control', 'no-store');
      res.status(202).json({ status: 'ready', checks: { keys: true, store: true, shuttingDown: false } });
    });
    const app = observeAnswers(wrong, (problems) => seen.push(problems));
    await request(app).get('/healthz').expect(200);
    await request(app).get('/readyz').expect(202);
    expect(seen.flat().join('\n')).toMatch(/GET \/healthz → 200: the body does not match/);
    expect(seen.flat().join('\n')).toMatch(/GET \/readyz → 202: status 202 is not documented/);
  });

  describe('the test gateway', () => {
    let gw: TestGateway;
    beforeAll(async () => {
      gw = await buildTestGateway();
    });
    afterAll(() => gw.close());

    test('answers as documented on every kind of route (checked by the setup file after each test)', async () => {
      const account = await gw.createAccount();
      const { token } = await gw.issue(account);
      await request(gw.app).get('/openapi.json').expect(200);
      await request(gw.app).get('/.well-known/jwks.json').expect(200);
      await request(gw.app).post('/v1/auth/token/introspect').set('Authorization', basicAuth(account)).type('form').send({ token }).expect(200);
      await request(gw.app).get(`/v1/auth/verify?apiKey=${account.apiKey}`).set('Authorization', `Bearer ${token}`).expect(200);
      await request(gw.app).get('/v1/account/me').expect(401);
      await request(gw.app).patch('/v1/account/me').expect(405);
      await request(gw.app).get('/nowhere').expect(404);
    });
  });
});
