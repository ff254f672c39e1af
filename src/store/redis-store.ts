/**
 * The Redis store (ioredis): what lets any number of gateway instances share one view.
 *
 * Layout, under a configurable prefix P, with the account's apiKey as the hash tag so that
 * everything one check reads lives in one slot (one pipeline, also on Redis Cluster):
 *
 *   P{apiKey}:a            hash   account: id, name, apiKey, createdAt
 *   P{apiKey}:at           hash   authTokenId -> {"h": sha256 hex, "c": createdAt}
 *   P{apiKey}:sk           string customer signing key (SPKI PEM)
 *   P{apiKey}:u:<userId>   string user directory entry (JSON)
 *   P{apiKey}:t:<jti>      string issued-token record, expires at the token's exp
 *   P{apiKey}:r:<jti>      string revoked (apiKey, jti), expires when the token would have
 *   P{apiKey}:ru:<userId>  string "revoked before" second of a user, expires with the last token it covers
 *   P{apiKey}:ro:<orgId>   string the same for an organization
 *   Pid:<accountId>        string account id -> apiKey (admin routes)
 *   Pev:all                stream every audit event (the operator's), bounded by count and age
 *   Pev:acc:<accountId>    stream one account's audit events, bounded alike
 *   Pdp:<jkt>:<jti>        string a DPoP proof seen, expires when it could no longer be accepted
 *   Psecret:<name>         string a secret every instance shares (the DPoP nonce key), made once
 *   Pks:<kid>              string first sighting (ms) of a gateway signing key, never changed
 *                                 (one per key ever loaded: a few bytes, kept without expiry)
 *   Pwh:a:<accountId>      hash   webhookId -> webhook endpoint (JSON, with its signing secret)
 *   Pwh:d:<webhookId>      list   the endpoint's newest delivery attempts (JSON), bounded
 *   P{wh}:q                stream the webhook delivery queue, read by the consumer group
 *                                 "deliverers"; an entry is deleted once settled
 *   P{wh}:r                zset   retries (JSON) by due time, ms; moved into the queue when due
 *   Pmirror:v              string the change counter (every change to what checks read bumps it)
 *   channel Pmirror        each change's notice, {"v":<version>,"t":...}, see CHANGE_SCRIPT
 *
 * Every expiry is absolute (PXAT), taken from token times, so nothing grows without bound.
 * Failures never wait on a queue: the client is built with the offline queue off and a
 * command timeout, and every error becomes StoreUnavailableError.
 */
import { createHash } from 'node:crypto';
import Redis, { Cluster, type RedisOptions, type ClusterNode } from 'ioredis';
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
import { maxScanned, pageOf, streamOf, streamsOf, type StreamEntry } from './audit-streams';
import { MAX_DELIVERY_ATTEMPTS_KEPT, StoreUnavailableError, type RedisBacking } from './types';
import type { Change } from './change';

type RedisClient = Redis | Cluster;

/**
 * Every write that changes what a check reads, as one script: the write, the change's version
 * and its notice happen together or not at all, so no writer can die, time out or lose its
 * connection between storing a change and announcing it.
 *
 * KEYS: the keys written, then (when ARGV[3] is '') the change counter.
 * ARGV: channel, notice (a JSON object without its version), version ('' = take the next one
 * here), operation, then the operation's arguments.
 */
const CHANGE_SCRIPT = `
local version = ARGV[3]
if version == '' then version = redis.call('INCR', KEYS[#KEYS]) end
local op = ARGV[4]
local result
if op == 'set' then
  if ARGV[6] then result = redis.call('SET', KEYS[1], ARGV[5], 'PXAT', ARGV[6])
  else result = redis.call('SET', KEYS[1], ARGV[5]) end
elseif op == 'del' then result = redis.call('DEL', KEYS[1])
elseif op == 'hset' then result = redis.call('HSET', KEYS[1], ARGV[5], ARGV[6])
elseif op == 'hdel' then result = redis.call('HDEL', KEYS[1], ARGV[5])
elseif op == 'account' then
  redis.call('HSET', KEYS[1], 'id', ARGV[5], 'name', ARGV[6], 'apiKey', ARGV[7], 'createdAt', ARGV[8])
  result = redis.call('HSET', KEYS[2], ARGV[9], ARGV[10])
elseif op == 'mark' then
  -- Raise a mark to ARGV[5] (never lower it) and keep it until ARGV[6] ms (never sooner).
  local current = tonumber(redis.call('GET', KEYS[1]) or '0')
  local before = tonumber(ARGV[5])
  if before > current then current = before end
  local expiry = redis.call('PEXPIRETIME', KEYS[1])
  local untilMs = tonumber(ARGV[6])
  if expiry > untilMs then untilMs = expiry end
  redis.call('SET', KEYS[1], tostring(current), 'PXAT', untilMs)
  result = current
else
  return redis.error_reply('unknown change operation')
end
redis.call('PUBLISH', ARGV[1], '{"v":' .. version .. ',' .. string.sub(ARGV[2], 2))
return result
`;

