/**
 * Revocation (contract §4): one token by (account, jti), every token of a user, or every
 * token of an organization issued up to now. Each mark is kept exactly as long as a token it
 * covers could still be accepted, so the store stays bounded.
 */
import { unixSeconds, type Clock } from '../clock';
import { isGatewayError } from '../errors';
import type { AccountRecord, GatewayStore } from '../store';
import type { TokenVerifier } from './verifier';

export interface RevocationDeps {
  store: GatewayStore;
  verifier: TokenVerifier;
  clock: Clock;
  clockToleranceSeconds: number;
  /** The longest lifetime of any token the gateway accepts (gateway or customer). */
  maxLifetimeSeconds: number;
}

/** What revoking a token did: revoked it (which jti, whose), or nothing anyone may learn. */
export type TokenRevocationOutcome = { outcome: 'revoked'; jti: string; userId: string } | { outcome: 'ignored' };

const IGNORED: TokenRevocationOutcome = { outcome: 'ignored' };

/**
 * Kept past the last moment a covered token could be accepted: Redis expires records by its
 * own clock, which may run ahead of a gateway's; a minute of skew is absorbed.
 */
export const REVOCATION_EXPIRY_MARGIN_SECONDS = 60;

/**
 * RFC 7009: revokes the token when it is the caller's and names a jti. Anything else (unknown,
 * malformed, expired, already revoked, another account's, a customer token without jti) is
 * ignored and the caller learns nothing. A store failure still throws: never a silent success.
 */
export async function revokeToken(
  deps: RevocationDeps,
  caller: AccountRecord,
  token: string,
): Promise<TokenRevocationOutcome> {
  let verified;
  try {
    verified = await deps.verifier.verify(token, {
      expectedApiKey: caller.apiKey,
      // Another account's token is ignored without a store read.
      accountScope: new Set([caller.apiKey]),
      allowNotYetValid: true,
    });
  } catch (error) {
    // A retryable failure (store down, lookup budget spent) is never a silent "revoked".
    if (isGatewayError(error) && !error.retryable) return IGNORED;
    throw error;
  }
  const { jti, exp } = verified.claims;
  if (jti === undefined) return IGNORED;
  // A gateway jti is unique, so the mark may go when that token expires. A customer may sign
  // another token with the same jti later: keep the mark as long as such a token could live.
  const lastExpiry =
    verified.kind === 'gateway' ? exp : Math.max(exp, unixSeconds(deps.clock) + deps.maxLifetimeSeconds);
  await deps.store.revokeToken(
    caller.apiKey,
    jti,
    Math.ceil(lastExpiry) + deps.clockToleranceSeconds + REVOCATION_EXPIRY_MARGIN_SECONDS,
  );
  return { outcome: 'revoked', jti, userId: verified.claims.userId };
}

/** Marks every token of the user issued up to this second; returns that second. */
export async function revokeUser(deps: RevocationDeps, caller: AccountRecord, userId: string): Promise<number> {
  const before = unixSeconds(deps.clock);
  await deps.store.revokeUser(caller.apiKey, userId, before, markExpiry(deps, before));
  return before;
}

export async function revokeOrganization(
  deps: RevocationDeps,
  caller: AccountRecord,
  organizationId: string,
): Promise<number> {
  const before = unixSeconds(deps.clock);
  await deps.store.revokeOrganization(caller.apiKey, organizationId, before, markExpiry(deps, before));
  return before;
}

/** A token issued at `before` is accepted at the latest until before + lifetime + tolerance. */
function markExpiry(deps: RevocationDeps, before: number): number {
  return before + deps.maxLifetimeSeconds + deps.clockToleranceSeconds + REVOCATION_EXPIRY_MARGIN_SECONDS;
}
