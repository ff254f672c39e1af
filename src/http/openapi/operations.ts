/**
 * Every operation of the HTTP API, for the OpenAPI document (contract §9): one registration a
 * route and method, naming the zod schemas the endpoint itself validates with and answers
 * with. Adding a route is adding an entry here (test/openapi/document.test.ts fails for a route
 * of src/http/routes.ts that has none, and for an entry without a route).
 */
import { z } from 'zod';
import { CREDENTIAL_PATTERN } from '../../accounts';
import {
  accountMeData,
  signingKeyRemovedData,
  signingKeyRequest,
  signingKeySetData,
} from '../endpoints/account';
import {
  addedAuthTokenData,
  authTokenListData,
  createAccountRequest,
  createdAccountData,
  deletedAuthTokenData,
} from '../endpoints/admin';
import { authorizedData, authorizeRequest } from '../endpoints/authorize';
import { accountEventsQuery, adminEventsQuery, eventPageData } from '../endpoints/events';
import { healthAnswer, readinessAnswer } from '../endpoints/health';
import { identifiedUserData, identifyRequest } from '../endpoints/identify';
import { introspectionAnswer, tokenRequest } from '../endpoints/introspect';
import { issuedTokenData, issueTokenRequest } from '../endpoints/issue-token';
import {
  revokedOrganizationData,
  revokedTokenData,
  revokedUserData,
  revokeOrganizationRequest,
  revokeUserRequest,
} from '../endpoints/revoke';
import { deletedUserData, putUserRequest, userData } from '../endpoints/users';
import {
  createdWebhookData,
  deliveriesData,
  removedWebhookData,
  webhookListData,
  webhookRequest,
} from '../endpoints/webhooks';
import { authorizationServerMetadataAnswer, jwksAnswer } from '../endpoints/well-known';
import { IDENTIFIER_PATTERN, identifier } from '../validate';

export type HttpMethod = 'get' | 'put' | 'post' | 'delete' | 'options' | 'head' | 'patch';

/**
 * How the caller proves who it is: `account` (HTTP Basic apiKey:authToken, or the same as body
 * members where a body is read), `admin` (Bearer ADMIN_TOKEN), `token` (a Bearer gateway or
 * customer token), `metrics` (Bearer METRICS_TOKEN when set), `none` (nothing, or only
 * members of the body the schema names).
 */
export type Auth = 'account' | 'admin' | 'token' | 'metrics' | 'none';

/** What a success looks like. */
export type Answer =
  /** The §1 envelope `{"result": {"status": "success", "message", "data"}}` around `data`. */
  | { kind: 'result'; status?: 200 | 201; name: string; data: z.ZodType }
  /** Bare JSON (introspection, .well-known, health, this document); `also`: more statuses with this body. */
  | { kind: 'json'; name: string; schema: z.ZodType; cache: 'no-store' | 'public'; etag?: boolean; also?: number[] }
  /** Forward auth: an empty 200 with the X-Auth-* headers. */
  | { kind: 'identity' }
  /** Prometheus text exposition. */
  | { kind: 'metrics' };

export interface Parameter {
  schema: z.ZodType;
  description: string;
  required?: boolean;
}

export interface Operation {
  /** OpenAPI path template (`{name}` for a path parameter). */
  path: string;
  method: HttpMethod;
  operationId: string;
  tag: Tag;
  summary: string;
  description?: string;
  auth: Auth;
  /** The request body the endpoint parses (JSON; JSON or form on the OAuth endpoints). */
  body?: { name: string; schema: z.ZodType; form?: boolean };
  pathParameters?: Record<string, Parameter>;
  query?: Record<string, Parameter>;
  answer: Answer;
  /** Other statuses than the answer's: failures, and 304/503 for the bare JSON routes. */
  statuses: number[];
  /** Failures as RFC 6749 §5.2 (introspection, revocation), else the §1 envelope. */
  errorStyle?: 'oauth';
  /** Browsers may call it (CORS preflight documented as OPTIONS). */
  cors?: boolean;
  /** Checks a DPoP-bound token's proof (the `DPoP` header; contract §10). */
  dpop?: boolean;
}

