/**
 * What a customer token's issuer may cost before its signature is checked (contract §8).
 *
 * A customer token names its account in its unverified `iss`, and only that account's key can
 * verify it, so the account must be read before the signature can be checked. Anyone can mint
 * tokens with random issuers: left alone, each would cost a store read and a cache entry. So:
 *
 * - an issuer seen to be an account is remembered (`known`, bounded); only a store read that
 *   found an account puts it there, so forged issuers never push a real account out;
 * - an issuer not known is looked up with `findAccountByApiKey`, which reads the store without
 *   filling any cache, at most `readsPerSecond` times a second per process (a token bucket);
 *   past that the answer is 429 `rate_limited` (retry in a second), never a guess;
 * - an issuer found not to be an account is answered from a short negative memory for
 *   NEGATIVE_MS, so that a sidecar scoped to a mistyped apiKey does not spend the budget.
 *
 * Accounts are never deleted (contract §5), so a known issuer cannot turn stale; what can
 * change (the signing key, revocations) is read with the token's context as before.
 */
import type { Clock } from '../clock';
import { GatewayError } from '../errors';
import type { AccountStore } from '../store';

/** How long an issuer found not to be an account is answered without asking again. */
export const NEGATIVE_MS = 1000;
const MAX_KNOWN = 100_000;
const MAX_NEGATIVE = 10_000;

export interface IssuerAdmissionOptions {
  store: Pick<AccountStore, 'findAccountByApiKey'>;
  clock: Clock;
  /** UNKNOWN_ISSUER_READS_PER_SECOND. */
  readsPerSecond: number;
}

export class IssuerAdmission {
  private readonly known = new Set<string>();
  private readonly notAccounts = new Map<string, number>();
  private tokens: number;
  private refilledAt: number;

  constructor(private readonly options: IssuerAdmissionOptions) {
    this.tokens = options.readsPerSecond;
    this.refilledAt = options.clock.now();
  }

  /**
   * Resolves when `iss` names an account; throws token_invalid when it names none, rate_limited
   * when the budget for unknown issuers is spent, store_unavailable when the store fails.
   */
  async admit(iss: string): Promise<void> {
    if (this.known.has(iss)) return;
    const now = this.options.clock.now();
    const until = this.notAccounts.get(iss);
    if (until !== undefined) {
      if (now < until) throw notAnAccount();
      this.notAccounts.delete(iss);
    }
    if (!this.take(now)) {
      throw new GatewayError('rate_limited', 'Too many tokens from unknown issuers; try again shortly.', {
        retryAfterSeconds: 1,
      });
    }
    const account = await this.options.store.findAccountByApiKey(iss);
    if (!account) {
      // Clearing the negative memory when full only costs more reads, within the budget.
      if (this.notAccounts.size >= MAX_NEGATIVE) this.notAccounts.clear();
      this.notAccounts.set(iss, this.options.clock.now() + NEGATIVE_MS);
      throw notAnAccount();
    }
    if (this.known.size >= MAX_KNOWN) this.known.delete(this.known.values().next().value as string);
    this.known.add(iss);
  }

  /** A store read for an unknown issuer, if the budget has one left. */
  private take(now: number): boolean {
    const rate = this.options.readsPerSecond;
    this.tokens = Math.min(rate, this.tokens + (Math.max(0, now - this.refilledAt) / 1000) * rate);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

const notAnAccount = (): GatewayError => new GatewayError('token_invalid', 'The token issuer is not a known account.');
