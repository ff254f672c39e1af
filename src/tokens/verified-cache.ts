/**
 * Tokens whose signature has already been verified, keyed by a SHA-256 digest of the whole
 * compact token, so that a token checked again (a browser session or a sidecar sees the same
 * token for every request) skips the decoding, the claim parsing and the signature.
 *
 * What is cached is only "these bytes carry a valid signature by this exact key object, and
 * these are their claims": a hit is used only while the key that verified it is still the key
 * the token would be verified with now (a retired gateway key, or a replaced or deleted
 * customer key, turns every hit for it into a miss). Everything that depends on time or on the
 * store (nbf, exp, the account, revocation) is checked on every call. Only successful
 * verifications are stored, so a flood of forged tokens cannot evict the live ones; the map is
 * bounded, the least recently used entry going first.
 */
import { createHash, type KeyObject } from 'node:crypto';
import type { TokenClaims, TokenKind } from './claims';

export interface VerifiedEntry {
  kind: TokenKind;
  /** The header's kid (gateway tokens). */
  kid: string | undefined;
  /** The key object the signature verified with. */
  key: KeyObject;
  claims: TokenClaims;
}

export class VerifiedTokenCache {
  private readonly entries = new Map<string, VerifiedEntry>();

  constructor(private readonly capacity = 10_000) {}

  static digest(token: string): string {
    return createHash('sha256').update(token).digest('base64url');
  }

  get(digest: string): VerifiedEntry | undefined {
    const entry = this.entries.get(digest);
    if (entry) {
      // Most recently used last, so the oldest is the first to go.
      this.entries.delete(digest);
      this.entries.set(digest, entry);
    }
    return entry;
  }

  set(digest: string, entry: VerifiedEntry): void {
    if (this.capacity <= 0) return;
    if (!this.entries.has(digest) && this.entries.size >= this.capacity) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
    this.entries.set(digest, entry);
  }

  get size(): number {
    return this.entries.size;
  }
}
