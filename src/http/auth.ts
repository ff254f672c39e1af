/**
 * Who is calling: an account (HTTP Basic apiKey:authToken, or apiKey/authToken members,
 * also as client_id/client_secret, at the top of the body or inside `data`; RFC 6749 §2.3.1)
 * or the operator (Bearer ADMIN_TOKEN). Every failure is the same invalid_credentials, with a
 * challenge naming the scheme.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { GatewayRequest } from './exchange';
import { authenticateAccount, type AuthenticatedAccount } from '../accounts';
import { GatewayError, invalidCredentials, notFound } from '../errors';
import type { AccountStore } from '../store';

export const REALM = 'token-gateway';
export const BASIC_CHALLENGE = `Basic realm="${REALM}"`;
export const BEARER_CHALLENGE = `Bearer realm="${REALM}"`;

export interface CallerCredentials {
  apiKey: string;
  authToken: string;
}

/** OAuth clients form-urlencode each half before Base64 (RFC 6749 §2.3.1); raw halves pass unchanged. */
function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}

function fromBasic(header: string | undefined): CallerCredentials | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=._~-]+)\s*$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { apiKey: formDecode(decoded.slice(0, colon)), authToken: formDecode(decoded.slice(colon + 1)) };
}

function fromMembers(source: unknown): CallerCredentials | undefined {
  if (typeof source !== 'object' || source === null || Array.isArray(source)) return undefined;
  const s = source as Record<string, unknown>;
  const apiKey = s.apiKey ?? s.client_id;
  const authToken = s.authToken ?? s.client_secret;
  if (typeof apiKey === 'string' && typeof authToken === 'string') return { apiKey, authToken };
  return undefined;
}

/** The credentials the request presents, from wherever it put them (Basic first). */
export function presentedCredentials(req: GatewayRequest): CallerCredentials | undefined {
  const authorization = req.headers.authorization;
  if (authorization !== undefined && /^Basic\b/i.test(authorization)) return fromBasic(authorization);
  const body = req.body as Record<string, unknown> | undefined;
  return fromMembers(body) ?? fromMembers(body?.data);
}

const challenged = (error: GatewayError): GatewayError => error.with({ wwwAuthenticate: BASIC_CHALLENGE });

/** The calling account (and its auth token), or 401 invalid_credentials with a Basic challenge. */
export async function authenticateCaller(store: AccountStore, req: GatewayRequest): Promise<AuthenticatedAccount> {
  const credentials = presentedCredentials(req);
  if (!credentials) throw challenged(invalidCredentials());
  try {
    return await authenticateAccount(store, credentials.apiKey, credentials.authToken);
  } catch (error) {
    if (error instanceof GatewayError && error.code === 'invalid_credentials') throw challenged(error);
    throw error;
  }
}

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * The operator check for /v1/admin. Without ADMIN_TOKEN the admin API does not exist (404);
 * the comparison is of fixed-length digests, in constant time.
 */
export function requireAdmin(adminToken: string | undefined, req: IncomingMessage): void {
  if (adminToken === undefined) throw notFound('No route matches this path.');
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  const presented = digest(match?.[1] ?? '');
  if (!match || !timingSafeEqual(presented, digest(adminToken))) {
    throw invalidCredentials().with({ wwwAuthenticate: BEARER_CHALLENGE });
  }
}