export const TAGS = {
  tokens: 'Issuing, checking and revoking tokens (contract §2–§4, §6.3).',
  account: "The calling account's own routes (contract §5, §6.1).",
  admin: 'Operator routes (contract §5); absent (404) without ADMIN_TOKEN.',
  discovery: 'Keys and discovery (contract §7), and this document (§9).',
  operations: 'Health and metrics (contract §8).',
} as const;
export type Tag = keyof typeof TAGS;

/** The statuses every body-reading failure adds: bad JSON or argument, too large, wrong type. */
const BODY = [400, 413, 415];
/** Every route that reads the store can fail with it; every route can fail inside. */
const STORE = [500, 503];
/**
 * Every check of a customer token: past UNKNOWN_ISSUER_READS_PER_SECOND, tokens naming an
 * unknown issuer are 429 (src/tokens/issuer-admission.ts). The credential routes have 429 anyway.
 */
const UNKNOWN_ISSUERS = 429;

const accountIdParameter: Record<string, Parameter> = {
  accountId: { schema: z.string(), description: 'The account id (`id` of the account).' },
};

const userIdParameter: Record<string, Parameter> = {
  userId: { schema: identifier, description: "The account's own user id (1–256 printable ASCII characters)." },
};

const webhookIdParameter: Record<string, Parameter> = {
  webhookId: { schema: z.string(), description: 'The webhook endpoint id (`webhook.id`).' },
};

/**
 * The webhook routes (contract §10): the calling account's under /v1/account/webhooks, and the
 * same for the operator under /v1/admin/accounts/{accountId}/webhooks.
 */
function webhookOperations(who: 'account' | 'admin'): Operation[] {
  const admin = who === 'admin';
  const base = admin ? '/v1/admin/accounts/{accountId}/webhooks' : '/v1/account/webhooks';
  const owner = admin ? accountIdParameter : {};
  const id = (name: string) => (admin ? `admin${name[0]!.toUpperCase()}${name.slice(1)}` : name);
  const common = { tag: who, auth: who } as const;
  // Operator routes check the admin token before anything else; both read the store.
  const failures = admin ? [401, 404, 429, ...STORE] : [401, 429, ...STORE];
  return [
    {
      ...common,
      path: base,
      method: 'post',
      operationId: id('createWebhook'),
      summary: 'Register a webhook endpoint (its secret is shown once)',
      pathParameters: owner,
      body: { name: 'WebhookRequest', schema: webhookRequest },
      answer: { kind: 'result', status: 201, name: 'CreatedWebhook', data: createdWebhookData },
      statuses: [...BODY, 412, ...failures],
    },
    {
      ...common,
      path: base,
      method: 'get',
      operationId: id('listWebhooks'),
      summary: 'The webhook endpoints, never a secret',
      pathParameters: owner,
      answer: { kind: 'result', name: 'WebhookList', data: webhookListData },
      statuses: [...new Set([400, ...failures])],
    },
    {
      ...common,
      path: `${base}/{webhookId}`,
      method: 'delete',
      operationId: id('removeWebhook'),
      summary: 'Remove a webhook endpoint; nothing more is delivered to it',
      pathParameters: { ...owner, ...webhookIdParameter },
      answer: { kind: 'result', name: 'RemovedWebhook', data: removedWebhookData },
      statuses: [...new Set([...BODY, 404, ...failures])],
    },
    {
      ...common,
      path: `${base}/{webhookId}/deliveries`,
      method: 'get',
      operationId: id('webhookDeliveries'),
      summary: "A webhook endpoint's delivery attempts, newest first",
      pathParameters: { ...owner, ...webhookIdParameter },
      answer: { kind: 'result', name: 'WebhookDeliveries', data: deliveriesData },
      statuses: [...new Set([400, 404, ...failures])],
    },
  ];
}

/** The members of a zod object schema as query parameters, each with its description. */
function queryOf<S extends z.ZodObject>(schema: S, descriptions: Record<keyof S['shape'] & string, string>): Record<string, Parameter> {
  return Object.fromEntries(
    Object.entries(schema.shape).map(([name, member]) => [
      name,
      { schema: member as z.ZodType, description: descriptions[name as keyof S['shape'] & string], required: !(member as z.ZodType).safeParse(undefined).success },
    ]),
  );
}

const EVENT_FILTERS = {
  type: 'Only events of this type.',
  since: 'Only events at or after this time (ISO 8601).',
  until: 'Only events at or before this time (ISO 8601).',
  cursor: 'The `nextCursor` of the previous page.',
  limit: 'Events per page, 1–500 (default 100).',
};

