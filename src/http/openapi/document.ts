/**
 * The OpenAPI 3.1 document of the HTTP API (contract §9), generated from the registrations of
 * ./operations.ts: request and answer schemas come from the endpoints' own zod schemas
 * (z.toJSONSchema, JSON Schema 2020-12, which OpenAPI 3.1 speaks natively), the failures from
 * the code table of src/errors.ts. Deterministic, and independent of configuration, so that the
 * same text is served at /openapi.json and committed as docs/openapi.json.
 */
import { z } from 'zod';
import { CANONICAL_HTTP_STATUS, ERROR_CODES, type CanonicalStatus, type ErrorCode } from '../../errors';
import { BASIC_CHALLENGE, BEARER_CHALLENGE } from '../auth';
import { OAUTH_ERROR_BY_HTTP } from '../errors';
import { IDENTITY_HEADERS } from '../endpoints/forward-auth';
import { OPERATIONS, TAGS, type Answer, type Auth, type HttpMethod, type Operation } from './operations';

type Json = Record<string, unknown>;

export const OPENAPI_VERSION = '3.1.1';

const ref = (kind: 'schemas' | 'headers' | 'responses', name: string): Json => ({ $ref: `#/components/${kind}/${name}` });

/**
 * A zod schema as JSON Schema: requests as the parser reads them (unknown members allowed and
 * ignored), answers as the handlers write them (no member beyond those listed).
 */
function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output', name: string): Json {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Json;
  delete json.$schema;
  assertDescribed(json, name);
  return json;
}

/** A check zod cannot express without its `.meta()` comes out as `{}`: refuse to publish it. */
function assertDescribed(schema: unknown, where: string): void {
  if (typeof schema !== 'object' || schema === null) return;
  const s = schema as Json;
  const parts: Array<[string, unknown]> = [];
  for (const [key, value] of Object.entries((s.properties ?? {}) as Json)) parts.push([`${where}.${key}`, value]);
  if (s.items !== undefined) parts.push([`${where}[]`, s.items]);
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    for (const [i, value] of ((s[key] ?? []) as unknown[]).entries()) parts.push([`${where}|${i}`, value]);
  }
  for (const [path, value] of parts) {
    if (typeof value === 'object' && value !== null && Object.keys(value).length === 0) {
      throw new Error(`OpenAPI: ${path} has no JSON Schema (add .meta() to its zod schema).`);
    }
    assertDescribed(value, path);
  }
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid argument: a missing or malformed member (the message names it), or a body that is not JSON (`invalid_json`).',
  401: 'Not authenticated: a missing or wrong credential, or a token that does not verify.',
  403: 'Permission denied: the token is valid but does not fit the request.',
  404: 'Not found.',
  405: 'Method not allowed here (see `Allow`).',
  409: 'Already exists.',
  412: 'Failed precondition.',
  413: 'The request body is larger than BODY_LIMIT.',
  415: 'The request body is not of a type this route reads.',
  429: 'Rate limited (failed credential checks, or the issuance quota); retry after `Retry-After` seconds.',
  500: 'Internal error; retryable.',
  503: 'The token store is unreachable; retryable. Never a guessed answer.',
};

const HTTP_TO_CANONICAL = Object.fromEntries(
  Object.entries(CANONICAL_HTTP_STATUS).map(([status, http]) => [http, status as CanonicalStatus]),
) as Record<number, CanonicalStatus>;

const codesOf = (status: CanonicalStatus): ErrorCode[] =>
  (Object.keys(ERROR_CODES) as ErrorCode[]).filter((code) => ERROR_CODES[code] === status);

const RETRYABLE = new Set([429, 500, 503]);

/** The §1 failure members for one HTTP status, from the code table. */
function failureMembers(http: number) {
  const status = HTTP_TO_CANONICAL[http];
  if (status === undefined) throw new Error(`OpenAPI: ${http} is not a status of the contract.`);
  const codes = codesOf(status);
  return {
    status: z.literal(status),
    code: z.enum(codes as [ErrorCode, ...ErrorCode[]]),
    retryable: z.literal(RETRYABLE.has(http)),
  };
}

