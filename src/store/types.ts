/**
 * What the gateway keeps, behind one interface with an in-memory and a Redis implementation.
 *
 * Accounts are addressed by their apiKey inside the store: it is public, never changes, and is
 * what every token names (`aud` of a gateway token, `iss` of a customer token), so one lookup
 * (one Redis hash slot) finds everything a check needs. The account id is the admin-facing name.
 *
 * Every method either answers from the store or rejects with StoreUnavailableError; callers
 * turn that into 503 and never guess.
 */

import type { Cluster, Redis } from 'ioredis';

export interface AccountRecord {
  id: string;
  name: string;
  apiKey: string;
  /** ISO 8601. */
  createdAt: string;
}

export interface AuthTokenRecord {
  id: string;
  /** SHA-256 of the secret, hex. The secret itself is never stored. */
  hash: string;
  /** ISO 8601. */
  createdAt: string;
}

export interface UserEntry {
  organizationIds: string[];
  /** Lower-cased. */
  email?: string;
  /** ISO 8601. */
  updatedAt: string;
}

export interface IssuedTokenRecord {
  jti: string;
  apiKey: string;
  userId: string;
  organizationId: string;
  /** Unix seconds. */
  iat: number;
  /** Unix seconds; the record expires then. */
  exp: number;
}

/** What issuing a token needs, read in one round trip. */
export interface IssuanceContext {
  account: AccountRecord;
  authTokens: AuthTokenRecord[];
  user: UserEntry | null;
}

/** What checking a token needs, read in one round trip. */
export interface TokenContext {
  account: AccountRecord | null;
  /** The account's customer signing key (SPKI PEM), when it has one. */
  signingKey: string | null;
  /** The (account, jti) pair is revoked. */
  tokenRevoked: boolean;
  /** Unix seconds: tokens of the user with iat <= this are revoked. */
  userRevokedBefore: number | null;
  /** Unix seconds: tokens of the organization with iat <= this are revoked. */
  organizationRevokedBefore: number | null;
}

export interface TokenContextQuery {
  apiKey: string;
  jti?: string;
  userId?: string;
  organizationId?: string;
  /** Also read the account's signing key (customer tokens). */
  withSigningKey?: boolean;
}

export interface AccountStore {
  createAccount(account: AccountRecord, firstAuthToken: AuthTokenRecord): Promise<void>;
  findAccountById(id: string): Promise<AccountRecord | null>;
  findAccountByApiKey(apiKey: string): Promise<AccountRecord | null>;
  getIssuanceContext(apiKey: string, userId: string): Promise<IssuanceContext | null>;
  /** The account and its auth-token hashes, or null for an unknown apiKey. */
  getCredentials(apiKey: string): Promise<{ account: AccountRecord; authTokens: AuthTokenRecord[] } | null>;
  addAuthToken(apiKey: string, token: AuthTokenRecord): Promise<void>;
  listAuthTokens(apiKey: string): Promise<AuthTokenRecord[]>;
  /** False when the account has no such auth token. */
  deleteAuthToken(apiKey: string, authTokenId: string): Promise<boolean>;
  setSigningKey(apiKey: string, publicKeyPem: string): Promise<void>;
  getSigningKey(apiKey: string): Promise<string | null>;
  /** False when the account had no key. */
  deleteSigningKey(apiKey: string): Promise<boolean>;
}

export interface UserDirectory {
  putUser(apiKey: string, userId: string, entry: UserEntry): Promise<void>;
  getUser(apiKey: string, userId: string): Promise<UserEntry | null>;
  /** False when there was no entry. */
  deleteUser(apiKey: string, userId: string): Promise<boolean>;
}

export interface TokenStore {
  /** Records an issued token until its `exp`. */
  recordIssuedToken(record: IssuedTokenRecord): Promise<void>;
  getIssuedToken(apiKey: string, jti: string): Promise<IssuedTokenRecord | null>;
  /** Revokes (apiKey, jti) until `until` (unix seconds), when every token it covers has expired. */
  revokeToken(apiKey: string, jti: string, until: number): Promise<void>;
  /** Tokens of the user with iat <= `before` are revoked; the mark is kept until `until`. */
  revokeUser(apiKey: string, userId: string, before: number, until: number): Promise<void>;
  revokeOrganization(apiKey: string, organizationId: string, before: number, until: number): Promise<void>;
  getTokenContext(query: TokenContextQuery): Promise<TokenContext>;
}

/** The Redis connection a store writes through, for what must share it (the rate limiter). */
export interface RedisBacking {
  client: Redis | Cluster;
  /** The key prefix the store writes under; keys of others go under it too. */
  prefix: string;
}

/**
 * The first time any instance saw each of the gateway's signing keys (contract §7): written
 * once, never changed, so that every instance computes the same activation time.
 */
export interface KeySightingStore {
  /** Records `atMs` as the key's first sighting unless one is recorded; returns the recorded one. */
  recordKeySighting(kid: string, atMs: number): Promise<number>;
}

/** One security event as the audit trail keeps it (contract §9); never a secret or a token. */
export interface AuditEventRecord {
  id: string;
  /** ISO 8601. */
  time: string;
  type: string;
  /** The account the event belongs to; null for operator-only events. */
  accountId: string | null;
  actor: { kind: 'admin' | 'authToken' | 'cli'; id: string | null } | null;
  address?: string;
  requestId?: string;
  subject: Record<string, string | number | boolean>;
}

