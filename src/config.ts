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

/** Where signing keys are read from when KEYS_DIR is unset. */
export const DEFAULT_KEYS_DIR = 'keys';

const int = (name: string, def: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw.trim() === '') return def;
      const range = min === 0 ? `a whole number from 0 to ${max}` : `a positive whole number from ${min} to ${max}`;
      if (!/^[+-]?\d+$/.test(raw.trim())) {
        ctx.addIssue({ code: 'custom', message: `${name} must be ${range}, got "${raw}".` });
        return z.NEVER;
      }
      const value = Number(raw.trim());
      if (value < min || value > max) {
        ctx.addIssue({ code: 'custom', message: `${name} must be ${range}, got ${value}.` });
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

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Contract §10: the delays between a webhook delivery's attempts; after the last, it failed. */
export const DEFAULT_WEBHOOK_RETRY_SCHEDULE = '5s,30s,2m,10m,1h,6h,12h';

/** WEBHOOK_RETRY_SCHEDULE: a comma list of delays (`500ms`, `5s`, `2m`, `1h`), ms; 1 to 20 of them. */
const retrySchedule = z
  .string()
  .optional()
  .transform((raw, ctx) => {
    const value = raw === undefined || raw.trim() === '' ? DEFAULT_WEBHOOK_RETRY_SCHEDULE : raw;
    const delays = value.split(',').map((item) => {
      const match = /^(\d{1,9})(ms|s|m|h)$/.exec(item.trim());
      return match ? Number(match[1]) * DURATION_UNITS[match[2]!]! : Number.NaN;
    });
    if (delays.length > 20 || delays.some((delay) => !(delay > 0 && delay <= 7 * 86_400_000))) {
      ctx.addIssue({
        code: 'custom',
        message: `WEBHOOK_RETRY_SCHEDULE must be a comma list of 1 to 20 delays such as 5s,30s,2m,1h (each over 0 and at most 168h), got "${value}".`,
      });
      return z.NEVER;
    }
    return delays;
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

/**
 * CORS_ORIGINS: `*`, or origins exactly as a browser sends them in `Origin` (scheme, host,
 * optional port; no path, no trailing slash). Anything else could never match and would leave
 * the browser routes closed without a word.
 */
const corsOrigins = list.transform((items, ctx) => {
  for (const item of items) {
    if (item === '*') continue;
    let origin: string | undefined;
    try {
      const url = new URL(item);
      if (url.protocol === 'https:' || url.protocol === 'http:') origin = url.origin;
    } catch {
      origin = undefined;
    }
    if (origin !== item) {
      const hint = origin ? ` (write it as the browser sends it: "${origin}")` : '';
      ctx.addIssue({
        code: 'custom',
        message:
          `CORS_ORIGINS must list origins such as https://app.example.com (scheme, host, optional port; no path), ` +
          `or *; got "${item}"${hint}.`,
      });
    }
  }
  return items;
});

/** JWT_ISSUER: an http(s) URL without a query or fragment (production asks for more, below). */
const issuer = optionalString.refine(
  (value) => {
    if (value === undefined) return true;
    try {
      const url = new URL(value);
      return (url.protocol === 'https:' || url.protocol === 'http:') && !url.search && !url.hash;
    } catch {
      return false;
    }
  },
  { message: 'JWT_ISSUER must be an http(s) URL such as https://auth.example.com.' },
);

/** A comma list of host:port (IPv6 hosts in brackets). */
const hostPorts = (name: string) =>
  list.transform((items, ctx) => {
    const nodes: Array<{ host: string; port: number }> = [];
    for (const item of items) {
      const match = /^(.+):(\d{1,5})$/.exec(item);
      const port = Number(match?.[2]);
      if (!match || port < 1 || port > 65535) {
        ctx.addIssue({ code: 'custom', message: `${name} must be a comma list of host:port, got "${item}".` });
        return z.NEVER;
      }
      nodes.push({ host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port });
    }
    return nodes;
  });

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
    REDIS_CLUSTER_NODES: hostPorts('REDIS_CLUSTER_NODES'),
    REDIS_SENTINELS: hostPorts('REDIS_SENTINELS'),
    REDIS_SENTINEL_NAME: optionalString.transform((v) => v ?? 'mymaster'),
    REDIS_USERNAME: optionalString,
    // Not trimmed: a password may end in a space.
    REDIS_PASSWORD: z.string().optional().transform((v) => (v === '' ? undefined : v)),
    REDIS_TLS: bool('REDIS_TLS', false),
    REDIS_TLS_CA_FILE: optionalString,
    REDIS_WAIT_TIMEOUT_MS: int('REDIS_WAIT_TIMEOUT_MS', 500, 1, 60_000),
    ADMIN_TOKEN: optionalString.pipe(
      z.union([z.undefined(), z.string().min(16, 'ADMIN_TOKEN must be at least 16 characters.')]),
    ),
    METRICS_TOKEN: optionalString.pipe(
      z.union([z.undefined(), z.string().min(16, 'METRICS_TOKEN must be at least 16 characters.')]),
    ),
    KEYS_DIR: optionalString.transform((v) => v ?? DEFAULT_KEYS_DIR),
    JWT_ISSUER: issuer,
    JWT_ALGORITHM: z.enum(['RS256', 'ES256', 'EdDSA']).optional().default('RS256'),
    TOKEN_TTL_SECONDS: int('TOKEN_TTL_SECONDS', MAX_TOKEN_LIFETIME_SECONDS, 60, MAX_TOKEN_LIFETIME_SECONDS),
    CUSTOMER_TOKEN_MAX_TTL: int('CUSTOMER_TOKEN_MAX_TTL', MAX_TOKEN_LIFETIME_SECONDS, 60, 30 * 86_400),
    CLOCK_TOLERANCE_SECONDS: int('CLOCK_TOLERANCE_SECONDS', 5, 0, 300),
    BODY_LIMIT: byteSize('BODY_LIMIT', 16 * 1024),
    CORS_ORIGINS: corsOrigins,
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
    AUDIT_RETENTION_DAYS: int('AUDIT_RETENTION_DAYS', 30, 1, 3_650),
    DPOP_NONCES: bool('DPOP_NONCES', false),
    AUDIT_MAX_EVENTS: int('AUDIT_MAX_EVENTS', 100_000, 1, 100_000_000),
    WEBHOOK_RETRY_SCHEDULE: retrySchedule,
    WEBHOOK_ALLOW_INSECURE: bool('WEBHOOK_ALLOW_INSECURE', false),
    WEBHOOK_TIMEOUT_SECONDS: int('WEBHOOK_TIMEOUT_SECONDS', 10, 1, 60),
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
    STORE: optionalString.pipe(
      z.union([z.undefined(), z.literal('memory')], {
        message: 'STORE may only be "memory": the in-memory store, asked for by name.',
      }),
    ),
  });

const isSet = (raw: NodeJS.ProcessEnv, name: string) => (raw[name] ?? '').trim() !== '';

/**
 * The checks across variables. They read the raw environment, so that they run even when some
 * single variable is bad, and the message lists every problem at once.
 */
function combinationProblems(raw: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  const stores = ['REDIS_CLUSTER_NODES', 'REDIS_URL', 'REDIS_SENTINELS'].filter((name) => isSet(raw, name));
  const redis = stores.length > 0;
  if (stores.length > 1) problems.push(`${stores.join(' and ')} name different stores: set only one of them.`);
  if (raw.STORE?.trim() === 'memory' && redis) {
    problems.push('STORE=memory asks for the in-memory store, but a Redis store is configured too: set only one of them.');
  }
  if (raw.NODE_ENV !== 'production') return problems;
  const issuerValue = raw.JWT_ISSUER?.trim();
  if (!issuerValue) {
    problems.push('JWT_ISSUER is required in production.');
  } else if (!isHttpsOriginUrl(issuerValue)) {
    problems.push('JWT_ISSUER must be an https URL without a path, query or fragment in production.');
  }
  if (!redis && raw.STORE?.trim() !== 'memory') {
    problems.push(
      'NODE_ENV=production needs a shared store: set REDIS_URL (or REDIS_SENTINELS, REDIS_CLUSTER_NODES). The in-memory store forgets ' +
        'every account and revocation on a restart; set STORE=memory to run on it anyway.',
    );
  }
  return problems;
}

/** The samplers OTEL_TRACES_SAMPLER may name (the OpenTelemetry specification's built-in ones). */
export const TRACE_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

/**
 * OpenTelemetry tracing (contract §9), from the specification's own OTEL_* variables: off
 * unless an OTLP endpoint is set. The gateway reads these here, once, and hands the SDK every
 * value explicitly (src/tracing/sdk.ts), so that a bad value stops the start like any other.
 */
export interface TracingSettings {
  /** Where spans are POSTed: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces. */
  url: string;
  protocol: 'http/protobuf' | 'http/json';
  /** OTEL_EXPORTER_OTLP_(TRACES_)HEADERS: sent with every export (a collector's credentials, say). */
  headers: Record<string, string>;
  timeoutMs: number;
  compression: 'gzip' | 'none';
  serviceName: string;
  /** OTEL_RESOURCE_ATTRIBUTES (service.name comes from serviceName). */
  resourceAttributes: Record<string, string>;
  sampler: (typeof TRACE_SAMPLERS)[number];
  /** OTEL_TRACES_SAMPLER_ARG: the ratio of the traceidratio samplers. */
  samplerRatio: number;
  /** The batch span processor (OTEL_BSP_*). */
  batch: { scheduleDelayMs: number; exportTimeoutMs: number; maxQueueSize: number; maxExportBatchSize: number };
  /**
   * OTEL_NODE_DISABLED_INSTRUMENTATIONS (the Node auto-instrumentation's variable): express
   * and/or ioredis left out, to trade their spans for speed (docs/BENCHMARKS.md). http cannot
   * be: its server span is what joins the caller's trace.
   */
  disabledInstrumentations: Array<'express' | 'ioredis'>;
}

/**
 * The OTEL_* variables, as the specification defines them: a signal-specific variable
 * (OTEL_EXPORTER_OTLP_TRACES_*) wins over the general one. Returns the settings (undefined:
 * tracing off) and every problem found; a bad value is a problem even while tracing is off.
 */
function tracingSettings(raw: NodeJS.ProcessEnv): { settings: TracingSettings | undefined; problems: string[] } {
  const problems: string[] = [];
  const value = (name: string): string | undefined => {
    const v = raw[name]?.trim();
    return v ? v : undefined;
  };
  const either = (suffix: string): [string, string | undefined] => {
    const specific = `OTEL_EXPORTER_OTLP_TRACES_${suffix}`;
    return value(specific) !== undefined ? [specific, value(specific)] : [`OTEL_EXPORTER_OTLP_${suffix}`, value(`OTEL_EXPORTER_OTLP_${suffix}`)];
  };
  const whole = (name: string, def: number, min: number, max: number): number => {
    const v = value(name);
    if (v === undefined) return def;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max}, got "${v}".`);
      return def;
    }
    return Number(v);
  };
  /** W3C Baggage-like `key=value,key=value`, values percent-encoded (the specification's format). */
  const pairs = (name: string, text: string | undefined): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const item of (text ?? '').split(',')) {
      if (item.trim() === '') continue;
      const eq = item.indexOf('=');
      const key = eq > 0 ? item.slice(0, eq).trim() : '';
      let decoded: string | undefined;
      try {
        decoded = eq > 0 ? decodeURIComponent(item.slice(eq + 1).trim()) : undefined;
      } catch {
        decoded = undefined;
      }
      if (!key || decoded === undefined) {
        // The item is not echoed: a header value may be a credential.
        problems.push(`${name} must be a comma list of key=value (values percent-encoded).`);
        return {};
      }
      out[key] = decoded;
    }
    return out;
  };

  const disabled = value('OTEL_SDK_DISABLED')?.toLowerCase();
  if (disabled !== undefined && disabled !== 'true' && disabled !== 'false') {
    problems.push(`OTEL_SDK_DISABLED must be true or false, got "${disabled}".`);
  }
  const exporter = value('OTEL_TRACES_EXPORTER') ?? 'otlp';
  if (exporter !== 'otlp' && exporter !== 'none') {
    problems.push(`OTEL_TRACES_EXPORTER must be otlp or none (the gateway exports OTLP over HTTP only), got "${exporter}".`);
  }

  const httpUrl = (name: string, text: string): URL | undefined => {
    try {
      const url = new URL(text);
      if (url.protocol === 'http:' || url.protocol === 'https:') return url;
    } catch {
      // reported below
    }
    problems.push(`${name} must be an http(s) URL such as http://collector:4318.`);
    return undefined;
  };
  let url: string | undefined;
  const [endpointName, endpoint] = either('ENDPOINT');
  if (endpoint !== undefined && httpUrl(endpointName, endpoint)) {
    // The general endpoint is a base: the traces path is appended to it (specification).
    url = endpointName === 'OTEL_EXPORTER_OTLP_ENDPOINT' ? `${endpoint.replace(/\/+$/, '')}/v1/traces` : endpoint;
  }

  const [protocolName, protocol = 'http/protobuf'] = either('PROTOCOL');
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    problems.push(`${protocolName} must be http/protobuf or http/json (gRPC is not supported), got "${protocol}".`);
  }
  const [compressionName, compression = 'none'] = either('COMPRESSION');
  if (compression !== 'gzip' && compression !== 'none') {
    problems.push(`${compressionName} must be gzip or none, got "${compression}".`);
  }
  const [headersName, headersText] = either('HEADERS');
  const headers = pairs(headersName, headersText);
  const timeoutName = value('OTEL_EXPORTER_OTLP_TRACES_TIMEOUT') !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT' : 'OTEL_EXPORTER_OTLP_TIMEOUT';
  const timeoutMs = whole(timeoutName, 10_000, 1, 600_000);

  const resourceAttributes = pairs('OTEL_RESOURCE_ATTRIBUTES', value('OTEL_RESOURCE_ATTRIBUTES'));
  const serviceName = value('OTEL_SERVICE_NAME') ?? resourceAttributes['service.name'] ?? 'token-gateway';
  delete resourceAttributes['service.name'];

  const sampler = value('OTEL_TRACES_SAMPLER') ?? 'parentbased_always_on';
  if (!(TRACE_SAMPLERS as readonly string[]).includes(sampler)) {
    problems.push(`OTEL_TRACES_SAMPLER must be one of ${TRACE_SAMPLERS.join(', ')}; got "${sampler}".`);
  }
  const ratioText = value('OTEL_TRACES_SAMPLER_ARG');
  let samplerRatio = 1;
  if (ratioText !== undefined && sampler.endsWith('traceidratio')) {
    samplerRatio = Number(ratioText);
    if (!/^\d*\.?\d+$/.test(ratioText) || samplerRatio < 0 || samplerRatio > 1) {
      problems.push(`OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1, got "${ratioText}".`);
    }
  }

  const batch = {
    scheduleDelayMs: whole('OTEL_BSP_SCHEDULE_DELAY', 5_000, 1, 600_000),
    exportTimeoutMs: whole('OTEL_BSP_EXPORT_TIMEOUT', 30_000, 1, 600_000),
    maxQueueSize: whole('OTEL_BSP_MAX_QUEUE_SIZE', 2_048, 1, 1_000_000),
    maxExportBatchSize: whole('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512, 1, 1_000_000),
  };
  if (batch.maxExportBatchSize > batch.maxQueueSize) {
    problems.push('OTEL_BSP_MAX_EXPORT_BATCH_SIZE must not be larger than OTEL_BSP_MAX_QUEUE_SIZE.');
  }

  const disabledInstrumentations: TracingSettings['disabledInstrumentations'] = [];
  for (const name of (value('OTEL_NODE_DISABLED_INSTRUMENTATIONS') ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    if (name === 'express' || name === 'ioredis') {
      if (!disabledInstrumentations.includes(name)) disabledInstrumentations.push(name);
    } else {
      problems.push(
        `OTEL_NODE_DISABLED_INSTRUMENTATIONS may name express and ioredis (http traces every request and stays on), got "${name}".`,
      );
    }
  }

  if (problems.length > 0 || url === undefined || disabled === 'true' || exporter === 'none') {
    return { settings: undefined, problems };
  }
  return {
    settings: {
      url,
      protocol: protocol as TracingSettings['protocol'],
      headers,
      timeoutMs,
      compression: compression as TracingSettings['compression'],
      serviceName,
      resourceAttributes,
      sampler: sampler as TracingSettings['sampler'],
      samplerRatio,
      batch,
      disabledInstrumentations,
    },
    problems,
  };
}

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
  /** REDIS_SENTINELS: the store is the primary these Sentinels name REDIS_SENTINEL_NAME. */
  redisSentinel?: { sentinels: Array<{ host: string; port: number }>; name: string; prefix: string } | undefined;
  /** How every Redis connection (URL, Sentinel, Cluster) authenticates and encrypts; how long a durable write waits. */
  redisConnection: { username?: string; password?: string; tls: boolean; caFile?: string; waitTimeoutMs: number };
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
  /** The audit trail (contract §9): each stream keeps events this long and at most this many. */
  audit: { retentionDays: number; maxEvents: number };
  /** DPOP_NONCES: DPoP proofs must carry a server nonce (RFC 9449 §8; contract §10). */
  dpopNonces: boolean;
  /** OpenTelemetry tracing; undefined (the default) when no OTLP endpoint is set. */
  tracing: TracingSettings | undefined;
  /**
   * Webhooks (contract §10): the delays between attempts (ms), whether the https and address
   * rules are lifted (development and tests only), and how long one attempt may take.
   */
  webhooks: { retryScheduleMs: number[]; allowInsecure: boolean; timeoutMs: number };
  rateLimits: {
    windowSeconds: number;
    failedAuthPerAddress: number;
    failedAuthPerApiKey: number;
    issuancePerMinute: number;
  };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** One sentence per problem, each naming its variable. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.problems = problems;
  }
}