const errorEnvelope = (http: number) =>
  z
    .object({ error: z.object({ message: z.string(), ...failureMembers(http) }) })
    .meta({ description: `The §1 error envelope of a ${http}.` });

const oauthError = (http: number) =>
  z
    .object({
      error: z.literal(OAUTH_ERROR_BY_HTTP[http] ?? 'invalid_request'),
      error_description: z.string(),
      ...failureMembers(http),
    })
    .meta({ description: `RFC 6749 §5.2 error of a ${http}, with the §1 members beside the standard ones.` });

/** The success envelope of §1 around a named `data` schema. */
const resultEnvelope = (dataName: string): Json => ({
  type: 'object',
  properties: {
    result: {
      type: 'object',
      properties: {
        status: { type: 'string', const: 'success' },
        message: { type: 'string' },
        data: ref('schemas', dataName),
      },
      required: ['status', 'message', 'data'],
      additionalProperties: false,
    },
  },
  required: ['result'],
  additionalProperties: false,
});

/** Body credentials (contract §5): the same pair as HTTP Basic, as members of the body or of its `data`. */
const BODY_CREDENTIAL_MEMBERS: Json = {
  apiKey: { type: 'string', description: 'The account apiKey.' },
  authToken: { type: 'string', description: 'One of the account authTokens (secret).' },
  client_id: { type: 'string', description: 'The apiKey under its OAuth name.' },
  client_secret: { type: 'string', description: 'The authToken under its OAuth name.' },
};

/** A quoted-string's content without `"` or `\\`, as the challenges write it. */
const QUOTED = '[\\x20-\\x21\\x23-\\x5B\\x5D-\\x7E]*';
const DPOP_CHALLENGE = `DPoP error="(invalid_dpop_proof|use_dpop_nonce)", error_description="${QUOTED}"(, algs="[A-Za-z0-9 ]+")?`;

const HEADERS: Record<string, Json> = {
  XRequestId: {
    description: "The request id: the caller's `X-Request-Id` when well-formed, else a new one. On every answer.",
    required: true,
    schema: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,128}$' },
  },
  CacheControlNoStore: {
    description: 'Answers that carry credentials or token state are never cached.',
    required: true,
    schema: { type: 'string', const: 'no-store' },
  },
  CacheControlPublic: {
    description: 'Cacheable: JWKS_MAX_AGE_SECONDS for the .well-known documents, an hour for this one.',
    required: true,
    schema: { type: 'string', pattern: '^public, max-age=\\d+$' },
  },
  ETag: {
    description: 'Validator of the body; send it back as `If-None-Match` for a 304.',
    required: true,
    schema: { type: 'string', pattern: '^"[^"]+"$' },
  },
  Allow: {
    description: 'The methods this path answers.',
    required: true,
    schema: { type: 'string', pattern: '^[A-Z]+(, [A-Z]+)*$' },
  },
  RetryAfter: {
    description: 'Whole seconds to wait before trying again.',
    required: true,
    schema: { type: 'integer', minimum: 1 },
  },
  BasicChallenge: {
    description: 'The account credential challenge (RFC 7617).',
    required: true,
    schema: { type: 'string', const: BASIC_CHALLENGE },
  },
  BearerChallenge: {
    description: 'The Bearer credential challenge (RFC 6750).',
    required: true,
    schema: { type: 'string', const: BEARER_CHALLENGE },
  },
  TokenChallenge: {
    description:
      'RFC 6750 §3: `Bearer realm="token-gateway"` (no token: no `error`) or ' +
      '`Bearer error="invalid_token", error_description="<reason>"`; for a DPoP-bound token whose proof fails, ' +
      'the DPoP challenge of RFC 9449 §7.1.',
    required: true,
    schema: {
      type: 'string',
      pattern: `^(${escapeRegExp(BEARER_CHALLENGE)}|Bearer error="invalid_token", error_description="${QUOTED}"|${DPOP_CHALLENGE})$`,
    },
  },
  DPoPChallenge: {
    description: 'RFC 9449 §7.1: a DPoP-bound token whose proof is missing or fails (`invalid_dpop_proof`, `use_dpop_nonce`).',
    required: false,
    schema: { type: 'string', pattern: `^${DPOP_CHALLENGE}$` },
  },
  DPoPNonce: {
    description: 'With DPOP_NONCES=true, the server nonce the next proof must carry (RFC 9449 §8; `use_dpop_nonce`).',
    required: false,
    schema: { type: 'string', minLength: 1 },
  },
  InsufficientScopeChallenge: {
    description: 'RFC 6750 §3.1: the token lacks the permission.',
    required: true,
    schema: { type: 'string', const: 'Bearer error="insufficient_scope"' },
  },
};

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The identity headers of a forward-auth 200: always all of them, empty where the token has no value. */
const IDENTITY_HEADER_SCHEMAS: Record<(typeof IDENTITY_HEADERS)[number], Json> = {
  'X-Auth-User-Id': { description: 'The userId (`sub`).', schema: { type: 'string', minLength: 1 } },
  'X-Auth-Organization-Id': { description: 'The organizationId, empty when none.', schema: { type: 'string' } },
  'X-Auth-Email': { description: 'The email, empty when none.', schema: { type: 'string' } },
  'X-Auth-Is-Admin': { description: '`false` when the token has no isAdmin.', schema: { type: 'string', enum: ['true', 'false'] } },
  'X-Auth-Token-Id': { description: 'The `jti`, empty for a customer token without one.', schema: { type: 'string' } },
  'X-Auth-Account': { description: "The apiKey of the token's account.", schema: { type: 'string', minLength: 1 } },
};

