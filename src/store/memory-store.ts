/**
 * The in-memory store: for development and a single instance. Same behaviour as the Redis
 * store, held to it by the shared store suite. Expiry follows the injected clock; a sweep
 * drops expired entries so memory stays bounded.
 */
import { Clock, systemClock } from '../clock';
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
import { maxScanned, pageOf, parsePosition, streamOf, streamsOf, type StreamEntry } from './audit-streams';
import { MAX_DELIVERY_ATTEMPTS_KEPT, StoreUnavailableError } from './types';

interface AccountState {
  account: AccountRecord;
  authTokens: Map<string, AuthTokenRecord>;
  signingKey: string | null;
  users: Map<string, UserEntry>;
}

/** A map whose entries vanish at their expiry time (ms, by the clock). */
class ExpiringMap<V> {
  private readonly entries = new Map<string, { value: V; expiresAtMs: number }>();
  constructor(private readonly clock: Clock) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAtMs <= this.clock.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** When the live entry at `key` expires, ms; 0 when there is none. */
  expiresAt(key: string): number {
    return this.get(key) === undefined ? 0 : this.entries.get(key)!.expiresAtMs;
  }

  set(key: string, value: V, expiresAtMs: number): void {
    if (expiresAtMs <= this.clock.now()) this.entries.delete(key);
    else this.entries.set(key, { value, expiresAtMs });
  }

  sweep(): void {
    const now = this.clock.now();
    for (const [key, entry] of this.entries) if (entry.expiresAtMs <= now) this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}

const clone = <T>(value: T): T => structuredClone(value);
const key = (...parts: string[]): string => parts.join('\u0000');

export interface MemoryStoreOptions {
  clock?: Clock;
  /** How often expired entries are swept, ms (0: never, for tests that sweep by hand). */
  sweepIntervalMs?: number;
}

export class MemoryStore implements GatewayStore {
  readonly kind = 'memory' as const;

  redisBacking(): undefined {
    return undefined;
  }
  private readonly clock: Clock;
  private readonly accounts = new Map<string, AccountState>();
  private readonly apiKeyById = new Map<string, string>();
  private readonly issued: ExpiringMap<IssuedTokenRecord>;
  private readonly revokedTokens: ExpiringMap<true>;
  private readonly userMarks: ExpiringMap<number>;
  private readonly organizationMarks: ExpiringMap<number>;
  private readonly sweepTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Tests flip this to simulate an outage. */
  failing = false;

  constructor(options: MemoryStoreOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.issued = new ExpiringMap(this.clock);
    this.revokedTokens = new ExpiringMap(this.clock);
    this.userMarks = new ExpiringMap(this.clock);
    this.organizationMarks = new ExpiringMap(this.clock);
    const interval = options.sweepIntervalMs ?? 60_000;
    if (interval > 0) {
      this.sweepTimer = setInterval(() => this.sweep(), interval);
      this.sweepTimer.unref();
    }
  }

  /** Drops every expired entry now. */
  sweep(): void {
    this.issued.sweep();
    this.revokedTokens.sweep();
    this.userMarks.sweep();
    this.organizationMarks.sweep();
  }

  /** Entries held for tokens and revocations (expired ones excluded after a sweep). */
  trackedEntryCount(): number {
    return this.issued.size + this.revokedTokens.size + this.userMarks.size + this.organizationMarks.size;
  }

  private check(): void {
    if (this.closed || this.failing) throw new StoreUnavailableError();
  }

  private state(apiKey: string): AccountState | undefined {
    return this.accounts.get(apiKey);
  }

  async ping(): Promise<void> {
    this.check();
  }

  /** Audit streams (contract §9), oldest first; see audit-streams.ts. */
  private readonly auditStreams = new Map<string, Array<{ ms: number; seq: number; event: AuditEventRecord }>>();
  private lastAuditPosition = { ms: 0, seq: 0 };

