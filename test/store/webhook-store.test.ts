/**
 * The webhook part of the store contract (contract §10), unchanged against every store:
 * endpoints per account with their limit, the delivery queue (one consumer at a time, a dead
 * consumer's deliveries taken over, retries held until due) and the attempt history.
 */
import type { DeliveryAttempt, GatewayStore, WebhookDelivery, WebhookRecord } from '../../src/store';
import { MAX_DELIVERY_ATTEMPTS_KEPT } from '../../src/store';
import { makeStore, STORE_SUITE_KINDS, type TestStore } from '../helpers/stores';

const webhook = (id: string, accountId = 'acc_1', createdAt = '2026-01-01T00:00:00.000Z'): WebhookRecord => ({
  id,
  accountId,
  url: `https://hooks.example.com/${id}`,
  events: ['token.revoked'],
  secret: 'whsec_c2VjcmV0',
  createdAt,
});

const delivery = (messageId: string, webhookId = 'wh_1', attempt = 1): WebhookDelivery => ({
  messageId,
  accountId: 'acc_1',
  webhookId,
  type: 'token.revoked',
  body: JSON.stringify({ type: 'token.revoked', n: messageId }),
  attempt,
});

const attempt = (eventId: string): DeliveryAttempt => ({
  eventId,
  type: 'token.revoked',
  time: '2026-01-01T00:00:00.000Z',
  attempt: 1,
  status: 500,
  outcome: 'retrying',
  nextRetryAt: '2026-01-01T00:00:05.000Z',
});

const strip = ({ receipt: _receipt, ...rest }: WebhookDelivery & { receipt: string }): WebhookDelivery => rest;

describe.each(STORE_SUITE_KINDS)('%s store: webhooks', (kind) => {
  let t: TestStore;
  let store: GatewayStore;
  const NOW = 1_800_000_000_000;

  beforeEach(async () => {
    t = await makeStore(kind);
    store = t.store;
  });
  afterEach(() => t.cleanup());

  test('endpoints are kept per account, oldest first, found by account and id, and deleted', async () => {
    expect(await store.addWebhook(webhook('wh_b', 'acc_1', '2026-01-02T00:00:00.000Z'), 10)).toBe(true);
    expect(await store.addWebhook(webhook('wh_a', 'acc_1', '2026-01-01T00:00:00.000Z'), 10)).toBe(true);
    expect(await store.addWebhook(webhook('wh_c', 'acc_2'), 10)).toBe(true);
    expect((await store.listWebhooks('acc_1')).map((w) => w.id)).toEqual(['wh_a', 'wh_b']);
    expect(await store.getWebhook('acc_1', 'wh_a')).toEqual(webhook('wh_a'));
    // Another account's endpoint is not found through this one.
    expect(await store.getWebhook('acc_1', 'wh_c')).toBeNull();
    expect(await store.deleteWebhook('acc_1', 'wh_c')).toBe(false);
    expect(await store.deleteWebhook('acc_1', 'wh_a')).toBe(true);
    expect(await store.deleteWebhook('acc_1', 'wh_a')).toBe(false);
    expect((await store.listWebhooks('acc_1')).map((w) => w.id)).toEqual(['wh_b']);
  });

  test('an account holds at most the limit, even when added at once', async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) => store.addWebhook(webhook(`wh_${i}`), 3)),
    );
    expect(results.filter(Boolean)).toHaveLength(3);
    expect(await store.listWebhooks('acc_1')).toHaveLength(3);
    expect(await store.addWebhook(webhook('wh_other', 'acc_2'), 3)).toBe(true);
  });

  test('the queue hands each delivery to one consumer, in order, and forgets it once settled', async () => {
    await store.enqueueDeliveries([delivery('evt_1'), delivery('evt_2'), delivery('evt_3')]);
    const first = await store.claimDeliveries('a', 2, NOW, 60_000);
    expect(first.map(strip)).toEqual([delivery('evt_1'), delivery('evt_2')]);
    const second = await store.claimDeliveries('b', 10, NOW, 60_000);
    expect(second.map((d) => d.messageId)).toEqual(['evt_3']);
    expect(await store.claimDeliveries('b', 10, NOW, 60_000)).toEqual([]);
    for (const claimed of [...first, ...second]) await store.settleDelivery(claimed);
    // Settled: not even a consumer that takes over everything sees them again.
    expect(await store.claimDeliveries('c', 10, NOW + 120_000, 0)).toEqual([]);
  });

  test("a consumer that never settles loses its deliveries to another after the visibility time", async () => {
    await store.enqueueDeliveries([delivery('evt_1')]);
    const [taken] = await store.claimDeliveries('dead', 10, NOW, 60_000);
    expect(taken?.messageId).toBe('evt_1');
    // Still within its time: nobody else gets it.
    expect(await store.claimDeliveries('alive', 10, NOW, 60_000)).toEqual([]);
    const retaken = await store.claimDeliveries('alive', 10, NOW + 60_000, 0);
    expect(retaken.map(strip)).toEqual([delivery('evt_1')]);
    await store.settleDelivery(retaken[0]!);
    expect(await store.claimDeliveries('other', 10, NOW + 120_000, 0)).toEqual([]);
  });

  test('a retry waits for its time, then is queued once', async () => {
    await store.enqueueDeliveries([delivery('evt_1')]);
    const [claimed] = await store.claimDeliveries('a', 10, NOW, 60_000);
    await store.settleDelivery(claimed!, { delivery: delivery('evt_1', 'wh_1', 2), dueAtMs: NOW + 5_000 });
    expect(await store.claimDeliveries('a', 10, NOW + 4_999, 60_000)).toEqual([]);
    const due = await store.claimDeliveries('a', 10, NOW + 5_000, 60_000);
    expect(due.map(strip)).toEqual([delivery('evt_1', 'wh_1', 2)]);
    expect(await store.claimDeliveries('b', 10, NOW + 10_000, 60_000)).toEqual([]);
  });

  test('attempts are listed newest first, bounded, and go with their endpoint', async () => {
    await store.addWebhook(webhook('wh_1'), 10);
    for (let i = 0; i < MAX_DELIVERY_ATTEMPTS_KEPT + 5; i += 1) await store.recordDeliveryAttempt('wh_1', attempt(`evt_${i}`));
    const listed = await store.listDeliveryAttempts('wh_1');
    expect(listed).toHaveLength(MAX_DELIVERY_ATTEMPTS_KEPT);
    expect(listed[0]).toEqual(attempt(`evt_${MAX_DELIVERY_ATTEMPTS_KEPT + 4}`));
    await store.deleteWebhook('acc_1', 'wh_1');
    expect(await store.listDeliveryAttempts('wh_1')).toEqual([]);
  });
});
