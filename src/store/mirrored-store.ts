/**
 * A local mirror of what checks read, in front of the Redis store, kept current through
 * Redis pub/sub, so that a check of a known token needs no round trip.
 *
 * Correctness first:
 * - Every write that changes what a check reads (revocations, auth tokens, signing keys,
 *   user entries, new accounts) is stored first; then the writing instance drops what it
 *   changed from its own mirror at once and announces it on one channel, and every other
 *   instance drops the entries the notice names. A write whose notice cannot be published
 *   fails (503, so the caller retries) and the notice is sent again with the next heartbeat.
 * - An entry is filled only if no notice for its account arrived while it was being read
 *   (a generation per account), so a late read never overwrites a newer notice.
 * - The mirror serves only while both connections are up and its subscription is proven
 *   alive: each instance publishes a heartbeat several times a second and must hear its own
 *   within `staleAfterMs`. A dropped, hung or reconnecting subscription makes every read go to
 *   Redis until the subscription is back and the mirror has been emptied (resync). So a change
 *   is seen everywhere within `staleAfterMs` + delivery, under 1 s, and a store outage turns
 *   every check into a 503 within the same bound.
 * - Backstop: an account's mirror is rebuilt after `maxAgeMs` whatever happened, so even a
 *   notice lost for good (its writer died between storing and announcing) is outlived.
 * - The mirror is bounded: at most `maxAccounts` accounts, each with bounded maps.
 */
import { randomBytes } from 'node:crypto';
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
import { StoreUnavailableError, type RedisBacking } from './types';

type Subscriber = Redis | Cluster;

/** What instances tell each other. Account-wide notices drop everything cached for the account. */
type Notice =
  | { t: 'account'; k: string }
  | { t: 'jti'; k: string; j: string }
  | { t: 'user'; k: string; u: string }
  | { t: 'org'; k: string; o: string }
  | { t: 'hb'; i: string };

export interface MirrorOptions {
  channel?: string;
  /** How often this instance proves its subscription alive, ms. */
  heartbeatMs?: number;
  /** A subscription not heard from for this long is taken as lost, ms. */
  staleAfterMs?: number;
  maxAccounts?: number;
  maxEntriesPerMap?: number;
  /**
   * A backstop, ms: an account's mirror is rebuilt from Redis after this long even if no notice
   * came, which bounds the harm of a notice lost for good (a writer that died between storing
   * and announcing).
   */
  maxAgeMs?: number;
  /** Wall-clock time for liveness; a network property, so real time by default. */
  now?: () => number;
}

/** `undefined` = not cached; `null` = cached as absent. */
interface AccountMirror {
  generation: number;
  /** When this account's mirror was started (now()); it is dropped after maxAgeMs. */
  createdAt: number;
  account?: AccountRecord | null;
  authTokens?: AuthTokenRecord[];
  signingKey?: string | null;
  users: Map<string, UserEntry | null>;
  revokedJtis: Map<string, boolean>;
  userMarks: Map<string, number | null>;
  organizationMarks: Map<string, number | null>;
}

export interface MirrorStats {
  hits: number;
  misses: number;
  bypasses: number;
  live: boolean;
}

export class MirroredStore implements GatewayStore {
  readonly kind = 'redis' as const;

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
  private readonly accounts = new Map<string, AccountMirror>();
  private readonly instanceId = randomBytes(8).toString('hex');
  private readonly channel: string;
  private readonly heartbeatMs: number;
  private readonly staleAfterMs: number;
  private readonly maxAccounts: number;
  private readonly maxEntriesPerMap: number;
  private readonly maxAgeMs: number;
  /** Notices whose publication failed, sent again with the next heartbeat. */
  private unsent: Notice[] = [];
  private readonly now: () => number;
  private subscribed = false;
  private lastHeartbeatHeard = 0;
  /** Set whenever the mirror may have missed a notice; cleared by emptying it. */
  private needsResync = true;
  /** Bumped by every resync, so fills that began before one are dropped. */
  private epoch = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private closed = false;
  readonly stats: MirrorStats = { hits: 0, misses: 0, bypasses: 0, live: false };

