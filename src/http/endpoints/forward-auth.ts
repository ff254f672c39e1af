/**
 * Forward auth for a sidecar (contract §3.3): nginx auth_request, Traefik ForwardAuth, Envoy
 * ext_authz. Any method, no body read. Exactly 200 with every identity header (empty where the
 * token has no value, so a proxy overwrites any copy the client sent), or a denial with an
 * RFC 6750 challenge.
 */
import type { ParsedUrlQuery } from 'node:querystring';
import { CREDENTIAL_PATTERN } from '../../accounts/secrets';
import { GatewayError, invalidArgument, isGatewayError } from '../../errors';
import { isPermissionName } from '../../policy';
import { BEARER_CHALLENGE } from '../auth';
import type { HttpContext } from '../context';
import { endWithStatus, queryOf, type GatewayRequest, type GatewayResponse } from '../exchange';
import { forwardedTarget } from '../dpop';
import { decidePermission } from '../policy-decision';

export const IDENTITY_HEADERS = [
  'X-Auth-User-Id',
  'X-Auth-Organization-Id',
  'X-Auth-Email',
  'X-Auth-Is-Admin',
  'X-Auth-Token-Id',
  'X-Auth-Account',
] as const;

/**
 * The token of the request and its scheme: `Bearer` (RFC 6750 §2.1) or `DPoP` (RFC 9449 §7.1,
 * for a token bound to a key); undefined when there is none.
 */
export function presentedToken(req: GatewayRequest): { scheme: 'Bearer' | 'DPoP'; token: string } | undefined {
  const match = /^(Bearer|DPoP)(?:\s+(.*))?$/i.exec(req.headers.authorization ?? '');
  const token = match?.[2]?.trim();
  if (!match || !token) return undefined;
  return { scheme: match[1]!.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer', token };
}

const NO_SCOPE_MESSAGE =
  'Forward auth needs the accounts it answers for: add ?apiKey=<apiKey> to the proxy\'s auth URL or set FORWARD_AUTH_API_KEYS.';

/**
 * The accounts whose tokens this request accepts (contract §3.3): the query's apiKey, which must
 * be one of FORWARD_AUTH_API_KEYS when that is set, or else FORWARD_AUTH_API_KEYS. Never "any".
 */
export function accountScope(query: ParsedUrlQuery, configured: ReadonlySet<string>): ReadonlySet<string> {
  const named = query.apiKey;
  if (named === undefined) {
    if (configured.size === 0) throw invalidArgument(NO_SCOPE_MESSAGE);
    return configured;
  }
  if (typeof named !== 'string') throw invalidArgument('apiKey must be given once, as one apiKey.');
  if (!CREDENTIAL_PATTERN.test(named)) throw invalidArgument('apiKey must be an apiKey (letters, digits, _ and -).');
  if (configured.size > 0 && !configured.has(named)) {
    throw invalidArgument('apiKey is not one of the accounts this gateway answers for (FORWARD_AUTH_API_KEYS).');
  }
  return new Set([named]);
}

function requestedPermission(query: ParsedUrlQuery): string | undefined {
  const permission = query.permission;
  if (permission === undefined) return undefined;
  if (!isPermissionName(permission)) {
    throw invalidArgument('permission must be one permission name (1–256 printable ASCII characters).');
  }
  return permission;
}

const DPOP_CODES = new Set(['invalid_dpop_proof', 'use_dpop_nonce']);

/** RFC 6750 §3: the challenge of an invalid token, its reason quoted safely. */
const invalidTokenChallenge = (reason: string): string =>
  `Bearer error="invalid_token", error_description="${reason.replace(/["\\]/g, "'").replace(/[^\x20-\x7E]/g, '')}"`;

export function forwardAuthEndpoint(ctx: HttpContext) {
  const configured: ReadonlySet<string> = new Set(ctx.config.forwardAuthApiKeys);
  return async (req: GatewayRequest, res: GatewayResponse): Promise<void> => {
    // Every 400 first (scope, repeated members), then token_missing, then the token (§3.3).
    const query = queryOf(req);
    const scope = accountScope(query, configured);
    const permission = requestedPermission(query);
    const presented = presentedToken(req);
    if (presented === undefined) {
      throw new GatewayError('token_missing', 'A Bearer token is required.', { wwwAuthenticate: BEARER_CHALLENGE });
    }
    let verified;
    try {
      verified = await ctx.verifier.verify(presented.token, {
        accountScope: scope,
        // After signature, times and revocation: a bound token's proof, for the original request.
        dpop: { target: () => forwardedTarget(req), scheme: presented.scheme },
      });
    } catch (error) {
      // DPoP refusals carry their own challenge (RFC 9449 §7.1); the others RFC 6750's.
      if (isGatewayError(error) && error.status === 'UNAUTHENTICATED' && !DPOP_CODES.has(error.code)) {
        throw error.with({ wwwAuthenticate: invalidTokenChallenge(error.message) });
      }
      throw error;
    }
    const { claims, account } = verified;
    if (permission !== undefined && !decidePermission(ctx.tracer, claims.policy, permission)) {
      throw new GatewayError('permission_denied', 'The token does not grant this permission.', {
        wwwAuthenticate: 'Bearer error="insufficient_scope"',
      });
    }
    res.setHeader('X-Auth-User-Id', claims.userId);
    res.setHeader('X-Auth-Organization-Id', claims.organizationId ?? '');
    res.setHeader('X-Auth-Email', claims.email ?? '');
    res.setHeader('X-Auth-Is-Admin', claims.isAdmin ? 'true' : 'false');
    res.setHeader('X-Auth-Token-Id', claims.jti ?? '');
    res.setHeader('X-Auth-Account', account.apiKey);
    res.setHeader('Cache-Control', 'no-store');
    res.locals.checkResult = 'active';
    endWithStatus(res, 200);
  };
}
