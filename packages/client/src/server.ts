/**
 * The server-side client: what a customer's backend uses to get tokens for its users, check
 * and revoke them, and manage its account. It holds the secret authToken, so it never belongs
 * in a browser bundle. Uses only `fetch` and `btoa` (no Buffer), so it also runs on edge
 * runtimes.
 */
import { GatewayClientError } from './errors.js';
import {
  authorizedCaller,
  call,
  invalidResponse,
  makeTransport,
  pathSegment,
  resultData,
  type FetchLike,
  type Transport,
} from './http.js';
import type { IdentifiedUser, SessionUser } from './session.js';

export interface GatewayClientOptions {
  /** The gateway's origin, e.g. `https://auth.example.com` (a path prefix is kept). */
  baseUrl: string;
  /** The account's public apiKey (`ak_...`). */
  apiKey: string;
  /** One of the account's secret authTokens (`at_...`). Server-side only. */
  authToken: string;
  /** A `fetch` to use instead of the global one (tests, proxies, instrumentation). */
  fetch?: FetchLike;
}

/** `{"allow": [...], "reject": [...]}` of permission names; `*` means every permission (contract §6.3). */
export interface Policy {
  allow?: string[];
  reject?: string[];
}

export interface GetTokenRequest {
  userId: string;
  organizationId: string;
  email?: string;
  isAdmin?: boolean;
  policy?: Policy;
  /** Whole seconds, 60–172800; the gateway's default (48 h) when absent. */
  expiresIn?: number;
  /**
   * The RFC 7638 thumbprint of the browser's DPoP key (the session's `fetchToken` receives it):
   * the token is then bound to that key and useless without it.
   */
  dpopJkt?: string;
}

/** The `data` of /v1/auth/token/get: hand it to the browser as it is. */
export interface IssuedToken {
  token: string;
  tokenId: string;
  /** `DPoP` for a token bound to a key (issued with dpopJkt), else `Bearer`. */
  tokenType: 'Bearer' | 'DPoP';
  /** Lifetime in seconds: refresh by the local clock from when this arrived, not by expiresAt. */
  expiresIn: number;
  /** Unix seconds, by the gateway's clock. */
  expiresAt: number;
  /** Unix seconds, the gateway's clock when it issued the token. */
  serverTime: number;
}

/** RFC 7662 answer for a live token of this account. */
export interface ActiveIntrospection {
  active: true;
  /** `DPoP` for a token bound to a key; its `cnf` then names the key. */
  token_type: 'Bearer' | 'DPoP';
  client_id: string;
  sub: string;
  iss: string;
  aud?: string | string[];
  iat: number;
  nbf?: number;
  exp: number;
  jti?: string;
  userId: string;
  organizationId?: string;
  email?: string;
  isAdmin: boolean;
  policy?: Policy;
  cnf?: { jkt: string };
}

export type Introspection = ActiveIntrospection | { active: false };

export interface UserRevocation {
  userId: string;
  /** Unix seconds: every token of the user issued up to this second is rejected. */
  revokedBefore: number;
}

export interface OrganizationRevocation {
  organizationId: string;
  revokedBefore: number;
}

export interface AccountInfo {
  id: string;
  name: string;
  apiKey: string;
  /** ISO 8601. */
  createdAt: string;
  hasSigningKey: boolean;
}

export interface SigningKeyInfo {
  hasSigningKey: true;
  bits: number;
  /** RFC 7638 thumbprint of the key on file. */
  thumbprint: string;
}

export interface DirectoryUser {
  userId: string;
  organizationIds: string[];
  email?: string;
  /** ISO 8601. */
  updatedAt: string;
}

export interface PutUserRequest {
  organizationIds: string[];
  email?: string;
}

/**
 * What forward auth (GET /v1/auth/verify) says about a valid token, read from its X-Auth-*
 * headers. The gateway sends every header, empty where the token has no value; the optional
 * members are absent then.
 */
export interface VerifiedIdentity {
  userId: string;
  organizationId?: string;
  email?: string;
  /** `false` when the token has no isAdmin. */
  isAdmin: boolean;
  /** The token's `jti`; absent for a customer token without one. */
  tokenId?: string;
  /** The apiKey of the token's account. */
  account: string;
}

