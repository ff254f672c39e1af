/**
 * The one error the client SDK throws. It reads both failure shapes of the gateway
 * (contract §1): the envelope `{"error": {"message", "status", "code", "retryable"}}` and the
 * OAuth shape of introspection and revocation `{"error": "<oauth error>", "error_description",
 * "status", "code", "retryable"}`. Browser-safe: no Node-only API.
 */

/** The canonical statuses of contract §1. */
export type CanonicalStatus =
  | 'INVALID_ARGUMENT'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'RESOURCE_EXHAUSTED'
  | 'INTERNAL'
  | 'UNAVAILABLE';

/**
 * The gateway's codes (contract §1), and four the SDK itself uses:
 * `network_error` (no answer reached the client), `invalid_response` (an answer that is not
 * the gateway's JSON, e.g. a proxy's error page), `fetch_token_failed` (the session's
 * `fetchToken` threw) and `session_closed` (a closed user session).
 */
export type GatewayErrorCode =
  | 'invalid_argument'
  | 'invalid_json'
  | 'invalid_credentials'
  | 'token_missing'
  | 'token_expired'
  | 'token_not_yet_valid'
  | 'token_invalid'
  | 'token_revoked'
  | 'organization_mismatch'
  | 'email_mismatch'
  | 'user_mismatch'
  | 'permission_denied'
  | 'account_mismatch'
  | 'not_found'
  | 'already_exists'
  | 'failed_precondition'
  | 'rate_limited'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'method_not_allowed'
  | 'store_unavailable'
  | 'internal'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'network_error'
  | 'invalid_response'
  | 'fetch_token_failed'
  | 'session_closed';

const STATUS_BY_HTTP: Record<number, CanonicalStatus> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'ALREADY_EXISTS',
  412: 'FAILED_PRECONDITION',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

/** What a proxy in front of the gateway may answer on its own: worth another try. */
const RETRYABLE_HTTP = new Set([408, 429, 500, 502, 503, 504]);

export interface GatewayClientErrorInit {
  message: string;
  status: CanonicalStatus | string;
  code: GatewayErrorCode | string;
  retryable: boolean;
  /** 0 when no answer arrived. */
  httpStatus: number;
  requestId?: string;
  /** The RFC 6749 `error` member, on introspection and revocation failures. */
  oauthError?: string;
  /** Whole seconds from `Retry-After` (429). */
  retryAfterSeconds?: number;
  /** The server nonce of a `use_dpop_nonce` answer (`DPoP-Nonce`), for the next proof. */
  dpopNonce?: string;
  cause?: unknown;
}

export class GatewayClientError extends Error {
  override readonly name = 'GatewayClientError';
  /** Canonical status, e.g. `UNAUTHENTICATED`. */
  readonly status: CanonicalStatus | string;
  /** Machine-readable reason, e.g. `token_revoked`. */
  readonly code: GatewayErrorCode | string;
  /** True when trying again later may succeed (429, 500, 503, network failures). */
  readonly retryable: boolean;
  readonly httpStatus: number;
  /** The gateway's `X-Request-Id`, to quote when asking for support. */
  readonly requestId: string | undefined;
  readonly oauthError: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly dpopNonce: string | undefined;

  constructor(init: GatewayClientErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.retryable = init.retryable;
    this.httpStatus = init.httpStatus;
    this.requestId = init.requestId;
    this.oauthError = init.oauthError;
    this.retryAfterSeconds = init.retryAfterSeconds;
    this.dpopNonce = init.dpopNonce;
  }
}

export const isGatewayClientError = (value: unknown): value is GatewayClientError => value instanceof GatewayClientError;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const stringOr = (value: unknown, fallback: string): string => (typeof value === 'string' && value.length > 0 ? value : fallback);

function retryAfter(headers: Headers): number | undefined {
  const value = headers.get('retry-after');
  if (value === null || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value.trim());
}

/** The error a failed answer stands for; `body` is its parsed JSON, or undefined when it had none. */
export function errorFromResponse(httpStatus: number, headers: Headers, body: unknown): GatewayClientError {
  const common = {
    httpStatus,
    requestId: headers.get('x-request-id') ?? undefined,
    retryAfterSeconds: retryAfter(headers),
    dpopNonce: headers.get('dpop-nonce') ?? undefined,
  };
  const fallbackStatus = STATUS_BY_HTTP[httpStatus] ?? (httpStatus >= 500 ? 'UNAVAILABLE' : 'INVALID_ARGUMENT');
  const fallbackRetryable = RETRYABLE_HTTP.has(httpStatus);
  if (isRecord(body)) {
    const error = body.error;
    // The envelope: {"error": {"message", "status", "code", "retryable"}}.
    if (isRecord(error)) {
      return new GatewayClientError({
        ...common,
        message: stringOr(error.message, `The gateway answered ${httpStatus}.`),
        status: stringOr(error.status, fallbackStatus),
        code: stringOr(error.code, 'invalid_response'),
        retryable: typeof error.retryable === 'boolean' ? error.retryable : fallbackRetryable,
      });
    }
    // RFC 6749 §5.2, with the gateway's members beside the standard ones.
    if (typeof error === 'string') {
      return new GatewayClientError({
        ...common,
        message: stringOr(body.error_description, error),
        status: stringOr(body.status, fallbackStatus),
        code: stringOr(body.code, error),
        retryable: typeof body.retryable === 'boolean' ? body.retryable : fallbackRetryable,
        oauthError: error,
      });
    }
  }
  return new GatewayClientError({
    ...common,
    message: `The gateway answered ${httpStatus} without an error description.`,
    status: fallbackStatus,
    code: 'invalid_response',
    retryable: fallbackRetryable,
  });
}

/** No answer at all: DNS, TCP, TLS, CORS or an abort. Worth another try. */
export function networkError(cause: unknown): GatewayClientError {
  return new GatewayClientError({
    message: 'The gateway could not be reached.',
    status: 'UNAVAILABLE',
    code: 'network_error',
    retryable: true,
    httpStatus: 0,
    cause,
  });
}
