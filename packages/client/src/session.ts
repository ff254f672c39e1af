/**
 * The browser side: a user session that proves its token at /v1/auth/identify, keeps it, and
 * refreshes it before it expires.
 *
 * - The token comes from `fetchToken()`, the customer's own backend call, which answers the
 *   `data` of /v1/auth/token/get (`token`, `expiresIn`, `serverTime`, `expiresAt`).
 * - The refresh is timed from the local moment the token arrived plus `expiresIn` × a jittered
 *   0.8–0.9, never from `expiresAt`: a browser's clock may be off by hours, a duration is not.
 * - One refresh at a time, however many callers ask (single flight).
 * - A retryable failure (429, 5xx, network) is retried with capped exponential backoff; any
 *   other failure (token_invalid, token_revoked, a *_mismatch, ...) is reported and the session
 *   stops: the token is dropped and nothing is retried until `refresh()` is called again.
 *
 * Time and timers are injectable (`clock`, `setTimeout`, `clearTimeout`, `random`) so that the
 * whole schedule can be tested without waiting. Browser-safe: no Node-only API.
 */
import { GatewayClientError, isGatewayClientError } from './errors.js';
import { call, makeTransport, resultData, type FetchLike, type Transport } from './http.js';
import { createDpopKey, type DpopKey } from './dpop.js';

/** Who the browser says it is; checked against the token by the gateway. */
export interface SessionUser {
  userId: string;
  organizationId?: string;
  email?: string;
}

/** What the session asks `fetchToken` for. */
export interface TokenRequest {
  /** The thumbprint of the session's DPoP key, when it has one: pass it to getToken. */
  dpopJkt?: string;
}

/** What `fetchToken` answers: the `data` of /v1/auth/token/get, passed through by your backend. */
export interface TokenGrant {
  token: string;
  /** Lifetime in seconds. */
  expiresIn: number;
  /** Unix seconds by the gateway's clock (used only when expiresIn is absent). */
  serverTime?: number;
  expiresAt?: number;
  tokenId?: string;
}

/** The `data` of a successful identify. */
export interface IdentifiedUser {
  userId: string;
  organizationId?: string;
  email?: string;
  isAdmin: boolean;
  /** Unix seconds, by the gateway's clock. */
  expiresAt: number;
}

export interface SessionClock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export type TimerHandle = unknown;

export interface UserSessionOptions {
  baseUrl: string;
  /** The account's public apiKey. */
  apiKey: string;
  user: SessionUser;
  /**
   * Gets a fresh token from your backend (which calls getToken of the server client). With
   * `dpop`, pass `request.dpopJkt` on to getToken: the token is then bound to this page's key.
   */
  fetchToken: (request: TokenRequest) => Promise<TokenGrant>;
  /**
   * Sender-constrained tokens (DPoP): `true` makes a key pair that cannot be exported, once per
   * session (or pass your own from createDpopKey). Every identify then carries a proof, and
   * `dpopHeaders`/`fetch` sign one for each of your API calls. `baseUrl` must then be the
   * gateway's public URL (its JWT_ISSUER): proofs for identify name it.
   */
  dpop?: true | DpopKey;
  clock?: SessionClock;
  /** Uniform in [0, 1); jitters the refresh time and the backoff. */
  random?: () => number;
  setTimeout?: (callback: () => void, ms: number) => TimerHandle;
  clearTimeout?: (handle: TimerHandle) => void;
  fetch?: FetchLike;
  /** The share of the lifetime after which to refresh, jittered between the two. Default [0.8, 0.9]. */
  refreshWindow?: readonly [number, number];
  /** Backoff of retryable failures: initialMs × 2^(n-1), at most maxMs, jittered to 50–100 %. */
  backoff?: { initialMs?: number; maxMs?: number };
}

export interface SessionEvents {
  /** A new token is in place. Times are local milliseconds. */
  token_refreshed: { token: string; identity: IdentifiedUser; refreshAt: number; expiresAt: number };
  /** The refresh timer fired: a refresh starts now. */
  token_expiring: { token: string; expiresAt: number };
  /** The lifetime of the token passed without a new one: getToken() now answers undefined. */
  token_expired: { token: string; expiredAt: number };
  /** The gateway said token_revoked: the session stops. */
  token_revoked: { error: GatewayClientError };
  /** Any failed refresh; `willRetry` says whether the session tries again by itself. */
  error: { error: GatewayClientError; willRetry: boolean; retryInMs?: number };
}

