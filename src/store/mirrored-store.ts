/**
 * A local mirror of what checks read, in front of the Redis store, so that a check of a known
 * token needs no round trip. Three pieces, each small enough to check on its own:
 *
 * - `mirror/change-feed.ts`: the notice channel between instances, and the one judge of whether
 *   the mirror may answer at all (`mayServe`);
 * - `mirror/account-cache.ts`: the bounded per-account entries, and the tickets that keep a
 *   read which began before a change from putting its stale answer back;
 * - `mirror/read-through.ts`: the one way a read is answered, from the cache or the store.
 *
 * This file is only the store decorator: reads go through `readThrough`; every write that
 * changes what a check reads is stored and announced by the Redis store in one script, and
 * forgotten locally at once. docs/DESIGN.md ("Local mirror") gives the staleness bound.
 */
import type Redis from 'ioredis';
import type { Cluster } from 'ioredis';
import type {
  AccountRecord,
  AuditBounds,
  AuditEventRecord,
  AuditPage,
  AuditQuery,
  AuthTokenRecord,
  ClaimedDelivery,
  DeliveryAttempt,
  GatewayStore,
  IssuanceContext,
  IssuedTokenRecord,
  TokenContext,
  TokenContextQuery,
  UserEntry,
  WebhookDelivery,
  WebhookRecord,
} from './types';
import type { RedisBacking } from './types';
import { AccountCache, type Change } from './mirror/account-cache';
import { ChangeFeed, type ChangeFeedStats } from './mirror/change-feed';
import type { RedisStore } from './redis-store';
import { readThrough, type ReadThrough } from './mirror/read-through';

export interface MirrorOptions {
  /** How often the current change version is read, ms. */
  pollMs?: number;
  /** The mirror stops answering when its last confirmation is this old, ms. */
  staleAfterMs?: number;
  /** How long a missing notice is waited for before the mirror is emptied instead, ms. */
  gapGraceMs?: number;
  maxAccounts?: number;
  maxEntriesPerMap?: number;
  /** A backstop, ms: an account's mirror is rebuilt from Redis after this long whatever happened. */
  maxAgeMs?: number;
  /** Wall-clock time for liveness; a network property, so real time by default. */
  now?: () => number;
}

export interface MirrorStats {
  hits: number;
  misses: number;
  bypasses: number;
  readonly live: boolean;
}

export class MirroredStore implements GatewayStore {
  readonly kind = 'redis' as const;
  /** Reads answered from the mirror, read through it, or sent past it; `live`: whether it may answer now. */
  readonly stats: MirrorStats;
  private readonly cache: AccountCache;
  private readonly feed: ChangeFeed;

  constructor(
    private readonly inner: GatewayStore & Pick<RedisStore, 'client' | 'changes'>,
    subscriber: Redis | Cluster,
    options: MirrorOptions = {},
  ) {
    this.cache = new AccountCache(options);
    this.feed = new ChangeFeed(
      inner.client,
      subscriber,
      { onChange: (change) => this.cache.forget(change), onResync: () => this.cache.clear() },
      { ...options, ...inner.changes },
    );
    const feed = this.feed;
    this.stats = {
      hits: 0,
      misses: 0,
      bypasses: 0,
      get live() {
        return feed.mayServe();
      },
    };
  }

  /** Resyncs and notices heard, for metrics and tests. */
  get feedStats(): Readonly<ChangeFeedStats> {
    return this.feed.stats;
  }

  private read<T>(read: ReadThrough<T>): Promise<T> {
    return readThrough(this.cache, () => this.feed.mayServe(), this.stats, read);
  }

