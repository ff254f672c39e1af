/**
 * The routes table: every path the gateway answers, its methods, how its body is read, how
 * its errors are written, and whether browsers may call it. Start here to find an endpoint.
 */
import type { Request, Response } from 'express';
import type { HttpContext } from './context';
import type { GatewayRequest, GatewayResponse } from './exchange';
import type { BodyKind } from './body';
import type { ErrorStyle } from './errors';
import { accountMeEndpoint, deleteSigningKeyEndpoint, putSigningKeyEndpoint } from './endpoints/account';
import {
  addAuthTokenEndpoint,
  createAccountEndpoint,
  deleteAuthTokenEndpoint,
  listAuthTokensEndpoint,
} from './endpoints/admin';
import { authorizeEndpoint } from './endpoints/authorize';
import { accountEventsEndpoint, adminEventsEndpoint } from './endpoints/events';
import { forwardAuthEndpoint } from './endpoints/forward-auth';
import { healthzEndpoint, readyzEndpoint } from './endpoints/health';
import { identifyEndpoint } from './endpoints/identify';
import { introspectEndpoint } from './endpoints/introspect';
import { issueTokenEndpoint } from './endpoints/issue-token';
import { revokeOrganizationEndpoint, revokeTokenEndpoint, revokeUserEndpoint } from './endpoints/revoke';
import { deleteUserEndpoint, getUserEndpoint, putUserEndpoint } from './endpoints/users';
import { openApiEndpoint } from './endpoints/openapi';
import { accountWebhooks, adminWebhooks } from './endpoints/webhooks';
import { jwksEndpoint, metadataEndpoint } from './endpoints/well-known';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
export type Handler = (req: Request, res: Response) => void | Promise<void>;
/** A check's handler: node:http's objects only, never express's (src/http/exchange.ts). */
export type CheckHandler = (req: GatewayRequest, res: GatewayResponse) => void | Promise<void>;

interface RouteCommon {
  path: string;
  /** How POST/PUT/DELETE bodies are read; GET and forward auth never read one. */
  body?: BodyKind;
  /** OAuth endpoints answer failures as RFC 6749 §5.2 says. */
  errors?: ErrorStyle;
  /** Browsers may call it from CORS_ORIGINS. */
  cors?: boolean;
  /** Operator routes: absent (404) without ADMIN_TOKEN, checked before the body is read. */
  admin?: boolean;
}

export type RouteSpec = RouteCommon &
  (
    | {
        /** `ALL`: any method (forward auth). */
        methods: Partial<Record<Method | 'ALL', Handler>>;
        check?: false;
      }
    | {
        methods: Partial<Record<Method | 'ALL', CheckHandler>>;
        /**
         * A token check, served before express sees the request (src/http/dispatch.ts): its
         * handlers and every layer before them take node:http's objects. It reads and records
         * no audit event, so its handlers run outside the request's async context
         * (src/http/request-scope.ts), which on Node 20 costs every promise of the request a
         * hook (docs/BENCHMARKS.md). A rate-limit trip on a failed credential check is still
         * recorded with the request's facts (src/app.ts).
         */
        check: true;
      }
  );

export function routeTable(ctx: HttpContext): RouteSpec[] {
  return [
    { path: '/v1/auth/token/get', methods: { POST: issueTokenEndpoint(ctx) }, body: 'json' },
    { path: '/v1/auth/identify', methods: { POST: identifyEndpoint(ctx) }, body: 'json', cors: true, check: true },
    { path: '/v1/auth/authorize', methods: { POST: authorizeEndpoint(ctx) }, body: 'json', cors: true, check: true },
    {
      path: '/v1/auth/token/introspect',
      methods: { POST: introspectEndpoint(ctx) },
      body: 'json-or-form',
      errors: 'oauth',
      check: true,
    },
    {
      path: '/v1/auth/token/revoke',
      methods: { POST: revokeTokenEndpoint(ctx) },
      body: 'json-or-form',
      errors: 'oauth',
    },
    { path: '/v1/auth/verify', methods: { ALL: forwardAuthEndpoint(ctx) }, check: true },
    { path: '/v1/auth/users/revoke', methods: { POST: revokeUserEndpoint(ctx) }, body: 'json' },
    { path: '/v1/auth/organizations/revoke', methods: { POST: revokeOrganizationEndpoint(ctx) }, body: 'json' },
    { path: '/v1/admin/accounts', methods: { POST: createAccountEndpoint(ctx) }, body: 'json', admin: true },
    {
      path: '/v1/admin/accounts/:accountId/auth-tokens',
      methods: { POST: addAuthTokenEndpoint(ctx), GET: listAuthTokensEndpoint(ctx) },
      body: 'json',
      admin: true,
    },
    {
      path: '/v1/admin/accounts/:accountId/auth-tokens/:authTokenId',
      methods: { DELETE: deleteAuthTokenEndpoint(ctx) },
      body: 'json',
      admin: true,
    },
    { path: '/v1/admin/events', methods: { GET: adminEventsEndpoint(ctx) }, admin: true },
    {
      path: '/v1/admin/accounts/:accountId/webhooks',
      methods: { POST: adminWebhooks.create(ctx), GET: adminWebhooks.list(ctx) },
      body: 'json',
      admin: true,
    },
    {
      path: '/v1/admin/accounts/:accountId/webhooks/:webhookId',
      methods: { DELETE: adminWebhooks.remove(ctx) },
      body: 'json',
      admin: true,
    },
    {
      path: '/v1/admin/accounts/:accountId/webhooks/:webhookId/deliveries',
      methods: { GET: adminWebhooks.deliveries(ctx) },
      admin: true,
    },
    { path: '/v1/account/me', methods: { GET: accountMeEndpoint(ctx) } },
    { path: '/v1/account/events', methods: { GET: accountEventsEndpoint(ctx) } },
    {
      path: '/v1/account/webhooks',
      methods: { POST: accountWebhooks.create(ctx), GET: accountWebhooks.list(ctx) },
      body: 'json',
    },
    { path: '/v1/account/webhooks/:webhookId', methods: { DELETE: accountWebhooks.remove(ctx) }, body: 'json' },
    { path: '/v1/account/webhooks/:webhookId/deliveries', methods: { GET: accountWebhooks.deliveries(ctx) } },
    {
      path: '/v1/account/signing-key',
      methods: { PUT: putSigningKeyEndpoint(ctx), DELETE: deleteSigningKeyEndpoint(ctx) },
      body: 'json',
    },
    {
      path: '/v1/users/:userId',
      methods: { PUT: putUserEndpoint(ctx), GET: getUserEndpoint(ctx), DELETE: deleteUserEndpoint(ctx) },
      body: 'json',
    },
    { path: '/.well-known/jwks.json', methods: { GET: jwksEndpoint(ctx) }, cors: true },
    { path: '/.well-known/oauth-authorization-server', methods: { GET: metadataEndpoint(ctx) }, cors: true },
    { path: '/openapi.json', methods: { GET: openApiEndpoint() } },
    { path: '/healthz', methods: { GET: healthzEndpoint() } },
    { path: '/readyz', methods: { GET: readyzEndpoint(ctx) } },
  ];
}
