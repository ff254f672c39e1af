/**
 * The audit streams of every store kind (contract §9): one per account and one for the
 * operator holding every event, newest first with a cursor, pages stable under concurrent
 * writes, bounded by age and by count.
 */
import type { AuditBounds, AuditEventRecord, GatewayStore } from '../../src/store';
import { makeStore, STORE_SUITE_KINDS, type TestStore } from '../helpers/stores';

const DAY = 86_400_000;

describe.each(STORE_SUITE_KINDS)('audit streams on the %s store', (kind) => {
  let t: TestStore;
  let store: GatewayStore;
  let seq = 0;
  const now = Date.now();
  const bounds = (over: Partial<AuditBounds> = {}): AuditBounds => ({ retentionMs: 30 * DAY, maxEvents: 1000, nowMs: now, ...over });
  const event = (over: Partial<AuditEventRecord> = {}): AuditEventRecord => {
    seq += 1;
    return {
      id: `evt_${seq}`,
      time: new Date(now).toISOString(),
      type: 'user.revoked',
      accountId: 'acc_a',
      actor: { kind: 'authToken', id: 'atk_1' },
      subject: { userId: `u${seq}`, revokedBefore: 1 },
      ...over,
    };
  };
  const ids = (events: AuditEventRecord[]) => events.map((e) => e.id);

  beforeEach(async () => {
    t = await makeStore(kind);
    store = t.store;
  });
  afterEach(() => t.cleanup());

  test("newest first; an account's stream holds its own events, the operator's every event", async () => {
    const a1 = event();
    const b1 = event({ accountId: 'acc_b' });
    const op = event({ accountId: null, type: 'admin.auth_failed', actor: null, subject: {} });
    const a2 = event();
    for (const e of [a1, b1, op, a2]) await store.appendAuditEvent(e, bounds());
    expect(ids((await store.listAuditEvents({ accountId: 'acc_a', limit: 10 }, bounds())).events)).toEqual([a2.id, a1.id]);
    expect(ids((await store.listAuditEvents({ accountId: 'acc_b', limit: 10 }, bounds())).events)).toEqual([b1.id]);
    const all = await store.listAuditEvents({ limit: 10 }, bounds());
    expect(ids(all.events)).toEqual([a2.id, op.id, b1.id, a1.id]);
    expect(all.events[1]).toEqual(op);
    expect(all.nextCursor).toBeNull();
  });

  test('pages by cursor stay stable while new events arrive', async () => {
    const written: AuditEventRecord[] = [];
    for (let i = 0; i < 25; i += 1) {
      const e = event();
      written.push(e);
      await store.appendAuditEvent(e, bounds());
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page += 1) {
      const result = await store.listAuditEvents({ accountId: 'acc_a', limit: 7, ...(cursor ? { cursor } : {}) }, bounds());
      seen.push(...ids(result.events));
      // Writers go on between pages, concurrently.
      await Promise.all(Array.from({ length: 5 }, () => store.appendAuditEvent(event(), bounds())));
      if (result.nextCursor === null) break;
      cursor = result.nextCursor;
    }
    expect(seen).toEqual(ids(written).reverse());
  });

  test('filters by type and by time, inclusive', async () => {
    const at = (offset: number) => new Date(now - offset).toISOString();
    const old = event({ time: at(3000) });
    const mid = event({ time: at(2000), type: 'token.revoked', subject: { tokenId: 'j', userId: 'u' } });
    const young = event({ time: at(1000) });
    for (const e of [old, mid, young]) await store.appendAuditEvent(e, bounds());
    const q = (over: object) => store.listAuditEvents({ accountId: 'acc_a', limit: 10, ...over }, bounds());
    expect(ids((await q({ type: 'token.revoked' })).events)).toEqual([mid.id]);
    expect(ids((await q({ sinceMs: now - 2000 })).events)).toEqual([young.id, mid.id]);
    expect(ids((await q({ untilMs: now - 2000 })).events)).toEqual([mid.id, old.id]);
    expect(ids((await q({ sinceMs: now - 2000, untilMs: now - 2000 })).events)).toEqual([mid.id]);
  });

  test('at most maxEvents per stream: the oldest go first', async () => {
    const written: AuditEventRecord[] = [];
    for (let i = 0; i < 12; i += 1) {
      const e = event();
      written.push(e);
      await store.appendAuditEvent(e, bounds({ maxEvents: 5 }));
    }
    const page = await store.listAuditEvents({ accountId: 'acc_a', limit: 100 }, bounds({ maxEvents: 5 }));
    expect(ids(page.events)).toEqual(ids(written.slice(-5)).reverse());
    expect(ids((await store.listAuditEvents({ limit: 100 }, bounds({ maxEvents: 5 }))).events)).toHaveLength(5);
  });

  test('no event older than the retention is kept or shown', async () => {
    const old = event({ time: new Date(now - 10_000).toISOString() });
    await store.appendAuditEvent(old, bounds({ nowMs: now - 10_000 }));
    // Seen from 9 s of retention later on, it is past it: not shown, and gone at the next write.
    const later = bounds({ retentionMs: 9_000, nowMs: now + 5_000 });
    expect((await store.listAuditEvents({ accountId: 'acc_a', limit: 10 }, later)).events).toEqual([]);
    const young = event({ time: new Date(now + 5_000).toISOString() });
    await store.appendAuditEvent(young, later);
    expect(ids((await store.listAuditEvents({ accountId: 'acc_a', limit: 10 }, bounds())).events)).toEqual([young.id]);
  });

  test('a store failure is passed on, never an empty answer', async () => {
    if (kind !== 'memory') return; // the outage suites cover Redis going away
    (store as unknown as { failing: boolean }).failing = true;
    await expect(store.listAuditEvents({ limit: 1 }, bounds())).rejects.toThrow();
    await expect(store.appendAuditEvent(event(), bounds())).rejects.toThrow();
    (store as unknown as { failing: boolean }).failing = false;
  });
});
