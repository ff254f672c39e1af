import { ConfigError, loadConfig } from '../src/config';

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
  ])('%j stops the start with a message naming %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(variable);
  });
});