/** Parse the environment once. Throws ConfigError naming every bad variable, all at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => {
        const variable = String(issue.path[0] ?? '');
        return issue.message.includes(variable) && variable ? issue.message : `${variable}: ${issue.message}`;
      });
  problems.push(...combinationProblems(env));
  const tracing = tracingSettings(env);
  problems.push(...tracing.problems);
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    redis: e.REDIS_URL ? { url: e.REDIS_URL, prefix: e.REDIS_PREFIX } : undefined,
    redisCluster:
      e.REDIS_CLUSTER_NODES.length > 0 ? { nodes: e.REDIS_CLUSTER_NODES, prefix: e.REDIS_PREFIX } : undefined,
    redisSentinel:
      e.REDIS_SENTINELS.length > 0 ? { sentinels: e.REDIS_SENTINELS, name: e.REDIS_SENTINEL_NAME, prefix: e.REDIS_PREFIX } : undefined,
    redisConnection: {
      ...(e.REDIS_USERNAME ? { username: e.REDIS_USERNAME } : {}),
      ...(e.REDIS_PASSWORD ? { password: e.REDIS_PASSWORD } : {}),
      tls: e.REDIS_TLS || (e.REDIS_URL?.startsWith('rediss://') ?? false),
      ...(e.REDIS_TLS_CA_FILE ? { caFile: e.REDIS_TLS_CA_FILE } : {}),
      waitTimeoutMs: e.REDIS_WAIT_TIMEOUT_MS,
    },
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
    audit: { retentionDays: e.AUDIT_RETENTION_DAYS, maxEvents: e.AUDIT_MAX_EVENTS },
    dpopNonces: e.DPOP_NONCES,
    tracing: tracing.settings,
    webhooks: {
      retryScheduleMs: e.WEBHOOK_RETRY_SCHEDULE,
      allowInsecure: e.WEBHOOK_ALLOW_INSECURE,
      timeoutMs: e.WEBHOOK_TIMEOUT_SECONDS * 1000,
    },
    rateLimits: {
      windowSeconds: e.RATE_LIMIT_WINDOW_SECONDS,
      failedAuthPerAddress: e.RATE_LIMIT_FAILED_AUTH_PER_ADDRESS,
      failedAuthPerApiKey: e.RATE_LIMIT_FAILED_AUTH_PER_API_KEY,
      issuancePerMinute: e.ISSUANCE_QUOTA_PER_MINUTE,
    },
  };
}