  async appendAuditEvent(event: AuditEventRecord, bounds: AuditBounds): Promise<void> {
    this.check();
    // Positions only grow, as Redis stream ids do, even if the clock steps back.
    const ms = Math.max(bounds.nowMs, this.lastAuditPosition.ms);
    const seq = ms === this.lastAuditPosition.ms ? this.lastAuditPosition.seq + 1 : 0;
    this.lastAuditPosition = { ms, seq };
    for (const name of streamsOf(event)) {
      const stream = this.auditStreams.get(name) ?? [];
      stream.push({ ms, seq, event });
      const oldest = bounds.nowMs - bounds.retentionMs;
      let drop = Math.max(0, stream.length - bounds.maxEvents);
      while (drop < stream.length && stream[drop]!.ms < oldest) drop += 1;
      stream.splice(0, drop);
      this.auditStreams.set(name, stream);
    }
  }

  async listAuditEvents(query: AuditQuery, bounds: AuditBounds): Promise<AuditPage> {
    this.check();
    const stream = this.auditStreams.get(streamOf(query)) ?? [];
    const before = query.cursor === undefined ? undefined : parsePosition(query.cursor);
    const entries: StreamEntry[] = [];
    for (let i = stream.length - 1; i >= 0 && entries.length < maxScanned(query.limit); i -= 1) {
      const { ms, seq, event } = stream[i]!;
      if (before && (ms > before[0] || (ms === before[0] && seq >= before[1]))) continue;
      entries.push({ position: `${ms}-${seq}`, event });
    }
    const exhausted = entries.length < maxScanned(query.limit);
    return pageOf(entries, query, bounds, exhausted);
  }

  /** DPoP proofs seen (contract §10), by `jkt jti`, with when each may be forgotten. */
  private readonly dpopProofs = new Map<string, number>();
  private readonly secrets = new Map<string, string>();

  async recordDpopProof(jkt: string, jti: string, keepUntilMs: number): Promise<boolean> {
    this.check();
    const now = this.clock.now();
    const key = `${jkt} ${jti}`;
    const until = this.dpopProofs.get(key);
    if (until !== undefined && until > now) return false;
    if (this.dpopProofs.size >= 100_000) {
      for (const [k, u] of this.dpopProofs) if (u <= now) this.dpopProofs.delete(k);
    }
    this.dpopProofs.set(key, keepUntilMs);
    return true;
  }

  async sharedSecret(name: string, candidate: string): Promise<string> {
    this.check();
    if (!this.secrets.has(name)) this.secrets.set(name, candidate);
    return this.secrets.get(name)!;
  }

  /** Webhook endpoints (contract §10), per account id, oldest first. */
  private readonly webhooks = new Map<string, WebhookRecord[]>();
  /** The delivery queue, oldest first; a claimed entry names its consumer and when it took it. */
  private readonly deliveryQueue: Array<{
    receipt: string;
    delivery: WebhookDelivery;
    claim?: { consumer: string; atMs: number };
  }> = [];
  /** Retries waiting for their time, ms. */
  private readonly pendingRetries: Array<{ dueAtMs: number; delivery: WebhookDelivery }> = [];
  private nextReceipt = 0;
  private readonly deliveryAttempts = new Map<string, DeliveryAttempt[]>();

  async addWebhook(webhook: WebhookRecord, max: number): Promise<boolean> {
    this.check();
    const list = this.webhooks.get(webhook.accountId) ?? [];
    if (list.length >= max) return false;
    list.push(clone(webhook));
    this.webhooks.set(webhook.accountId, list);
    return true;
  }

