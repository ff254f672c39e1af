/**
 * Every setting the gateway reads, in one schema, parsed once at start into a typed Config
 * that is passed down. Nothing else reads process.env. A bad value stops the start with a
 * message naming the variable.
 */
import { z } from 'zod';
import { CREDENTIAL_PATTERN } from './accounts/secrets';

export type SigningAlgorithm = 'RS256' | 'ES256' | 'EdDSA';

const MAX_TOKEN_LIFETIME_SECONDS = 172_800;

/** Contract §8: the issuance quota is on by default, at 6,000 tokens a minute per apiKey (100 a second). */
export const DEFAULT_ISSUANCE_QUOTA_PER_MINUTE = 6_000;

const int = (name: string, def: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw.trim() === '') return def;
      if (!/^\d+$/.test(raw.trim())) {
        ctx.addIssue({ code: 'custom', message: `${name} must be a whole number, got "${raw}".` });
        return z.NEVER;
      }
      const value = Number(raw.trim());
      if (value < min || value > max) {
        ctx.addIssue({ code: 'custom', message: `${name} must be between ${min} and ${max}, got ${value}.` });
        return z.NEVER;
      }
      return value;
    });

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, mb: 1024 * 1024 };

const byteSize = (name: string, def: number) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw.trim() === '') return def;
      const match = /^(\d+)\s*(b|kb|mb)?$/i.exec(raw.trim());
      const unit = BYTE_UNITS[(match?.[2] ?? '').toLowerCase()];
      if (!match || unit === undefined || Number(match[1]) * unit < 1) {
        ctx.addIssue({ code: 'custom', message: `${name} must be a size such as 16kb or 16384, got "${raw}".` });
        return z.NEVER;
      }
      return Number(match[1]) * unit;
    });

const bool = (name: string, def: boolean) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      const v = (raw ?? '').trim().toLowerCase();
      if (v === '') return def;
      if (v === 'true' || v === '1') return true;
      if (v === 'false' || v === '0') return false;
      ctx.addIssue({ code: 'custom', message: `${name} must be true or false, got "${raw}".` });
      return z.NEVER;
    });

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const list = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  );

/** TRUST_PROXY: unset/false (the socket peer is the client), a hop count, or addresses/subnets to trust. */
const trustProxy = z
  .string()
  .optional()
  .transform((raw, ctx): false | number | string[] => {
    const v = (raw ?? '').trim();
    if (v === '' || v === 'false' || v === '0') return false;
    if (v === 'true') {
      ctx.addIssue({
        code: 'custom',
        message: 'TRUST_PROXY=true would trust any X-Forwarded-For; give a hop count (e.g. 1) or the proxy addresses.',
      });
      return z.NEVER;
    }
    if (/^\d+$/.test(v)) return Number(v);
    return v.split(',').map((s) => s.trim()).filter(Boolean);
  });

