/**
 * The request log (contract §8): one JSON line per request with request id, route, status and
 * duration; no token, authToken, admin token, key or credential header ever in it.
 */
import request from 'supertest';
import { memoryDestination } from '../helpers/log';
import { createLogger } from '../../src/http/logging';
import { ADMIN_TOKEN, basicAuth, buildTestGateway, type TestGateway, forwardAuthPath } from '../helpers/app';
import { rsaKeyPairPem } from '../helpers/keys';

describe('request log', () => {
  let gw: TestGateway;
  let destination: ReturnType<typeof memoryDestination>;
  /** What the flow answered: request id, method, path, status. */
  const answers: Array<{ id: string; method: string; path: string; status: number }> = [];
  const secrets: Record<string, string> = {};

  const track = (res: request.Response, method: string, path: string): request.Response => {
    answers.push({ id: res.headers['x-request-id'] as string, method, path, status: res.status });
    return res;
  };

  beforeAll(async () => {
    destination = memoryDestination();
    gw = await buildTestGateway({ logger: createLogger('info', destination) });
    const { app } = gw;

    const created = track(
      await request(app)
        .post('/v1/admin/accounts')
        .set('Authorization', `Bearer ${ADMIN_TOKEN}`)
        .set('X-Request-Id', 'flow-create-account')
        .send({ data: { name: 'Acme' } }),
      'POST',
      '/v1/admin/accounts',
    );
    expect(created.status).toBe(201);
    const { apiKey } = created.body.result.data.account;
    const authToken: string = created.body.result.data.authToken;
    const account = { apiKey, authToken };

    const issued = track(
      await request(app)
        .post('/v1/auth/token/get')
        .send({ data: { apiKey, authToken, userId: 'user-1', userProperties: { organizationId: 'org-1', email: 'a@b.co' } } }),
      'POST',
      '/v1/auth/token/get',
    );
    expect(issued.status).toBe(200);
    const token: string = issued.body.result.data.token;

    const identified = track(
      await request(app)
        .post('/v1/auth/identify')
        .send({ data: { apiKey, token, user: { userId: 'user-1', organizationId: 'org-1', email: 'a@b.co' } } }),
      'POST',
      '/v1/auth/identify',
    );
    expect(identified.status).toBe(200);

    const introspected = track(
      await request(app)
        .post('/v1/auth/token/introspect?token=' + encodeURIComponent(token))
        .set('Authorization', basicAuth(account))
        .type('form')
        .send({ token }),
      'POST',
      '/v1/auth/token/introspect',
    );
    expect(introspected.body.active).toBe(true);

    const verified = track(
      await request(app).get(forwardAuthPath(token)).set('Authorization', `Bearer ${token}`),
      'GET',
      '/v1/auth/verify',
    );
    expect(verified.status).toBe(200);

    const revoked = track(
      await request(app).post('/v1/auth/token/revoke').set('Authorization', basicAuth(account)).type('form').send({ token }),
      'POST',
      '/v1/auth/token/revoke',
    );
    expect(revoked.status).toBe(200);

    const { publicKey } = rsaKeyPairPem();
    const keySet = track(
      await request(app).put('/v1/account/signing-key').set('Authorization', basicAuth(account)).send({ data: { publicKey } }),
      'PUT',
      '/v1/account/signing-key',
    );
    expect(keySet.status).toBe(200);

    const wrongAuthToken = `${authToken.slice(0, -4)}XXXX`;
    const failed = track(
      await request(app).get('/v1/account/me').set('Authorization', basicAuth({ apiKey, authToken: wrongAuthToken })),
      'GET',
      '/v1/account/me',
    );
    expect(failed.status).toBe(401);

    const wrongAdmin = track(
      await request(app).get('/v1/admin/accounts/acc_x/auth-tokens').set('Authorization', 'Bearer not-the-admin-token-at-all'),
      'GET',
      '/v1/admin/accounts/acc_x/auth-tokens',
    );
    expect(wrongAdmin.status).toBe(401);

    const ready = track(await request(app).get('/readyz'), 'GET', '/readyz');
    expect(ready.status).toBe(200);
    // A 5xx answer is logged at error level, through pino-http's error path.
    const ping = gw.store.ping;
    gw.store.ping = () => Promise.reject(new Error('store down'));
    const notReady = track(await request(app).get('/readyz').set('X-Request-Id', 'flow-not-ready'), 'GET', '/readyz');
    gw.store.ping = ping;
    expect(notReady.status).toBe(503);

    Object.assign(secrets, {
      authToken,
      wrongAuthToken,
      token,
      tokenSignature: token.split('.')[2]!,
      ADMIN_TOKEN,
      wrongAdminToken: 'not-the-admin-token-at-all',
      basic: basicAuth(account).slice('Basic '.length),
      publicKeyBody: publicKey.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''),
    });
    publicKey
      .split('\n')
      .filter((line) => line.length > 20 && !line.startsWith('-----'))
      .forEach((line, i) => (secrets[`publicKeyLine${i}`] = line));
  });

  afterAll(() => gw.close());

  it('never contains a secret', () => {
    const log = destination.lines.join('\n');
    expect(destination.lines.length).toBeGreaterThanOrEqual(answers.length);
    for (const [name, secret] of Object.entries(secrets)) {
      expect(secret.length).toBeGreaterThan(10);
      if (log.includes(secret)) throw new Error(`the log contains ${name}`);
    }
    // No header, query string or body reaches it either.
    expect(log).not.toMatch(/authorization/i);
    expect(log).not.toContain('?token=');
  });

  it('writes one JSON line per request, with request id, route, status and duration', () => {
    const requestLines = destination.lines.map((line) => JSON.parse(line) as Record<string, any>).filter((l) => l.req);
    expect(requestLines).toHaveLength(answers.length);
    for (const answer of answers) {
      expect(answer.id).toMatch(/^[A-Za-z0-9._-]{1,128}$/);
      const matching = requestLines.filter((l) => l.req.id === answer.id);
      expect(matching).toHaveLength(1);
      const line = matching[0]!;
      expect(line.req.method).toBe(answer.method);
      expect(line.req.path).toBe(answer.path);
      expect(line.res.statusCode).toBe(answer.status);
      expect(typeof line.responseTime).toBe('number');
      expect(line.responseTime).toBeGreaterThanOrEqual(0);
      expect(typeof line.route).toBe('string');
      expect(typeof line.time).toBe('string');
      expect(typeof line.level).toBe('number');
    }
  });

  it('writes the route key once per line, with the route pattern', () => {
    const raw = destination.lines.filter((line) => (JSON.parse(line) as Record<string, unknown>).req);
    expect(raw).toHaveLength(answers.length);
    for (const line of raw) {
      // JSON.parse keeps only the last of duplicate keys, so count them in the text itself.
      expect(line.match(/"route":/g) ?? []).toHaveLength(1);
      expect(typeof (JSON.parse(line) as Record<string, unknown>).route).toBe('string');
    }
    const parsed = raw.map((line) => JSON.parse(line) as Record<string, any>);
    expect(parsed.find((l) => l.req.path === '/readyz' && l.res.statusCode === 200)).toMatchObject({ route: '/readyz' });
    expect(parsed.find((l) => l.req.id === 'flow-not-ready')).toMatchObject({ route: '/readyz', res: { statusCode: 503 } });
  });

  it('logs the route pattern and the caller\'s request id', () => {
    const lines = destination.lines.map((line) => JSON.parse(line) as Record<string, any>).filter((l) => l.req);
    const created = lines.find((l) => l.req.id === 'flow-create-account');
    expect(created).toMatchObject({ route: '/v1/admin/accounts', res: { statusCode: 201 } });
    const admin = lines.find((l) => l.req.path === '/v1/admin/accounts/acc_x/auth-tokens');
    expect(admin).toMatchObject({ route: '/v1/admin/accounts/:accountId/auth-tokens', code: 'invalid_credentials' });
  });
});

