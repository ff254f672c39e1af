/**
 * The operator's client for /v1/admin (contract §5): create accounts and add, list and remove
 * their auth tokens. It holds the gateway's ADMIN_TOKEN, so it belongs in operator tooling
 * only, never in a customer's backend or a browser. Uses only `fetch`.
 */
import { authorizedCaller, makeTransport, pathSegment, resultData, type FetchLike, type Transport } from './http.js';

export interface AdminClientOptions {
  /** The gateway's origin, e.g. `https://auth.example.com` (a path prefix is kept). */
  baseUrl: string;
  /** The gateway's `ADMIN_TOKEN`. */
  adminToken: string;
  /** A `fetch` to use instead of the global one. */
  fetch?: FetchLike;
}

/** An account as the admin routes show it (no secret). */
export interface AdminAccount {
  id: string;
  name: string;
  apiKey: string;
  /** ISO 8601. */
  createdAt: string;
}

/** A new account and its first auth token; the secret is shown this once. */
export interface CreatedAccount {
  account: AdminAccount;
  authTokenId: string;
  authToken: string;
}

/** A new auth token of an account; the secret is shown this once. */
export interface AddedAuthToken {
  authTokenId: string;
  authToken: string;
  /** ISO 8601. */
  createdAt: string;
}

/** An auth token on file: never its secret. */
export interface AuthTokenInfo {
  authTokenId: string;
  /** ISO 8601. */
  createdAt: string;
}

export interface AdminClient {
  accounts: {
    /** Creates an account (POST /v1/admin/accounts) with its apiKey and a first authToken. */
    create(name: string): Promise<CreatedAccount>;
  };
  authTokens: {
    /** Adds an auth token; the old ones keep working, so credentials rotate with overlap. Throws not_found for an unknown account. */
    add(accountId: string): Promise<AddedAuthToken>;
    /** The account's auth tokens, without secrets. Throws not_found for an unknown account. */
    list(accountId: string): Promise<AuthTokenInfo[]>;
    /** Removes one: it stops working at once. Throws not_found for an unknown account or auth token. */
    remove(accountId: string, authTokenId: string): Promise<void>;
  };
}

/** A non-empty path segment. */
function segment(name: string, value: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`${name} must be a non-empty string.`);
  return pathSegment(name, value);
}

export function createAdminClient(options: AdminClientOptions): AdminClient {
  if (typeof options.adminToken !== 'string' || !/^[\x21-\x7E]+$/.test(options.adminToken)) {
    throw new TypeError('adminToken must be a non-empty string of printable ASCII without spaces.');
  }
  const transport: Transport = makeTransport(options.baseUrl, options.fetch);
  const authorization = `Bearer ${options.adminToken}`;

  /** A call authenticated as the operator (Bearer ADMIN_TOKEN). */
  const asAdmin = authorizedCaller(transport, authorization);
  const tokensPath = (accountId: string) => `/v1/admin/accounts/${segment('accountId', accountId)}/auth-tokens`;

  return {
    accounts: {
      async create(name) {
        return resultData<CreatedAccount>(await asAdmin('POST', '/v1/admin/accounts', { data: { name } }));
      },
    },
    authTokens: {
      async add(accountId) {
        return resultData<AddedAuthToken>(await asAdmin('POST', tokensPath(accountId)));
      },
      async list(accountId) {
        return resultData<{ authTokens: AuthTokenInfo[] }>(await asAdmin('GET', tokensPath(accountId))).authTokens;
      },
      async remove(accountId, authTokenId) {
        await asAdmin('DELETE', `${tokensPath(accountId)}/${segment('authTokenId', authTokenId)}`);
      },
    },
  };
}
