/**
 * Abuse limits (contract §8), with rate-limiter-flexible: failed credential checks per client
 * address and per apiKey, and an issuance quota per apiKey. On the Redis store the counters
 * live in Redis (RateLimiterRedis on the store's own client, under the store's prefix), so
 * every instance sharing the store shares the limits; on the memory store they live in
 * memory, shared by every app using that same store object.
 *
 * The apiKey is public, so its limit must not lock its owner out:
 *   1. a limited ADDRESS is refused (429) before the credentials are even looked at;
 *   2. the credentials are checked;
 *   3. only a FAILED check counts, against the address and the apiKey; when either is then
 *      over its limit the answer is 429 instead of 401;
 *   4. a successful check never consults the apiKey limit: the right authToken keeps working
 *      from any address that is not itself limited.
 *
 * A failure of the limiter's store fails closed: the request is answered 503
 * store_unavailable, never let through unlimited and never crashed.
 *
 * Step 1 runs on every request that takes credentials, so on Redis it would cost a round trip
 * each time. An address found with no failed check at all is remembered as clean for
 * CLEAN_ADDRESS_MS: honest traffic asks Redis at most once a second per address and instance,
 * and an address limited through another instance is refused here within that second. An
 * address with any failure on record is asked about every time.
 */
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { CREDENTIAL_PATTERN } from '../accounts/secrets';
import type { Config } from '../config';
import { GatewayError, storeUnavailable } from '../errors';
import type { GatewayStore } from '../store';
import type { RateLimitName } from './metrics';

export type RateLimits = Config['rateLimits'];

export interface AbuseLimiterOptions {
  store: GatewayStore;
  limits: RateLimits;
  /** Called each time a request is refused, with the limit that refused it (metrics). */
  onLimited?: (limit: RateLimitName) => void;
  /**
   * Called once per window when a limit trips: on the first refusal of the window (the audit
   * trail), never again for the refusals that follow, so a flood costs one event per window.
   */
  onTripped?: (trip: RateLimitTrip) => Promise<void> | void;
  /** Wall-clock ms, for how long a clean address is remembered (the limiter's windows are real time too). */
  now?: () => number;
}

/** Memory counters, kept per store object so that apps sharing a store share its limits. */
const memoryLimiters = new WeakMap<GatewayStore, Map<string, RateLimiterMemory>>();

function makeLimiter(store: GatewayStore, name: string, points: number, duration: number): RateLimiterAbstract {
  const redis = store.redisBacking();
  if (redis) {
    return new RateLimiterRedis({
      storeClient: redis.client,
      keyPrefix: `${redis.prefix}rl:${name}`,
      points,
      duration,
      // The client never queues (the store is built fail-fast): a Redis that is not ready is a
      // failure now, not a request held until it returns.
      rejectIfRedisNotReady: true,
    });
  }
  if (store.kind === 'redis') {
    // Limits kept in one process would not be shared: refuse loudly rather than quietly.
    throw new Error('The rate limiter cannot find the Redis client behind this Redis store.');
  }
  let byName = memoryLimiters.get(store);
  if (!byName) {
    byName = new Map();
    memoryLimiters.set(store, byName);
  }
  const id = `${name}:${points}:${duration}`;
  let limiter = byName.get(id);
  if (!limiter) {
    limiter = new RateLimiterMemory({ keyPrefix: `rl:${name}`, points, duration });
    byName.set(id, limiter);
  }
  return limiter;
}

/** How long an address found clean is not asked about again, ms. */
export const CLEAN_ADDRESS_MS = 1000;
const MAX_CLEAN_ADDRESSES = 10_000;

interface Outcome {
  limited: boolean;
  msBeforeNext: number;
  /** This refusal is the first of its window. */
  tripped: boolean;
}

export interface RateLimitTrip {
  limit: RateLimitName;
  /** What was counted: the address (IPv6 per /64) or the apiKey. */
  key: string;
  retryAfterSeconds: number;
}

export class AbuseLimiter {
  private readonly address: RateLimiterAbstract | undefined;
  private readonly apiKey: RateLimiterAbstract | undefined;
  private readonly issuance: RateLimiterAbstract | undefined;
  private readonly onLimited: (limit: RateLimitName) => void;
  private readonly onTripped: (trip: RateLimitTrip) => Promise<void> | void;
  private readonly now: () => number;
  /** Redis only: addresses found with no failed check, and when (see CLEAN_ADDRESS_MS). */
  private readonly cleanAddresses: Map<string, number> | undefined;