type ChangeOperation = ['set', string, string?] | ['del'] | ['hset', string, string] | ['hdel', string] | ['mark', string, string] |
  ['account', string, string, string, string, string, string];

/** The recorded first sighting, written by the first caller only. */
const FIRST_SIGHTING_SCRIPT = `
local recorded = redis.call('GET', KEYS[1])
if recorded then return recorded end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
`;

/** Adds an endpoint unless the account has ARGV[3] already. */
const ADD_WEBHOOK_SCRIPT = `
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

/** Moves up to ARGV[2] retries due by ARGV[1] (ms) from the retry set into the queue, oldest first. */
const PROMOTE_RETRIES_SCRIPT = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', 'd', member)
  redis.call('ZREM', KEYS[1], member)
end
return #due
`;

const DELIVERY_GROUP = 'deliverers';

/** How long a delivery attempt history is kept after its last attempt. */
const ATTEMPTS_TTL_MS = 30 * 86_400_000;

export interface RedisConnectionOptions {
  /** How long one command may take before the store counts as unavailable, ms. */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** ACL user name and password (REDIS_USERNAME, REDIS_PASSWORD). */
  username?: string;
  password?: string;
  /** TLS on; `ca` (PEM) for a private CA (REDIS_TLS, rediss://, REDIS_TLS_CA_FILE). */
  tls?: boolean;
  ca?: string | Buffer;
}

/** Options that make a dead or hung Redis fail fast instead of queueing requests. */
export function failFastRedisOptions(options: RedisConnectionOptions = {}): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs ?? 500,
    connectTimeout: options.connectTimeoutMs ?? 1000,
    // Reconnect quickly and forever: the gateway recovers by itself once Redis is back.
    retryStrategy: (times) => Math.min(100 * times, 1000),
    lazyConnect: false,
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
    ...(options.tls ? { tls: options.ca !== undefined ? { ca: options.ca } : {} } : {}),
  };
}

/**
 * ioredis listens for a connection's first `error` only (`stream.once`). A TLS connection can
 * fail twice (the certificate check, then the server's alert), and an unheard second error
 * would end the process. On the client's first error, the failing connection gets a listener
 * that stays; the client's own error handling is unchanged.
 */
export function guardConnectionErrors<C extends Redis | Cluster>(client: C): C {
  const guarded = new WeakSet<object>();
  client.on('error', () => {
    const stream = (client as unknown as { stream?: { on(event: string, listener: () => void): void } }).stream;
    if (stream && !guarded.has(stream)) {
      guarded.add(stream);
      stream.on('error', () => undefined);
    }
  });
  return client;
}

const closedOnPurpose = new WeakSet<object>();

/** The gateway is closing `client` itself: `keepConnecting` lets it end. */
export function closeOnPurpose(client: Redis | Cluster): void {
  closedOnPurpose.add(client);
}

/**
 * ioredis reconnects after a lost connection, but gives a client up for good (every command
 * then fails with "Connection is closed.") when the connection is dropped while the client is
 * still connecting. Under Sentinel that is a failover's usual course: the primary dies, the
 * client asks the Sentinels for the new one, and meanwhile the old connection's failover
 * detector hears `+switch-master` and drops the connection being made (a CI run saw a gateway
 * answer 503 for good after a failover that had finished). The gateway must recover by itself
 * (contract §8), so a client that ends that way connects again. An end that follows a close
 * (`quit`, `disconnect`) is what its owner asked for and stands, as does any end of a client
 * the gateway closes itself (`closeOnPurpose`, which also covers a close while connecting).
 */