export type SessionEvent = keyof SessionEvents;

export interface UserSession {
  /** Gets a token and proves it at /v1/auth/identify; answers the current identity if it is still live. */
  identify(): Promise<IdentifiedUser>;
  /** Gets and proves a new token now; concurrent calls share one refresh. Answers the token. */
  refresh(): Promise<string>;
  /** The current token, or undefined before the first identify, after expiry, or once stopped. */
  getToken(): string | undefined;
  /** The identity of the current token. */
  readonly identity: IdentifiedUser | undefined;
  /** Subscribes; answers the function that unsubscribes. */
  on<E extends SessionEvent>(event: E, listener: (payload: SessionEvents[E]) => void): () => void;
  /** Stops every timer; later calls to identify/refresh fail with session_closed. */
  close(): void;
  /**
   * The headers that present the current token on a call to your API: `Authorization: DPoP
   * <token>` and a `DPoP` proof for exactly this method and URL when the session binds its
   * tokens, else `Authorization: Bearer <token>`. Gets a token first if there is none.
   */
  dpopHeaders(method: string, url: string): Promise<Record<string, string>>;
  /** fetch() with those headers; a `use_dpop_nonce` answer is retried once with the nonce. */
  fetch(url: string, init?: RequestInit): Promise<Response>;
}

interface Current {
  token: string;
  identity: IdentifiedUser;
  /** Local milliseconds. */
  refreshAt: number;
  expiresAt: number;
}

const MAX_TIMER_MS = 2_147_483_647;
/** Codes after which the session must not retry by itself. */
const STOP_CODES = new Set(['token_invalid', 'token_revoked', 'user_mismatch', 'organization_mismatch', 'email_mismatch', 'account_mismatch']);

function closedError(): GatewayClientError {
  return new GatewayClientError({
    message: 'The session is closed.',
    status: 'FAILED_PRECONDITION',
    code: 'session_closed',
    retryable: false,
    httpStatus: 0,
  });
}

/** fetchToken is the customer's code: anything it throws is retried unless it says `retryable: false`. */
function fromFetchToken(error: unknown): GatewayClientError {
  if (isGatewayClientError(error)) return error;
  const retryable = (error as { retryable?: unknown } | null)?.retryable;
  return new GatewayClientError({
    message: `fetchToken failed: ${error instanceof Error ? error.message : String(error)}`,
    status: 'UNAVAILABLE',
    code: 'fetch_token_failed',
    retryable: retryable !== false,
    httpStatus: 0,
    cause: error,
  });
}

function badGrant(message: string): GatewayClientError {
  return new GatewayClientError({ message, status: 'INVALID_ARGUMENT', code: 'invalid_response', retryable: false, httpStatus: 0 });
}

/** Lifetime in seconds from the grant: expiresIn, else expiresAt - serverTime. */
function lifetimeOf(grant: TokenGrant): number {
  if (typeof grant.expiresIn === 'number' && Number.isFinite(grant.expiresIn) && grant.expiresIn > 0) return grant.expiresIn;
  if (typeof grant.expiresAt === 'number' && typeof grant.serverTime === 'number' && grant.expiresAt > grant.serverTime) {
    return grant.expiresAt - grant.serverTime;
  }
  throw badGrant('fetchToken must answer the data of /v1/auth/token/get (token, expiresIn, serverTime, expiresAt).');
}

