/**
 * Each event's shape, in one place (contract §9): what its subject holds. Ids, names, times
 * and public values only; never a secret, a token or a key.
 */
import type { AuditActor, AuditInput } from './audit-trail';

interface Account {
  id: string;
  name: string;
  apiKey: string;
}

export const accountCreated = (account: Account, authTokenId: string, actor: AuditActor): AuditInput => ({
  type: 'account.created',
  accountId: account.id,
  actor,
  subject: { name: account.name, apiKey: account.apiKey, authTokenId },
});

export const authTokenAdded = (accountId: string, authTokenId: string, actor: AuditActor): AuditInput => ({
  type: 'auth_token.added',
  accountId,
  actor,
  subject: { authTokenId },
});

export const authTokenRemoved = (accountId: string, authTokenId: string, actor: AuditActor): AuditInput => ({
  type: 'auth_token.removed',
  accountId,
  actor,
  subject: { authTokenId },
});

/** The uploaded key by its RFC 7638 thumbprint and size, never the key itself. */
export const signingKeySet = (accountId: string, key: { thumbprint: string; bits: number }, actor: AuditActor): AuditInput => ({
  type: 'signing_key.set',
  accountId,
  actor,
  subject: { thumbprint: key.thumbprint, bits: key.bits },
});

export const signingKeyRemoved = (accountId: string, actor: AuditActor): AuditInput => ({
  type: 'signing_key.removed',
  accountId,
  actor,
  subject: {},
});

/** A token by its jti, never the token. */
export const tokenRevoked = (accountId: string, token: { jti: string; userId: string }, actor: AuditActor): AuditInput => ({
  type: 'token.revoked',
  accountId,
  actor,
  subject: { tokenId: token.jti, userId: token.userId },
});

export const userRevoked = (accountId: string, userId: string, revokedBefore: number, actor: AuditActor): AuditInput => ({
  type: 'user.revoked',
  accountId,
  actor,
  subject: { userId, revokedBefore },
});

export const organizationRevoked = (
  accountId: string,
  organizationId: string,
  revokedBefore: number,
  actor: AuditActor,
): AuditInput => ({
  type: 'organization.revoked',
  accountId,
  actor,
  subject: { organizationId, revokedBefore },
});

/** A wrong or missing admin token; no account, no actor (nobody was authenticated). */
export const adminAuthFailed = (method: string, route: string): AuditInput => ({
  type: 'admin.auth_failed',
  accountId: null,
  actor: null,
  subject: { method, route },
});

/** A limit that tripped (the limiter acts on its own: no actor). */
export const rateLimitTripped = (
  accountId: string | null,
  trip: { limit: string; key: string; retryAfterSeconds: number },
): AuditInput => ({
  type: 'rate_limit.tripped',
  accountId,
  actor: null,
  subject: {
    limit: trip.limit,
    retryAfterSeconds: trip.retryAfterSeconds,
    ...(trip.limit === 'address' ? { addressKey: trip.key } : { apiKey: trip.key }),
  },
});

/** The command-line tool, run by an operator on a machine with the store's credentials. */
export const CLI_ACTOR: AuditActor = { kind: 'cli', id: null };
