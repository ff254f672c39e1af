/**
 * GatewayError and the code table: the one place that says which canonical status,
 * HTTP status and retryability each machine-readable `code` has (contract §1).
 * Domain code throws GatewayError; src/http/errors.ts is the one place that writes it.
 */

/** Canonical status → HTTP status, exactly the pairs of contract §1. */
export const CANONICAL_HTTP_STATUS = {
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  ALREADY_EXISTS: 409,
  FAILED_PRECONDITION: 412,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RESOURCE_EXHAUSTED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const;

export type CanonicalStatus = keyof typeof CANONICAL_HTTP_STATUS;

/** Every `code` the gateway emits, with the one canonical status it always travels with. */
export const ERROR_CODES = {
  invalid_argument: 'INVALID_ARGUMENT',
  invalid_json: 'INVALID_ARGUMENT',
  invalid_credentials: 'UNAUTHENTICATED',
  token_missing: 'UNAUTHENTICATED',
  token_expired: 'UNAUTHENTICATED',
  token_not_yet_valid: 'UNAUTHENTICATED',
  token_invalid: 'UNAUTHENTICATED',
  token_revoked: 'UNAUTHENTICATED',
  organization_mismatch: 'PERMISSION_DENIED',
  email_mismatch: 'PERMISSION_DENIED',
  user_mismatch: 'PERMISSION_DENIED',
  permission_denied: 'PERMISSION_DENIED',
  account_mismatch: 'PERMISSION_DENIED',
  not_found: 'NOT_FOUND',
  method_not_allowed: 'METHOD_NOT_ALLOWED',
  already_exists: 'ALREADY_EXISTS',
  failed_precondition: 'FAILED_PRECONDITION',
  payload_too_large: 'PAYLOAD_TOO_LARGE',
  unsupported_media_type: 'UNSUPPORTED_MEDIA_TYPE',
  rate_limited: 'RESOURCE_EXHAUSTED',
  internal: 'INTERNAL',
  store_unavailable: 'UNAVAILABLE',
  // Sender-constrained tokens (contract §10, RFC 9449).
  invalid_dpop_proof: 'UNAUTHENTICATED',
  use_dpop_nonce: 'UNAUTHENTICATED',
} as const satisfies Record<string, CanonicalStatus>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** A client may retry exactly these (contract §1): back off on 429/503, try again on 500. */
const RETRYABLE_HTTP = new Set<number>([429, 500, 503]);

export interface GatewayErrorOptions {
  /** Methods for the `Allow` header of a 405. */
  allow?: readonly string[];
  /** Whole seconds for the `Retry-After` header of a 429. */
  retryAfterSeconds?: number;
  /** The `WWW-Authenticate` challenge of a 401/403. */
  wwwAuthenticate?: string;
  /** A fresh server nonce for the `DPoP-Nonce` header (use_dpop_nonce, RFC 9449 §8). */
  dpopNonce?: string;
  cause?: unknown;
}

export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  readonly status: CanonicalStatus;
  readonly httpStatus: number;
  readonly retryable: boolean;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly options: GatewayErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = ERROR_CODES[code];
    this.httpStatus = CANONICAL_HTTP_STATUS[this.status];
    this.retryable = RETRYABLE_HTTP.has(this.httpStatus);
  }

  /** A copy with a different challenge or hint, same code and message. */
  with(options: GatewayErrorOptions): GatewayError {
    return new GatewayError(this.code, this.message, { ...this.options, ...options });
  }
}

export function isGatewayError(error: unknown): error is GatewayError {
  return error instanceof GatewayError;
}

/** The credential failure: one message for every cause, so it never says which half was wrong. */
export const invalidCredentials = (): GatewayError =>
  new GatewayError('invalid_credentials', 'The credentials are not valid.');

export const invalidArgument = (message: string): GatewayError =>
  new GatewayError('invalid_argument', message);

export const notFound = (message = 'Not found.'): GatewayError => new GatewayError('not_found', message);

export const storeUnavailable = (cause?: unknown): GatewayError =>
  new GatewayError('store_unavailable', 'The token store is unavailable; try again shortly.', { cause });
