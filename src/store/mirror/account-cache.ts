/**
 * The per-account part of the mirror: what checks read, per apiKey, bounded, with tickets so
 * that a read which began before a change can never put its stale answer back.
 *
 * A ticket is taken before a store read and checked before its answer is kept: the answer is
 * dropped when, meanwhile, the account was told of a change (its generation moved), the cache
 * was emptied (the epoch moved) or the account's entry was evicted or rebuilt.
 */
import type { Change } from '../change';
import type { AccountRecord, AuthTokenRecord, UserEntry } from '../types';

export type { Change };

/** `undefined` = not cached; `null` = cached as absent. */
export interface AccountEntry {
  generation: number;
  /** When this entry was started (now()); it is dropped after maxAgeMs. */
  createdAt: number;
  account?: AccountRecord | null;
  authTokens?: AuthTokenRecord[];
  signingKey?: string | null;
  users: Map<string, UserEntry | null>;
  revokedJtis: Map<string, boolean>;
  userMarks: Map<string, number | null>;
  organizationMarks: Map<string, number | null>;
}

export interface Ticket {
  apiKey: string;
  entry: AccountEntry;
  generation: number;
  epoch: number;
}

export interface AccountCacheOptions {
  maxAccounts?: number;
  maxEntriesPerMap?: number;
  /** A backstop, ms: an entry is rebuilt from the store after this long whatever happened. */
  maxAgeMs?: number;
  now?: () => number;
}

export class AccountCache {
  private readonly entries = new Map<string, AccountEntry>();
  private readonly maxAccounts: number;
  private readonly maxEntriesPerMap: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  /** Bumped by every clear(), so fills that began before one are dropped. */
  private epoch = 0;

  constructor(options: AccountCacheOptions = {}) {
    this.maxAccounts = options.maxAccounts ?? 10_000;
    this.maxEntriesPerMap = options.maxEntriesPerMap ?? 10_000;
    this.maxAgeMs = options.maxAgeMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The account's entry, unless it is older than maxAgeMs (then it is dropped). */
  peek(apiKey: string): AccountEntry | undefined {
    const entry = this.entries.get(apiKey);
    if (entry && this.now() - entry.createdAt >= this.maxAgeMs) {
      this.entries.delete(apiKey);
      return undefined;
    }
    return entry;
  }

  /** Snapshot before a store read; `fill` keeps the answer only if nothing changed meanwhile. */
  ticket(apiKey: string): Ticket {
    const entry = this.entryOf(apiKey);
    return { apiKey, entry, generation: entry.generation, epoch: this.epoch };
  }

  /** Runs `write` on the ticket's entry when the ticket still holds; answers whether it did. */
  fill(ticket: Ticket, write: (entry: AccountEntry) => void): boolean {
    const holds =
      ticket.epoch === this.epoch &&
      ticket.entry.generation === ticket.generation &&
      this.entries.get(ticket.apiKey) === ticket.entry;
    if (holds) write(ticket.entry);
    return holds;
  }

  /** Sets a bounded map entry (a full map is emptied rather than grown). */
  put<K, V>(map: Map<K, V>, key: K, value: V): void {
    if (map.size >= this.maxEntriesPerMap && !map.has(key)) map.clear();
    map.set(key, value);
  }

  /** Drops what a change names, and spoils every fill of its account still in flight. */
  forget(change: Change): void {
    const entry = this.entries.get(change.k);
    if (!entry) return;
    entry.generation += 1;
    switch (change.t) {
      case 'account':
        this.entries.delete(change.k);
        break;
      case 'jti':
        entry.revokedJtis.delete(change.j);
        break;
      case 'user':
        entry.userMarks.delete(change.u);
        entry.users.delete(change.u);
        break;
      case 'org':
        entry.organizationMarks.delete(change.o);
        break;
    }
  }

  /** Forgets everything, including fills in flight. */
  clear(): void {
    this.entries.clear();
    this.epoch += 1;
  }

  private entryOf(apiKey: string): AccountEntry {
    let entry = this.peek(apiKey);
    if (entry) {
      // Most recently used last, so the oldest is first to go.
      this.entries.delete(apiKey);
      this.entries.set(apiKey, entry);
      return entry;
    }
    if (this.entries.size >= this.maxAccounts) this.entries.delete(this.entries.keys().next().value as string);
    entry = {
      generation: 0,
      createdAt: this.now(),
      users: new Map(),
      revokedJtis: new Map(),
      userMarks: new Map(),
      organizationMarks: new Map(),
    };
    this.entries.set(apiKey, entry);
    return entry;
  }
}