export interface VerifyOptions {
  /** Also require this permission of the token's policy (`?permission=`, contract §6.3). */
  permission?: string;
}

export interface GatewayClient {
  /** Signs a token for one of your users (POST /v1/auth/token/get). */
  getToken(request: GetTokenRequest): Promise<IssuedToken>;
  /** RFC 7662: `{active: false}` for anything that is not a live token of this account. */
  introspect(token: string): Promise<Introspection>;
  /** RFC 7009: revokes the token if it is this account's; quietly does nothing otherwise. */
  revoke(token: string): Promise<void>;
  /** Rejects every token of the user issued up to now. */
  revokeUser(userId: string): Promise<UserRevocation>;
  /** Rejects every token of the organization issued up to now. */
  revokeOrganization(organizationId: string): Promise<OrganizationRevocation>;
  /**
   * Forward auth (GET /v1/auth/verify?apiKey=<this client's apiKey>): the identity of a valid
   * token of this client's account, from the X-Auth-* headers; another account's token is 401
   * token_invalid. Throws on 401 (token_missing, token_invalid, token_expired, token_revoked, ...), 403
   * permission_denied when `permission` is given and not granted, and 503 store_unavailable.
   */
  verify(token: string, options?: VerifyOptions): Promise<VerifiedIdentity>;
  /**
   * The check the browser's session makes (POST /v1/auth/identify, with this client's apiKey):
   * the token is live, of this account, and belongs to `user`. Throws token_* and *_mismatch codes.
   */
  identify(token: string, user: SessionUser): Promise<IdentifiedUser>;
  /**
   * True when the token's policy grants `permission`, false when it does not
   * (403 permission_denied). A token that is not valid throws (token_invalid, token_expired, ...).
   */
  authorize(token: string, permission: string): Promise<boolean>;
  account: {
    me(): Promise<AccountInfo>;
    /** Uploads the public half of your RSA signing key (SPKI or PKCS#1 PEM, 2048 bits or more). */
    setPublicSigningKey(publicKeyPem: string): Promise<SigningKeyInfo>;
    /** Removes it: from then on your customer-signed tokens fail. False when there was none. */
    removePublicSigningKey(): Promise<boolean>;
  };
  users: {
    put(userId: string, user: PutUserRequest): Promise<DirectoryUser>;
    /** Throws not_found when there is no entry. */
    get(userId: string): Promise<DirectoryUser>;
    /** Throws not_found when there is no entry. */
    delete(userId: string): Promise<void>;
  };
}

/** RFC 6749 §2.3.1: each half form-urlencoded, then Base64. */
function basicCredentials(apiKey: string, authToken: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  // Both halves are ASCII after encoding, so btoa is safe.
  return `Basic ${btoa(`${encode(apiKey)}:${encode(authToken)}`)}`;
}

function requireString(name: string, value: unknown): void {
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`${name} must be a non-empty string.`);
}

/** The identity of a forward-auth answer: exactly 200 with X-Auth-User-Id (contract §3.3). */
function identityFromHeaders(httpStatus: number, headers: Headers): VerifiedIdentity {
  const userId = headers.get('x-auth-user-id');
  const account = headers.get('x-auth-account');
  if (httpStatus !== 200 || !userId || !account) {
    throw invalidResponse({ status: httpStatus, headers }, 'The gateway answer has no X-Auth-* identity headers.');
  }
  const identity: VerifiedIdentity = { userId, isAdmin: headers.get('x-auth-is-admin') === 'true', account };
  const organizationId = headers.get('x-auth-organization-id');
  const email = headers.get('x-auth-email');
  const tokenId = headers.get('x-auth-token-id');
  if (organizationId) identity.organizationId = organizationId;
  if (email) identity.email = email;
  if (tokenId) identity.tokenId = tokenId;
  return identity;
}

