/**
 * Standard Webhooks signing, checked by the reference verifier (the `standardwebhooks`
 * package): what the gateway signs verifies; any change to the body, id, time or secret does not.
 */
import { Webhook } from 'standardwebhooks';
import { newWebhookSecret, signWebhook } from '../../src/webhooks';

describe('webhook signatures (Standard Webhooks)', () => {
  const body = JSON.stringify({ type: 'token.revoked', timestamp: '2026-01-01T00:00:00.000Z', data: { tokenId: 'j' } });
  const now = Math.floor(Date.now() / 1000);

  test('the reference verifier accepts what the gateway signs', () => {
    const secret = newWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const headers = signWebhook(secret, 'evt_1', now, body);
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
    // And the gateway's signature is the reference signer's.
    expect(headers['webhook-signature']).toBe(new Webhook(secret).sign('evt_1', new Date(now * 1000), body));
  });

  test.each([
    ['another body', (h: Record<string, string>) => ({ body: body.replace('"j"', '"k"'), headers: h })],
    ['another id', (h: Record<string, string>) => ({ body, headers: { ...h, 'webhook-id': 'evt_2' } })],
    ['another time', (h: Record<string, string>) => ({ body, headers: { ...h, 'webhook-timestamp': String(now + 1) } })],
  ])('the verifier refuses %s', (_name, change) => {
    const secret = newWebhookSecret();
    const changed = change({ ...signWebhook(secret, 'evt_1', now, body) });
    expect(() => new Webhook(secret).verify(changed.body, changed.headers)).toThrow();
  });

  test("another endpoint's secret does not verify", () => {
    const headers = signWebhook(newWebhookSecret(), 'evt_1', now, body);
    expect(() => new Webhook(newWebhookSecret()).verify(body, { ...headers })).toThrow();
  });
});