export function createUserSession(options: UserSessionOptions): UserSession {
  if (typeof options.fetchToken !== 'function') throw new TypeError('fetchToken must be a function.');
  if (typeof options.user?.userId !== 'string') throw new TypeError('user.userId must be a string.');
  const transport: Transport = makeTransport(options.baseUrl, options.fetch);
  const clock: SessionClock = options.clock ?? { now: () => Date.now() };
  const random = options.random ?? Math.random;
  const schedule = options.setTimeout ?? ((callback: () => void, ms: number) => setTimeout(callback, ms));
  const cancel = options.clearTimeout ?? ((handle: TimerHandle) => clearTimeout(handle as ReturnType<typeof setTimeout>));
  const [windowLow, windowHigh] = options.refreshWindow ?? [0.8, 0.9];
  const initialBackoffMs = options.backoff?.initialMs ?? 1_000;
  const maxBackoffMs = options.backoff?.maxMs ?? 60_000;

  const listeners = new Map<SessionEvent, Set<(payload: never) => void>>();
  let current: Current | undefined;
  let inflight: Promise<Current> | undefined;
  let failures = 0;
  let closed = false;
  let dpopKey: Promise<DpopKey> | undefined;
  /** The last server nonce heard, for the next proof (RFC 9449 §8). */
  let dpopNonce: string | undefined;
  const keyOf = (): Promise<DpopKey> | undefined => {
    if (!options.dpop) return undefined;
    dpopKey ??= options.dpop === true ? createDpopKey() : Promise.resolve(options.dpop);
    return dpopKey;
  };
  const identifyUrl = `${options.baseUrl.replace(/\/+$/, '')}/v1/auth/identify`;

  /** Identify, with a proof when the token is bound; a nonce the gateway asks for is used once. */
  async function identifyWith(token: string, key: DpopKey | undefined): Promise<IdentifiedUser> {
    const send = async () => {
      const headers: Record<string, string> = {};
      if (key) headers.DPoP = await key.proof('POST', identifyUrl, { token, ...(dpopNonce ? { nonce: dpopNonce } : {}) });
      return call(transport, '/v1/auth/identify', {
        method: 'POST',
        headers,
        json: { data: { apiKey: options.apiKey, token, user: options.user } },
      });
    };
    try {
      return resultData<IdentifiedUser>(await send());
    } catch (error) {
      if (!key || !isGatewayClientError(error) || error.code !== 'use_dpop_nonce' || !error.dpopNonce) throw error;
      dpopNonce = error.dpopNonce;
      return resultData<IdentifiedUser>(await send());
    }
  }

  // Each timer is a slot; a fired callback checks it is still the slot's timer, so a timer
  // implementation without clearTimeout cannot fire a stale callback.
  type Slot = 'refresh' | 'expiry' | 'retry';
  const timers = new Map<Slot, { handle: TimerHandle; id: number }>();
  let timerIds = 0;
  function setTimer(slot: Slot, delayMs: number, callback: () => void): void {
    clearTimer(slot);
    const delay = Math.max(0, Math.round(delayMs));
    // Timers cannot wait longer than 2^31-1 ms (about 24.8 days): a longer delay is waited out
    // in steps, each re-armed for what is left by the clock, so the callback never fires early.
    const deadline = clock.now() + delay;
    const arm = (ms: number) => {
      const id = ++timerIds;
      const handle = schedule(() => {
        if (timers.get(slot)?.id !== id || closed) return;
        timers.delete(slot);
        if (ms === MAX_TIMER_MS) {
          const left = deadline - clock.now();
          if (left > 0) return arm(Math.min(MAX_TIMER_MS, left));
        }
        callback();
      }, ms);
      timers.set(slot, { handle, id });
    };
    arm(Math.min(MAX_TIMER_MS, delay));
  }
  function clearTimer(slot: Slot): void {
    const timer = timers.get(slot);
    if (timer) {
      timers.delete(slot);
      cancel(timer.handle);
    }
  }
  const clearAllTimers = () => (['refresh', 'expiry', 'retry'] as const).forEach(clearTimer);

  function emit<E extends SessionEvent>(event: E, payload: SessionEvents[E]): void {
    for (const listener of [...(listeners.get(event) ?? [])]) {
      try {
        (listener as (p: SessionEvents[E]) => void)(payload);
      } catch {
        // A listener's failure is its own; the session goes on.
      }
    }
  }

  const backgroundRefresh = () => {
    refresh().catch(() => undefined);
  };

  async function attempt(): Promise<Current> {
    let grant: TokenGrant;
    // Without DPoP, fetchToken is called at once (no await before it): refreshes stay single-flight
    // from the very first call.
    const pending = keyOf();
    const key = pending ? await pending : undefined;
    try {
      grant = await options.fetchToken(key ? { dpopJkt: key.jkt } : {});
    } catch (error) {
      throw fromFetchToken(error);
    }
    if (typeof grant?.token !== 'string' || grant.token.length === 0) {
      throw badGrant('fetchToken must answer an object with a token.');
    }
    const lifetimeMs = lifetimeOf(grant) * 1000;
    const receivedAt = clock.now();
    const identity = await identifyWith(grant.token, key);
    if (closed) throw closedError();
    const fraction = windowLow + (windowHigh - windowLow) * random();
    const refreshAt = receivedAt + lifetimeMs * fraction;
    const next: Current = { token: grant.token, identity, refreshAt, expiresAt: receivedAt + lifetimeMs };
    current = next;
    failures = 0;
    clearTimer('retry');
    const now = clock.now();
    setTimer('refresh', refreshAt - now, () => {
      emit('token_expiring', { token: next.token, expiresAt: next.expiresAt });
      backgroundRefresh();
    });
    setTimer('expiry', next.expiresAt - now, () => {
      if (current !== next) return;
      current = undefined;
      emit('token_expired', { token: next.token, expiredAt: next.expiresAt });
    });
    return next;
  }

  function onFailure(error: GatewayClientError): void {
    if (closed) return;
    if (error.retryable && !STOP_CODES.has(error.code)) {
      failures += 1;
      const exponential = Math.min(maxBackoffMs, initialBackoffMs * 2 ** (failures - 1));
      let delay = Math.round(exponential * (0.5 + 0.5 * random()));
      if (error.retryAfterSeconds !== undefined) delay = Math.max(delay, error.retryAfterSeconds * 1000);
      setTimer('retry', delay, backgroundRefresh);
      emit('error', { error, willRetry: true, retryInMs: delay });
      return;
    }
    // Not worth retrying: drop the token and stop until asked again.
    failures = 0;
    current = undefined;
    clearAllTimers();
    if (error.code === 'token_revoked') emit('token_revoked', { error });
    emit('error', { error, willRetry: false });
  }

  function refreshOnce(): Promise<Current> {
    if (closed) return Promise.reject(closedError());
    if (inflight) return inflight;
    clearTimer('retry');
    // The flight ends before anyone hears of it, so a listener that asks again starts a new one.
    inflight = attempt().then(
      (next) => {
        inflight = undefined;
        emit('token_refreshed', { token: next.token, identity: next.identity, refreshAt: next.refreshAt, expiresAt: next.expiresAt });
        return next;
      },
      (error: unknown) => {
        inflight = undefined;
        const clientError = isGatewayClientError(error) ? error : fromFetchToken(error);
        onFailure(clientError);
        throw clientError;
      },
    );
    return inflight;
  }

  function refresh(): Promise<string> {
    return refreshOnce().then((c) => c.token);
  }

  const live = (): Current | undefined => (current && clock.now() < current.expiresAt ? current : undefined);

  return {
    async identify() {
      const c = live();
      if (c && !inflight) return c.identity;
      return (await refreshOnce()).identity;
    },
    refresh,
    getToken: () => live()?.token,
    get identity() {
      return live()?.identity;
    },
    on(event, listener) {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      set.add(listener as (payload: never) => void);
      return () => {
        set.delete(listener as (payload: never) => void);
      };
    },
    close() {
      closed = true;
      clearAllTimers();
      current = undefined;
    },
    dpopHeaders,
    async fetch(url, init = {}) {
      const fetchImpl = options.fetch ?? globalThis.fetch;
      const send = async () => {
        const headers = new Headers(init.headers);
        for (const [name, value] of Object.entries(await dpopHeaders(init.method ?? 'GET', url))) headers.set(name, value);
        return fetchImpl(url, { ...init, headers });
      };
      const response = await send();
      const nonce = response.headers.get('dpop-nonce');
      if (response.status !== 401 || !nonce || !options.dpop) return response;
      dpopNonce = nonce;
      return send();
    },
  };

  async function dpopHeaders(method: string, url: string): Promise<Record<string, string>> {
    const token = live()?.token ?? (await refresh());
    const key = await keyOf();
    if (!key) return { Authorization: `Bearer ${token}` };
    const proof = await key.proof(method, url, { token, ...(dpopNonce ? { nonce: dpopNonce } : {}) });
    return { Authorization: `DPoP ${token}`, DPoP: proof };
  }
}