const FORWARD_AUTH_METHODS: HttpMethod[] = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'];

const forwardAuth = (method: HttpMethod): Operation => ({
  path: '/v1/auth/verify',
  method,
  operationId: method === 'get' ? 'forwardAuth' : `forwardAuth${method[0]!.toUpperCase()}${method.slice(1)}`,
  tag: 'tokens',
  summary: method === 'get' ? 'Forward auth for a proxy sidecar' : `Forward auth (${method.toUpperCase()})`,
  description:
    'For nginx auth_request, Traefik ForwardAuth and Envoy ext_authz (contract §3.3). Any method is ' +
    'accepted and no body is read. The accounts whose tokens are accepted are `?apiKey=` or else ' +
    'FORWARD_AUTH_API_KEYS; with neither, every request is 400.',
  auth: 'token',
  query: {
    apiKey: {
      schema: z.string().regex(CREDENTIAL_PATTERN),
      description: 'The one account whose tokens this request accepts (must be one of FORWARD_AUTH_API_KEYS when that is set).',
    },
    permission: {
      schema: z.string().meta({ minLength: 1, maxLength: 256, pattern: IDENTIFIER_PATTERN }),
      description: "Also require this permission of the token's policy (contract §6.3).",
    },
  },
  answer: { kind: 'identity' },
  statuses: [400, 401, 403, UNKNOWN_ISSUERS, ...STORE],
  dpop: true,
});