export function keepConnecting<C extends Redis | Cluster>(client: C, delayMs = 200): C {
  if (!(client instanceof Redis)) return client;
  // ioredis emits each status it takes, in order.
  let previous: string = client.status;
  for (const status of ['connecting', 'connect', 'ready', 'close', 'reconnecting']) {
    client.on(status, () => {
      previous = status;
    });
  }
  client.on('end', () => {
    const afterClose = previous === 'close';
    previous = 'end';
    if (afterClose || closedOnPurpose.has(client)) return;
    setTimeout(() => {
      if (client.status === 'end' && !closedOnPurpose.has(client)) client.connect().catch(() => undefined);
    }, delayMs).unref();
  });
  return client;
}

/** Both guards: every error heard, and no end the gateway did not ask for. */
export function guardConnection<C extends Redis | Cluster>(client: C): C {
  return keepConnecting(guardConnectionErrors(client));
}

export function createRedisClient(url: string, options: RedisConnectionOptions = {}): Redis {
  return guardConnection(new Redis(url, failFastRedisOptions({ ...options, tls: options.tls || url.startsWith('rediss://') })));
}

export function createRedisClusterClient(nodes: ClusterNode[], options: RedisConnectionOptions = {}): Cluster {
  const redisOptions = failFastRedisOptions(options);
  return new Cluster(nodes, {
    enableOfflineQueue: false,
    clusterRetryStrategy: redisOptions.retryStrategy,
    redisOptions,
  });
}

/**
 * The primary that `sentinels` name `name`. The Sentinels are asked without credentials (they
 * usually have none), over TLS when TLS is on. On `+switch-master` the client drops its
 * connection and asks the Sentinels again (failoverDetector), and it never gives up
 * reconnecting, so the gateway follows a failover by itself.
 */
export function createRedisSentinelClient(
  sentinels: Array<{ host: string; port: number }>,
  name: string,
  options: RedisConnectionOptions = {},
): Redis {
  const base = failFastRedisOptions(options);
  return guardConnection(new Redis({
    ...base,
    sentinels,
    name,
    role: 'master',
    failoverDetector: true,
    sentinelRetryStrategy: (times) => Math.min(100 * times, 1000),
    sentinelReconnectStrategy: () => 200,
    ...(options.tls ? { enableTLSForSentinelMode: true, sentinelTLS: base.tls ?? {} } : {}),
  }));
}

export interface DurabilityOptions {
  /**
   * How long a revocation (or auth-token deletion, signing-key change) may wait for every
   * replica the primary reports to acknowledge it, ms; past it the write answers 503.
   */
  waitTimeoutMs?: number;
  /** Replicas required even when the primary reports fewer (1 under Sentinel). */
  minReplicas?: number;
}

export class RedisStore implements GatewayStore {
  readonly kind = 'redis' as const;

  redisBacking(): RedisBacking {
    return { client: this.client, prefix: this.prefix };
  }
  /**
   * Where changes are announced: every change bumps `versionKey` and publishes its notice on
   * `channel`, with its version, in the same script (see CHANGE_SCRIPT).
   */
  readonly changes: { channel: string; versionKey: string };

  private readonly waitTimeoutMs: number;
  private readonly minReplicas: number;

  constructor(
    readonly client: RedisClient,
    private readonly prefix: string = 'tg:',
    durability: DurabilityOptions = {},
  ) {
    if (/[{}]/.test(prefix)) throw new Error('The Redis key prefix must not contain { or }.');
    this.changes = { channel: `${prefix}mirror`, versionKey: `${prefix}mirror:v` };
    this.waitTimeoutMs = durability.waitTimeoutMs ?? 500;
    this.minReplicas = durability.minReplicas ?? 0;
  }

