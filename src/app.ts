/**
 * createApp(deps): the express app, without listening (what supertest drives and server.ts
 * serves). Express stays here and in src/http; the domain is plain functions and classes.
 */
import cors from 'cors';
import express, { type Express, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import vary from 'vary';
import { systemClock, type Clock } from './clock';
import type { Config } from './config';
import { GatewayError, isGatewayError } from './errors';
import type { KeyRing } from './keys';
import type { GatewayStore } from './store';
import { TokenVerifier } from './tokens';
import type { Tracer } from './tracing';
import { readBody } from './http/body';
import { chainOf, expressMount, noRoute, serveBeforeExpress, staticFirstMount, StaticRoutes, type RouteMount } from './http/dispatch';
import {
  clientAddressReader,
  endWithStatus,
  type ClientAddressOf,
  type ErrorMiddleware,
  type GatewayRequest,
  type GatewayResponse,
  type Middleware,
} from './http/exchange';
import type { HttpContext, Lifecycle } from './http/context';
import { errorHandler } from './http/errors';
import './http/locals';
import { httpLogger } from './http/logging';
import { requestIdOf } from './http/request-id';
import { routeTable, type CheckHandler, type Handler, type Method, type RouteSpec } from './http/routes';
import { presentedCredentials, requireAdmin } from './http/auth';
import { GatewayMetrics, METRICS_PATH, metricsEndpoint } from './http/metrics';
import { addressLimitKey } from './http/client-address';
import { AbuseLimiter } from './http/rate-limit';
import { recordTrip } from './http/audit';
import { currentRequest, inRequestScope } from './http/request-scope';
import { helmetHeaders, setHeaders } from './http/security-headers';
import { AuditTrail, auditEvents } from './audit';
import { enqueueWebhookDeliveries, WebhookDispatcher, type DispatcherOptions } from './webhooks';

export interface AppDeps {
  config: Config;
  store: GatewayStore;
  keyRing: KeyRing;
  clock?: Clock;
  logger?: Logger;
  lifecycle?: Lifecycle;
  /** Prometheus metrics; createApp makes its own (with its own Registry) when absent. */
  metrics?: GatewayMetrics;
  /** The tracer of the gateway's own spans (src/tracing); none while tracing is off. */
  tracer?: Tracer;
  /** What tests replace in the webhook dispatcher (its scheduler, jitter, resolver). */
  webhookOptions?: Partial<Pick<DispatcherOptions, 'scheduler' | 'random' | 'resolve' | 'pollMs' | 'visibilityMs'>>;
}

export interface GatewayApp {
  app: Express;
  context: HttpContext;
  /** The webhook delivery worker, not started: the process starts it (server.ts), tests tick it. */
  webhooks: WebhookDispatcher;
}

const BODY_METHODS = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);

/**
 * The audit trail (contract §9): events in the store, and each as a JSON line in the log
 * (`"audit": {...}`, message "audit event") for an operator to ship.
 */
export function buildAuditTrail(deps: AppDeps, metrics?: GatewayMetrics): AuditTrail {
  return new AuditTrail({
    store: deps.store,
    clock: deps.clock ?? systemClock,
    retentionDays: deps.config.audit.retentionDays,
    maxEvents: deps.config.audit.maxEvents,
    currentRequest,
    // Each event of an account goes to the account's webhooks (contract §10), queued before the answer leaves.
    subscribers: [(event) => enqueueWebhookDeliveries(deps.store, event)],
    onSubscriberFailure: (event, error) => {
      metrics?.storeErrors.inc({ source: 'webhooks' });
      deps.logger?.error(
        { eventId: event.id, type: event.type, err: { message: error instanceof Error ? error.message : String(error) } },
        'webhook deliveries not queued',
      );
    },
    onEvent: (event) => deps.logger?.info({ audit: event }, 'audit event'),
    onFailure: (event, error) => {
      metrics?.storeErrors.inc({ source: 'audit' });
      deps.logger?.error(
        { audit: event, err: { message: error instanceof Error ? error.message : String(error) } },
        'audit event not stored',
      );
    },
  });
}