  constructor(options: AbuseLimiterOptions) {
    const { store, limits } = options;
    // A limit of 0 is off.
    this.address =
      limits.failedAuthPerAddress > 0
        ? makeLimiter(store, 'fa:addr', limits.failedAuthPerAddress, limits.windowSeconds)
        : undefined;
    this.apiKey =
      limits.failedAuthPerApiKey > 0
        ? makeLimiter(store, 'fa:key', limits.failedAuthPerApiKey, limits.windowSeconds)
        : undefined;
    this.issuance = limits.issuancePerMinute > 0 ? makeLimiter(store, 'iss', limits.issuancePerMinute, 60) : undefined;
    this.onLimited = options.onLimited ?? (() => undefined);
    this.onTripped = options.onTripped ?? (() => undefined);
    this.now = options.now ?? Date.now;
    // Memory counters are local and cheap to read: they are read every time.
    this.cleanAddresses = store.redisBacking() ? new Map() : undefined;
  }

  /** Step 1: 429 when this address is over its failed-check limit, whatever it presents. */
  async assertAddressAllowed(address: string): Promise<void> {
    if (!this.address) return;
    const clean = this.cleanAddresses;
    const cleanSince = clean?.get(address);
    if (cleanSince !== undefined && this.now() - cleanSince < CLEAN_ADDRESS_MS) return;
    let state: RateLimiterRes | null;
    try {
      state = await this.address.get(address);
    } catch (error) {
      throw storeUnavailable(error);
    }
    if (clean && (!state || state.consumedPoints === 0)) {
      if (clean.size >= MAX_CLEAN_ADDRESSES) clean.clear();
      clean.set(address, this.now());
    } else {
      clean?.delete(address);
    }
    if (state && state.consumedPoints > this.address.points) {
      throw this.refuse('address', state.msBeforeNext);
    }
  }

  /**
   * Step 3: counts a failed credential check against the address and the apiKey (when it is
   * one: a string that cannot be an apiKey is counted against the address only). Returns the
   * 429 to answer instead of the 401 when either is now over its limit.
   */
  async recordFailure(address: string, apiKey: string | undefined): Promise<GatewayError | undefined> {
    this.cleanAddresses?.delete(address);
    const countKey = apiKey !== undefined && CREDENTIAL_PATTERN.test(apiKey);
    const [byAddress, byApiKey] = await Promise.all([
      consume(this.address, address),
      countKey ? consume(this.apiKey, apiKey) : undefined,
    ]);
    // When both are over, the client must wait for the later of the two windows.
    const wait = Math.max(byAddress?.limited ? byAddress.msBeforeNext : 0, byApiKey?.limited ? byApiKey.msBeforeNext : 0);
    if (byAddress?.tripped) await this.trip('address', address, byAddress.msBeforeNext);
    if (byApiKey?.tripped) await this.trip('api_key', apiKey!, byApiKey.msBeforeNext);
    if (byAddress?.limited) return this.refuse('address', wait);
    if (byApiKey?.limited) return this.refuse('api_key', wait);
    return undefined;
  }

  /** The issuance quota: one point per token, after the credentials were found right. */
  async consumeIssuance(apiKey: string): Promise<void> {
    const outcome = await consume(this.issuance, apiKey);
    if (outcome?.tripped) await this.trip('issuance', apiKey, outcome.msBeforeNext);
    if (outcome?.limited) {
      throw this.refuse('issuance', outcome.msBeforeNext, 'The issuance quota of this apiKey is used up; try again later.');
    }
  }

  private async trip(limit: RateLimitName, key: string, msBeforeNext: number): Promise<void> {
    await this.onTripped({ limit, key, retryAfterSeconds: retryAfterSeconds(msBeforeNext) });
  }

  private refuse(
    limit: RateLimitName,
    msBeforeNext: number,
    message = 'Too many failed credential checks; try again later.',
  ): GatewayError {
    this.onLimited(limit);
    return new GatewayError('rate_limited', message, {
      retryAfterSeconds: retryAfterSeconds(msBeforeNext),
    });
  }
}

const retryAfterSeconds = (msBeforeNext: number): number => Math.max(1, Math.ceil(msBeforeNext / 1000));

/** One point against `key`; a store failure becomes store_unavailable (fail closed). */
async function consume(limiter: RateLimiterAbstract | undefined, key: string): Promise<Outcome | undefined> {
  if (!limiter) return undefined;
  try {
    const res = await limiter.consume(key);
    return { limited: false, msBeforeNext: res.msBeforeNext, tripped: false };
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) {
      // The counter goes on past the limit within a window: one above it is the first refusal.
      return { limited: true, msBeforeNext: rejection.msBeforeNext, tripped: rejection.consumedPoints === limiter.points + 1 };
    }
    throw storeUnavailable(rejection);
  }
}