export function createGatewayClient(options: GatewayClientOptions): GatewayClient {
  requireString('apiKey', options.apiKey);
  requireString('authToken', options.authToken);
  const transport: Transport = makeTransport(options.baseUrl, options.fetch);
  const { apiKey, authToken } = options;
  const authorization = basicCredentials(apiKey, authToken);

  /** A call authenticated as the account (HTTP Basic). */
  const asAccount = authorizedCaller(transport, authorization);
  const userPath = (userId: string) => `/v1/users/${pathSegment('userId', userId)}`;

  return {
    async getToken(request) {
      const userProperties: Record<string, unknown> = { organizationId: request.organizationId };
      if (request.email !== undefined) userProperties.email = request.email;
      if (request.isAdmin !== undefined) userProperties.isAdmin = request.isAdmin;
      const data: Record<string, unknown> = { apiKey, authToken, userId: request.userId, userProperties };
      if (request.policy !== undefined) data.policy = request.policy;
      if (request.expiresIn !== undefined) data.expiresIn = request.expiresIn;
      if (request.dpopJkt !== undefined) data.dpopJkt = request.dpopJkt;
      return resultData<IssuedToken>(await call(transport, '/v1/auth/token/get', { method: 'POST', json: { data } }));
    },

    async introspect(token) {
      const { body } = await asAccount('POST', '/v1/auth/token/introspect', { token });
      return body as Introspection;
    },

    async revoke(token) {
      await asAccount('POST', '/v1/auth/token/revoke', { token });
    },

    async revokeUser(userId) {
      return resultData<UserRevocation>(await asAccount('POST', '/v1/auth/users/revoke', { data: { userId } }));
    },

    async revokeOrganization(organizationId) {
      return resultData<OrganizationRevocation>(
        await asAccount('POST', '/v1/auth/organizations/revoke', { data: { organizationId } }),
      );
    },

    async verify(token, verifyOptions = {}) {
      // fetch refuses such a header value; no JWT has these characters anyway.
      if (typeof token !== 'string' || !/^[\x20-\x7E]*$/.test(token)) {
        throw new TypeError('The token cannot be sent in an Authorization header.');
      }
      // Scoped to this client's account (contract §3.3): another account's token is 401.
      const query = new URLSearchParams({ apiKey });
      if (verifyOptions.permission !== undefined) query.set('permission', verifyOptions.permission);
      const response = await call(transport, `/v1/auth/verify?${query}`, {
        method: 'GET',
        headers: { Authorization: `Bearer ${token}` },
      });
      return identityFromHeaders(response.httpStatus, response.headers);
    },

    async identify(token, user) {
      return resultData<IdentifiedUser>(
        await call(transport, '/v1/auth/identify', { method: 'POST', json: { data: { apiKey, token, user } } }),
      );
    },

    async authorize(token, permission) {
      try {
        const data = resultData<{ allowed: boolean }>(
          await call(transport, '/v1/auth/authorize', { method: 'POST', json: { data: { apiKey, token, permission } } }),
        );
        return data.allowed === true;
      } catch (error) {
        if (error instanceof GatewayClientError && error.code === 'permission_denied') return false;
        throw error;
      }
    },

    account: {
      async me() {
        return resultData<{ account: AccountInfo }>(await asAccount('GET', '/v1/account/me')).account;
      },
      async setPublicSigningKey(publicKeyPem) {
        return resultData<SigningKeyInfo>(await asAccount('PUT', '/v1/account/signing-key', { data: { publicKey: publicKeyPem } }));
      },
      async removePublicSigningKey() {
        try {
          await asAccount('DELETE', '/v1/account/signing-key');
          return true;
        } catch (error) {
          if (error instanceof GatewayClientError && error.code === 'not_found') return false;
          throw error;
        }
      },
    },

    users: {
      async put(userId, user) {
        const data: Record<string, unknown> = { organizationIds: user.organizationIds };
        if (user.email !== undefined) data.email = user.email;
        return resultData<{ user: DirectoryUser }>(await asAccount('PUT', userPath(userId), { data })).user;
      },
      async get(userId) {
        return resultData<{ user: DirectoryUser }>(await asAccount('GET', userPath(userId))).user;
      },
      async delete(userId) {
        await asAccount('DELETE', userPath(userId));
      },
    },
  };
}