/** `limiter`, when given, enforces the issuance quota (contract §8). */
export function buildContext(deps: AppDeps, limiter?: AbuseLimiter, audit?: AuditTrail): HttpContext {
  const { config, store, keyRing, tracer } = deps;
  const clock = deps.clock ?? systemClock;
  const verifier = new TokenVerifier({
    keyRing,
    store,
    clock,
    issuer: config.issuer,
    clockToleranceSeconds: config.clockToleranceSeconds,
    maxGatewayLifetimeSeconds: config.maxTokenTtlSeconds,
    customerMaxLifetimeSeconds: config.customerTokenMaxTtlSeconds,
    verifiedCacheSize: config.verifiedTokenCacheSize,
    unknownIssuerReadsPerSecond: config.unknownIssuerReadsPerSecond,
    dpopNonces: config.dpopNonces,
    ...(tracer ? { tracer } : {}),
  });
  return {
    config,
    store,
    keyRing,
    clock,
    verifier,
    issuance: {
      store,
      keyRing,
      clock,
      issuer: config.issuer,
      defaultLifetimeSeconds: config.tokenTtlSeconds,
      ...(tracer ? { tracer } : {}),
      ...(limiter ? { consumeQuota: (apiKey: string) => limiter.consumeIssuance(apiKey) } : {}),
    },
    revocation: {
      store,
      verifier,
      clock,
      clockToleranceSeconds: config.clockToleranceSeconds,
      maxLifetimeSeconds: Math.max(config.maxTokenTtlSeconds, config.customerTokenMaxTtlSeconds),
    },
    lifecycle: deps.lifecycle ?? { shuttingDown: false },
    audit: audit ?? buildAuditTrail(deps),
    ...(tracer ? { tracer } : {}),
  };
}

/**
 * CORS for the browser routes: the `cors` middleware for an allowed Origin only, so that a
 * request from any other origin (or with no CORS_ORIGINS at all) gets no Access-Control-*
 * header whatsoever; its preflight is a bare 204.
 */
function corsFor(origins: string[]): Middleware {
  const anyOrigin = origins.includes('*');
  const grant = cors({
    origin: anyOrigin ? '*' : origins,
    methods: ['GET', 'POST', 'OPTIONS'],
    // DPoP proofs travel in a request header; nonces and challenges come back in answer headers.
    allowedHeaders: ['Content-Type', 'X-Request-Id', 'DPoP'],
    exposedHeaders: ['X-Request-Id', 'DPoP-Nonce', 'WWW-Authenticate'],
    maxAge: 600,
  });
  return (req, res, next): void => {
    const origin = req.headers.origin;
    if (origin !== undefined && (anyOrigin || origins.includes(origin))) return grant(req, res, next);
    // The answer depends on the Origin whenever some origin could be granted.
    if (origins.length > 0 && !anyOrigin) vary(res, 'Origin');
    if (req.method === 'OPTIONS') return endWithStatus(res, 204);
    next();
  };
}