/** The registrations, in the order of the contract. */
export const OPERATIONS: Operation[] = [
  {
    path: '/v1/auth/token/get',
    method: 'post',
    operationId: 'issueToken',
    tag: 'tokens',
    summary: 'Issue a gateway token for a user',
    description: 'The account authenticates with `apiKey` and `authToken` in `data` (contract §2).',
    auth: 'none',
    body: { name: 'IssueTokenRequest', schema: issueTokenRequest },
    answer: { kind: 'result', name: 'IssuedToken', data: issuedTokenData },
    statuses: [...BODY, 401, 403, 429, ...STORE],
  },
  {
    path: '/v1/auth/identify',
    method: 'post',
    operationId: 'identify',
    tag: 'tokens',
    summary: "Prove a token belongs to the browser's user",
    description: 'Open to browsers; needs only the public apiKey (contract §3.1).',
    auth: 'none',
    body: { name: 'IdentifyRequest', schema: identifyRequest },
    answer: { kind: 'result', name: 'IdentifiedUser', data: identifiedUserData },
    statuses: [...BODY, 401, 403, UNKNOWN_ISSUERS, ...STORE],
    cors: true,
    dpop: true,
  },
  {
    path: '/v1/auth/token/introspect',
    method: 'post',
    operationId: 'introspect',
    tag: 'tokens',
    summary: 'Introspect a token (RFC 7662)',
    description:
      "Exactly `{\"active\": false}` for anything but a live token of the caller's account (contract §3.2). " +
      '`token` may also be sent inside `data`; other members are ignored.',
    auth: 'account',
    body: { name: 'TokenRequest', schema: tokenRequest, form: true },
    answer: { kind: 'json', name: 'Introspection', schema: introspectionAnswer, cache: 'no-store' },
    statuses: [...BODY, 401, 429, ...STORE],
    errorStyle: 'oauth',
  },
  ...FORWARD_AUTH_METHODS.map(forwardAuth),
  {
    path: '/v1/auth/token/revoke',
    method: 'post',
    operationId: 'revokeToken',
    tag: 'tokens',
    summary: 'Revoke a token (RFC 7009)',
    description: 'The same answer for an unknown, expired, already revoked or foreign token (contract §4.1).',
    auth: 'account',
    body: { name: 'TokenRequest', schema: tokenRequest, form: true },
    answer: { kind: 'result', name: 'RevokedToken', data: revokedTokenData },
    statuses: [...BODY, 401, 429, ...STORE],
    errorStyle: 'oauth',
  },
  {
    path: '/v1/auth/users/revoke',
    method: 'post',
    operationId: 'revokeUser',
    tag: 'tokens',
    summary: "Revoke every token of a user issued up to now",
    auth: 'account',
    body: { name: 'RevokeUserRequest', schema: revokeUserRequest },
    answer: { kind: 'result', name: 'RevokedUser', data: revokedUserData },
    statuses: [...BODY, 401, 429, ...STORE],
  },
  {
    path: '/v1/auth/organizations/revoke',
    method: 'post',
    operationId: 'revokeOrganization',
    tag: 'tokens',
    summary: 'Revoke every token of an organization issued up to now',
    auth: 'account',
    body: { name: 'RevokeOrganizationRequest', schema: revokeOrganizationRequest },
    answer: { kind: 'result', name: 'RevokedOrganization', data: revokedOrganizationData },
    statuses: [...BODY, 401, 429, ...STORE],
  },
  {
    path: '/v1/auth/authorize',
    method: 'post',
    operationId: 'authorize',
    tag: 'tokens',
    summary: "Check a permission against a token's policy",
    description: 'The token checks of identify come first, with their codes (contract §6.3).',
    auth: 'none',
    body: { name: 'AuthorizeRequest', schema: authorizeRequest },
    answer: { kind: 'result', name: 'Authorized', data: authorizedData },
    statuses: [...BODY, 401, 403, UNKNOWN_ISSUERS, ...STORE],
    cors: true,
    dpop: true,
  },
  {
    path: '/v1/admin/accounts',
    method: 'post',
    operationId: 'createAccount',
    tag: 'admin',
    summary: 'Create an account and its first authToken',
    auth: 'admin',
    body: { name: 'CreateAccountRequest', schema: createAccountRequest },
    answer: { kind: 'result', status: 201, name: 'CreatedAccount', data: createdAccountData },
    statuses: [...BODY, 401, 404, 429, ...STORE],
  },
  {
    path: '/v1/admin/accounts/{accountId}/auth-tokens',
    method: 'post',
    operationId: 'addAuthToken',
    tag: 'admin',
    summary: 'Add an authToken to an account (the old ones keep working)',
    auth: 'admin',
    pathParameters: accountIdParameter,
    answer: { kind: 'result', status: 201, name: 'AddedAuthToken', data: addedAuthTokenData },
    statuses: [...BODY, 401, 404, 429, ...STORE],
  },
  {
    path: '/v1/admin/accounts/{accountId}/auth-tokens',
    method: 'get',
    operationId: 'listAuthTokens',
    tag: 'admin',
    summary: "List an account's authTokens (never a secret)",
    auth: 'admin',
    pathParameters: accountIdParameter,
    answer: { kind: 'result', name: 'AuthTokenList', data: authTokenListData },
    statuses: [400, 401, 404, 429, ...STORE],
  },
  {
    path: '/v1/admin/accounts/{accountId}/auth-tokens/{authTokenId}',
    method: 'delete',
    operationId: 'deleteAuthToken',
    tag: 'admin',
    summary: 'Delete an authToken; it stops working at once',
    auth: 'admin',
    pathParameters: {
      ...accountIdParameter,
      authTokenId: { schema: z.string(), description: 'The authToken id (`authTokenId`).' },
    },
    answer: { kind: 'result', name: 'DeletedAuthToken', data: deletedAuthTokenData },
    statuses: [...BODY, 401, 404, 429, ...STORE],
  },
  {
    path: '/v1/account/me',
    method: 'get',
    operationId: 'accountMe',
    tag: 'account',
    summary: 'The calling account',
    auth: 'account',
    answer: { kind: 'result', name: 'AccountMe', data: accountMeData },
    statuses: [401, 429, ...STORE],
  },
  {
    path: '/v1/account/signing-key',
    method: 'put',
    operationId: 'putSigningKey',
    tag: 'account',
    summary: "Upload the public half of the account's token-signing key",
    description: 'RSA of 2048 bits or more, SPKI or PKCS#1 PEM (contract §6.1).',
    auth: 'account',
    body: { name: 'SigningKeyRequest', schema: signingKeyRequest },
    answer: { kind: 'result', name: 'SigningKeySet', data: signingKeySetData },
    statuses: [...BODY, 401, 429, ...STORE],
  },
  {
    path: '/v1/account/signing-key',
    method: 'delete',
    operationId: 'deleteSigningKey',
    tag: 'account',
    summary: "Remove the account's signing key; its customer tokens fail from then on",
    auth: 'account',
    answer: { kind: 'result', name: 'SigningKeyRemoved', data: signingKeyRemovedData },
    statuses: [...BODY, 401, 404, 429, ...STORE],
  },
  {
    path: '/v1/users/{userId}',
    method: 'put',
    operationId: 'putUser',
    tag: 'account',
    summary: 'Record a user directory entry',
    auth: 'account',
    pathParameters: userIdParameter,
    body: { name: 'PutUserRequest', schema: putUserRequest },
    answer: { kind: 'result', name: 'User', data: userData },
    statuses: [...BODY, 401, 429, ...STORE],
  },
  {
    path: '/v1/users/{userId}',
    method: 'get',
    operationId: 'getUser',
    tag: 'account',
    summary: 'Read a user directory entry',
    auth: 'account',
    pathParameters: userIdParameter,
    answer: { kind: 'result', name: 'User', data: userData },
    statuses: [400, 401, 404, 429, ...STORE],
  },
  {
    path: '/v1/users/{userId}',
    method: 'delete',
    operationId: 'deleteUser',
    tag: 'account',
    summary: 'Remove a user directory entry',
    auth: 'account',
    pathParameters: userIdParameter,
    answer: { kind: 'result', name: 'DeletedUser', data: deletedUserData },
    statuses: [...BODY, 401, 404, 429, ...STORE],
  },
  {
    path: '/v1/admin/events',
    method: 'get',
    operationId: 'adminEvents',
    tag: 'admin',
    summary: 'The audit trail: every event, or one account’s, newest first',
    auth: 'admin',
    query: queryOf(adminEventsQuery, { ...EVENT_FILTERS, accountId: 'Only the events of this account.' }),
    answer: { kind: 'result', name: 'EventPage', data: eventPageData },
    statuses: [400, 401, 404, 429, ...STORE],
  },
  {
    path: '/v1/account/events',
    method: 'get',
    operationId: 'accountEvents',
    tag: 'account',
    summary: "The calling account's audit trail, newest first",
    auth: 'account',
    query: queryOf(accountEventsQuery, EVENT_FILTERS),
    answer: { kind: 'result', name: 'EventPage', data: eventPageData },
    statuses: [400, 401, 429, ...STORE],
  },
  ...webhookOperations('account'),
  ...webhookOperations('admin'),
  {
    path: '/.well-known/jwks.json',
    method: 'get',
    operationId: 'jwks',
    tag: 'discovery',
    summary: 'The public keys that may still verify a live gateway token',
    auth: 'none',
    answer: { kind: 'json', name: 'Jwks', schema: jwksAnswer, cache: 'public', etag: true },
    statuses: [304, 500],
    cors: true,
  },
  {
    path: '/.well-known/oauth-authorization-server',
    method: 'get',
    operationId: 'authorizationServerMetadata',
    tag: 'discovery',
    summary: 'OAuth authorization server metadata (RFC 8414)',
    auth: 'none',
    answer: { kind: 'json', name: 'AuthorizationServerMetadata', schema: authorizationServerMetadataAnswer, cache: 'public' },
    statuses: [500],
    cors: true,
  },
  {
    path: '/openapi.json',
    method: 'get',
    operationId: 'openApiDocument',
    tag: 'discovery',
    summary: 'This document',
    auth: 'none',
    answer: {
      kind: 'json',
      name: 'OpenApiDocument',
      schema: z.looseObject({ openapi: z.string().regex(/^3\.1\.\d+$/), info: z.looseObject({}), paths: z.looseObject({}) }),
      cache: 'public',
      etag: true,
    },
    statuses: [304, 500],
  },
  {
    path: '/healthz',
    method: 'get',
    operationId: 'health',
    tag: 'operations',
    summary: 'Liveness: the process answers',
    auth: 'none',
    answer: { kind: 'json', name: 'Health', schema: healthAnswer, cache: 'no-store' },
    statuses: [500],
  },
  {
    path: '/readyz',
    method: 'get',
    operationId: 'readiness',
    tag: 'operations',
    summary: 'Readiness: keys loaded, store reachable, not shutting down (503 when not)',
    auth: 'none',
    answer: { kind: 'json', name: 'Readiness', schema: readinessAnswer, cache: 'no-store', also: [503] },
    statuses: [500],
  },
  {
    path: '/metrics',
    method: 'get',
    operationId: 'metrics',
    tag: 'operations',
    summary: 'Prometheus metrics (Bearer METRICS_TOKEN when that is set)',
    auth: 'metrics',
    answer: { kind: 'metrics' },
    statuses: [401, 500],
  },
];