  /**
   * Contract §8: a change that must survive a failover (a revocation, a deleted auth token, a
   * signing key set or removed) is answered only once every replica the primary reports (and
   * at least `minReplicas`) has it. WAIT counts the writes of this connection, so it runs on
   * the connection that wrote; on a Cluster a pipeline led by the account's key takes it to the
   * account's primary. WAIT is asked in slices shorter than the command timeout.
   */
  private async replicated(accountKey: string): Promise<void> {
    const onPrimary = () => this.client.pipeline().exists(accountKey);
    const [, info] = await this.exec(onPrimary().info('replication'));
    const reported = Number(/connected_slaves:(\d+)/.exec(String(info))?.[1] ?? 0);
    const needed = Math.max(reported, this.minReplicas);
    if (needed === 0) return;
    const deadline = Date.now() + this.waitTimeoutMs;
    for (;;) {
      const slice = Math.max(1, Math.min(200, deadline - Date.now()));
      const [, acknowledged] = await this.exec(onPrimary().wait(needed, slice));
      if (Number(acknowledged) >= needed) return;
      if (Date.now() >= deadline) {
        throw new StoreUnavailableError('token store unavailable', {
          cause: new Error(`${String(acknowledged)} of ${needed} replicas acknowledged the change within ${this.waitTimeoutMs} ms`),
        });
      }
    }
  }

  /**
   * Stores a change and announces it, atomically. On a single node the script also takes the
   * version. On a Cluster the counter lives in another slot than the account, so the version is
   * taken first and the script carries it: a version taken whose change never comes is a gap
   * that readers resolve by emptying their mirror, never a change they miss.
   */
  private async change(keys: string[], notice: Change, operation: ChangeOperation): Promise<unknown> {
    const { channel, versionKey } = this.changes;
    const version = this.client.isCluster ? String(await this.client.incr(versionKey)) : '';
    const allKeys = version === '' ? [...keys, versionKey] : keys;
    const args = [channel, JSON.stringify(notice), version, ...(operation as Array<string | undefined>).filter((a): a is string => a !== undefined)];
    return this.client.eval(CHANGE_SCRIPT, allKeys.length, ...allKeys, ...args);
  }

  private accountKey(apiKey: string, suffix: string): string {
    return `${this.prefix}{${apiKey}}:${suffix}`;
  }

  private idKey(accountId: string): string {
    return `${this.prefix}id:${accountId}`;
  }

