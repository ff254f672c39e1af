/**
 * GET /metrics (contract §8): Prometheus text, request counts and latency by route PATTERN and
 * status, tokens issued, checks by result, revocations, store errors, rate-limit refusals,
 * process metrics; one Registry per app.
 */
import request from 'supertest';
import { createApp } from '../../src/app';
import { GatewayMetrics } from '../../src/http/metrics';
import Redis from 'ioredis';
import { MemoryStore, RedisStore } from '../../src/store';
import { basicAuth, buildTestGateway, testConfig, type TestAccount, type TestGateway, forwardAuthPath } from '../helpers/app';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]!] = pair[2]!;
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of every sample of `name` whose labels include `labels` (0 when none). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

async function scrape(gw: { app: TestGateway['app'] }): Promise<{ text: string; samples: Sample[] }> {
  const res = await request(gw.app).get('/metrics');
  expect(res.status).toBe(200);
  return { text: res.text, samples: parse(res.text) };
}

describe('GET /metrics', () => {
  let gw: TestGateway;
  let account: TestAccount;
  beforeEach(async () => {
    gw = await buildTestGateway();
    account = await gw.createAccount();
  });
  afterEach(() => gw.close());

  it('answers the Prometheus text format, with process metrics', async () => {
    const res = await request(gw.app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.text).toMatch(/^# HELP http_requests_total /m);
    expect(res.text).toMatch(/^# TYPE http_request_duration_seconds histogram$/m);
    expect(res.text).toMatch(/^process_cpu_user_seconds_total /m);
    expect(res.text).toMatch(/^nodejs_eventloop_lag_seconds /m);
    expect(() => parse(res.text)).not.toThrow();
  });

  it('labels requests with the route pattern, never the raw path', async () => {
    const put = await request(gw.app)
      .put('/v1/users/alice')
      .set('Authorization', basicAuth(account))
      .send({ data: { organizationIds: ['org-1'] } });
    expect(put.status).toBe(200);
    await request(gw.app).get('/v1/users/bob').set('Authorization', basicAuth(account)).expect(404);
    await request(gw.app).get('/no/such/path/secret-looking-123').expect(404);

    const { text, samples } = await scrape(gw);
    expect(value(samples, 'http_requests_total', { route: '/v1/users/:userId', method: 'PUT', status: '200' })).toBe(1);
    expect(value(samples, 'http_requests_total', { route: '/v1/users/:userId', method: 'GET', status: '404' })).toBe(1);
    expect(value(samples, 'http_requests_total', { route: 'unmatched', status: '404' })).toBe(1);
    expect(value(samples, 'http_request_duration_seconds_count', { route: '/v1/users/:userId', status: '200' })).toBe(1);
    expect(value(samples, 'http_request_duration_seconds_sum', { route: '/v1/users/:userId', status: '200' })).toBeGreaterThan(0);
    expect(text).not.toContain('alice');
    expect(text).not.toContain('/v1/users/bob');
    expect(text).not.toContain('secret-looking');
    expect(text).not.toContain(account.apiKey);
  });

  it('counts tokens issued, only when one is', async () => {
    await gw.issue(account);
    await gw.issue(account);
    await request(gw.app)
      .post('/v1/auth/token/get')
      .send({ data: { apiKey: account.apiKey, authToken: 'at_wrong', userId: 'u', userProperties: { organizationId: 'o' } } })
      .expect(401);
    const { samples } = await scrape(gw);
    expect(value(samples, 'gateway_tokens_issued_total')).toBe(2);
    expect(value(samples, 'http_requests_total', { route: '/v1/auth/token/get', status: '401' })).toBe(1);
  });

  it('counts checks by endpoint and result', async () => {
    const { token } = await gw.issue(account);
    const introspect = (t: string) =>
      request(gw.app).post('/v1/auth/token/introspect').set('Authorization', basicAuth(account)).type('form').send({ token: t });
    await introspect(token).expect(200);
    await introspect('not-a-jwt').expect(200);
    await request(gw.app).get(forwardAuthPath(token)).set('Authorization', `Bearer ${token}`).expect(200);
    await request(gw.app).get(forwardAuthPath(token)).expect(401);
    const user = { userId: 'user-1', organizationId: 'org-1', email: 'user@example.com' };
    await request(gw.app).post('/v1/auth/identify').send({ data: { apiKey: account.apiKey, token, user } }).expect(200);
    await request(gw.app)
      .post('/v1/auth/identify')
      .send({ data: { apiKey: account.apiKey, token, user: { ...user, userId: 'mallory' } } })
      .expect(403);
    await request(gw.app)
      .post('/v1/auth/authorize')
      .send({ data: { apiKey: account.apiKey, token, permission: 'doc:read' } })
      .expect(403);

    const { samples } = await scrape(gw);
    const checks = (endpoint: string, result: string) => value(samples, 'gateway_token_checks_total', { endpoint, result });
    expect(checks('introspect', 'active')).toBe(1);
    expect(checks('introspect', 'token_invalid')).toBe(1);
    expect(checks('forward_auth', 'active')).toBe(1);
    expect(checks('forward_auth', 'token_missing')).toBe(1);
    expect(checks('identify', 'success')).toBe(1);
    expect(checks('identify', 'user_mismatch')).toBe(1);
    expect(checks('authorize', 'permission_denied')).toBe(1);
  });

  it('counts revocations by kind, only the ones made', async () => {
    const { token } = await gw.issue(account);
    const revoke = (t: string) =>
      request(gw.app).post('/v1/auth/token/revoke').set('Authorization', basicAuth(account)).type('form').send({ token: t }).expect(200);
    await revoke(token);
    await revoke('not-a-jwt'); // RFC 7009: 200, but nothing was revoked
    await request(gw.app).post('/v1/auth/users/revoke').set('Authorization', basicAuth(account)).send({ data: { userId: 'u1' } }).expect(200);
    await request(gw.app)
      .post('/v1/auth/organizations/revoke')
      .set('Authorization', basicAuth(account))
      .send({ data: { organizationId: 'o1' } })
      .expect(200);
    const { samples } = await scrape(gw);
    expect(value(samples, 'gateway_revocations_total', { kind: 'token' })).toBe(1);
    expect(value(samples, 'gateway_revocations_total', { kind: 'user' })).toBe(1);
    expect(value(samples, 'gateway_revocations_total', { kind: 'organization' })).toBe(1);
  });

  it('counts 503 store_unavailable answers as store errors', async () => {
    expect(value((await scrape(gw)).samples, 'gateway_store_errors_total', { source: 'request' })).toBe(0);
    const { token } = await gw.issue(account);
    (gw.store as MemoryStore).failing = true;
    await request(gw.app).get('/v1/account/me').set('Authorization', basicAuth(account)).expect(503);
    await request(gw.app).get(forwardAuthPath(token)).set('Authorization', `Bearer ${token}`).expect(503);
    (gw.store as MemoryStore).failing = false;
    const { samples } = await scrape(gw);
    expect(value(samples, 'gateway_store_errors_total', { source: 'request' })).toBe(2);
    expect(value(samples, 'gateway_token_checks_total', { endpoint: 'forward_auth', result: 'store_unavailable' })).toBe(1);
  });

  it('counts rate-limit refusals by limit', async () => {
    const limited = await buildTestGateway({ env: { RATE_LIMIT_FAILED_AUTH_PER_ADDRESS: '1' } });
    try {
      const wrong = { apiKey: 'ak_nobody', authToken: 'at_wrong' };
      await request(limited.app).get('/v1/account/me').set('Authorization', basicAuth(wrong)).expect(401);
      await request(limited.app).get('/v1/account/me').set('Authorization', basicAuth(wrong)).expect(429);
      const { samples } = await scrape(limited);
      expect(value(samples, 'gateway_rate_limited_total', { limit: 'address' })).toBe(1);
      expect(value(samples, 'gateway_rate_limited_total', { limit: 'api_key' })).toBe(0);
      expect(value(samples, 'http_requests_total', { route: '/v1/account/me', status: '429' })).toBe(1);
    } finally {
      await limited.close();
    }
  });

  it('keeps one registry per app', async () => {
    const other = await buildTestGateway();
    try {
      await request(gw.app).get('/healthz').expect(200);
      await request(gw.app).get('/healthz').expect(200);
      await request(other.app).get('/healthz').expect(200);
      expect(value((await scrape(gw)).samples, 'http_requests_total', { route: '/healthz' })).toBe(2);
      expect(value((await scrape(other)).samples, 'http_requests_total', { route: '/healthz' })).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('answers 405 to other methods and is not rate limited', async () => {
    const res = await request(gw.app).post('/metrics');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
    const { samples } = await scrape(gw);
    expect(value(samples, 'http_requests_total', { route: '/metrics', method: 'POST', status: '405' })).toBe(1);
  });
});

describe('METRICS_TOKEN', () => {
  it('protects /metrics with a Bearer token when set', async () => {
    const secret = 'metrics-token-0123456789abcdef';
    const gw = await buildTestGateway({ env: { METRICS_TOKEN: secret } });
    try {
      const bare = await request(gw.app).get('/metrics');
      expect(bare.status).toBe(401);
      expect(bare.headers['www-authenticate']).toBe('Bearer realm="token-gateway"');
      expect(bare.text).not.toContain('http_requests_total');
      await request(gw.app).get('/metrics').set('Authorization', 'Bearer metrics-token-wrong-wrong-wrong').expect(401);
      const ok = await request(gw.app).get('/metrics').set('Authorization', `Bearer ${secret}`);
      expect(ok.status).toBe(200);
      expect(ok.text).toContain('http_requests_total');
    } finally {
      await gw.close();
    }
  });
});

describe('Redis connection errors', () => {
  it('are counted from the store client', async () => {
    const client = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false });
    const gw = await buildTestGateway();
    try {
      const metrics = new GatewayMetrics({ defaultMetrics: false });
      const { app } = createApp({
        config: testConfig(gw.keysDir),
        store: new RedisStore(client, 'tgtest:metrics:'),
        keyRing: gw.keyRing,
        clock: gw.clock,
        metrics,
      });
      client.emit('error', new Error('connect ECONNREFUSED'));
      const samples = parse((await request(app).get('/metrics').expect(200)).text);
      expect(value(samples, 'gateway_store_errors_total', { source: 'connection' })).toBeGreaterThanOrEqual(1);
      expect(samples.some((s) => s.name.startsWith('process_'))).toBe(false);
    } finally {
      client.disconnect();
      await gw.close();
    }
  });
});
