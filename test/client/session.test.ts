/**
 * The browser user session of token-gateway/client: its schedule under a fake clock and fake
 * timers (never real time), then the same session against a live gateway.
 */
import type { Server } from 'node:http';
import {
  createGatewayClient,
  createUserSession,
  GatewayClientError,
  type SessionEvent,
  type SessionEvents,
  type TokenGrant,
  type UserSession,
  type UserSessionOptions,
} from '../../packages/client/src';
import { ManualClock } from '../../src/clock';
import { buildTestGateway, type TestAccount, type TestGateway } from '../helpers/app';
import { listen, stop, switchableMemoryStore } from '../helpers/live';

/** Timers on a ManualClock: they fire only when the test moves the clock. */
class FakeTimers {
  private readonly timers = new Map<number, { at: number; callback: () => void }>();
  private nextId = 1;
  constructor(readonly clock: ManualClock) {}

  setTimeout = (callback: () => void, ms: number): number => {
    const id = this.nextId++;
    this.timers.set(id, { at: this.clock.now() + ms, callback });
    return id;
  };
  clearTimeout = (handle: unknown): void => {
    this.timers.delete(handle as number);
  };
  /** Delays from now of the pending timers, soonest first. */
  pending(): number[] {
    return [...this.timers.values()].map((t) => t.at - this.clock.now()).sort((a, b) => a - b);
  }
  /** Moves the clock to the soonest timer and fires it; answers how far the clock moved. */
  fireNext(): number {
    const [id, timer] = [...this.timers.entries()].sort((a, b) => a[1].at - b[1].at)[0] ?? [];
    if (id === undefined || !timer) throw new Error('no timer is pending');
    const moved = timer.at - this.clock.now();
    this.clock.set(timer.at);
    this.timers.delete(id);
    timer.callback();
    return moved;
  }
  /** Moves the clock by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const end = this.clock.now() + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.clock.set(due[1].at);
      this.timers.delete(due[0]);
      due[1].callback();
    }
    this.clock.set(end);
  }
}

/** Lets promise chains and in-memory Response bodies finish (no clock moves). */
const settle = async (rounds = 10): Promise<void> => {
  for (let i = 0; i < rounds; i += 1) await new Promise((resolve) => setImmediate(resolve));
};

function record(session: UserSession): Array<[SessionEvent, unknown]> {
  const events: Array<[SessionEvent, unknown]> = [];
  for (const event of ['token_expiring', 'token_refreshed', 'token_expired', 'token_revoked', 'error'] as const) {
    session.on(event, (payload) => events.push([event, payload]));
  }
  return events;
}

const envelopeError = (status: number, canonical: string, code: string, retryable: boolean, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify({ error: { message: `${code}.`, status: canonical, code, retryable } }), {
    status,
    headers: { 'content-type': 'application/json', 'x-request-id': `req-${code}`, ...headers },
  });
const FAILURES = {
  store_unavailable: () => envelopeError(503, 'UNAVAILABLE', 'store_unavailable', true),
  rate_limited: () => envelopeError(429, 'RESOURCE_EXHAUSTED', 'rate_limited', true, { 'retry-after': '30' }),
  internal: () => envelopeError(500, 'INTERNAL', 'internal', true),
  token_revoked: () => envelopeError(401, 'UNAUTHENTICATED', 'token_revoked', false),
  token_invalid: () => envelopeError(401, 'UNAUTHENTICATED', 'token_invalid', false),
  token_expired: () => envelopeError(401, 'UNAUTHENTICATED', 'token_expired', false),
  user_mismatch: () => envelopeError(403, 'PERMISSION_DENIED', 'user_mismatch', false),
  organization_mismatch: () => envelopeError(403, 'PERMISSION_DENIED', 'organization_mismatch', false),
  email_mismatch: () => envelopeError(403, 'PERMISSION_DENIED', 'email_mismatch', false),
  account_mismatch: () => envelopeError(403, 'PERMISSION_DENIED', 'account_mismatch', false),
};

describe('createUserSession with a fake clock and fake timers', () => {
  const START = Date.UTC(2030, 0, 1);
  const LIFETIME = 3600;
  let clock: ManualClock;
  let timers: FakeTimers;
  let issued: number;
  /** What identify answers next: a queue of failures, then success. */
  let identifyScript: Array<() => Response>;
  let identifyCalls: Array<{ url: string; body: any }>;
  let fetchToken: jest.Mock<Promise<TokenGrant>, []>;

  const fakeFetch = async (url: string, init?: RequestInit): Promise<Response> => {
    const body = JSON.parse(String(init?.body));
    identifyCalls.push({ url, body });
    const next = identifyScript.shift();
    if (next) return next();
    return new Response(
      JSON.stringify({
        result: {
          status: 'success',
          message: 'User identified.',
          data: { userId: 'user-1', organizationId: 'org-1', isAdmin: false, expiresAt: 0 },
        },
      }),
      { status: 200, headers: { 'content-type': 'application/json' } },
    );
  };

  beforeEach(() => {
    clock = new ManualClock(START);
    timers = new FakeTimers(clock);
    issued = 0;
    identifyScript = [];
    identifyCalls = [];
    fetchToken = jest.fn(async () => {
      issued += 1;
      const serverTime = Math.floor(clock.now() / 1000);
      return { token: `token-${issued}`, tokenId: `jti-${issued}`, expiresIn: LIFETIME, serverTime, expiresAt: serverTime + LIFETIME };
    });
  });

  const open = (overrides: Partial<UserSessionOptions> = {}): UserSession =>
    createUserSession({
      baseUrl: 'https://gateway.test',
      apiKey: 'ak_public',
      user: { userId: 'user-1', organizationId: 'org-1' },
      fetchToken,
      clock,
      random: () => 0.5,
      setTimeout: timers.setTimeout,
      clearTimeout: timers.clearTimeout,
      fetch: fakeFetch,
      ...overrides,
    });

  test('identify: fetchToken, then /v1/auth/identify with the token and the user; the token is kept', async () => {
    const session = open();
    const events = record(session);
    expect(session.getToken()).toBeUndefined();
    const identity = await session.identify();
    expect(identity).toEqual({ userId: 'user-1', organizationId: 'org-1', isAdmin: false, expiresAt: 0 });
    expect(fetchToken).toHaveBeenCalledTimes(1);
    expect(identifyCalls).toEqual([
      {
        url: 'https://gateway.test/v1/auth/identify',
        body: { data: { apiKey: 'ak_public', token: 'token-1', user: { userId: 'user-1', organizationId: 'org-1' } } },
      },
    ]);
    expect(session.getToken()).toBe('token-1');
    expect(session.identity).toEqual(identity);
    expect(events).toEqual([
      ['token_refreshed', { token: 'token-1', identity, refreshAt: START + 0.85 * LIFETIME * 1000, expiresAt: START + LIFETIME * 1000 }],
    ]);
    // A second identify while the token is live asks nothing.
    expect(await session.identify()).toEqual(identity);
    expect(fetchToken).toHaveBeenCalledTimes(1);
    session.close();
  });

  test('the refresh is scheduled at receipt + expiresIn × 0.8–0.9 (jittered), and expiry at receipt + expiresIn', async () => {
    for (const [r, fraction] of [
      [0, 0.8],
      [0.5, 0.85],
      [0.999, 0.8999],
    ] as const) {
      const session = open({ random: () => r });
      await session.identify();
      const [refreshIn, expiresIn] = timers.pending();
      expect(refreshIn).toBeCloseTo(fraction * LIFETIME * 1000, -1);
      expect(expiresIn).toBe(LIFETIME * 1000);
      session.close();
      expect(timers.pending()).toEqual([]);
    }
  });

  test('a custom refresh window is honoured', async () => {
    const session = open({ refreshWindow: [0.5, 0.5] });
    await session.identify();
    expect(timers.pending()[0]).toBe(1800_000);
    session.close();
  });

  test('the schedule follows expiresIn, not expiresAt: a browser clock three hours off still refreshes in time', async () => {
    fetchToken.mockImplementation(async () => {
      issued += 1;
      // The gateway's clock is three hours ahead of this browser's.
      const serverTime = Math.floor(clock.now() / 1000) + 3 * 3600;
      return { token: `token-${issued}`, expiresIn: 600, serverTime, expiresAt: serverTime + 600 };
    });
    const session = open();
    await session.identify();
    expect(timers.pending()).toEqual([510_000, 600_000]);
    session.close();
  });

  test('without expiresIn, the lifetime is expiresAt - serverTime', async () => {
    fetchToken.mockImplementation(async () => ({ token: 'token-x', serverTime: 1000, expiresAt: 1600 }) as TokenGrant);
    const session = open();
    await session.identify();
    expect(timers.pending()).toEqual([510_000, 600_000]);
    session.close();
  });

  test('the refresh fires from the timer: token_expiring, a new token, token_refreshed, and a new schedule', async () => {
    const session = open();
    const events = record(session);
    await session.identify();
    expect(timers.fireNext()).toBe(0.85 * LIFETIME * 1000);
    expect(events.map(([e]) => e)).toEqual(['token_refreshed', 'token_expiring']);
    expect(events[1]![1]).toEqual({ token: 'token-1', expiresAt: START + LIFETIME * 1000 });
    await settle();
    expect(fetchToken).toHaveBeenCalledTimes(2);
    expect(session.getToken()).toBe('token-2');
    expect(events.map(([e]) => e)).toEqual(['token_refreshed', 'token_expiring', 'token_refreshed']);
    // The old expiry timer is replaced: no token_expired for token-1 ever fires.
    expect(timers.pending()).toEqual([0.85 * LIFETIME * 1000, LIFETIME * 1000]);
    timers.advance(0.85 * LIFETIME * 1000 - 1);
    expect(events.filter(([e]) => e === 'token_expired')).toEqual([]);
    session.close();
  });

  test('single flight: 10 concurrent refresh() calls make one fetchToken call and share its token', async () => {
    let release!: () => void;
    fetchToken.mockImplementationOnce(
      () =>
        new Promise<TokenGrant>((resolve) => {
          release = () => resolve({ token: 'shared', expiresIn: LIFETIME, serverTime: 0, expiresAt: LIFETIME });
        }),
    );
    const session = open();
    const calls = Array.from({ length: 10 }, () => session.refresh());
    const identify = session.identify();
    expect(fetchToken).toHaveBeenCalledTimes(1);
    release();
    expect(await Promise.all(calls)).toEqual(Array(10).fill('shared'));
    expect((await identify).userId).toBe('user-1');
    expect(identifyCalls).toHaveLength(1);
    // Once settled, the next refresh is a new one.
    await session.refresh();
    expect(fetchToken).toHaveBeenCalledTimes(2);
    session.close();
  });

  test('backoff on 503: retried after 1 s, 2 s, 4 s ... (jittered 50–100 %), capped; success resets it', async () => {
    identifyScript = Array.from({ length: 9 }, () => FAILURES.store_unavailable);
    const session = open({ random: () => 0.5, backoff: { initialMs: 1000, maxMs: 60_000 } });
    const events = record(session);
    const first = await session.identify().catch((e: unknown) => e);
    expect(first).toBeInstanceOf(GatewayClientError);
    expect(first).toMatchObject({ code: 'store_unavailable', retryable: true, httpStatus: 503, requestId: 'req-store_unavailable' });
    const delays: number[] = [];
    for (let i = 0; i < 8; i += 1) {
      expect(timers.pending()).toHaveLength(1);
      delays.push(timers.fireNext());
      await settle();
    }
    // 0.75 × 1 s, 2 s, 4 s, ... up to 0.75 × 60 s.
    expect(delays).toEqual([750, 1500, 3000, 6000, 12_000, 24_000, 45_000, 45_000]);
    const errors = events.filter(([e]) => e === 'error').map(([, p]) => p as SessionEvents['error']);
    expect(errors).toHaveLength(9);
    expect(errors.every((p) => p.willRetry && p.error.code === 'store_unavailable')).toBe(true);
    expect(errors.slice(0, 8).map((p) => p.retryInMs)).toEqual(delays);
    expect(session.getToken()).toBeUndefined();
    // The ninth retry succeeds: the schedule is the normal one again.
    timers.fireNext();
    await settle();
    expect(session.getToken()).toBe(`token-${issued}`);
    expect(events[events.length - 1]![0]).toBe('token_refreshed');
    expect(timers.pending()).toEqual([0.85 * LIFETIME * 1000, LIFETIME * 1000]);
    session.close();
  });

  test('a 429 waits at least its Retry-After; a 500 is retried too', async () => {
    identifyScript = [FAILURES.rate_limited, FAILURES.internal];
    const session = open();
    await expect(session.identify()).rejects.toMatchObject({ code: 'rate_limited', retryAfterSeconds: 30 });
    expect(timers.pending()).toEqual([30_000]);
    timers.fireNext();
    await settle();
    expect(timers.pending()).toEqual([1500]);
    timers.fireNext();
    await settle();
    expect(session.getToken()).toBeDefined();
    session.close();
  });

  test('a refresh that keeps failing past the lifetime: token_expired, and getToken() is empty', async () => {
    const session = open();
    const events = record(session);
    await session.identify();
    identifyScript = Array.from({ length: 50 }, () => FAILURES.store_unavailable);
    timers.fireNext(); // the refresh timer
    await settle();
    expect(session.getToken()).toBe('token-1'); // still live
    while (!events.some(([e]) => e === 'token_expired')) {
      timers.fireNext();
      await settle();
    }
    expect(clock.now()).toBe(START + LIFETIME * 1000);
    expect(events.find(([e]) => e === 'token_expired')![1]).toEqual({ token: 'token-1', expiredAt: START + LIFETIME * 1000 });
    expect(session.getToken()).toBeUndefined();
    // It keeps trying; once the gateway answers again, a token is back.
    identifyScript = [];
    timers.fireNext();
    await settle();
    expect(session.getToken()).toBe(`token-${issued}`);
    session.close();
  });

  describe('tokens living longer than a timer can wait (2^31-1 ms, about 24.8 days)', () => {
    const MAX_TIMER_MS = 2_147_483_647;
    const DAY = 86_400;
    /** The fake timers, refusing what a real platform cannot wait (Node fires such a timer after 1 ms). */
    const cappedTimers = () => ({
      setTimeout: (callback: () => void, ms: number) => {
        if (ms > MAX_TIMER_MS) throw new Error(`setTimeout(${ms}) is over the platform's limit`);
        return timers.setTimeout(callback, ms);
      },
      clearTimeout: timers.clearTimeout,
    });
    const longToken = (days: number) =>
      fetchToken.mockImplementation(async () => {
        issued += 1;
        const serverTime = Math.floor(clock.now() / 1000);
        return { token: `token-${issued}`, expiresIn: days * DAY, serverTime, expiresAt: serverTime + days * DAY };
      });

    test('a 30-day token: nothing fires at the cap; the refresh comes at 0.85 × 30 days', async () => {
      longToken(30);
      const session = open(cappedTimers());
      const events = record(session);
      await session.identify();
      expect(timers.pending()).toEqual([MAX_TIMER_MS, MAX_TIMER_MS]);
      timers.advance(MAX_TIMER_MS);
      expect(events.map(([e]) => e)).toEqual(['token_refreshed']);
      expect(session.getToken()).toBe('token-1');
      // Re-armed for what is left.
      expect(timers.pending()).toEqual([0.85 * 30 * DAY * 1000 - MAX_TIMER_MS, 30 * DAY * 1000 - MAX_TIMER_MS]);
      timers.fireNext();
      expect(clock.now()).toBe(START + 0.85 * 30 * DAY * 1000);
      expect(events.map(([e]) => e)).toEqual(['token_refreshed', 'token_expiring']);
      await settle();
      expect(session.getToken()).toBe('token-2');
      expect(events.map(([e]) => e)).toEqual(['token_refreshed', 'token_expiring', 'token_refreshed']);
      session.close();
    });

    test('a 30-day token whose refresh keeps failing expires at 30 days, not at the cap', async () => {
      longToken(30);
      // Retries every 3.75 days (5 days jittered by random 0.5), so the expiry timer runs alone to its end.
      const session = open({ ...cappedTimers(), backoff: { initialMs: 5 * DAY * 1000, maxMs: 5 * DAY * 1000 } });
      const events = record(session);
      await session.identify();
      identifyScript = Array.from({ length: 10 }, () => FAILURES.store_unavailable);
      let expiredAt: number | undefined;
      session.on('token_expired', () => {
        expiredAt = clock.now();
      });
      while (expiredAt === undefined) {
        timers.fireNext();
        await settle();
        if (expiredAt === undefined) expect(session.getToken()).toBe('token-1');
      }
      expect(expiredAt).toBe(START + 30 * DAY * 1000);
      expect(events.find(([e]) => e === 'token_expired')![1]).toEqual({ token: 'token-1', expiredAt: START + 30 * DAY * 1000 });
      expect(session.getToken()).toBeUndefined();
      session.close();
    });

    test('a delay over twice the cap is waited out in as many steps as it takes', async () => {
      longToken(100);
      const session = open({ ...cappedTimers(), refreshWindow: [0.9, 0.9] });
      const events = record(session);
      await session.identify();
      let steps = 0;
      while (!events.some(([e]) => e === 'token_expiring')) {
        timers.fireNext();
        steps += 1;
      }
      expect(clock.now()).toBe(START + 90 * DAY * 1000);
      // 90 days = 3 × 24.86 days + the rest: 4 steps of the refresh timer, and on the way 3 of the
      // expiry timer (100 days), which has not fired.
      expect(steps).toBe(7);
      expect(timers.pending()).toEqual([4 * MAX_TIMER_MS - 90 * DAY * 1000]); // the expiry timer's next step
      expect(events.some(([e]) => e === 'token_expired')).toBe(false);
      session.close();
    });
  });

  test('getToken() is empty past the lifetime even if no timer ran (a suspended tab)', async () => {
    const session = open();
    await session.identify();
    clock.advance(LIFETIME * 1000);
    expect(session.getToken()).toBeUndefined();
    expect(session.identity).toBeUndefined();
    session.close();
  });

  test('token_revoked: emitted, not retried, the token dropped, every timer stopped', async () => {
    const session = open();
    const events = record(session);
    await session.identify();
    identifyScript = [FAILURES.token_revoked];
    timers.fireNext();
    await settle();
    expect(fetchToken).toHaveBeenCalledTimes(2);
    expect(timers.pending()).toEqual([]);
    expect(session.getToken()).toBeUndefined();
    const names = events.map(([e]) => e);
    expect(names).toEqual(['token_refreshed', 'token_expiring', 'token_revoked', 'error']);
    expect(events[2]![1]).toEqual({ error: expect.objectContaining({ code: 'token_revoked', httpStatus: 401 }) });
    expect(events[3]![1]).toEqual({ error: expect.objectContaining({ code: 'token_revoked' }), willRetry: false });
    // Nothing happens by itself any more.
    timers.advance(10 * LIFETIME * 1000);
    expect(fetchToken).toHaveBeenCalledTimes(2);
    // An explicit refresh (say, after signing in again) works.
    expect(await session.refresh()).toBe('token-3');
    session.close();
  });

  test.each(['token_invalid', 'token_expired', 'user_mismatch', 'organization_mismatch', 'email_mismatch', 'account_mismatch'] as const)(
    '%s: reported, not retried',
    async (code) => {
      identifyScript = [FAILURES[code]];
      const session = open();
      const events = record(session);
      await expect(session.identify()).rejects.toMatchObject({ code, retryable: false });
      expect(timers.pending()).toEqual([]);
      expect(events).toEqual([['error', { error: expect.objectContaining({ code }), willRetry: false }]]);
      timers.advance(LIFETIME * 1000);
      expect(fetchToken).toHaveBeenCalledTimes(1);
      session.close();
    },
  );

  test("fetchToken failures: retried unless the error says retryable: false", async () => {
    fetchToken.mockRejectedValueOnce(new Error('backend down'));
    const session = open();
    const events = record(session);
    await expect(session.identify()).rejects.toMatchObject({ code: 'fetch_token_failed', retryable: true });
    expect(timers.pending()).toEqual([750]);
    fetchToken.mockRejectedValueOnce(Object.assign(new Error('signed out'), { retryable: false }));
    timers.fireNext();
    await settle();
    expect(timers.pending()).toEqual([]);
    expect(events.map(([, p]) => (p as SessionEvents['error']).willRetry)).toEqual([true, false]);
    session.close();
  });

  test('fetchToken answering something that is not a grant: reported, not retried', async () => {
    fetchToken.mockResolvedValueOnce({ token: 'x' } as TokenGrant);
    const session = open();
    await expect(session.identify()).rejects.toMatchObject({ code: 'invalid_response', retryable: false });
    expect(identifyCalls).toHaveLength(0);
    expect(timers.pending()).toEqual([]);
  });

  test('close(): stops every timer; a refresh in flight schedules nothing; later calls fail with session_closed', async () => {
    const session = open();
    await session.identify();
    expect(timers.pending()).toHaveLength(2);
    session.close();
    expect(timers.pending()).toEqual([]);
    expect(session.getToken()).toBeUndefined();
    await expect(session.refresh()).rejects.toMatchObject({ code: 'session_closed' });

    const second = open();
    const pending = second.refresh();
    second.close();
    await expect(pending).rejects.toMatchObject({ code: 'session_closed' });
    expect(timers.pending()).toEqual([]);
  });

  test('listeners: on() answers an unsubscribe; a throwing listener does not stop the session', async () => {
    const session = open();
    const seen: string[] = [];
    session.on('token_refreshed', () => {
      throw new Error('listener bug');
    });
    const off = session.on('token_refreshed', (p) => seen.push(p.token));
    await session.identify();
    off();
    await session.refresh();
    expect(seen).toEqual(['token-1']);
    expect(session.getToken()).toBe('token-2');
    session.close();
  });
});

describe('createUserSession against a live gateway', () => {
  let gw: TestGateway;
  let server: Server;
  let baseUrl: string;
  let acme: TestAccount;
  let timers: FakeTimers;
  /** The memory store, failing like an unreachable Redis while `switchable.down` is set. */
  let switchable: ReturnType<typeof switchableMemoryStore>;
  const LIFETIME = 600;

  beforeAll(async () => {
    const clock = new ManualClock(Date.now());
    switchable = switchableMemoryStore();
    const { store } = switchable;
    gw = await buildTestGateway({ clock, store: { store, prefix: '', cleanup: () => store.close() } });
    ({ server, baseUrl } = await listen(gw));
    acme = await gw.createAccount('Acme');
  });
  afterAll(() => stop(server, gw));
  beforeEach(() => {
    switchable.down = false;
    timers = new FakeTimers(gw.clock);
  });

  /** Resolves on the next `event` of the session. */
  const next = <E extends SessionEvent>(session: UserSession, event: E) =>
    new Promise<SessionEvents[E]>((resolve) => {
      const off = session.on(event, (payload) => {
        off();
        resolve(payload);
      });
    });

  test('identify, refresh on the timer, single flight, backoff on 503, no retry on token_revoked, events', async () => {
    // The customer's backend: the server client, as the express route of docs/SDK.md would use it.
    const backend = createGatewayClient({ baseUrl, apiKey: acme.apiKey, authToken: acme.authToken });
    const fetchToken = jest.fn(() => backend.getToken({ userId: 'user-1', organizationId: 'org-1', email: 'ada@example.com', expiresIn: LIFETIME }));
    const session = createUserSession({
      baseUrl,
      apiKey: acme.apiKey,
      user: { userId: 'user-1', organizationId: 'org-1', email: 'Ada@Example.com' },
      fetchToken,
      clock: gw.clock,
      random: () => 0.5,
      setTimeout: timers.setTimeout,
      clearTimeout: timers.clearTimeout,
    });
    const events = record(session);

    // identify
    const identity = await session.identify();
    const expiresAt = Math.floor(gw.clock.now() / 1000) + LIFETIME;
    expect(identity).toEqual({ userId: 'user-1', organizationId: 'org-1', email: 'ada@example.com', isAdmin: false, expiresAt });
    const first = session.getToken()!;
    expect((await backend.introspect(first)).active).toBe(true);
    expect(timers.pending()).toEqual([0.85 * LIFETIME * 1000, LIFETIME * 1000]);

    // The refresh timer fires: the gateway's clock moves with it, so the new token is newer.
    const refreshed = next(session, 'token_refreshed');
    timers.fireNext();
    const payload = await refreshed;
    expect(payload.token).not.toBe(first);
    expect(session.getToken()).toBe(payload.token);
    expect(payload.identity.expiresAt).toBe(expiresAt + 0.85 * LIFETIME);
    expect(fetchToken).toHaveBeenCalledTimes(2);

    // Single flight.
    const tokens = await Promise.all(Array.from({ length: 10 }, () => session.refresh()));
    expect(fetchToken).toHaveBeenCalledTimes(3);
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).toBe(session.getToken());

    // Backoff on 503: the store goes away; the session retries on its own and recovers.
    switchable.down = true;
    const failed = await session.refresh().catch((e: unknown) => e as GatewayClientError);
    expect(failed).toMatchObject({ code: 'store_unavailable', status: 'UNAVAILABLE', httpStatus: 503, retryable: true });
    expect((failed as GatewayClientError).requestId).toBeTruthy();
    expect(timers.pending()[0]).toBe(750);
    const retryFailed = next(session, 'error');
    timers.fireNext();
    expect(await retryFailed).toMatchObject({ willRetry: true, retryInMs: 1500, error: { code: 'store_unavailable' } });
    switchable.down = false;
    const recovered = next(session, 'token_refreshed');
    timers.fireNext();
    await recovered;
    expect(timers.pending()).toEqual([0.85 * LIFETIME * 1000, LIFETIME * 1000]);

    // token_revoked: the user is revoked; a token issued in that same second is refused too
    // (contract §4.2), so the refresh that follows is refused, and not retried.
    await backend.revokeUser('user-1');
    const revoked = next(session, 'token_revoked');
    const calls = fetchToken.mock.calls.length;
    await expect(session.refresh()).rejects.toMatchObject({ code: 'token_revoked' });
    expect((await revoked).error).toMatchObject({ code: 'token_revoked', httpStatus: 401, retryable: false });
    await settle();
    expect(fetchToken).toHaveBeenCalledTimes(calls + 1);
    expect(timers.pending()).toEqual([]);
    expect(session.getToken()).toBeUndefined();

    expect([...new Set(events.map(([e]) => e))].sort()).toEqual(['error', 'token_expiring', 'token_refreshed', 'token_revoked']);
    session.close();
  });

  test('token_expired fires when the lifetime passes while the gateway is unreachable', async () => {
    const backend = createGatewayClient({ baseUrl, apiKey: acme.apiKey, authToken: acme.authToken });
    const session = createUserSession({
      baseUrl,
      apiKey: acme.apiKey,
      user: { userId: 'user-2', organizationId: 'org-1' },
      fetchToken: () => backend.getToken({ userId: 'user-2', organizationId: 'org-1', expiresIn: 60 }),
      clock: gw.clock,
      random: () => 0,
      setTimeout: timers.setTimeout,
      clearTimeout: timers.clearTimeout,
      backoff: { initialMs: 5000, maxMs: 5000 },
    });
    await session.identify();
    const token = session.getToken();
    switchable.down = true;
    let expired: SessionEvents['token_expired'] | undefined;
    session.on('token_expired', (payload) => {
      expired = payload;
    });
    const retries: number[] = [];
    session.on('error', (payload) => retries.push(payload.retryInMs ?? -1));
    // Refresh at 48 s, then a retry every 2.5 s, until the expiry timer at 60 s fires first.
    while (!expired) {
      const failed = next(session, 'error');
      timers.fireNext();
      if (!expired) await failed;
    }
    expect(expired).toEqual({ token, expiredAt: expect.any(Number) });
    expect(retries).toEqual([2500, 2500, 2500, 2500, 2500]);
    expect(session.getToken()).toBeUndefined();
    session.close();
    switchable.down = false;
  });
});