const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).optional().default('development'),
    PORT: int('PORT', 8080, 0, 65535),
    HOST: optionalString.transform((v) => v ?? '0.0.0.0'),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .optional()
      .default('info'),
    REDIS_URL: optionalString.pipe(
      z.union([z.undefined(), z.string().regex(/^rediss?:\/\//, 'REDIS_URL must start with redis:// or rediss://.')]),
    ),
    REDIS_PREFIX: optionalString.transform((v) => v ?? 'tg:'),
    REDIS_MIRROR: bool('REDIS_MIRROR', true),
    REDIS_CLUSTER_NODES: list.transform((items, ctx) => {
      const nodes: Array<{ host: string; port: number }> = [];
      for (const item of items) {
        const match = /^(.+):(\d{1,5})$/.exec(item);
        const port = Number(match?.[2]);
        if (!match || port < 1 || port > 65535) {
          ctx.addIssue({ code: 'custom', message: `REDIS_CLUSTER_NODES must be a comma list of host:port, got "${item}".` });
          return z.NEVER;
        }
        nodes.push({ host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port });
      }
      return nodes;
    }),
    ADMIN_TOKEN: optionalString.pipe(
      z.union([z.undefined(), z.string().min(16, 'ADMIN_TOKEN must be at least 16 characters.')]),
    ),
    METRICS_TOKEN: optionalString.pipe(
      z.union([z.undefined(), z.string().min(16, 'METRICS_TOKEN must be at least 16 characters.')]),
    ),
    KEYS_DIR: optionalString.transform((v) => v ?? 'keys'),
    JWT_ISSUER: optionalString,
    JWT_ALGORITHM: z.enum(['RS256', 'ES256', 'EdDSA']).optional().default('RS256'),
    TOKEN_TTL_SECONDS: int('TOKEN_TTL_SECONDS', MAX_TOKEN_LIFETIME_SECONDS, 60, MAX_TOKEN_LIFETIME_SECONDS),
    CUSTOMER_TOKEN_MAX_TTL: int('CUSTOMER_TOKEN_MAX_TTL', MAX_TOKEN_LIFETIME_SECONDS, 60, 30 * 86_400),
    CLOCK_TOLERANCE_SECONDS: int('CLOCK_TOLERANCE_SECONDS', 5, 0, 300),
    BODY_LIMIT: byteSize('BODY_LIMIT', 16 * 1024),
    CORS_ORIGINS: list,
    JWKS_MAX_AGE_SECONDS: int('JWKS_MAX_AGE_SECONDS', 300, 0, 86_400),
    KEYS_RELOAD_SECONDS: int('KEYS_RELOAD_SECONDS', 5, 1, 3_600),
    SHUTDOWN_TIMEOUT_SECONDS: int('SHUTDOWN_TIMEOUT_SECONDS', 10, 1, 600),
    TRUST_PROXY: trustProxy,
    WORKERS: int('WORKERS', 1, 1, 256),
    VERIFIED_TOKEN_CACHE_SIZE: int('VERIFIED_TOKEN_CACHE_SIZE', 10_000, 0, 10_000_000),
    RATE_LIMIT_FAILED_AUTH_PER_ADDRESS: int('RATE_LIMIT_FAILED_AUTH_PER_ADDRESS', 60, 0, 1_000_000),
    RATE_LIMIT_FAILED_AUTH_PER_API_KEY: int('RATE_LIMIT_FAILED_AUTH_PER_API_KEY', 30, 0, 1_000_000),
    RATE_LIMIT_WINDOW_SECONDS: int('RATE_LIMIT_WINDOW_SECONDS', 60, 1, 86_400),
    ISSUANCE_QUOTA_PER_MINUTE: int('ISSUANCE_QUOTA_PER_MINUTE', DEFAULT_ISSUANCE_QUOTA_PER_MINUTE, 0, 100_000_000),
    UNKNOWN_ISSUER_READS_PER_SECOND: int('UNKNOWN_ISSUER_READS_PER_SECOND', 20, 1, 100_000),
    FORWARD_AUTH_API_KEYS: list.transform((items, ctx) => {
      for (const item of items) {
        if (!CREDENTIAL_PATTERN.test(item)) {
          ctx.addIssue({
            code: 'custom',
            message: `FORWARD_AUTH_API_KEYS must be a comma list of apiKeys (letters, digits, _ and -), got "${item}".`,
          });
          return z.NEVER;
        }
      }
      return [...new Set(items)];
    }),
  })
  .superRefine((env, ctx) => {
    if (env.REDIS_URL && env.REDIS_CLUSTER_NODES.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_CLUSTER_NODES'],
        message: 'REDIS_CLUSTER_NODES and REDIS_URL name two different stores: set only one of them.',
      });
    }
    if (env.NODE_ENV !== 'production') return;
    if (!env.JWT_ISSUER) {
      ctx.addIssue({ code: 'custom', path: ['JWT_ISSUER'], message: 'JWT_ISSUER is required in production.' });
      return;
    }
    if (!isHttpsOriginUrl(env.JWT_ISSUER)) {
      ctx.addIssue({
        code: 'custom',
        path: ['JWT_ISSUER'],
        message: 'JWT_ISSUER must be an https URL without a path, query or fragment in production.',
      });
    }
  });

function isHttpsOriginUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && (url.pathname === '/' || url.pathname === '') && !url.search && !url.hash &&
      !value.endsWith('/');
  } catch {
    return false;
  }
}

