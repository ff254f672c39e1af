/**
 * One structured JSON line per request (pino-http): request id, method, path, route pattern,
 * status, duration. Serializers whitelist what is written: no header, query string or body
 * ever reaches the log, so no token, authToken, admin token or key can.
 */
import type { GatewayLocals } from './locals';
import type { IncomingMessage, ServerResponse } from 'node:http';
import pino, { type Logger } from 'pino';
import { pinoHttp, type Options } from 'pino-http';
import { requestIdOf } from './request-id';

/** Paths a log line may still mention, redacted wherever they appear. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'authToken',
  'token',
  'adminToken',
  'publicKey',
  'privateKey',
  '*.authToken',
  '*.token',
  '*.publicKey',
];

/**
 * `mixin`, when given, adds its fields to every line: with tracing on, the active span's
 * trace_id and span_id (contract §9).
 */
export function createLogger(
  level: string,
  destination?: pino.DestinationStream,
  options: { mixin?: () => Record<string, unknown> } = {},
): Logger {
  return pino(
    {
      level,
      ...(options.mixin ? { mixin: options.mixin } : {}),
      base: { service: 'token-gateway' },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

const pathOnly = (url: string | undefined): string => (url ?? '').split('?')[0] ?? '';

/**
 * What the request line adds once the answer is known: the route pattern and the error code.
 * (pino-http's customProps would be evaluated at the start too, before routing, and bound
 * again at the end, which writes a second "route" key into every line.)
 */
function outcomeProps(res: ServerResponse): Record<string, unknown> {
  const locals: GatewayLocals = (res as ServerResponse & { locals?: GatewayLocals }).locals ?? {};
  return {
    route: locals.route ?? null,
    ...(locals.errorCode ? { code: locals.errorCode } : {}),
  };
}

const serializeReq = (req: IncomingMessage & { id?: unknown }) => ({ id: req.id, method: req.method, path: pathOnly(req.url) });

/**
 * The request log. At LOG_LEVEL info or below, pino-http writes one line per request. Above
 * info only failed answers (5xx, at error level) would be written, so pino-http's work on every
 * request (a child logger, its bindings, listeners) is skipped and a finish hook writes those
 * lines alone, with the same fields.
 */
export function httpLogger(logger: Logger) {
  if (!logger.isLevelEnabled('info')) return failureLogger(logger);
  const options: Options = {
    logger,
    genReqId: (req, res) => requestIdOf(req, res),
    customSuccessObject: (_req, res, val: Record<string, unknown>) => ({ ...val, ...outcomeProps(res) }),
    customErrorObject: (_req, res, _err, val: Record<string, unknown>) => ({ ...val, ...outcomeProps(res) }),
    serializers: {
      req: serializeReq,
      res: (res: ServerResponse) => ({ statusCode: res.statusCode }),
      err: (err: Error) => ({ type: err.name, message: err.message }),
    },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
    customSuccessMessage: (req, res) => `${req.method} ${pathOnly(req.url)} ${res.statusCode}`,
    customErrorMessage: (req, res) => `${req.method} ${pathOnly(req.url)} ${res.statusCode}`,
    wrapSerializers: false,
  };
  return pinoHttp(options);
}

function failureLogger(logger: Logger) {
  if (!logger.isLevelEnabled('error')) return (_req: IncomingMessage, _res: ServerResponse, next: () => void): void => next();
  return (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    const started = performance.now();
    res.once('finish', () => {
      if (res.statusCode < 500) return;
      logger.error(
        {
          req: serializeReq(req),
          res: { statusCode: res.statusCode },
          responseTime: Math.round(performance.now() - started),
          ...outcomeProps(res),
        },
        `${req.method} ${pathOnly(req.url)} ${res.statusCode}`,
      );
    });
    next();
  };
}