const SECURITY_SCHEMES: Json = {
  accountBasic: {
    type: 'http',
    scheme: 'basic',
    description:
      'The account: `apiKey:authToken`, each half form-urlencoded before Base64 as OAuth clients do (raw halves work too). ' +
      'Where a route reads a body, the same pair may be sent instead as body members `apiKey`/`authToken` ' +
      '(or `client_id`/`client_secret`), at the top level or inside `data` (schema BodyCredentials); ' +
      'OpenAPI has no security scheme for body members, so they appear in the request body schemas.',
  },
  adminBearer: { type: 'http', scheme: 'bearer', description: 'The operator: `Authorization: Bearer <ADMIN_TOKEN>`.' },
  tokenBearer: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'A gateway token or a customer token of one of the accounts the request names (contract §3.3).',
  },
  tokenDPoP: {
    type: 'http',
    scheme: 'dpop',
    description:
      '`Authorization: DPoP <JWT>` for a DPoP-bound token (RFC 9449), with its proof in the `DPoP` header; ' +
      'the proxy describes the original request in X-Forwarded-Method, -Proto, -Host and -Uri (contract §10).',
  },
  metricsBearer: {
    type: 'http',
    scheme: 'bearer',
    description: '`Authorization: Bearer <METRICS_TOKEN>` when METRICS_TOKEN is set; open otherwise.',
  },
};

const SECURITY: Record<Auth, Json[]> = {
  account: [{ accountBasic: [] }],
  admin: [{ adminBearer: [] }],
  token: [{ tokenBearer: [] }, { tokenDPoP: [] }],
  metrics: [{ metricsBearer: [] }, {}],
  none: [],
};

/** The challenge a 401 of this kind of route carries, if any. */
const CHALLENGE_401: Record<Auth, string | undefined> = {
  account: 'BasicChallenge',
  admin: 'BearerChallenge',
  token: 'TokenChallenge',
  metrics: 'BearerChallenge',
  none: undefined,
};

class Builder {
  readonly schemas: Record<string, Json> = {};
  readonly responses: Record<string, Json> = {};

  /** Registers a named schema once; the same name must always mean the same zod schema. */
  private readonly sources = new Map<string, z.ZodType>();

  named(name: string, schema: z.ZodType, io: 'input' | 'output'): Json {
    const known = this.sources.get(name);
    if (known !== undefined && known !== schema) throw new Error(`OpenAPI: two schemas are named ${name}.`);
    if (known === undefined) {
      this.sources.set(name, schema);
      this.schemas[name] = jsonSchemaOf(schema, io, name);
    }
    return ref('schemas', name);
  }

