/**
 * @token-gateway/client: the typed SDK of token-gateway.
 *
 *   Server (holds the authToken):  createGatewayClient({ baseUrl, apiKey, authToken })
 *   Browser (public apiKey only):  createUserSession({ baseUrl, apiKey, user, fetchToken })
 *   Operator (ADMIN_TOKEN):        createAdminClient({ baseUrl, adminToken })
 *
 * Every failure is a GatewayClientError with `status`, `code`, `retryable`, `httpStatus`
 * and `requestId`. See docs/SDK.md.
 */
export {
  GatewayClientError,
  isGatewayClientError,
  errorFromResponse,
  type CanonicalStatus,
  type GatewayErrorCode,
  type GatewayClientErrorInit,
} from './errors.js';
export type { FetchLike } from './http.js';
export {
  createGatewayClient,
  type GatewayClient,
  type GatewayClientOptions,
  type GetTokenRequest,
  type IssuedToken,
  type Introspection,
  type ActiveIntrospection,
  type UserRevocation,
  type OrganizationRevocation,
  type AccountInfo,
  type SigningKeyInfo,
  type DirectoryUser,
  type PutUserRequest,
  type Policy,
  type VerifiedIdentity,
  type VerifyOptions,
} from './server.js';
export {
  createAdminClient,
  type AdminClient,
  type AdminClientOptions,
  type AdminAccount,
  type CreatedAccount,
  type AddedAuthToken,
  type AuthTokenInfo,
} from './admin.js';
export {
  createUserSession,
  type UserSession,
  type UserSessionOptions,
  type SessionUser,
  type TokenGrant,
  type TokenRequest,
  type IdentifiedUser,
  type SessionClock,
  type SessionEvents,
  type SessionEvent,
  type TimerHandle,
} from './session.js';
export { createDpopKey, type DpopKey, type DpopKeyOptions } from './dpop.js';
