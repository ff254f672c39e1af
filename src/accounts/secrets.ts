/**
 * Account identifiers and secrets. An authToken carries 256 random bits, so a single
 * SHA-256 is enough to store it (a slow password hash buys nothing against a secret that
 * cannot be guessed); it is compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const random = (bytes: number): string => randomBytes(bytes).toString('base64url');

export const newAccountId = (): string => `acc_${randomBytes(12).toString('hex')}`;
export const newApiKey = (): string => `ak_${random(18)}`;
export const newAuthTokenId = (): string => `atk_${randomBytes(12).toString('hex')}`;
export const newAuthTokenSecret = (): string => `at_${random(32)}`;

/** apiKey and authToken alphabet (contract §0). */
export const CREDENTIAL_PATTERN = /^[A-Za-z0-9_-]{1,256}$/;

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** A hash no secret has, compared against when the apiKey is unknown so timing says nothing. */
const DECOY_HASH = hashSecret(`decoy:${random(32)}`);

/**
 * True when `secret` matches one of `hashes`. Every hash is compared, in constant time,
 * whether or not an earlier one matched; with no hashes a decoy is compared instead.
 */
export function matchesAnyHash(secret: string, hashes: readonly string[]): boolean {
  return matchingHashIndex(secret, hashes) >= 0;
}

/**
 * The index of the hash `secret` matches, or -1; the same constant-time walk over every hash
 * (or the decoy) as matchesAnyHash, whichever matched.
 */
export function matchingHashIndex(secret: string, hashes: readonly string[]): number {
  const presented = Buffer.from(hashSecret(secret), 'hex');
  let matched = -1;
  const candidates = hashes.length > 0 ? hashes : [DECOY_HASH];
  for (let i = 0; i < candidates.length; i += 1) {
    const stored = Buffer.from(candidates[i]!, 'hex');
    const equal = stored.length === presented.length && timingSafeEqual(stored, presented);
    // Branch-free on the outcome: the walk goes on whatever matched.
    matched = equal && matched < 0 ? i : matched;
  }
  return hashes.length > 0 ? matched : -1;
}