  errorSchema(http: number, style: 'envelope' | 'oauth'): Json {
    const name = style === 'oauth' ? `OAuthError${http}` : `Error${http}`;
    if (this.schemas[name]) return ref('schemas', name);
    return this.named(name, style === 'oauth' ? oauthError(http) : errorEnvelope(http), 'output');
  }
}

const json = (schema: Json): Json => ({ 'application/json': { schema } });
const headerRefs = (names: string[]): Json => Object.fromEntries(names.map((name) => [headerName(name), ref('headers', name)]));

function headerName(component: string): string {
  switch (component) {
    case 'XRequestId':
      return 'X-Request-Id';
    case 'CacheControlNoStore':
    case 'CacheControlPublic':
      return 'Cache-Control';
    case 'RetryAfter':
      return 'Retry-After';
    case 'ETag':
      return 'ETag';
    case 'Allow':
      return 'Allow';
    case 'DPoPNonce':
      return 'DPoP-Nonce';
    default:
      return 'WWW-Authenticate';
  }
}

function successResponses(b: Builder, op: Operation, answer: Answer): Record<string, Json> {
  switch (answer.kind) {
    case 'result':
      b.named(answer.name, answer.data, 'output');
      return {
        [String(answer.status ?? 200)]: {
          description: `Success: the §1 envelope with \`data\` of ${answer.name}.`,
          headers: headerRefs(['XRequestId', 'CacheControlNoStore']),
          content: json(resultEnvelope(answer.name)),
        },
      };
    case 'json': {
      const headers = ['XRequestId', answer.cache === 'public' ? 'CacheControlPublic' : 'CacheControlNoStore'];
      if (answer.etag) headers.push('ETag');
      const body = { headers: headerRefs(headers), content: json(b.named(answer.name, answer.schema, 'output')) };
      const responses: Record<string, Json> = { '200': { description: `${answer.name} (bare JSON).`, ...body } };
      for (const status of answer.also ?? []) responses[String(status)] = { description: `${answer.name} (bare JSON).`, ...body };
      if (op.statuses.includes(304)) {
        responses['304'] = { description: 'Not modified: the `If-None-Match` names the current ETag.', headers: headerRefs(headers) };
      }
      return responses;
    }
    case 'identity':
      return {
        '200': {
          description: 'The token is valid (and grants the permission): exactly 200, empty body, every identity header.',
          headers: {
            ...headerRefs(['XRequestId', 'CacheControlNoStore']),
            ...Object.fromEntries(
              Object.entries(IDENTITY_HEADER_SCHEMAS).map(([name, header]) => [name, { ...header, required: true }]),
            ),
          },
        },
      };
    case 'metrics':
      return {
        '200': {
          description: 'Prometheus text exposition format.',
          headers: headerRefs(['XRequestId', 'CacheControlNoStore']),
          content: { 'text/plain': { schema: { type: 'string' } } },
        },
      };
  }
}

/** A failure, as a shared component named by its status, its shape and its challenge. */
function failureResponse(b: Builder, op: Operation, http: number): Json {
  const headers = ['XRequestId', 'CacheControlNoStore'];
  let challenge: string | undefined;
  if (http === 401) challenge = CHALLENGE_401[op.auth];
  if (http === 403 && op.auth === 'token') challenge = 'InsufficientScopeChallenge';
  if (http === 401 && op.dpop && challenge === undefined) challenge = 'DPoPChallenge';
  if (challenge) headers.push(challenge);
  if (http === 401 && op.dpop) headers.push('DPoPNonce');
  if (http === 429) headers.push('RetryAfter');
  const style = op.errorStyle === 'oauth' ? 'oauth' : 'envelope';
  const name = `${style === 'oauth' ? 'OAuthFailure' : 'Failure'}${http}${challenge?.replace(/Challenge$/, '') ?? ''}`;
  b.responses[name] ??= {
    description: ERROR_DESCRIPTIONS[http] ?? `HTTP ${http}.`,
    headers: headerRefs(headers),
    content: json(b.errorSchema(http, style)),
  };
  return ref('responses', name);
}