/** How long and how many events each stream keeps (AUDIT_RETENTION_DAYS, AUDIT_MAX_EVENTS). */
export interface AuditBounds {
  retentionMs: number;
  maxEvents: number;
  /** The store's clock reading of now, ms: the age bound is counted from it. */
  nowMs: number;
}

export interface AuditQuery {
  /** One account's stream; undefined: the operator's stream, which holds every event. */
  accountId?: string;
  type?: string;
  /** Inclusive bounds on the event time, ms. */
  sinceMs?: number;
  untilMs?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string;
  limit: number;
}

export interface AuditPage {
  /** Newest first. */
  events: AuditEventRecord[];
  /** Null on the last page. */
  nextCursor: string | null;
}

/**
 * The audit trail's streams: one per account and one for the operator holding every event.
 * Bounded by age and by count on every store.
 */
export interface AuditLog {
  appendAuditEvent(event: AuditEventRecord, bounds: AuditBounds): Promise<void>;
  listAuditEvents(query: AuditQuery, bounds: AuditBounds): Promise<AuditPage>;
}

/** What DPoP (contract §10) shares between instances: seen proofs and the nonce secret. */
export interface DpopStore {
  /**
   * Records the (jkt, jti) pair of a proof until `keepUntilMs`, atomically: true when it was
   * not recorded yet, false for a replay.
   */
  recordDpopProof(jkt: string, jti: string, keepUntilMs: number): Promise<boolean>;
  /** A secret every instance shares, made once: `candidate` unless one exists already. */
  sharedSecret(name: string, candidate: string): Promise<string>;
}


/** A customer's webhook endpoint (contract §10). */
export interface WebhookRecord {
  /** `wh_...` */
  id: string;
  accountId: string;
  url: string;
  /** The event types it is sent. */
  events: string[];
  /**
   * The signing secret (`whsec_...`). Kept as it is, unlike an auth token: the gateway signs
   * every delivery with it, so a hash would not do. Shown once at creation, never listed or logged.
   */
  secret: string;
  /** ISO 8601. */
  createdAt: string;
}

/** One message on its way to one endpoint: what the queue holds. */
export interface WebhookDelivery {
  /** The `webhook-id`: the audit event's id, the same on every attempt and for every endpoint. */
  messageId: string;
  accountId: string;
  webhookId: string;
  type: string;
  /** The body exactly as it is signed and sent, the same on every attempt. */
  body: string;
  /** 1 for the first attempt. */
  attempt: number;
}

/** A delivery a consumer has taken from the queue; `receipt` names its place there. */
export interface ClaimedDelivery extends WebhookDelivery {
  receipt: string;
}

/** One attempt, as `GET /v1/account/webhooks/{id}/deliveries` lists it. */
export interface DeliveryAttempt {
  eventId: string;
  type: string;
  /** ISO 8601. */
  time: string;
  attempt: number;
  /** The receiver's HTTP status, when it answered. */
  status?: number;
  /** Otherwise why there is no status. */
  error?: 'timeout' | 'connect_failed' | 'blocked_address';
  outcome: 'delivered' | 'retrying' | 'failed';
  /** ISO 8601; null unless the outcome is retrying. */
  nextRetryAt: string | null;
}

/**
 * Webhook endpoints per account, the durable delivery queue and each endpoint's recent attempts.
 * The queue gives each delivery to one consumer at a time; one that is not settled within
 * `visibilityMs` (its consumer died) is given to another.
 */
export interface WebhookStore {
  /** Adds the endpoint unless its account has `max` already (false then). */
  addWebhook(webhook: WebhookRecord, max: number): Promise<boolean>;
  /** Oldest first. */
  listWebhooks(accountId: string): Promise<WebhookRecord[]>;
  getWebhook(accountId: string, webhookId: string): Promise<WebhookRecord | null>;
  /** False when the account has no such endpoint. Its attempts go with it. */
  deleteWebhook(accountId: string, webhookId: string): Promise<boolean>;
  /** Queues first attempts, in this order. */
  enqueueDeliveries(deliveries: WebhookDelivery[]): Promise<void>;
  /**
   * Up to `count` deliveries for `consumer`, oldest first: those another consumer took over
   * `visibilityMs` ago and never settled, retries due by `nowMs`, then new ones.
   */
  claimDeliveries(consumer: string, count: number, nowMs: number, visibilityMs: number): Promise<ClaimedDelivery[]>;
  /** Takes a claimed delivery off the queue and, atomically with that, queues its retry for `dueAtMs`. */
  settleDelivery(claimed: ClaimedDelivery, retry?: { delivery: WebhookDelivery; dueAtMs: number }): Promise<void>;
  /** Keeps the endpoint's newest MAX_DELIVERY_ATTEMPTS_KEPT attempts. */
  recordDeliveryAttempt(webhookId: string, attempt: DeliveryAttempt): Promise<void>;
  /** Newest first. */
  listDeliveryAttempts(webhookId: string): Promise<DeliveryAttempt[]>;
}

/** How many attempts each endpoint's history keeps (older ones drop off). */
export const MAX_DELIVERY_ATTEMPTS_KEPT = 100;

export interface GatewayStore extends AccountStore, UserDirectory, TokenStore, KeySightingStore, AuditLog, DpopStore, WebhookStore {
  readonly kind: 'memory' | 'redis';
  /** The Redis connection behind this store; undefined for the memory store. */
  redisBacking(): RedisBacking | undefined;
  /** Resolves when the store answers; rejects with StoreUnavailableError otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The store could not answer. Never a reason to guess: the caller refuses with 503. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(message = 'token store unavailable', options?: { cause?: unknown }) {
    super(message, options);
  }
}
