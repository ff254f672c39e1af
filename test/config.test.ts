import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../src/config';
import { loadStartupConfig } from '../src/server';

/** The ConfigError loadConfig throws for `env`. */
function problemsOf(env: NodeJS.ProcessEnv): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

const PRODUCTION = { NODE_ENV: 'production', JWT_ISSUER: 'https://auth.example.com', REDIS_URL: 'redis://127.0.0.1:6379' };

describe('loadConfig', () => {
  test('defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      env: 'development',
      port: 8080,
      redis: undefined,
      adminToken: undefined,
      keysDir: 'keys',
      issuer: 'http://localhost:8080',
      algorithm: 'RS256',
      tokenTtlSeconds: 172_800,
      maxTokenTtlSeconds: 172_800,
      customerTokenMaxTtlSeconds: 172_800,
      clockToleranceSeconds: 5,
      bodyLimitBytes: 16 * 1024,
      corsOrigins: [],
      shutdownTimeoutSeconds: 10,
      trustProxy: false,
    });
    expect(config.rateLimits.failedAuthPerAddress).toBeGreaterThanOrEqual(60);
    expect(config.rateLimits.failedAuthPerApiKey).toBeGreaterThanOrEqual(30);
  });

  test('reads every documented variable', () => {
    const config = loadConfig({
      PORT: '9000',
      REDIS_URL: 'redis://10.0.0.1:6379/2',
      ADMIN_TOKEN: 'a'.repeat(32),
      KEYS_DIR: '/keys',
      JWT_ISSUER: 'https://auth.example.com',
      TOKEN_TTL_SECONDS: '3600',
      CLOCK_TOLERANCE_SECONDS: '2',
      BODY_LIMIT: '32kb',
      CORS_ORIGINS: 'https://a.example, https://b.example',
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      TRUST_PROXY: '1',
    });
    expect(config).toMatchObject({
      port: 9000,
      redis: { url: 'redis://10.0.0.1:6379/2', prefix: 'tg:' },
      keysDir: '/keys',
      issuer: 'https://auth.example.com',
      tokenTtlSeconds: 3600,
      clockToleranceSeconds: 2,
      bodyLimitBytes: 32 * 1024,
      corsOrigins: ['https://a.example', 'https://b.example'],
      env: 'production',
      logLevel: 'warn',
      trustProxy: 1,
    });
  });

  test.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ TOKEN_TTL_SECONDS: '172801' }, 'TOKEN_TTL_SECONDS'],
    [{ TOKEN_TTL_SECONDS: '59' }, 'TOKEN_TTL_SECONDS'],
    [{ BODY_LIMIT: 'lots' }, 'BODY_LIMIT'],
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL'],
    [{ ADMIN_TOKEN: 'short' }, 'ADMIN_TOKEN'],
    [{ JWT_ALGORITHM: 'HS256' }, 'JWT_ALGORITHM'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ TRUST_PROXY: 'true' }, 'TRUST_PROXY'],
    [{ NODE_ENV: 'production' }, 'JWT_ISSUER'],
    [{ NODE_ENV: 'production', JWT_ISSUER: 'http://auth.example.com' }, 'JWT_ISSUER'],
    [{ NODE_ENV: 'production', JWT_ISSUER: 'https://auth.example.com/tenant' }, 'JWT_ISSUER'],
    [{ CORS_ORIGINS: 'example.com' }, 'CORS_ORIGINS'],
    [{ CORS_ORIGINS: 'https://a.example, app.example.com' }, 'CORS_ORIGINS'],
    [{ CORS_ORIGINS: 'https://a.example/' }, 'CORS_ORIGINS'],
    [{ CORS_ORIGINS: 'https://a.example/app' }, 'CORS_ORIGINS'],
    [{ CORS_ORIGINS: 'ftp://a.example' }, 'CORS_ORIGINS'],
    [{ JWT_ISSUER: 'not a url' }, 'JWT_ISSUER'],
    [{ JWT_ISSUER: 'auth.example.com' }, 'JWT_ISSUER'],
    [{ JWT_ISSUER: 'ftp://auth.example.com' }, 'JWT_ISSUER'],
    [{ ...PRODUCTION, REDIS_URL: '' }, 'REDIS_URL'],
    [{ STORE: 'redis' }, 'STORE'],
    [{ STORE: 'memory', REDIS_URL: 'redis://127.0.0.1:6379' }, 'STORE'],
  ])('%j stops the start with a message naming %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(variable);
  });

  test('webhook settings: the contract schedule by default, a list of delays, refused when malformed', () => {
    expect(loadConfig({}).webhooks).toEqual({
      retryScheduleMs: [5_000, 30_000, 120_000, 600_000, 3_600_000, 21_600_000, 43_200_000],
      allowInsecure: false,
      timeoutMs: 10_000,
    });
    expect(
      loadConfig({ WEBHOOK_RETRY_SCHEDULE: '200ms, 1s,2m', WEBHOOK_ALLOW_INSECURE: 'true', WEBHOOK_TIMEOUT_SECONDS: '3' }).webhooks,
    ).toEqual({ retryScheduleMs: [200, 1_000, 120_000], allowInsecure: true, timeoutMs: 3_000 });
    for (const bad of ['5', '5s,', '0s', '-5s', '1d', '169h', Array(21).fill('1s').join(',')]) {
      expect(problemsOf({ WEBHOOK_RETRY_SCHEDULE: bad })).toEqual([
        expect.stringMatching(/^WEBHOOK_RETRY_SCHEDULE must be a comma list of 1 to 20 delays/),
      ]);
    }
    expect(problemsOf({ WEBHOOK_TIMEOUT_SECONDS: '0' })[0]).toMatch(/^WEBHOOK_TIMEOUT_SECONDS must be/);
  });

  test('CORS_ORIGINS takes origins as browsers send them, and *', () => {
    expect(loadConfig({ CORS_ORIGINS: 'https://a.example, http://localhost:3000, https://b.example:8443' }).corsOrigins).toEqual([
      'https://a.example',
      'http://localhost:3000',
      'https://b.example:8443',
    ]);
    expect(loadConfig({ CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*']);
    // A trailing slash or a default port never matches an Origin header: the message says what would.
    expect(problemsOf({ CORS_ORIGINS: 'https://a.example:443' })).toEqual([
      expect.stringContaining('write it as the browser sends it: "https://a.example"'),
    ]);
  });

  test('JWT_ISSUER outside production: any http(s) URL', () => {
    expect(loadConfig({ JWT_ISSUER: 'http://gateway.local:8080' }).issuer).toBe('http://gateway.local:8080');
  });

  test('a number out of its range is said as a range, a negative one included', () => {
    expect(problemsOf({ TOKEN_TTL_SECONDS: '-1' })).toEqual([
      'TOKEN_TTL_SECONDS must be a positive whole number from 60 to 172800, got -1.',
    ]);
    expect(problemsOf({ TOKEN_TTL_SECONDS: '1.5' })).toEqual([
      'TOKEN_TTL_SECONDS must be a positive whole number from 60 to 172800, got "1.5".',
    ]);
    expect(problemsOf({ ISSUANCE_QUOTA_PER_MINUTE: '-5' })).toEqual([
      expect.stringMatching(/^ISSUANCE_QUOTA_PER_MINUTE must be a whole number from 0 to \d+, got -5\.$/),
    ]);
  });

  test('production refuses the in-memory store unless STORE=memory asks for it by name', () => {
    const { REDIS_URL: _unused, ...withoutStore } = PRODUCTION;
    expect(problemsOf(withoutStore)).toEqual([expect.stringMatching(/^NODE_ENV=production needs a shared store: set REDIS_URL .*STORE=memory/)]);
    expect(loadConfig({ ...withoutStore, STORE: 'memory' })).toMatchObject({ env: 'production', redis: undefined });
    expect(loadConfig({ ...withoutStore, REDIS_CLUSTER_NODES: '127.0.0.1:7000' }).redisCluster).toBeDefined();
    expect(loadConfig(PRODUCTION).redis).toBeDefined();
    // Development keeps its in-memory default.
    expect(loadConfig({}).redis).toBeUndefined();
  });

  test('every problem is reported at once, bad single values and cross-variable rules together', () => {
    const problems = problemsOf({ NODE_ENV: 'production', PORT: 'eighty', TOKEN_TTL_SECONDS: '-1', CORS_ORIGINS: 'example.com' });
    expect(problems).toHaveLength(5);
    for (const variable of ['PORT', 'TOKEN_TTL_SECONDS', 'CORS_ORIGINS', 'JWT_ISSUER', 'REDIS_URL']) {
      expect(problems.filter((p) => p.includes(variable))).not.toHaveLength(0);
    }
    expect(() => loadConfig({ NODE_ENV: 'production', PORT: 'eighty' })).toThrow(
      /^Invalid configuration:\n {2}PORT must .*\n {2}JWT_ISSUER is required in production\.\n {2}NODE_ENV=production needs a shared store/,
    );
  });

  test('a production start with bad settings names the missing signing key in the same message', async () => {
    const emptyKeys = mkdtempSync(path.join(os.tmpdir(), 'tg-config-keys-'));
    const failure = loadStartupConfig({ NODE_ENV: 'production', KEYS_DIR: emptyKeys, STORE: 'memory' });
    await expect(failure).rejects.toBeInstanceOf(ConfigError);
    await expect(failure).rejects.toThrow(/JWT_ISSUER is required in production\.\n {2}No signing key in /);
    // Good settings: the configuration, and startGateway reports the key as before.
    await expect(loadStartupConfig({ ...PRODUCTION, KEYS_DIR: emptyKeys })).resolves.toMatchObject({ keysDir: emptyKeys });
  });
});

describe('Redis connection settings (contract §8)', () => {
  test('REDIS_SENTINELS names the Sentinels, REDIS_SENTINEL_NAME the primary (default mymaster)', () => {
    const config = loadConfig({ REDIS_SENTINELS: '127.0.0.1:26379, s2.internal:26380' });
    expect(config.redisSentinel).toEqual({
      sentinels: [
        { host: '127.0.0.1', port: 26379 },
        { host: 's2.internal', port: 26380 },
      ],
      name: 'mymaster',
      prefix: 'tg:',
    });
    expect(loadConfig({ REDIS_SENTINELS: 'h:1', REDIS_SENTINEL_NAME: 'gw' }).redisSentinel?.name).toBe('gw');
    expect(() => loadConfig({ REDIS_SENTINELS: 'h' })).toThrow(/REDIS_SENTINELS must be a comma list of host:port/);
  });

  test.each([
    [{ REDIS_URL: 'redis://h:1', REDIS_SENTINELS: 'h:2' }, /REDIS_URL and REDIS_SENTINELS name different stores/],
    [{ REDIS_CLUSTER_NODES: 'h:1', REDIS_SENTINELS: 'h:2' }, /REDIS_CLUSTER_NODES and REDIS_SENTINELS/],
  ])('exactly one of REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES selects Redis (%o)', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  test('credentials, TLS and the replica wait apply to every Redis; rediss:// turns TLS on', () => {
    expect(loadConfig({}).redisConnection).toEqual({ tls: false, waitTimeoutMs: 500 });
    expect(loadConfig({ REDIS_URL: 'rediss://h:6380' }).redisConnection.tls).toBe(true);
    const config = loadConfig({
      REDIS_CLUSTER_NODES: 'h:1',
      REDIS_USERNAME: 'gateway',
      REDIS_PASSWORD: ' pass word ',
      REDIS_TLS: 'true',
      REDIS_TLS_CA_FILE: '/etc/ca.pem',
      REDIS_WAIT_TIMEOUT_MS: '800',
    });
    expect(config.redisConnection).toEqual({
      username: 'gateway',
      password: ' pass word ',
      tls: true,
      caFile: '/etc/ca.pem',
      waitTimeoutMs: 800,
    });
    expect(() => loadConfig({ REDIS_WAIT_TIMEOUT_MS: '0' })).toThrow(/REDIS_WAIT_TIMEOUT_MS/);
  });

  test('a bad setting never echoes the Redis password', () => {
    let message = '';
    try {
      loadConfig({ REDIS_URL: 'http://user:s3cret-pass@h', REDIS_PASSWORD: 's3cret-pass', REDIS_TLS: 'maybe' });
    } catch (error) {
      message = String(error);
    }
    expect(message).toMatch(/REDIS_URL/);
    expect(message).not.toContain('s3cret-pass');
  });
});
