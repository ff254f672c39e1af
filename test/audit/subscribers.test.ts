/**
 * The audit trail's subscribers (what queues webhook deliveries): each is told of every event
 * after the store has it, before `record` resolves, and a subscriber that fails never fails the
 * action being recorded.
 */
import { AuditTrail, auditEvents, type AuditEvent } from '../../src/audit';
import { ManualClock } from '../../src/clock';
import { MemoryStore } from '../../src/store';

describe('audit trail subscribers', () => {
  const make = (subscribers: Array<(event: AuditEvent) => Promise<unknown>>, failures: unknown[] = []) => {
    const store = new MemoryStore({ sweepIntervalMs: 0 });
    const trail = new AuditTrail({
      store,
      clock: new ManualClock(1_800_000_000_000),
      retentionDays: 30,
      maxEvents: 100,
      subscribers,
      onSubscriberFailure: (_event, error) => failures.push(error),
    });
    return { store, trail };
  };

  test('are told each event once it is stored, and awaited', async () => {
    const seen: string[] = [];
    let done = false;
    const { store, trail } = make([
      async (event) => {
        // Stored already: a subscriber may refer to it.
        const page = await store.listAuditEvents({ accountId: 'acc_1', limit: 10 }, { retentionMs: 1e12, maxEvents: 100, nowMs: 1_800_000_000_000 });
        seen.push(`${event.type}:${page.events.map((e) => e.id).includes(event.id)}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
        done = true;
      },
    ]);
    await trail.record(auditEvents.userRevoked('acc_1', 'u', 1, auditEvents.CLI_ACTOR));
    expect(seen).toEqual(['user.revoked:true']);
    expect(done).toBe(true);
  });

  test('a failing subscriber is reported, and neither the record nor the next subscriber fails', async () => {
    const failures: unknown[] = [];
    const later: string[] = [];
    const { trail } = make(
      [
        async () => {
          throw new Error('store down');
        },
        async (event) => later.push(event.type),
      ],
      failures,
    );
    const event = await trail.record(auditEvents.signingKeyRemoved('acc_1', auditEvents.CLI_ACTOR));
    expect(event.type).toBe('signing_key.removed');
    expect(failures).toEqual([new Error('store down')]);
    expect(later).toEqual(['signing_key.removed']);
  });
});