  async listWebhooks(accountId: string): Promise<WebhookRecord[]> {
    this.check();
    return (this.webhooks.get(accountId) ?? [])
      .map(clone)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  async getWebhook(accountId: string, webhookId: string): Promise<WebhookRecord | null> {
    this.check();
    const found = this.webhooks.get(accountId)?.find((webhook) => webhook.id === webhookId);
    return found ? clone(found) : null;
  }

  async deleteWebhook(accountId: string, webhookId: string): Promise<boolean> {
    this.check();
    const list = this.webhooks.get(accountId) ?? [];
    const at = list.findIndex((webhook) => webhook.id === webhookId);
    if (at < 0) return false;
    list.splice(at, 1);
    this.deliveryAttempts.delete(webhookId);
    return true;
  }

  private queueDelivery(delivery: WebhookDelivery): void {
    this.nextReceipt += 1;
    this.deliveryQueue.push({ receipt: String(this.nextReceipt), delivery: clone(delivery) });
  }

  async enqueueDeliveries(deliveries: WebhookDelivery[]): Promise<void> {
    this.check();
    for (const delivery of deliveries) this.queueDelivery(delivery);
  }

  async claimDeliveries(consumer: string, count: number, nowMs: number, visibilityMs: number): Promise<ClaimedDelivery[]> {
    this.check();
    // Due retries join the queue in the order of their times, as the Redis store moves them.
    this.pendingRetries.sort((a, b) => a.dueAtMs - b.dueAtMs);
    while (this.pendingRetries.length > 0 && this.pendingRetries[0]!.dueAtMs <= nowMs) {
      this.queueDelivery(this.pendingRetries.shift()!.delivery);
    }
    const stale = this.deliveryQueue.filter((entry) => entry.claim && nowMs - entry.claim.atMs >= visibilityMs);
    const fresh = this.deliveryQueue.filter((entry) => !entry.claim);
    return [...stale, ...fresh].slice(0, count).map((entry) => {
      entry.claim = { consumer, atMs: nowMs };
      return { ...clone(entry.delivery), receipt: entry.receipt };
    });
  }

  async settleDelivery(claimed: ClaimedDelivery, retry?: { delivery: WebhookDelivery; dueAtMs: number }): Promise<void> {
    this.check();
    const at = this.deliveryQueue.findIndex((entry) => entry.receipt === claimed.receipt);
    if (at >= 0) this.deliveryQueue.splice(at, 1);
    if (retry) this.pendingRetries.push({ dueAtMs: retry.dueAtMs, delivery: clone(retry.delivery) });
  }

  async recordDeliveryAttempt(webhookId: string, attempt: DeliveryAttempt): Promise<void> {
    this.check();
    const list = this.deliveryAttempts.get(webhookId) ?? [];
    list.unshift(clone(attempt));
    list.splice(MAX_DELIVERY_ATTEMPTS_KEPT);
    this.deliveryAttempts.set(webhookId, list);
  }

  async listDeliveryAttempts(webhookId: string): Promise<DeliveryAttempt[]> {
    this.check();
    return (this.deliveryAttempts.get(webhookId) ?? []).map(clone);
  }

  /** Key sightings (contract §7): in memory, this process's first sight of each key. */
  private readonly keySightings = new Map<string, number>();

  async recordKeySighting(kid: string, atMs: number): Promise<number> {
    this.check();
    const first = this.keySightings.get(kid) ?? atMs;
    this.keySightings.set(kid, first);
    return first;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
  }

  async createAccount(account: AccountRecord, firstAuthToken: AuthTokenRecord): Promise<void> {
    this.check();
    this.accounts.set(account.apiKey, {
      account: clone(account),
      authTokens: new Map([[firstAuthToken.id, clone(firstAuthToken)]]),
      signingKey: null,
      users: new Map(),
    });
    this.apiKeyById.set(account.id, account.apiKey);
  }

  async findAccountById(id: string): Promise<AccountRecord | null> {
    this.check();
    const apiKey = this.apiKeyById.get(id);
    const state = apiKey === undefined ? undefined : this.state(apiKey);
    return state ? clone(state.account) : null;
  }

  async findAccountByApiKey(apiKey: string): Promise<AccountRecord | null> {
    this.check();
    const state = this.state(apiKey);
    return state ? clone(state.account) : null;
  }

  async getCredentials(apiKey: string): Promise<{ account: AccountRecord; authTokens: AuthTokenRecord[] } | null> {
    this.check();
    const state = this.state(apiKey);
    return state ? { account: clone(state.account), authTokens: [...state.authTokens.values()].map(clone) } : null;
  }

  async getIssuanceContext(apiKey: string, userId: string): Promise<IssuanceContext | null> {
    this.check();
    const state = this.state(apiKey);
    if (!state) return null;
    const user = state.users.get(userId);
    return {
      account: clone(state.account),
      authTokens: [...state.authTokens.values()].map(clone),
      user: user ? clone(user) : null,
    };
  }

  async addAuthToken(apiKey: string, token: AuthTokenRecord): Promise<void> {
    this.check();
    this.state(apiKey)?.authTokens.set(token.id, clone(token));
  }

  async listAuthTokens(apiKey: string): Promise<AuthTokenRecord[]> {
    this.check();
    return [...(this.state(apiKey)?.authTokens.values() ?? [])].map(clone);
  }

  async deleteAuthToken(apiKey: string, authTokenId: string): Promise<boolean> {
    this.check();
    return this.state(apiKey)?.authTokens.delete(authTokenId) ?? false;
  }

  async setSigningKey(apiKey: string, publicKeyPem: string): Promise<void> {
    this.check();
    const state = this.state(apiKey);
    if (state) state.signingKey = publicKeyPem;
  }

  async getSigningKey(apiKey: string): Promise<string | null> {
    this.check();
    return this.state(apiKey)?.signingKey ?? null;
  }

  async deleteSigningKey(apiKey: string): Promise<boolean> {
    this.check();
    const state = this.state(apiKey);
    if (!state || state.signingKey === null) return false;
    state.signingKey = null;
    return true;
  }

  async putUser(apiKey: string, userId: string, entry: UserEntry): Promise<void> {
    this.check();
    this.state(apiKey)?.users.set(userId, clone(entry));
  }

  async getUser(apiKey: string, userId: string): Promise<UserEntry | null> {
    this.check();
    const entry = this.state(apiKey)?.users.get(userId);
    return entry ? clone(entry) : null;
  }

  async deleteUser(apiKey: string, userId: string): Promise<boolean> {
    this.check();
    return this.state(apiKey)?.users.delete(userId) ?? false;
  }

  async recordIssuedToken(record: IssuedTokenRecord): Promise<void> {
    this.check();
    this.issued.set(key(record.apiKey, record.jti), clone(record), record.exp * 1000);
  }

  async getIssuedToken(apiKey: string, jti: string): Promise<IssuedTokenRecord | null> {
    this.check();
    const record = this.issued.get(key(apiKey, jti));
    return record ? clone(record) : null;
  }

  async revokeToken(apiKey: string, jti: string, until: number): Promise<void> {
    this.check();
    this.revokedTokens.set(key(apiKey, jti), true, until * 1000);
  }

  async revokeUser(apiKey: string, userId: string, before: number, until: number): Promise<void> {
    this.check();
    this.raiseMark(this.userMarks, key(apiKey, userId), before, until);
  }

  async revokeOrganization(apiKey: string, organizationId: string, before: number, until: number): Promise<void> {
    this.check();
    this.raiseMark(this.organizationMarks, key(apiKey, organizationId), before, until);
  }

  /** As the Redis script: the mark only moves forward and is kept until the later expiry. */
  private raiseMark(marks: ExpiringMap<number>, k: string, before: number, until: number): void {
    marks.set(k, Math.max(before, marks.get(k) ?? 0), Math.max(until * 1000, marks.expiresAt(k)));
  }

  async getTokenContext(query: TokenContextQuery): Promise<TokenContext> {
    this.check();
    const state = this.state(query.apiKey);
    return {
      account: state ? clone(state.account) : null,
      signingKey: query.withSigningKey ? (state?.signingKey ?? null) : null,
      tokenRevoked: query.jti !== undefined && this.revokedTokens.get(key(query.apiKey, query.jti)) === true,
      userRevokedBefore:
        query.userId === undefined ? null : (this.userMarks.get(key(query.apiKey, query.userId)) ?? null),
      organizationRevokedBefore:
        query.organizationId === undefined
          ? null
          : (this.organizationMarks.get(key(query.apiKey, query.organizationId)) ?? null),
    };
  }
}
