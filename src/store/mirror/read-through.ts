/**
 * The one way the mirror answers a read: from the cache only while the change feed vouches for
 * it, else from the store; what the store answered is kept only if its ticket still holds.
 */
import type { AccountCache, AccountEntry } from './account-cache';

export interface ReadThroughStats {
  hits: number;
  misses: number;
  bypasses: number;
}

export interface ReadThrough<T> {
  apiKey: string;
  /** The answer from a cached entry, or undefined when the entry lacks part of it. */
  cached(entry: AccountEntry): T | undefined;
  load(): Promise<T>;
  fill(entry: AccountEntry, value: T): void;
}

export async function readThrough<T>(
  cache: AccountCache,
  mayServe: () => boolean,
  stats: ReadThroughStats,
  read: ReadThrough<T>,
): Promise<T> {
  if (!mayServe()) {
    stats.bypasses += 1;
    return read.load();
  }
  const entry = cache.peek(read.apiKey);
  const hit = entry ? read.cached(entry) : undefined;
  if (hit !== undefined) {
    stats.hits += 1;
    return hit;
  }
  stats.misses += 1;
  const ticket = cache.ticket(read.apiKey);
  const value = await read.load();
  cache.fill(ticket, (e) => read.fill(e, value));
  return value;
}