  /**
   * Runs a write (which the Redis store announces itself, atomically) and forgets what it
   * changes here at once, whether it answered or not: a write that failed at the client may
   * still have been applied, and our own notice may come back only after our next read.
   */
  private async write<T>(change: Change, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } finally {
      this.cache.forget(change);
    }
  }

  async getTokenContext(query: TokenContextQuery): Promise<TokenContext> {
    const context = await this.read<TokenContext>({
      apiKey: query.apiKey,
      cached: (e) => {
        if (e.account === null) return absentAccount();
        if (e.account === undefined) return undefined;
        const signingKey = query.withSigningKey ? e.signingKey : null;
        const revoked = query.jti === undefined ? false : e.revokedJtis.get(query.jti);
        const userMark = query.userId === undefined ? null : e.userMarks.get(query.userId);
        const orgMark = query.organizationId === undefined ? null : e.organizationMarks.get(query.organizationId);
        if (signingKey === undefined || revoked === undefined || userMark === undefined || orgMark === undefined) {
          return undefined;
        }
        return {
          account: e.account,
          signingKey,
          tokenRevoked: revoked,
          userRevokedBefore: userMark,
          organizationRevokedBefore: orgMark,
        };
      },
      // Always with the signing key, so the entry is complete for the next check.
      load: () => this.inner.getTokenContext({ ...query, withSigningKey: true }),
      fill: (e, context) => {
        e.account = context.account;
        e.signingKey = context.signingKey;
        if (query.jti !== undefined) this.cache.put(e.revokedJtis, query.jti, context.tokenRevoked);
        if (query.userId !== undefined) this.cache.put(e.userMarks, query.userId, context.userRevokedBefore);
        if (query.organizationId !== undefined) {
          this.cache.put(e.organizationMarks, query.organizationId, context.organizationRevokedBefore);
        }
      },
    });
    return query.withSigningKey ? context : { ...context, signingKey: null };
  }

  getCredentials(apiKey: string): Promise<{ account: AccountRecord; authTokens: AuthTokenRecord[] } | null> {
    return this.read({
      apiKey,
      cached: (e) => (e.account === null ? null : e.account && e.authTokens ? { account: e.account, authTokens: e.authTokens } : undefined),
      load: () => this.inner.getCredentials(apiKey),
      fill: (e, found) => {
        e.account = found?.account ?? null;
        if (found) e.authTokens = found.authTokens;
      },
    });
  }

  getIssuanceContext(apiKey: string, userId: string): Promise<IssuanceContext | null> {
    return this.read<IssuanceContext | null>({
      apiKey,
      cached: (e) => {
        if (e.account === null) return null;
        const user = e.users.get(userId);
        return e.account && e.authTokens && user !== undefined ? { account: e.account, authTokens: e.authTokens, user } : undefined;
      },
      load: () => this.inner.getIssuanceContext(apiKey, userId),
      fill: (e, context) => {
        e.account = context?.account ?? null;
        if (context) {
          e.authTokens = context.authTokens;
          this.cache.put(e.users, userId, context.user);
        }
      },
    });
  }

  // Writes: stored and announced by the Redis store in one step; forgotten here at once.

  createAccount(account: AccountRecord, firstAuthToken: AuthTokenRecord): Promise<void> {
    return this.write({ t: 'account', k: account.apiKey }, () => this.inner.createAccount(account, firstAuthToken));
  }

  addAuthToken(apiKey: string, token: AuthTokenRecord): Promise<void> {
    return this.write({ t: 'account', k: apiKey }, () => this.inner.addAuthToken(apiKey, token));
  }

  deleteAuthToken(apiKey: string, authTokenId: string): Promise<boolean> {
    return this.write({ t: 'account', k: apiKey }, () => this.inner.deleteAuthToken(apiKey, authTokenId));
  }

  setSigningKey(apiKey: string, publicKeyPem: string): Promise<void> {
    return this.write({ t: 'account', k: apiKey }, () => this.inner.setSigningKey(apiKey, publicKeyPem));
  }

  deleteSigningKey(apiKey: string): Promise<boolean> {
    return this.write({ t: 'account', k: apiKey }, () => this.inner.deleteSigningKey(apiKey));
  }

  putUser(apiKey: string, userId: string, entry: UserEntry): Promise<void> {
    return this.write({ t: 'user', k: apiKey, u: userId }, () => this.inner.putUser(apiKey, userId, entry));
  }

  deleteUser(apiKey: string, userId: string): Promise<boolean> {
    return this.write({ t: 'user', k: apiKey, u: userId }, () => this.inner.deleteUser(apiKey, userId));
  }

  revokeToken(apiKey: string, jti: string, until: number): Promise<void> {
    return this.write({ t: 'jti', k: apiKey, j: jti }, () => this.inner.revokeToken(apiKey, jti, until));
  }

  revokeUser(apiKey: string, userId: string, before: number, until: number): Promise<void> {
    return this.write({ t: 'user', k: apiKey, u: userId }, () => this.inner.revokeUser(apiKey, userId, before, until));
  }

  revokeOrganization(apiKey: string, organizationId: string, before: number, until: number): Promise<void> {
    return this.write({ t: 'org', k: apiKey, o: organizationId }, () => this.inner.revokeOrganization(apiKey, organizationId, before, until));
  }

  // Everything else goes straight to Redis.

  redisBacking(): RedisBacking | undefined {
    return this.inner.redisBacking();
  }
  recordKeySighting(kid: string, atMs: number): Promise<number> {
    return this.inner.recordKeySighting(kid, atMs);
  }
  recordDpopProof(jkt: string, jti: string, keepUntilMs: number): Promise<boolean> {
    return this.inner.recordDpopProof(jkt, jti, keepUntilMs);
  }
  sharedSecret(name: string, candidate: string): Promise<string> {
    return this.inner.sharedSecret(name, candidate);
  }
  appendAuditEvent(event: AuditEventRecord, bounds: AuditBounds): Promise<void> {
    return this.inner.appendAuditEvent(event, bounds);
  }
  listAuditEvents(query: AuditQuery, bounds: AuditBounds): Promise<AuditPage> {
    return this.inner.listAuditEvents(query, bounds);
  }
  // Webhooks (contract §10): nothing a check reads, so nothing mirrored.
  addWebhook(webhook: WebhookRecord, max: number): Promise<boolean> {
    return this.inner.addWebhook(webhook, max);
  }
  listWebhooks(accountId: string): Promise<WebhookRecord[]> {
    return this.inner.listWebhooks(accountId);
  }
  getWebhook(accountId: string, webhookId: string): Promise<WebhookRecord | null> {
    return this.inner.getWebhook(accountId, webhookId);
  }
  deleteWebhook(accountId: string, webhookId: string): Promise<boolean> {
    return this.inner.deleteWebhook(accountId, webhookId);
  }
  enqueueDeliveries(deliveries: WebhookDelivery[]): Promise<void> {
    return this.inner.enqueueDeliveries(deliveries);
  }
  claimDeliveries(consumer: string, count: number, nowMs: number, visibilityMs: number): Promise<ClaimedDelivery[]> {
    return this.inner.claimDeliveries(consumer, count, nowMs, visibilityMs);
  }
  settleDelivery(claimed: ClaimedDelivery, retry?: { delivery: WebhookDelivery; dueAtMs: number }): Promise<void> {
    return this.inner.settleDelivery(claimed, retry);
  }
  recordDeliveryAttempt(webhookId: string, attempt: DeliveryAttempt): Promise<void> {
    return this.inner.recordDeliveryAttempt(webhookId, attempt);
  }
  listDeliveryAttempts(webhookId: string): Promise<DeliveryAttempt[]> {
    return this.inner.listDeliveryAttempts(webhookId);
  }

  findAccountById(id: string): Promise<AccountRecord | null> {
    return this.inner.findAccountById(id);
  }
  findAccountByApiKey(apiKey: string): Promise<AccountRecord | null> {
    return this.inner.findAccountByApiKey(apiKey);
  }
  listAuthTokens(apiKey: string): Promise<AuthTokenRecord[]> {
    return this.inner.listAuthTokens(apiKey);
  }
  getSigningKey(apiKey: string): Promise<string | null> {
    return this.inner.getSigningKey(apiKey);
  }
  getUser(apiKey: string, userId: string): Promise<UserEntry | null> {
    return this.inner.getUser(apiKey, userId);
  }
  recordIssuedToken(record: IssuedTokenRecord): Promise<void> {
    return this.inner.recordIssuedToken(record);
  }
  getIssuedToken(apiKey: string, jti: string): Promise<IssuedTokenRecord | null> {
    return this.inner.getIssuedToken(apiKey, jti);
  }
  ping(): Promise<void> {
    return this.inner.ping();
  }

  async close(): Promise<void> {
    this.feed.close();
    await this.inner.close();
  }
}

function absentAccount(): TokenContext {
  return { account: null, signingKey: null, tokenRevoked: false, userRevokedBefore: null, organizationRevokedBefore: null };
}