export interface Config {
  env: 'development' | 'production' | 'test';
  port: number;
  host: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  redis: { url: string; prefix: string } | undefined;
  /** REDIS_CLUSTER_NODES: the store is a Redis Cluster reached through these seed nodes. */
  redisCluster?: { nodes: Array<{ host: string; port: number }>; prefix: string } | undefined;
  /** REDIS_MIRROR: keep what checks read in a local mirror kept current through pub/sub. */
  redisMirror: boolean;
  adminToken: string | undefined;
  /** When set, GET /metrics requires `Authorization: Bearer <METRICS_TOKEN>`. */
  metricsToken: string | undefined;
  keysDir: string;
  issuer: string;
  algorithm: SigningAlgorithm;
  /** Lifetime of a gateway token when the request names none. */
  tokenTtlSeconds: number;
  /** The longest lifetime a request may ask for (contract §2: 48 h). */
  maxTokenTtlSeconds: number;
  customerTokenMaxTtlSeconds: number;
  clockToleranceSeconds: number;
  bodyLimitBytes: number;
  corsOrigins: string[];
  jwksMaxAgeSeconds: number;
  keysReloadSeconds: number;
  shutdownTimeoutSeconds: number;
  trustProxy: false | number | string[];
  workers: number;
  /** How many verified tokens each process remembers, to skip repeat signature checks (0: off). */
  verifiedTokenCacheSize: number;
  /**
   * FORWARD_AUTH_API_KEYS: the accounts whose tokens forward auth accepts when the request names
   * none with `?apiKey=` (contract §3.3); empty: every forward-auth request must name one.
   */
  forwardAuthApiKeys: string[];
  /**
   * UNKNOWN_ISSUER_READS_PER_SECOND: how many store reads per second this process spends on
   * customer-token issuers it has never seen as an account (forged tokens cost no more).
   */
  unknownIssuerReadsPerSecond: number;
  rateLimits: {
    windowSeconds: number;
    failedAuthPerAddress: number;
    failedAuthPerApiKey: number;
    issuancePerMinute: number;
  };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parse the environment once. Throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? '');
      return issue.message.includes(variable) && variable ? issue.message : `${variable}: ${issue.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    redis: e.REDIS_URL ? { url: e.REDIS_URL, prefix: e.REDIS_PREFIX } : undefined,
    redisCluster:
      e.REDIS_CLUSTER_NODES.length > 0 ? { nodes: e.REDIS_CLUSTER_NODES, prefix: e.REDIS_PREFIX } : undefined,
    redisMirror: e.REDIS_MIRROR,
    adminToken: e.ADMIN_TOKEN,
    metricsToken: e.METRICS_TOKEN,
    keysDir: e.KEYS_DIR,
    issuer: e.JWT_ISSUER ?? `http://localhost:${e.PORT}`,
    algorithm: e.JWT_ALGORITHM,
    tokenTtlSeconds: e.TOKEN_TTL_SECONDS,
    maxTokenTtlSeconds: MAX_TOKEN_LIFETIME_SECONDS,
    customerTokenMaxTtlSeconds: e.CUSTOMER_TOKEN_MAX_TTL,
    clockToleranceSeconds: e.CLOCK_TOLERANCE_SECONDS,
    bodyLimitBytes: e.BODY_LIMIT,
    corsOrigins: e.CORS_ORIGINS,
    jwksMaxAgeSeconds: e.JWKS_MAX_AGE_SECONDS,
    keysReloadSeconds: e.KEYS_RELOAD_SECONDS,
    shutdownTimeoutSeconds: e.SHUTDOWN_TIMEOUT_SECONDS,
    trustProxy: e.TRUST_PROXY,
    workers: e.WORKERS,
    verifiedTokenCacheSize: e.VERIFIED_TOKEN_CACHE_SIZE,
    forwardAuthApiKeys: e.FORWARD_AUTH_API_KEYS,
    unknownIssuerReadsPerSecond: e.UNKNOWN_ISSUER_READS_PER_SECOND,
    rateLimits: {
      windowSeconds: e.RATE_LIMIT_WINDOW_SECONDS,
      failedAuthPerAddress: e.RATE_LIMIT_FAILED_AUTH_PER_ADDRESS,
      failedAuthPerApiKey: e.RATE_LIMIT_FAILED_AUTH_PER_API_KEY,
      issuancePerMinute: e.ISSUANCE_QUOTA_PER_MINUTE,
    },
  };
}
