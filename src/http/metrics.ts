/**
 * Prometheus metrics (contract §8), with prom-client. Each app has its own Registry, so
 * several apps in one process (tests, workers sharing a process) never collide. Labels are
 * bounded: the route is the PATTERN the request matched (`/v1/users/:userId`, never the raw
 * path), `unmatched` for unknown paths; methods outside the usual set are `OTHER`.
 * docs/OPERATIONS.md lists every metric.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import type { GatewayRequest, GatewayResponse } from './exchange';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { invalidCredentials } from '../errors';
import { BEARER_CHALLENGE } from './auth';

/** The route label of a request that matched no route. */
export const UNMATCHED_ROUTE = 'unmatched';
export const METRICS_PATH = '/metrics';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

/** Which endpoint a token check was, by route pattern. */
const CHECK_ENDPOINTS: Record<string, string> = {
  '/v1/auth/token/introspect': 'introspect',
  '/v1/auth/verify': 'forward_auth',
  '/v1/auth/identify': 'identify',
  '/v1/auth/authorize': 'authorize',
};

const REVOCATION_KINDS: Record<string, string> = {
  '/v1/auth/token/revoke': 'token',
  '/v1/auth/users/revoke': 'user',
  '/v1/auth/organizations/revoke': 'organization',
};

export type RateLimitName = 'address' | 'api_key' | 'issuance';
export type StoreErrorSource = 'request' | 'connection';

export interface GatewayMetricsOptions {
  /** Process metrics (CPU, memory, event loop, GC); on by default. */
  defaultMetrics?: boolean;
  /** How many log lines the log destination has dropped so far (a stuck log consumer). */
  droppedLogLines?: () => number;
}

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  readonly httpDuration: Histogram<'route' | 'method' | 'status'>;
  readonly tokensIssued: Counter;
  readonly tokenChecks: Counter<'endpoint' | 'result'>;
  readonly revocations: Counter<'kind'>;
  readonly storeErrors: Counter<'source'>;
  readonly rateLimited: Counter<'limit'>;
  readonly webhookAttempts: Counter<'outcome'>;

  constructor(options: GatewayMetricsOptions = {}) {
    const registers = [this.registry];
    const droppedLogLines = options.droppedLogLines;
    new Counter({
      name: 'gateway_log_lines_dropped_total',
      help: 'Log lines dropped because the log consumer did not keep up (the log buffer was full).',
      registers,
      collect() {
        this.reset();
        if (droppedLogLines) this.inc(droppedLogLines());
      },
    });
    this.httpRequests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by route pattern, method and status.',
      labelNames: ['route', 'method', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from the request reaching the app to the last byte of the answer, by route pattern, method and status.',
      labelNames: ['route', 'method', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.tokensIssued = new Counter({
      name: 'gateway_tokens_issued_total',
      help: 'Gateway tokens issued (POST /v1/auth/token/get answered 200).',
      registers,
    });
    this.tokenChecks = new Counter({
      name: 'gateway_token_checks_total',
      help: 'Token checks by endpoint and result: active/success, or the error code (token_expired, token_revoked, ...).',
      labelNames: ['endpoint', 'result'],
      registers,
    });
    this.revocations = new Counter({
      name: 'gateway_revocations_total',
      help: 'Revocations made, by kind (token, user, organization).',
      labelNames: ['kind'],
      registers,
    });
    this.storeErrors = new Counter({
      name: 'gateway_store_errors_total',
      help: 'Store failures: answers 503 store_unavailable (source=request), Redis connection errors (source=connection), audit events the store could not keep (source=audit), webhook deliveries the store could not queue or serve (source=webhooks).',
      labelNames: ['source'],
      registers,
    });
    this.rateLimited = new Counter({
      name: 'gateway_rate_limited_total',
      help: 'Requests answered 429 rate_limited, by the limit that was hit (address, api_key, issuance).',
      labelNames: ['limit'],
      registers,
    });
    this.webhookAttempts = new Counter({
      name: 'gateway_webhook_attempts_total',
      help: 'Webhook delivery attempts made by this process, by outcome (delivered, retrying, failed).',
      labelNames: ['outcome'],
      registers,
    });
    // Start every labelled series the operator alerts on at zero, so rate() works from the first scrape.
    for (const outcome of ['delivered', 'retrying', 'failed']) this.webhookAttempts.inc({ outcome }, 0);
    for (const source of ['request', 'connection', 'audit', 'webhooks']) this.storeErrors.inc({ source }, 0);
    for (const limit of ['address', 'api_key', 'issuance']) this.rateLimited.inc({ limit }, 0);
    for (const kind of ['token', 'user', 'organization']) this.revocations.inc({ kind }, 0);
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** Called first for every request: records its answer once it is sent. */
  observe(req: GatewayRequest, res: GatewayResponse): void {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.record(req, res, seconds);
    });
  }

  private record(req: GatewayRequest, res: GatewayResponse, seconds: number): void {
    const route = res.locals.route ?? UNMATCHED_ROUTE;
    const method = req.method !== undefined && METHODS.has(req.method) ? req.method : 'OTHER';
    const status = res.statusCode;
    const labels = { route, method, status: String(status) };
    this.httpRequests.inc(labels);
    this.httpDuration.observe(labels, seconds);

    const errorCode = res.locals.errorCode;
    if (errorCode === 'store_unavailable') this.storeErrors.inc({ source: 'request' });

    const checkEndpoint = CHECK_ENDPOINTS[route];
    if (checkEndpoint && req.method !== 'OPTIONS') {
      const result = res.locals.checkResult ?? errorCode ?? (status < 400 ? 'success' : String(status));
      this.tokenChecks.inc({ endpoint: checkEndpoint, result });
    }
    if (status !== 200) return;
    if (route === '/v1/auth/token/get') this.tokensIssued.inc();
    const kind = REVOCATION_KINDS[route];
    // RFC 7009 answers 200 for tokens it ignores too; only an actual revocation is counted.
    if (kind && (kind !== 'token' || res.locals.revocation === 'revoked')) this.revocations.inc({ kind });
  }

  /** The exposition (Prometheus text format). */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * GET /metrics. Open unless METRICS_TOKEN is set; then it takes `Authorization: Bearer
 * <METRICS_TOKEN>`, compared as fixed-length digests in constant time.
 */
export function metricsEndpoint(metrics: GatewayMetrics, metricsToken: string | undefined) {
  const expected = metricsToken === undefined ? undefined : digest(metricsToken);
  return async (req: Request, res: Response): Promise<void> => {
    if (expected) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
      if (!match || !timingSafeEqual(digest(match[1]!), expected)) {
        throw invalidCredentials().with({ wwwAuthenticate: BEARER_CHALLENGE });
      }
    }
    const { contentType, body } = await metrics.exposition();
    res.setHeader('Content-Type', contentType);
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).send(body);
  };
}
