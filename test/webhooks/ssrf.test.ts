/**
 * Server-side request forgery (contract §10) with WEBHOOK_ALLOW_INSECURE off: registration
 * refuses non-global and non-https URLs, and every connection is checked again, on the address
 * the gateway itself resolved, so a name that later resolves to a private address (DNS
 * rebinding) reaches nothing. The resolver is the one dependency replaced: names here must
 * resolve to loopback, and no test leaves the machine.
 */
import request from 'supertest';
import { basicAuth, buildTestGateway, type TestAccount, type TestGateway } from '../helpers/app';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver';
import { sendWebhook } from '../../src/webhooks';

describe('webhook SSRF rules, setting off', () => {
  let gw: TestGateway;
  let account: TestAccount;
  let receiver: WebhookReceiver;
  let answers: Record<string, string[]>;
  const lookups: string[] = [];

  beforeEach(async () => {
    receiver = await startWebhookReceiver();
    answers = {};
    lookups.length = 0;
    gw = await buildTestGateway({
      webhookOptions: {
        resolve: async (host) => {
          lookups.push(host);
          return answers[host] ?? [];
        },
      },
    });
    account = await gw.createAccount('Acme');
  });
  afterEach(async () => {
    await receiver.close();
    await gw.close();
  });

  test.each([
    'http://hooks.example.com/in',
    'https://127.0.0.1/in',
    'https://[::1]/in',
    'https://10.0.0.8/in',
    'https://169.254.169.254/latest/meta-data/',
    'https://[fd00::8]/in',
    'https://[fe80::1]/in',
    'https://[::ffff:127.0.0.1]/in',
    'https://0.0.0.0/in',
    'https://[::]/in',
    'https://localhost/in',
  ])('registering %s is 400 invalid_argument', async (url) => {
    const res = await request(gw.app)
      .post('/v1/account/webhooks')
      .set('Authorization', basicAuth(account))
      .send({ data: { url, events: ['user.revoked'] } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_argument');
    expect(res.body.error.message).toMatch(/^data\.url /);
  });

  const registerName = async (host: string) => {
    const res = await request(gw.app)
      .post('/v1/account/webhooks')
      .set('Authorization', basicAuth(account))
      .send({ data: { url: `https://${host}:${receiver.port}/hooks`, events: ['user.revoked'] } });
    expect(res.status).toBe(201);
    return res.body.result.data.webhook.id as string;
  };

  const revokeAndDeliver = async () => {
    await request(gw.app).post('/v1/auth/users/revoke').set('Authorization', basicAuth(account)).send({ data: { userId: 'u' } }).expect(200);
    await gw.webhooks.tick();
  };

  const lastAttempt = async (id: string) => (await gw.store.listDeliveryAttempts(id))[0];

  test.each([
    [['127.0.0.1'], 'loopback'],
    [['10.0.0.7'], 'private'],
    [['169.254.169.254'], 'link-local'],
    [['fd00::1'], 'unique-local'],
    [['::ffff:127.0.0.1'], 'IPv4-mapped'],
    [['0.0.0.0'], 'unspecified'],
    [['93.184.216.34', '127.0.0.1'], 'a public address next to a loopback one'],
  ])('a name that resolves to %j (%s) at delivery is blocked_address, and nothing is sent', async (addresses) => {
    const id = await registerName('rebind.example');
    answers['rebind.example'] = addresses;
    await revokeAndDeliver();
    expect(await lastAttempt(id)).toMatchObject({ error: 'blocked_address', outcome: 'retrying' });
    expect(receiver.received).toHaveLength(0);
    expect(lookups).toEqual(['rebind.example']);
  });

  test('a name that does not resolve is connect_failed', async () => {
    const id = await registerName('nowhere.example');
    await revokeAndDeliver();
    expect(await lastAttempt(id)).toMatchObject({ error: 'connect_failed' });
  });

  test('an http URL kept from a time the setting was on is blocked once it is off', async () => {
    await gw.store.addWebhook(
      {
        id: 'wh_old',
        accountId: account.account.id,
        url: receiver.url,
        events: ['user.revoked'],
        secret: 'whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0',
        createdAt: new Date().toISOString(),
      },
      10,
    );
    await revokeAndDeliver();
    expect(await lastAttempt('wh_old')).toMatchObject({ error: 'blocked_address' });
    expect(receiver.received).toHaveLength(0);
  });
});

describe('the connection goes to the address that was checked', () => {
  test('one lookup per attempt; the request reaches the resolved address and names the host', async () => {
    const receiver = await startWebhookReceiver();
    try {
      let calls = 0;
      // A second lookup would get an address nothing listens on: the attempt would fail.
      const resolve = async () => (calls++ === 0 ? ['127.0.0.1'] : ['127.0.0.2']);
      const outcome = await sendWebhook(
        { url: `http://hooks.example:${receiver.port}/hooks`, headers: { 'webhook-id': 'evt_1' }, body: '{}' },
        { allowInsecure: true, timeoutMs: 2000, resolve },
      );
      expect(outcome).toEqual({ status: 204 });
      expect(calls).toBe(1);
      expect(receiver.received[0]!.headers.host).toBe(`hooks.example:${receiver.port}`);
    } finally {
      await receiver.close();
    }
  });
});
