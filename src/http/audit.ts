/** Who did it, as the audit trail says (contract §9), from what the HTTP edge knows. */
import type { AuthenticatedAccount } from '../accounts';
import { auditEvents, type AuditActor, type AuditTrail } from '../audit';
import type { AccountStore } from '../store';
import type { RateLimitTrip } from './rate-limit';

/** The operator, with the ADMIN_TOKEN (there is one, so it has no id of its own). */
export const ADMIN_ACTOR: AuditActor = { kind: 'admin', id: null };

/** An account caller, named by the auth token it presented (never the secret). */
export const callerActor = (caller: AuthenticatedAccount): AuditActor => ({ kind: 'authToken', id: caller.authTokenId });

/**
 * A limit that tripped: an address limit belongs to no account (the operator's stream only);
 * an apiKey's limit or quota to the account of that apiKey, when it names one.
 */
export async function recordTrip(store: Pick<AccountStore, 'findAccountByApiKey'>, audit: AuditTrail, trip: RateLimitTrip): Promise<void> {
  let accountId: string | null = null;
  if (trip.limit !== 'address') {
    // One read per trip, and a limit trips at most once per window and key.
    accountId = (await store.findAccountByApiKey(trip.key).catch(() => null))?.id ?? null;
  }
  await audit.record(auditEvents.rateLimitTripped(accountId, trip));
}