function requestBody(b: Builder, op: Operation): Json | undefined {
  const credentials = op.auth === 'account';
  if (!op.body && !(credentials && readsBody(op.method))) return undefined;
  const parts: Json[] = [];
  if (op.body) parts.push(b.named(op.body.name, op.body.schema, 'input'));
  if (credentials) parts.push(ref('schemas', 'BodyCredentials'));
  const schema = parts.length === 1 ? parts[0]! : { allOf: parts };
  return {
    required: op.body !== undefined,
    content: {
      'application/json': { schema },
      ...(op.body?.form ? { 'application/x-www-form-urlencoded': { schema } } : {}),
    },
  };
}

const readsBody = (method: HttpMethod): boolean => method === 'post' || method === 'put' || method === 'delete';

function parameters(b: Builder, op: Operation): Json[] | undefined {
  const list: Json[] = [];
  for (const [name, p] of Object.entries(op.pathParameters ?? {})) {
    list.push({ name, in: 'path', required: true, description: p.description, schema: jsonSchemaOf(p.schema, 'input', name) });
  }
  for (const [name, p] of Object.entries(op.query ?? {})) {
    list.push({ name, in: 'query', required: p.required ?? false, description: p.description, schema: jsonSchemaOf(p.schema, 'input', name) });
  }
  if (op.dpop) {
    list.push({
      name: 'DPoP',
      in: 'header',
      required: false,
      description: 'The DPoP proof (RFC 9449 §4.3) a DPoP-bound token needs; ignored for an unbound token.',
      schema: { type: 'string', maxLength: 8192 },
    });
  }
  if (op.dpop && op.auth === 'token') {
    for (const name of ['X-Forwarded-Method', 'X-Forwarded-Proto', 'X-Forwarded-Host', 'X-Forwarded-Uri']) {
      list.push({
        name,
        in: 'header',
        required: false,
        description: 'Set by the proxy from the original request (each exactly once): what a DPoP proof is checked against.',
        schema: { type: 'string' },
      });
    }
  }
  return list.length ? list : undefined;
}

function operationObject(b: Builder, op: Operation): Json {
  const responses: Record<string, Json> = successResponses(b, op, op.answer);
  for (const http of op.statuses) {
    if (responses[String(http)] === undefined) responses[String(http)] = failureResponse(b, op, http);
  }
  const sorted = Object.fromEntries(Object.entries(responses).sort(([a], [c]) => Number(a) - Number(c)));
  const body = requestBody(b, op);
  const params = parameters(b, op);
  return {
    operationId: op.operationId,
    tags: [op.tag],
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    security: SECURITY[op.auth],
    ...(params ? { parameters: params } : {}),
    ...(body ? { requestBody: body } : {}),
    responses: sorted,
  };
}

/**
 * Path-item extension: the failures a request meets before its method is looked at, so that an
 * unlisted method can answer them instead of 405, each as the path's operations document it:
 * a path parameter that is not valid percent-encoding (400), the operator check (401; the
 * rate limits' 429, or 503 when their store fails).
 */
export const BEFORE_METHOD = 'x-checked-before-method';
/** Path-item extension: the answer to a method the path does not list. */
export const OTHER_METHODS = 'x-other-methods';
/** Document extension: the answer to a path the document does not list. */
export const OTHER_PATHS = 'x-other-paths';

function checkedBeforeMethod(path: string, operations: Operation[]): number[] {
  const statuses = new Set<number>();
  if (path.includes('{')) statuses.add(400);
  // As src/app.ts: the operator routes and every /v1 route but the browser ones and forward auth
  // check the client address against the rate limits before anything else.
  const admin = operations.some((op) => op.auth === 'admin');
  const limited = admin || (path.startsWith('/v1/') && !operations.some((op) => op.cors || op.auth === 'token'));
  if (admin) statuses.add(401);
  if (limited) [429, 503].forEach((s) => statuses.add(s));
  return [...statuses].sort();
}