describe('request log above info (LOG_LEVEL=warn)', () => {
  it('writes no line for a successful answer and the same fields for a failed one', async () => {
    const destination = memoryDestination();
    const gw = await buildTestGateway({ logger: createLogger('warn', destination) });
    try {
      const account = await gw.createAccount();
      expect((await request(gw.app).get('/readyz')).status).toBe(200);
      expect((await request(gw.app).get('/v1/account/me').set('Authorization', basicAuth(account))).status).toBe(200);
      expect(destination.lines.filter((line) => JSON.parse(line).req)).toEqual([]);

      const ping = gw.store.ping;
      gw.store.ping = () => Promise.reject(new Error('store down'));
      const res = await request(gw.app).get('/readyz').set('X-Request-Id', 'warn-not-ready');
      gw.store.ping = ping;
      expect(res.status).toBe(503);
      const lines = destination.lines.map((line) => JSON.parse(line) as Record<string, any>).filter((l) => l.req);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        level: 50,
        req: { id: 'warn-not-ready', method: 'GET', path: '/readyz' },
        res: { statusCode: 503 },
        route: '/readyz',
        responseTime: expect.any(Number),
      });
      expect(destination.lines.join('\n')).not.toContain(account.authToken);
    } finally {
      await gw.close();
    }
  });
});