export function createApp(deps: AppDeps): GatewayApp {
  const metrics = deps.metrics ?? new GatewayMetrics();
  const audit = buildAuditTrail(deps, metrics);
  const limiter = new AbuseLimiter({
    store: deps.store,
    limits: deps.config.rateLimits,
    now: () => (deps.clock ?? systemClock).now(),
    onLimited: (limit) => metrics.rateLimited.inc({ limit }),
    onTripped: (trip) => recordTrip(deps.store, audit, trip),
  });
  const context = buildContext(deps, limiter, audit);
  const { config, lifecycle } = context;
  deps.store.redisBacking()?.client.on('error', () => metrics.storeErrors.inc({ source: 'connection' }));
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', config.trustProxy);
  app.set('query parser', 'simple');
  // The client address as express's req.ip reads it, for the checks that never reach express.
  const clientAddressOf = clientAddressReader(app.get('trust proxy fn') as (address: string, hop: number) => boolean);

  // What every request goes through, as one middleware: each layer the router walks costs a
  // check a few per cent (docs/BENCHMARKS.md).
  const securityHeaders = helmetHeaders();
  const logRequest = deps.logger ? httpLogger(deps.logger) : undefined;
  const everyRequest: Middleware = (req, res, next) => {
    metrics.observe(req, res);
    requestIdOf(req, res);
    if (lifecycle.shuttingDown) res.setHeader('Connection', 'close');
    setHeaders(res, securityHeaders);
    if (logRequest) logRequest(req, res, next);
    else next();
  };
  app.use(everyRequest);

  // Not rate limited, so that monitoring keeps seeing during an attack; see docs/OPERATIONS.md.
  const markMetricsRoute: Middleware = (_req, res, next) => {
    res.locals.route = METRICS_PATH;
    next();
  };
  // While tracing names its spans by express's router layers (the express instrumentation),
  // every route is registered with the router; otherwise parameter-free paths are one lookup.
  const staticRoutes = new StaticRoutes();
  const routerNamesSpans = config.tracing !== undefined && !config.tracing.disabledInstrumentations.includes('express');
  const mount = routerNamesSpans ? expressMount(app) : staticFirstMount(staticRoutes, app);
  if (!routerNamesSpans) app.use(staticRoutes.middleware());
  mount.on('GET', METRICS_PATH, chainOf([markMetricsRoute, metricsEndpoint(metrics, config.metricsToken)]));
  mount.on(
    'OTHER',
    METRICS_PATH,
    chainOf([markMetricsRoute, methodNotAllowed(['GET', 'HEAD'])]),
  );

  // The checks are also served before express (src/http/dispatch.ts), unless the router names spans.
  const checks = routerNamesSpans ? undefined : new StaticRoutes<Middleware>();
  const browserCors = corsFor(config.corsOrigins);
  const registration = { config, browserCors, limiter, audit, clientAddressOf, everyRequest };
  for (const route of routeTable(context)) registerRoute(mount, route, registration, checks);

  app.use(noRoute);
  // A failed credential check counts against the address and the apiKey; over a limit, the
  // 401 becomes a 429 (contract §8; the rules are in src/http/rate-limit.ts).
  const countCredentialFailure: ErrorMiddleware = (error, req, res, next) => {
    if (!res.locals.credentialRoute || !isGatewayError(error) || error.code !== 'invalid_credentials') {
      return next(error);
    }
    // In the request's scope, so that a limit it trips is recorded with the request's facts
    // (a check's handlers run outside it).
    inRequestScope(req, res, clientAddressOf, () => {
      limiter.recordFailure(limitKeyOf(clientAddressOf, req), presentedCredentials(req)?.apiKey).then(
        (limited) => next(limited ?? error),
        next,
      );
    });
  };
  const errorHandlers: ErrorMiddleware[] = [
    countCredentialFailure,
    errorHandler((error, req) => deps.logger?.error({ err: error, reqId: (req as GatewayRequest & { id?: string }).id }, 'internal error')),
  ];
  for (const handler of errorHandlers) app.use(handler);
  if (checks) serveBeforeExpress(app, checks, errorHandlers);
  return { app, context, webhooks: buildWebhookDispatcher(deps, metrics) };
}

/** The delivery worker of contract §10, on the app's store and clock. */
function buildWebhookDispatcher(deps: AppDeps, metrics: GatewayMetrics): WebhookDispatcher {
  const { webhooks } = deps.config;
  return new WebhookDispatcher({
    store: deps.store,
    clock: deps.clock ?? systemClock,
    retryScheduleMs: webhooks.retryScheduleMs,
    timeoutMs: webhooks.timeoutMs,
    allowInsecure: webhooks.allowInsecure,
    ...deps.webhookOptions,
    onAttempt: (attempt) => {
      metrics.webhookAttempts.inc({ outcome: attempt.outcome });
      // Never the secret, the body or the signature: which endpoint, which event, what happened.
      deps.logger?.info(
        {
          webhookId: attempt.webhookId,
          eventId: attempt.eventId,
          attempt: attempt.attempt,
          outcome: attempt.outcome,
          ...(attempt.status === undefined ? {} : { status: attempt.status }),
          ...(attempt.error === undefined ? {} : { error: attempt.error }),
        },
        'webhook attempt',
      );
    },
    onError: (error) => {
      metrics.storeErrors.inc({ source: 'webhooks' });
      deps.logger?.warn({ err: { message: error instanceof Error ? error.message : String(error) } }, 'webhook round failed');
    },
  });
}