  constructor(
    private readonly inner: GatewayStore & { client: Redis | Cluster },
    private readonly subscriber: Subscriber,
    options: MirrorOptions = {},
  ) {
    this.channel = options.channel ?? 'tg:mirror';
    this.heartbeatMs = options.heartbeatMs ?? 150;
    this.staleAfterMs = options.staleAfterMs ?? 500;
    this.maxAccounts = options.maxAccounts ?? 10_000;
    this.maxEntriesPerMap = options.maxEntriesPerMap ?? 10_000;
    this.maxAgeMs = options.maxAgeMs ?? 30_000;
    this.now = options.now ?? Date.now;

    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.onNotice(message);
    });
    const lost = () => {
      this.subscribed = false;
      this.needsResync = true;
    };
    this.subscriber.on('close', lost);
    this.subscriber.on('end', lost);
    this.subscriber.on('error', () => undefined);
    this.subscriber.on('ready', () => void this.subscribe());
    if (this.subscriber.status === 'ready') void this.subscribe();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  private async subscribe(): Promise<void> {
    try {
      await this.subscriber.subscribe(this.channel);
      this.subscribed = true;
      await this.heartbeat();
    } catch {
      this.subscribed = false;
      this.needsResync = true;
    }
  }

  private async heartbeat(): Promise<void> {
    if (this.closed) return;
    try {
      while (this.unsent.length > 0) {
        await this.send(this.unsent[0]!);
        this.unsent.shift();
      }
      await this.send({ t: 'hb', i: this.instanceId });
    } catch {
      // Redis unreachable: the missing heartbeat takes the mirror out of service.
    }
  }

  /** True when the mirror may answer: subscribed, heard from recently, and emptied since any gap. */
  private isLive(): boolean {
    // A connection that dropped is known at once; a silent one, by the missing heartbeat.
    const alive =
      this.subscribed &&
      this.subscriber.status === 'ready' &&
      this.inner.client.status === 'ready' &&
      this.now() - this.lastHeartbeatHeard < this.staleAfterMs;
    if (!alive) {
      this.needsResync = true;
      this.stats.live = false;
      return false;
    }
    if (this.needsResync) {
      this.accounts.clear();
      this.epoch += 1;
      this.needsResync = false;
    }
    this.stats.live = true;
    return true;
  }

  private onNotice(message: string): void {
    let notice: Notice;
    try {
      notice = JSON.parse(message) as Notice;
    } catch {
      return;
    }
    if (notice.t === 'hb') {
      if (notice.i === this.instanceId) this.lastHeartbeatHeard = this.now();
      return;
    }
    this.invalidate(notice);
  }

  /** Drops what a notice names, and spoils every fill of its account still in flight. */
  private invalidate(notice: Exclude<Notice, { t: 'hb' }>): void {
    const mirror = this.accounts.get(notice.k);
    if (!mirror) return;
    mirror.generation += 1;
    switch (notice.t) {
      case 'account':
        this.accounts.delete(notice.k);
        break;
      case 'jti':
        mirror.revokedJtis.delete(notice.j);
        break;
      case 'user':
        mirror.userMarks.delete(notice.u);
        mirror.users.delete(notice.u);
        break;
      case 'org':
        mirror.organizationMarks.delete(notice.o);
        break;
    }
  }

  /**
   * After a write is stored: this instance forgets what it changed at once (its own notice
   * comes back on another connection, possibly after the next read), then tells the others.
   */
  private async announce(notice: Exclude<Notice, { t: 'hb' }>): Promise<void> {
    this.invalidate(notice);
    await this.publish(notice);
  }

  private send(notice: Notice): Promise<number> {
    return this.inner.client.publish(this.channel, JSON.stringify(notice));
  }

  private async publish(notice: Notice): Promise<void> {
    try {
      await this.send(notice);
    } catch (error) {
      // The write is stored but the others were not told: tell them as soon as Redis answers.
      if (this.unsent.length < 10_000) this.unsent.push(notice);
      throw new StoreUnavailableError('token store unavailable', { cause: error });
    }
  }

  private mirrorOf(apiKey: string): AccountMirror {
    let mirror = this.fresh(apiKey);
    if (mirror) {
      // Most recently used last, so the oldest is first to go.
      this.accounts.delete(apiKey);
      this.accounts.set(apiKey, mirror);
      return mirror;
    }
    if (this.accounts.size >= this.maxAccounts) this.accounts.delete(this.accounts.keys().next().value as string);
    mirror = {
      generation: 0,
      createdAt: this.now(),
      users: new Map(),
      revokedJtis: new Map(),
      userMarks: new Map(),
      organizationMarks: new Map(),
    };
    this.accounts.set(apiKey, mirror);
    return mirror;
  }

  /** The account's mirror, unless it is older than maxAgeMs (then it is dropped). */
  private fresh(apiKey: string): AccountMirror | undefined {
    const mirror = this.accounts.get(apiKey);
    if (mirror && this.now() - mirror.createdAt >= this.maxAgeMs) {
      this.accounts.delete(apiKey);
      return undefined;
    }
    return mirror;
  }

  /** Snapshot before a read; the fill is kept only if nothing changed meanwhile. */
  private ticket(apiKey: string): { mirror: AccountMirror; generation: number; epoch: number } {
    const mirror = this.mirrorOf(apiKey);
    return { mirror, generation: mirror.generation, epoch: this.epoch };
  }

  private valid(t: { mirror: AccountMirror; generation: number; epoch: number }, apiKey: string): boolean {
    return t.epoch === this.epoch && t.mirror.generation === t.generation && this.accounts.get(apiKey) === t.mirror;
  }

  private put<K, V>(map: Map<K, V>, key: K, value: V): void {
    if (map.size >= this.maxEntriesPerMap && !map.has(key)) map.clear();
    map.set(key, value);
  }

  // Reads: from the mirror when it may answer, else from Redis (and remembered).

  async getTokenContext(query: TokenContextQuery): Promise<TokenContext> {
    if (!this.isLive()) {
      this.stats.bypasses += 1;
      return this.inner.getTokenContext(query);
    }
    const mirror = this.fresh(query.apiKey);
    if (mirror && mirror.account === null) {
      this.stats.hits += 1;
      return { account: null, signingKey: null, tokenRevoked: false, userRevokedBefore: null, organizationRevokedBefore: null };
    }
    if (mirror && mirror.account !== undefined) {
      const signingKey = query.withSigningKey ? mirror.signingKey : null;
      const revoked = query.jti === undefined ? false : mirror.revokedJtis.get(query.jti);
      const userMark = query.userId === undefined ? null : mirror.userMarks.get(query.userId);
      const orgMark = query.organizationId === undefined ? null : mirror.organizationMarks.get(query.organizationId);
      if (signingKey !== undefined && revoked !== undefined && userMark !== undefined && orgMark !== undefined) {
        this.stats.hits += 1;
        return {
          account: mirror.account,
          signingKey,
          tokenRevoked: revoked,
          userRevokedBefore: userMark,
          organizationRevokedBefore: orgMark,
        };
      }
    }
    this.stats.misses += 1;
    const t = this.ticket(query.apiKey);
    const context = await this.inner.getTokenContext({ ...query, withSigningKey: true });
    if (this.valid(t, query.apiKey)) {
      t.mirror.account = context.account;
      t.mirror.signingKey = context.signingKey;
      if (query.jti !== undefined) this.put(t.mirror.revokedJtis, query.jti, context.tokenRevoked);
      if (query.userId !== undefined) this.put(t.mirror.userMarks, query.userId, context.userRevokedBefore);
      if (query.organizationId !== undefined) {
        this.put(t.mirror.organizationMarks, query.organizationId, context.organizationRevokedBefore);
      }
    }
    return query.withSigningKey ? context : { ...context, signingKey: null };
  }

  async getCredentials(apiKey: string): Promise<{ account: AccountRecord; authTokens: AuthTokenRecord[] } | null> {
    if (!this.isLive()) {
      this.stats.bypasses += 1;
      return this.inner.getCredentials(apiKey);
    }
    const mirror = this.fresh(apiKey);
    if (mirror && mirror.account === null) {
      this.stats.hits += 1;
      return null;
    }
    if (mirror?.account && mirror.authTokens) {
      this.stats.hits += 1;
      return { account: mirror.account, authTokens: mirror.authTokens };
    }
    this.stats.misses += 1;
    const t = this.ticket(apiKey);
    const found = await this.inner.getCredentials(apiKey);
    if (this.valid(t, apiKey)) {
      t.mirror.account = found?.account ?? null;
      if (found) t.mirror.authTokens = found.authTokens;
    }
    return found;
  }

  async getIssuanceContext(apiKey: string, userId: string): Promise<IssuanceContext | null> {
    if (!this.isLive()) {
      this.stats.bypasses += 1;
      return this.inner.getIssuanceContext(apiKey, userId);
    }
    const mirror = this.fresh(apiKey);
    if (mirror && mirror.account === null) {
      this.stats.hits += 1;
      return null;
    }
    const user = mirror?.users.get(userId);
    if (mirror?.account && mirror.authTokens && user !== undefined) {
      this.stats.hits += 1;
      return { account: mirror.account, authTokens: mirror.authTokens, user };
    }
    this.stats.misses += 1;
    const t = this.ticket(apiKey);
    const context = await this.inner.getIssuanceContext(apiKey, userId);
    if (this.valid(t, apiKey)) {
      t.mirror.account = context?.account ?? null;
      if (context) {
        t.mirror.authTokens = context.authTokens;
        this.put(t.mirror.users, userId, context.user);
      }
    }
    return context;
  }

  // Writes: stored first, then announced; a write that cannot be announced fails.

  async createAccount(account: AccountRecord, firstAuthToken: AuthTokenRecord): Promise<void> {
    await this.inner.createAccount(account, firstAuthToken);
    await this.announce({ t: 'account', k: account.apiKey });
  }

  async addAuthToken(apiKey: string, token: AuthTokenRecord): Promise<void> {
    await this.inner.addAuthToken(apiKey, token);
    await this.announce({ t: 'account', k: apiKey });
  }

  async deleteAuthToken(apiKey: string, authTokenId: string): Promise<boolean> {
    const deleted = await this.inner.deleteAuthToken(apiKey, authTokenId);
    await this.announce({ t: 'account', k: apiKey });
    return deleted;
  }

  async setSigningKey(apiKey: string, publicKeyPem: string): Promise<void> {
    await this.inner.setSigningKey(apiKey, publicKeyPem);
    await this.announce({ t: 'account', k: apiKey });
  }

  async deleteSigningKey(apiKey: string): Promise<boolean> {
    const deleted = await this.inner.deleteSigningKey(apiKey);
    await this.announce({ t: 'account', k: apiKey });
    return deleted;
  }

  async putUser(apiKey: string, userId: string, entry: UserEntry): Promise<void> {
    await this.inner.putUser(apiKey, userId, entry);
    await this.announce({ t: 'user', k: apiKey, u: userId });
  }

  async deleteUser(apiKey: string, userId: string): Promise<boolean> {
    const deleted = await this.inner.deleteUser(apiKey, userId);
    await this.announce({ t: 'user', k: apiKey, u: userId });
    return deleted;
  }

  async revokeToken(apiKey: string, jti: string, until: number): Promise<void> {
    await this.inner.revokeToken(apiKey, jti, until);
    await this.announce({ t: 'jti', k: apiKey, j: jti });
  }

  async revokeUser(apiKey: string, userId: string, before: number, until: number): Promise<void> {
    await this.inner.revokeUser(apiKey, userId, before, until);
    await this.announce({ t: 'user', k: apiKey, u: userId });
  }

  async revokeOrganization(apiKey: string, organizationId: string, before: number, until: number): Promise<void> {
    await this.inner.revokeOrganization(apiKey, organizationId, before, until);
    await this.announce({ t: 'org', k: apiKey, o: organizationId });
  }

  // Everything else goes straight to Redis.

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
    this.closed = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.subscriber.disconnect();
    await this.inner.close();
  }
}