  /** Runs a store operation; any Redis failure becomes StoreUnavailableError. */
  private async run<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error;
      throw new StoreUnavailableError('token store unavailable', { cause: error });
    }
  }

  /** Executes a pipeline and fails as a whole if any command failed. */
  private async exec(pipeline: ReturnType<RedisClient['pipeline']>): Promise<unknown[]> {
    const results = (await pipeline.exec()) ?? [];
    return results.map(([error, value]) => {
      if (error) throw error;
      return value;
    });
  }

  async ping(): Promise<void> {
    await this.run(() => this.client.ping());
  }

  async close(): Promise<void> {
    closeOnPurpose(this.client);
    try {
      await Promise.race([
        this.client.quit(),
        new Promise((resolve) => setTimeout(resolve, 1000).unref()),
      ]);
    } catch {
      // Already gone: nothing to flush.
    }
    this.client.disconnect();
  }

  async createAccount(account: AccountRecord, firstAuthToken: AuthTokenRecord): Promise<void> {
    await this.run(async () => {
      await this.change(
        [this.accountKey(account.apiKey, 'a'), this.accountKey(account.apiKey, 'at')],
        { t: 'account', k: account.apiKey },
        ['account', account.id, account.name, account.apiKey, account.createdAt, firstAuthToken.id, encodeAuthToken(firstAuthToken)],
      );
      await this.client.set(this.idKey(account.id), account.apiKey);
    });
  }

  async findAccountById(id: string): Promise<AccountRecord | null> {
    return this.run(async () => {
      const apiKey = await this.client.get(this.idKey(id));
      return apiKey === null ? null : decodeAccount(await this.client.hgetall(this.accountKey(apiKey, 'a')));
    });
  }

  async findAccountByApiKey(apiKey: string): Promise<AccountRecord | null> {
    return this.run(async () => decodeAccount(await this.client.hgetall(this.accountKey(apiKey, 'a'))));
  }

  async getCredentials(apiKey: string): Promise<{ account: AccountRecord; authTokens: AuthTokenRecord[] } | null> {
    return this.run(async () => {
      const [account, tokens] = await this.exec(
        this.client.pipeline().hgetall(this.accountKey(apiKey, 'a')).hgetall(this.accountKey(apiKey, 'at')),
      );
      const decoded = decodeAccount(account as Record<string, string>);
      return decoded ? { account: decoded, authTokens: decodeAuthTokens(tokens as Record<string, string>) } : null;
    });
  }

  async getIssuanceContext(apiKey: string, userId: string): Promise<IssuanceContext | null> {
    return this.run(async () => {
      const [account, tokens, user] = await this.exec(
        this.client
          .pipeline()
          .hgetall(this.accountKey(apiKey, 'a'))
          .hgetall(this.accountKey(apiKey, 'at'))
          .get(this.accountKey(apiKey, `u:${userId}`)),
      );
      const decoded = decodeAccount(account as Record<string, string>);
      if (!decoded) return null;
      return {
        account: decoded,
        authTokens: decodeAuthTokens(tokens as Record<string, string>),
        user: user === null ? null : (JSON.parse(user as string) as UserEntry),
      };
    });
  }

  async addAuthToken(apiKey: string, token: AuthTokenRecord): Promise<void> {
    await this.run(() =>
      this.change([this.accountKey(apiKey, 'at')], { t: 'account', k: apiKey }, ['hset', token.id, encodeAuthToken(token)]),
    );
  }

  async listAuthTokens(apiKey: string): Promise<AuthTokenRecord[]> {
    return this.run(async () => decodeAuthTokens(await this.client.hgetall(this.accountKey(apiKey, 'at'))));
  }

  async deleteAuthToken(apiKey: string, authTokenId: string): Promise<boolean> {
    return this.run(async () => {
      const key = this.accountKey(apiKey, 'at');
      const deleted = (await this.change([key], { t: 'account', k: apiKey }, ['hdel', authTokenId])) === 1;
      await this.replicated(key);
      return deleted;
    });
  }

  async setSigningKey(apiKey: string, publicKeyPem: string): Promise<void> {
    await this.run(async () => {
      const key = this.accountKey(apiKey, 'sk');
      await this.change([key], { t: 'account', k: apiKey }, ['set', publicKeyPem]);
      await this.replicated(key);
    });
  }

  async getSigningKey(apiKey: string): Promise<string | null> {
    return this.run(() => this.client.get(this.accountKey(apiKey, 'sk')));
  }

  async deleteSigningKey(apiKey: string): Promise<boolean> {
    return this.run(async () => {
      const key = this.accountKey(apiKey, 'sk');
      const deleted = (await this.change([key], { t: 'account', k: apiKey }, ['del'])) === 1;
      await this.replicated(key);
      return deleted;
    });
  }

  async putUser(apiKey: string, userId: string, entry: UserEntry): Promise<void> {
    await this.run(() =>
      this.change([this.accountKey(apiKey, `u:${userId}`)], { t: 'user', k: apiKey, u: userId }, ['set', JSON.stringify(entry)]),
    );
  }

  async getUser(apiKey: string, userId: string): Promise<UserEntry | null> {
    return this.run(async () => {
      const raw = await this.client.get(this.accountKey(apiKey, `u:${userId}`));
      return raw === null ? null : (JSON.parse(raw) as UserEntry);
    });
  }

  async deleteUser(apiKey: string, userId: string): Promise<boolean> {
    return this.run(
      async () => (await this.change([this.accountKey(apiKey, `u:${userId}`)], { t: 'user', k: apiKey, u: userId }, ['del'])) === 1,
    );
  }

  async recordIssuedToken(record: IssuedTokenRecord): Promise<void> {
    // Compact on purpose: one record per live token, so its size is the store's size.
    const value = JSON.stringify([record.userId, record.organizationId, record.iat, record.exp]);
    await this.run(() =>
      this.client.set(this.accountKey(record.apiKey, `t:${record.jti}`), value, 'PXAT', record.exp * 1000),
    );
  }

  async getIssuedToken(apiKey: string, jti: string): Promise<IssuedTokenRecord | null> {
    return this.run(async () => {
      const raw = await this.client.get(this.accountKey(apiKey, `t:${jti}`));
      if (raw === null) return null;
      const [userId, organizationId, iat, exp] = JSON.parse(raw) as [string, string, number, number];
      return { jti, apiKey, userId, organizationId, iat, exp };
    });
  }

  async revokeToken(apiKey: string, jti: string, until: number): Promise<void> {
    await this.run(async () => {
      const key = this.accountKey(apiKey, `r:${jti}`);
      await this.change([key], { t: 'jti', k: apiKey, j: jti }, ['set', '1', String(until * 1000)]);
      await this.replicated(key);
    });
  }

  async revokeUser(apiKey: string, userId: string, before: number, until: number): Promise<void> {
    await this.raiseMark(this.accountKey(apiKey, `ru:${userId}`), { t: 'user', k: apiKey, u: userId }, before, until);
  }

  async revokeOrganization(apiKey: string, organizationId: string, before: number, until: number): Promise<void> {
    await this.raiseMark(this.accountKey(apiKey, `ro:${organizationId}`), { t: 'org', k: apiKey, o: organizationId }, before, until);
  }

  private auditKey(stream: string): string {
    return `${this.prefix}ev:${stream}`;
  }

  async appendAuditEvent(event: AuditEventRecord, bounds: AuditBounds): Promise<void> {
    const json = JSON.stringify(event);
    // Positions follow the gateway's clock (`<ms>-*`), as the age bound does; when another
    // instance's clock already wrote a later one, Redis picks the next (`*`).
    const minId = `${Math.max(0, bounds.nowMs - bounds.retentionMs)}-0`;
    const maxLen = String(bounds.maxEvents);
    await this.run(() =>
      Promise.all(
        streamsOf(event).map(async (stream) => {
          const key = this.auditKey(stream);
          await this.client
            .xadd(key, 'MAXLEN', maxLen, `${Math.floor(bounds.nowMs)}-*`, 'e', json)
            .catch(async (error: Error) => {
              if (!/equal or smaller/i.test(error.message)) throw error;
              return this.client.xadd(key, 'MAXLEN', maxLen, '*', 'e', json);
            });
          // A stream nobody writes to for the whole retention goes away with its events.
          await this.exec(this.client.pipeline().xtrim(key, 'MINID', minId).pexpire(key, bounds.retentionMs));
        }),
      ),
    );
  }

  async listAuditEvents(query: AuditQuery, bounds: AuditBounds): Promise<AuditPage> {
    return this.run(async () => {
      const key = this.auditKey(streamOf(query));
      // Positions are the writers' clocks, events carry theirs too: read a minute wider, filter exactly.
      const margin = 60_000;
      let end = query.untilMs === undefined ? '+' : String(query.untilMs + margin);
      if (query.cursor !== undefined) end = `(${query.cursor}`;
      const floor = Math.max(query.sinceMs ?? 0, bounds.nowMs - bounds.retentionMs) - margin;
      const start = floor > 0 ? String(floor) : '-';
      const budget = maxScanned(query.limit);
      const batch = Math.min(budget, Math.max(100, query.limit + 1));
      const entries: StreamEntry[] = [];
      let exhausted = false;
      while (entries.length < budget) {
        const rows = (await this.client.xrevrange(key, end, start, 'COUNT', batch)) as Array<[string, string[]]>;
        for (const [position, fields] of rows) {
          const json = fields[fields.indexOf('e') + 1];
          if (json !== undefined) entries.push({ position, event: JSON.parse(json) as AuditEventRecord });
        }
        if (rows.length < batch) {
          exhausted = true;
          break;
        }
        // Enough for the page once the filters have had their say? pageOf decides; read on only
        // while what was read cannot fill it.
        const page = pageOf(entries, query, bounds, false);
        if (page.events.length === query.limit) break;
        end = `(${rows[rows.length - 1]![0]}`;
      }
      return pageOf(entries, query, bounds, exhausted);
    });
  }

  async recordDpopProof(jkt: string, jti: string, keepUntilMs: number): Promise<boolean> {
    // SET NX: of two instances that see the same proof at once, exactly one records it.
    const key = `${this.prefix}dp:${jkt}:${createHash('sha256').update(jti).digest('base64url')}`;
    return this.run(async () => (await this.client.set(key, '1', 'PXAT', keepUntilMs, 'NX')) === 'OK');
  }

  async sharedSecret(name: string, candidate: string): Promise<string> {
    return this.run(async () => String(await this.client.eval(FIRST_SIGHTING_SCRIPT, 1, `${this.prefix}secret:${name}`, candidate)));
  }

  async recordKeySighting(kid: string, atMs: number): Promise<number> {
    return this.run(async () => {
      // SET NX then GET in one script: the first writer wins and every caller reads its value.
      const recorded = await this.client.eval(FIRST_SIGHTING_SCRIPT, 1, `${this.prefix}ks:${kid}`, String(atMs));
      return Number(recorded);
    });
  }

  private webhooksKey(accountId: string): string {
    return `${this.prefix}wh:a:${accountId}`;
  }

  private attemptsKey(webhookId: string): string {
    return `${this.prefix}wh:d:${webhookId}`;
  }

  /** The queue and the retry set share a hash tag, so the promotion script may touch both on a cluster. */
  private get queueKey(): string {
    return `${this.prefix}{wh}:q`;
  }

  private get retryKey(): string {
    return `${this.prefix}{wh}:r`;
  }

  async addWebhook(webhook: WebhookRecord, max: number): Promise<boolean> {
    return this.run(async () => {
      const added = await this.client.eval(
        ADD_WEBHOOK_SCRIPT,
        1,
        this.webhooksKey(webhook.accountId),
        webhook.id,
        JSON.stringify(webhook),
        String(max),
      );
      return added === 1;
    });
  }

  async listWebhooks(accountId: string): Promise<WebhookRecord[]> {
    return this.run(async () =>
      Object.values(await this.client.hgetall(this.webhooksKey(accountId)))
        .map((json) => JSON.parse(json) as WebhookRecord)
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id)),
    );
  }

  async getWebhook(accountId: string, webhookId: string): Promise<WebhookRecord | null> {
    return this.run(async () => {
      const json = await this.client.hget(this.webhooksKey(accountId), webhookId);
      return json === null ? null : (JSON.parse(json) as WebhookRecord);
    });
  }

  async deleteWebhook(accountId: string, webhookId: string): Promise<boolean> {
    return this.run(async () => {
      const removed = (await this.client.hdel(this.webhooksKey(accountId), webhookId)) === 1;
      if (removed) await this.client.del(this.attemptsKey(webhookId));
      return removed;
    });
  }

  async enqueueDeliveries(deliveries: WebhookDelivery[]): Promise<void> {
    if (deliveries.length === 0) return;
    await this.run(async () => {
      const pipeline = this.client.multi();
      for (const delivery of deliveries) pipeline.xadd(this.queueKey, '*', 'd', JSON.stringify(delivery));
      await this.exec(pipeline);
    });
  }

  private groupReady = false;

  /** The consumer group, made once (from the queue's start, so nothing queued before it is missed). */
  private async ensureDeliveryGroup(): Promise<void> {
    if (this.groupReady) return;
    try {
      await this.client.xgroup('CREATE', this.queueKey, DELIVERY_GROUP, '0', 'MKSTREAM');
    } catch (error) {
      if (!/BUSYGROUP/.test((error as Error).message)) throw error;
    }
    this.groupReady = true;
  }

  async claimDeliveries(consumer: string, count: number, nowMs: number, visibilityMs: number): Promise<ClaimedDelivery[]> {
    return this.run(async () => {
      try {
        return await this.claim(consumer, count, nowMs, visibilityMs);
      } catch (error) {
        // The queue was deleted under us (its group with it): make the group again next time.
        if (/NOGROUP/.test((error as Error).message)) this.groupReady = false;
        throw error;
      }
    });
  }

  private async claim(consumer: string, count: number, nowMs: number, visibilityMs: number): Promise<ClaimedDelivery[]> {
    await this.ensureDeliveryGroup();
    await this.client.eval(PROMOTE_RETRIES_SCRIPT, 2, this.retryKey, this.queueKey, String(Math.floor(nowMs)), '100');
    const claimed: ClaimedDelivery[] = [];
    const take = (rows: Array<[string, string[] | null]> | null | undefined) => {
      for (const [receipt, fields] of rows ?? []) {
        const json = fields?.[fields.indexOf('d') + 1];
        if (json !== undefined) claimed.push({ ...(JSON.parse(json) as WebhookDelivery), receipt });
      }
    };
    // Deliveries a dead consumer took and never settled come first.
    const [, stale] = (await this.client.xautoclaim(
      this.queueKey,
      DELIVERY_GROUP,
      consumer,
      Math.max(0, Math.floor(visibilityMs)),
      '0-0',
      'COUNT',
      count,
    )) as [string, Array<[string, string[] | null]>];
    take(stale);
    if (claimed.length < count) {
      const fresh = (await this.client.xreadgroup(
        'GROUP',
        DELIVERY_GROUP,
        consumer,
        'COUNT',
        count - claimed.length,
        'STREAMS',
        this.queueKey,
        '>',
      )) as Array<[string, Array<[string, string[]]>]> | null;
      take(fresh?.[0]?.[1]);
    }
    return claimed;
  }

  async settleDelivery(claimed: ClaimedDelivery, retry?: { delivery: WebhookDelivery; dueAtMs: number }): Promise<void> {
    await this.run(async () => {
      const pipeline = this.client
        .multi()
        .xack(this.queueKey, DELIVERY_GROUP, claimed.receipt)
        .xdel(this.queueKey, claimed.receipt);
      if (retry) pipeline.zadd(this.retryKey, Math.floor(retry.dueAtMs), JSON.stringify(retry.delivery));
      await this.exec(pipeline);
    });
  }

  async recordDeliveryAttempt(webhookId: string, attempt: DeliveryAttempt): Promise<void> {
    const key = this.attemptsKey(webhookId);
    await this.run(() =>
      this.exec(
        this.client
          .multi()
          .lpush(key, JSON.stringify(attempt))
          .ltrim(key, 0, MAX_DELIVERY_ATTEMPTS_KEPT - 1)
          .pexpire(key, ATTEMPTS_TTL_MS),
      ),
    );
  }

  async listDeliveryAttempts(webhookId: string): Promise<DeliveryAttempt[]> {
    return this.run(async () =>
      (await this.client.lrange(this.attemptsKey(webhookId), 0, -1)).map((json) => JSON.parse(json) as DeliveryAttempt),
    );
  }

  private async raiseMark(key: string, notice: Change, before: number, until: number): Promise<void> {
    await this.run(async () => {
      await this.change([key], notice, ['mark', String(before), String(until * 1000)]);
      await this.replicated(key);
    });
  }

  async getTokenContext(query: TokenContextQuery): Promise<TokenContext> {
    return this.run(async () => {
      const k = (suffix: string) => this.accountKey(query.apiKey, suffix);
      const pipeline = this.client.pipeline().hgetall(k('a'));
      // Absent parts are read as keys that cannot exist, so the reply shape stays fixed.
      pipeline.get(query.withSigningKey ? k('sk') : k('-'));
      pipeline.exists(query.jti === undefined ? k('-') : k(`r:${query.jti}`));
      pipeline.get(query.userId === undefined ? k('-') : k(`ru:${query.userId}`));
      pipeline.get(query.organizationId === undefined ? k('-') : k(`ro:${query.organizationId}`));
      const [account, signingKey, revoked, userMark, orgMark] = await this.exec(pipeline);
      return {
        account: decodeAccount(account as Record<string, string>),
        signingKey: (signingKey as string | null) ?? null,
        tokenRevoked: revoked === 1,
        userRevokedBefore: userMark === null ? null : Number(userMark),
        organizationRevokedBefore: orgMark === null ? null : Number(orgMark),
      };
    });
  }
}

function encodeAuthToken(token: AuthTokenRecord): string {
  return JSON.stringify({ h: token.hash, c: token.createdAt });
}

function decodeAuthTokens(raw: Record<string, string>): AuthTokenRecord[] {
  return Object.entries(raw)
    .map(([id, value]) => {
      const { h, c } = JSON.parse(value) as { h: string; c: string };
      return { id, hash: h, createdAt: c };
    })
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
}

function decodeAccount(raw: Record<string, string> | null | undefined): AccountRecord | null {
  if (!raw || raw.id === undefined || raw.apiKey === undefined) return null;
  return { id: raw.id, name: raw.name ?? '', apiKey: raw.apiKey, createdAt: raw.createdAt ?? '' };
}