/**
 * The client address the limits count (the socket peer, or what TRUST_PROXY lets express read
 * from X-Forwarded-For), IPv6 by its /64.
 */
const limitKeyOf = (addressOf: ClientAddressOf, req: GatewayRequest): string => addressLimitKey(addressOf(req) ?? 'unknown');

/**
 * Routes that take account or admin credentials, and so are rate limited: the operator
 * routes and every /v1 route but the browser ones (apiKey only) and forward auth (Bearer).
 */
export function takesCredentials(route: RouteSpec): boolean {
  return route.admin === true || (route.path.startsWith('/v1/') && !route.cors && !route.methods.ALL);
}

/** The 405 of a path, for any method it does not answer. */
const methodNotAllowed =
  (allow: string[]): Middleware =>
  (req, _res, next) => {
    next(new GatewayError('method_not_allowed', `${req.method ?? ''} is not allowed here.`, { allow }));
  };

interface Registration {
  config: Config;
  browserCors: Middleware;
  limiter: AbuseLimiter;
  audit: AuditTrail;
  clientAddressOf: ClientAddressOf;
  /** What the app runs first for every request: a check served before express runs it itself. */
  everyRequest: Middleware;
}

/** `checks`: where a check route's chains also go, to be served before express. */
function registerRoute(
  mount: RouteMount,
  route: RouteSpec,
  { config, browserCors, limiter, audit, clientAddressOf, everyRequest }: Registration,
  checks: StaticRoutes<Middleware> | undefined,
): void {
  // Without ADMIN_TOKEN the operator routes do not exist: 404 before anything else is looked at.
  if (route.admin && config.adminToken === undefined) return;
  const credentialRoute = takesCredentials(route);
  const prelude: Middleware[] = [
    (req, res, next) => {
      res.locals.route = route.path;
      if (route.errors) res.locals.errorStyle = route.errors;
      if (credentialRoute) res.locals.credentialRoute = true;
      // The rest of the chain in the request's scope, for the audit trail's request facts.
      if (route.check) next();
      else inRequestScope(req, res, clientAddressOf, next);
    },
  ];
  if (credentialRoute) {
    // A limited address is refused before its credentials are looked at.
    prelude.push((req, _res, next) => {
      limiter.assertAddressAllowed(limitKeyOf(clientAddressOf, req)).then(() => next(), next);
    });
  }
  if (route.admin) {
    prelude.push((req, _res, next) => {
      try {
        requireAdmin(config.adminToken, req);
      } catch (error) {
        // Recorded before the 401 leaves; the address limit above bounds how many a client makes.
        audit.record(auditEvents.adminAuthFailed(req.method ?? '', route.path)).then(() => next(error), next);
        return;
      }
      next();
    });
  }
  if (route.cors) {
    mount.on('OPTIONS', route.path, chainOf([...prelude, browserCors]));
    prelude.push(browserCors);
  }
  const bodyReaders = route.body ? readBody(route.body, config.bodyLimitBytes) : [];
  const allowed: string[] = [];
  for (const [method, handler] of Object.entries(route.methods) as Array<[Method | 'ALL', Handler | CheckHandler]>) {
    const readers = method !== 'GET' && method !== 'ALL' && BODY_METHODS.has(method) ? bodyReaders : [];
    if (route.check) {
      // Only node:http's objects on the way (the types say so), so it can run without express.
      const chain = chainOf<GatewayRequest, GatewayResponse>([...prelude, ...readers, handler as CheckHandler]);
      mount.on(method, route.path, chain);
      checks?.add(method, route.path, chainOf([everyRequest, chain]));
    } else {
      mount.on(method, route.path, chainOf<Request, Response>([...prelude, ...readers, handler as Handler]));
    }
    allowed.push(method);
    if (method === 'GET') allowed.push('HEAD');
  }
  if (!route.methods.ALL) {
    const allow = route.cors ? [...allowed, 'OPTIONS'] : allowed;
    mount.on('OTHER', route.path, chainOf([...prelude, methodNotAllowed(allow)]));
  }
}
