/**
 * The one place a failure becomes HTTP: GatewayError → status, headers and body, in the
 * contract's envelope, or in RFC 6749 §5.2 form on the OAuth endpoints (contract §1).
 * Anything that is not a GatewayError becomes one here; no stack, secret or token is written.
 */
import type { ErrorMiddleware, GatewayRequest, GatewayResponse } from './exchange';
import { GatewayError, invalidArgument, isGatewayError, storeUnavailable } from '../errors';
import { StoreUnavailableError } from '../store';
import { sendJson } from './respond';

export type ErrorStyle = 'envelope' | 'oauth';

/** The OAuth error for each HTTP status an OAuth endpoint can answer with (contract §1). */
export const OAUTH_ERROR_BY_HTTP: Record<number, string> = {
  400: 'invalid_request',
  401: 'invalid_client',
  405: 'invalid_request',
  413: 'invalid_request',
  415: 'invalid_request',
  429: 'temporarily_unavailable',
  500: 'server_error',
  503: 'temporarily_unavailable',
};

/** body-parser's error types, as the contract names them. */
function fromBodyParser(error: { type?: string; status?: number }): GatewayError | undefined {
  switch (error.type) {
    case 'entity.too.large':
      return new GatewayError('payload_too_large', 'The request body is larger than the limit.');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new GatewayError('unsupported_media_type', 'The request body encoding is not supported.');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new GatewayError('invalid_argument', 'The request body could not be read.');
    default:
      return undefined;
  }
}

export function toGatewayError(error: unknown): GatewayError {
  if (isGatewayError(error)) return error;
  if (error instanceof StoreUnavailableError) return storeUnavailable(error);
  // Express could not percent-decode a path parameter (e.g. /v1/users/%ZZ).
  if (error instanceof URIError) return invalidArgument('The request path is not valid percent-encoding.');
  if (typeof error === 'object' && error !== null) {
    const mapped = fromBodyParser(error as { type?: string });
    if (mapped) return mapped;
  }
  return new GatewayError('internal', 'An internal error occurred.', { cause: error });
}

export function errorStyleOf(res: GatewayResponse): ErrorStyle {
  return res.locals.errorStyle === 'oauth' ? 'oauth' : 'envelope';
}

export function writeError(res: GatewayResponse, error: GatewayError, style: ErrorStyle = errorStyleOf(res)): void {
  const { options } = error;
  if (options.allow) res.setHeader('Allow', options.allow.join(', '));
  if (options.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(Math.max(1, Math.ceil(options.retryAfterSeconds))));
  if (options.wwwAuthenticate) res.setHeader('WWW-Authenticate', options.wwwAuthenticate);
  if (options.dpopNonce) res.setHeader('DPoP-Nonce', options.dpopNonce);
  res.setHeader('Cache-Control', 'no-store');
  res.locals.errorCode = error.code;
  const members = { status: error.status, code: error.code, retryable: error.retryable };
  const body =
    style === 'oauth'
      ? {
          error: OAUTH_ERROR_BY_HTTP[error.httpStatus] ?? 'invalid_request',
          error_description: error.message,
          ...members,
        }
      : { error: { message: error.message, ...members } };
  sendJson(res, error.httpStatus, body);
}

/** Express's error middleware: the last one registered. */
export function errorHandler(onInternal?: (error: unknown, req: GatewayRequest) => void): ErrorMiddleware {
  return (error, req, res, _next) => {
    const gatewayError = toGatewayError(error);
    if (gatewayError.code === 'internal') onInternal?.(gatewayError.options.cause ?? error, req);
    res.locals.storeFailure = gatewayError.code === 'store_unavailable';
    if (res.headersSent) {
      res.destroy();
      return;
    }
    writeError(res, gatewayError);
  };
}