/** The CORS preflight of a browser route. */
function preflight(op: Operation): Json {
  return {
    operationId: `${op.operationId}Preflight`,
    tags: [op.tag],
    summary: 'CORS preflight',
    description: 'Access-Control-* headers for an origin in CORS_ORIGINS; none for any other origin.',
    security: [],
    responses: { '204': { description: 'The preflight answer.', headers: headerRefs(['XRequestId']) } },
  };
}

export function buildOpenApiDocument(operations: readonly Operation[] = OPERATIONS): Json {
  const b = new Builder();
  b.schemas.BodyCredentials = {
    type: 'object',
    description: 'The account credentials as body members (instead of HTTP Basic).',
    properties: { ...BODY_CREDENTIAL_MEMBERS, data: { type: 'object', properties: BODY_CREDENTIAL_MEMBERS } },
  };
  // The answers of no operation: a path the document does not list, a method a path does not list.
  b.responses.NotFound = {
    description: 'No route matches this path (`not_found`).',
    headers: headerRefs(['XRequestId', 'CacheControlNoStore']),
    content: json(b.errorSchema(404, 'envelope')),
  };
  for (const style of ['envelope', 'oauth'] as const) {
    b.responses[style === 'oauth' ? 'OAuthMethodNotAllowed' : 'MethodNotAllowed'] = {
      description: `A method the path does not list (\`method_not_allowed\`)${style === 'oauth' ? ', on an OAuth endpoint' : ''}.`,
      headers: headerRefs(['XRequestId', 'CacheControlNoStore', 'Allow']),
      content: json(b.errorSchema(405, style)),
    };
  }
  const paths: Record<string, Record<string, Json>> = {};
  for (const op of operations) {
    const item = (paths[op.path] ??= {});
    if (item[op.method]) throw new Error(`OpenAPI: ${op.method.toUpperCase()} ${op.path} is registered twice.`);
    item[op.method] = operationObject(b, op);
    if (op.cors && !item.options) item.options = preflight(op);
  }
  for (const [path, item] of Object.entries(paths)) {
    const registered = operations.filter((op) => op.path === path);
    const before = checkedBeforeMethod(path, registered);
    if (before.length > 0) Object.assign(item, { [BEFORE_METHOD]: before });
    const oauth = registered.some((op) => op.errorStyle === 'oauth');
    Object.assign(item, { [OTHER_METHODS]: ref('responses', oauth ? 'OAuthMethodNotAllowed' : 'MethodNotAllowed') });
  }
  return {
    openapi: OPENAPI_VERSION,
    info: {
      title: 'token-gateway',
      version: '1.0.0',
      summary: 'Issues, checks and revokes auth tokens for the users of its customer accounts.',
      description:
        'The wire contract of token-gateway. Every `/v1` route answers a success as ' +
        '`{"result": {"status": "success", "message", "data"}}` (introspection: bare RFC 7662 JSON; forward auth: an ' +
        'empty 200) and a failure as `{"error": {"message", "status", "code", "retryable"}}` (introspection and ' +
        'revocation: RFC 6749 §5.2). A method a path does not list is 405 with `Allow` (after the checks a path ' +
        `lists in \`${BEFORE_METHOD}\`, answered as its operations document them); an unknown path is 404 ` +
        '`not_found`. Every answer carries `X-Request-Id`.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: '/', description: 'The gateway itself (JWT_ISSUER in production).' }],
    tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
    paths,
    [OTHER_PATHS]: ref('responses', 'NotFound'),
    components: {
      schemas: sortedByName(b.schemas),
      responses: sortedByName(b.responses),
      headers: HEADERS,
      securitySchemes: SECURITY_SCHEMES,
    },
  };
}

const sortedByName = (record: Record<string, Json>): Record<string, Json> =>
  Object.fromEntries(Object.entries(record).sort(([a], [c]) => a.localeCompare(c)));

/** The document as served and committed: two-space JSON, final newline. */
export function openApiJson(): string {
  return `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`;
}
