/**
 * Webhooks end to end (contract §10), on every store: the account API registers an endpoint,
 * real actions make audit events, the delivery worker (ticked by the test, on a ManualClock)
 * signs and sends them to a real receiver that checks each with the `standardwebhooks`
 * verifier. WEBHOOK_ALLOW_INSECURE=true lets the receiver be http on loopback; the SSRF suite
 * below runs with it off.
 */
import request from 'supertest';
import { ADMIN_TOKEN, basicAuth, buildTestGateway, type TestAccount, type TestGateway } from '../helpers/app';
import { rsaKeyPairPem } from '../helpers/keys';
import { STORE_KINDS } from '../helpers/stores';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver';

const ALL_EVENTS = [
  'token.revoked',
  'user.revoked',
  'organization.revoked',
  'auth_token.added',
  'auth_token.removed',
  'signing_key.set',
  'signing_key.removed',
];

async function register(gw: TestGateway, account: TestAccount, url: string, events = ALL_EVENTS) {
  const res = await request(gw.app)
    .post('/v1/account/webhooks')
    .set('Authorization', basicAuth(account))
    .send({ data: { url, events } });
  expect(res.status).toBe(201);
  return res.body.result.data as { webhook: { id: string; url: string; events: string[]; createdAt: string }; secret: string };
}

const deliveries = async (gw: TestGateway, account: TestAccount, webhookId: string) => {
  const res = await request(gw.app)
    .get(`/v1/account/webhooks/${webhookId}/deliveries`)
    .set('Authorization', basicAuth(account));
  expect(res.status).toBe(200);
  return res.body.result.data.deliveries as Array<Record<string, any>>;
};

/** Ticks the worker until a tick makes no attempt (bounded). */
async function drainQueue(gw: TestGateway): Promise<void> {
  for (let i = 0; i < 20; i += 1) if ((await gw.webhooks.tick()) === 0) return;
  throw new Error('the queue did not drain');
}

describe.each(STORE_KINDS)('webhooks on the %s store', (kind) => {
  let gw: TestGateway;
  let receiver: WebhookReceiver;
  let account: TestAccount;

  const build = async (env: Record<string, string> = {}) => {
    gw = await buildTestGateway({
      store: kind,
      env: { WEBHOOK_ALLOW_INSECURE: 'true', WEBHOOK_RETRY_SCHEDULE: '5s,30s', ...env },
      // No jitter: retries land exactly on the schedule.
      webhookOptions: { random: () => 0.5 },
    });
    account = await gw.createAccount('Acme');
  };

  beforeEach(async () => {
    receiver = await startWebhookReceiver();
  });
  afterEach(async () => {
    await receiver.close();
    await gw?.close();
  });

  const revokeUser = (userId = 'user-1') =>
    request(gw.app).post('/v1/auth/users/revoke').set('Authorization', basicAuth(account)).send({ data: { userId } });

  test('every event of the account arrives once, verified, in order, with the data the contract lists', async () => {
    await build();
    const other = await gw.createAccount('Other');
    const otherReceiver = await startWebhookReceiver();
    try {
      const { webhook, secret } = await register(gw, account, receiver.url);
      receiver.secret = secret;
      const otherHook = await register(gw, other, otherReceiver.url);
      otherReceiver.secret = otherHook.secret;

      const { token, data } = await gw.issue(account);
      const jti = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti as string;
      expect(
        (await request(gw.app).post('/v1/auth/token/revoke').set('Authorization', basicAuth(account)).type('form').send({ token }))
          .status,
      ).toBe(200);
      const userAnswer = await revokeUser();
      const orgAnswer = await request(gw.app)
        .post('/v1/auth/organizations/revoke')
        .set('Authorization', basicAuth(account))
        .send({ data: { organizationId: 'org-1' } });
      const added = await request(gw.app)
        .post(`/v1/admin/accounts/${account.account.id}/auth-tokens`)
        .set('Authorization', `Bearer ${ADMIN_TOKEN}`);
      const authTokenId = added.body.result.data.authTokenId as string;
      await request(gw.app)
        .delete(`/v1/admin/accounts/${account.account.id}/auth-tokens/${authTokenId}`)
        .set('Authorization', `Bearer ${ADMIN_TOKEN}`)
        .expect(200);
      const keySet = await request(gw.app)
        .put('/v1/account/signing-key')
        .set('Authorization', basicAuth(account))
        .send({ data: { publicKey: rsaKeyPairPem().publicKey } });
      expect(keySet.status).toBe(200);
      await request(gw.app).delete('/v1/account/signing-key').set('Authorization', basicAuth(account)).expect(200);
      expect(data.token).toBe(token);

      await drainQueue(gw);
      expect(receiver.received).toHaveLength(7);
      expect(receiver.received.every((r) => r.verified !== undefined)).toBe(true);
      const payloads = [...receiver.unique().values()];
      expect(payloads.map((p) => p.type)).toEqual(ALL_EVENTS);
      expect(payloads.map((p) => p.data)).toEqual([
        { tokenId: jti, userId: 'user-1' },
        { userId: 'user-1', revokedBefore: userAnswer.body.result.data.revokedBefore },
        { organizationId: 'org-1', revokedBefore: orgAnswer.body.result.data.revokedBefore },
        { authTokenId },
        { authTokenId },
        { thumbprint: keySet.body.result.data.thumbprint, bits: 2048 },
        {},
      ]);
      for (const p of payloads) expect(Number.isNaN(Date.parse(p.timestamp))).toBe(false);
      // webhook-id is the audit event's id: a receiver can match it with GET /v1/account/events.
      const events = await request(gw.app).get('/v1/account/events').set('Authorization', basicAuth(account));
      const eventIds = (events.body.result.data.events as Array<{ id: string; type: string }>)
        .filter((e) => ALL_EVENTS.includes(e.type))
        .map((e) => e.id)
        .reverse();
      expect([...receiver.unique().keys()]).toEqual(eventIds);
      expect(receiver.received[0]!.headers['content-type']).toBe('application/json');

      // The other account heard nothing of these.
      expect(otherReceiver.received).toHaveLength(0);

      const attempts = await deliveries(gw, account, webhook.id);
      expect(attempts.map((a) => a.type)).toEqual([...ALL_EVENTS].reverse());
      expect(attempts[0]).toEqual({
        eventId: eventIds[6],
        type: 'signing_key.removed',
        time: expect.any(String),
        attempt: 1,
        status: 204,
        outcome: 'delivered',
        nextRetryAt: null,
      });
    } finally {
      await otherReceiver.close();
    }
  });

  test('an endpoint receives only the types it subscribed to', async () => {
    await build();
    receiver.secret = (await register(gw, account, receiver.url, ['organization.revoked'])).secret;
    await revokeUser();
    await request(gw.app)
      .post('/v1/auth/organizations/revoke')
      .set('Authorization', basicAuth(account))
      .send({ data: { organizationId: 'org-9' } })
      .expect(200);
    await drainQueue(gw);
    expect([...receiver.unique().values()].map((p) => p.type)).toEqual(['organization.revoked']);
  });

  test('a receiver that fails the first two attempts gets the event on the schedule, same id, each verified', async () => {
    await build();
    const { webhook, secret } = await register(gw, account, receiver.url);
    receiver.secret = secret;
    receiver.answer = (n) => (n <= 2 ? 503 : 200);
    await revokeUser();
    const start = gw.clock.now();

    expect(await gw.webhooks.tick()).toBe(1);
    expect(await gw.webhooks.tick()).toBe(0);
    gw.clock.advance(4_999);
    expect(await gw.webhooks.tick()).toBe(0);
    gw.clock.advance(1);
    expect(await gw.webhooks.tick()).toBe(1);
    gw.clock.advance(29_999);
    expect(await gw.webhooks.tick()).toBe(0);
    gw.clock.advance(1);
    expect(await gw.webhooks.tick()).toBe(1);

    expect(receiver.received).toHaveLength(3);
    expect(new Set(receiver.received.map((r) => r.id)).size).toBe(1);
    expect(receiver.received.every((r) => r.verified?.type === 'user.revoked')).toBe(true);
    expect(receiver.received.map((r) => Number(r.headers['webhook-timestamp']) - Math.floor(start / 1000))).toEqual([0, 5, 35]);

    const attempts = await deliveries(gw, account, webhook.id);
    expect(attempts.map((a) => [a.attempt, a.status, a.outcome, a.nextRetryAt])).toEqual([
      [3, 200, 'delivered', null],
      [2, 503, 'retrying', new Date(start + 35_000).toISOString()],
      [1, 503, 'retrying', new Date(start + 5_000).toISOString()],
    ]);
  });

  test('after the last delay of the schedule the delivery is failed and not tried again', async () => {
    await build({ WEBHOOK_RETRY_SCHEDULE: '5s' });
    const { webhook } = await register(gw, account, receiver.url);
    receiver.answer = () => 500;
    await revokeUser();
    await gw.webhooks.tick();
    gw.clock.advance(5_000);
    await gw.webhooks.tick();
    gw.clock.advance(86_400_000);
    expect(await gw.webhooks.tick()).toBe(0);
    expect(receiver.received).toHaveLength(2);
    const attempts = await deliveries(gw, account, webhook.id);
    expect(attempts.map((a) => [a.attempt, a.status, a.outcome, a.nextRetryAt])).toEqual([
      [2, 500, 'failed', null],
      [1, 500, 'retrying', expect.any(String)],
    ]);
  });

  test('the jitter spreads a retry around its delay, within a fifth of it', async () => {
    gw = await buildTestGateway({
      store: kind,
      env: { WEBHOOK_ALLOW_INSECURE: 'true', WEBHOOK_RETRY_SCHEDULE: '10s' },
      webhookOptions: { random: () => 0.999 },
    });
    account = await gw.createAccount('Acme');
    const { webhook } = await register(gw, account, receiver.url);
    receiver.answer = () => 500;
    await revokeUser();
    const start = gw.clock.now();
    await gw.webhooks.tick();
    const [first] = await deliveries(gw, account, webhook.id);
    expect(Date.parse(first!.nextRetryAt) - start).toBe(11_996);
  });

  test('a receiver that does not answer in time is a timeout; a closed port is connect_failed', async () => {
    await build({ WEBHOOK_TIMEOUT_SECONDS: '1' });
    const slow = await register(gw, account, receiver.url);
    receiver.answer = () => 'hang';
    const closed = await startWebhookReceiver();
    await closed.close();
    const refused = await register(gw, account, closed.url);
    await revokeUser();
    await gw.webhooks.tick();
    expect((await deliveries(gw, account, slow.webhook.id))[0]).toMatchObject({ error: 'timeout', outcome: 'retrying' });
    expect((await deliveries(gw, account, refused.webhook.id))[0]).toMatchObject({ error: 'connect_failed', outcome: 'retrying' });
    expect((await deliveries(gw, account, slow.webhook.id))[0]!.status).toBeUndefined();
  });

  test('a redirect is not followed: the 3xx is the attempt, and the target hears nothing', async () => {
    await build();
    const target = await startWebhookReceiver();
    try {
      const { webhook } = await register(gw, account, receiver.url);
      receiver.answer = () => ({ redirect: target.url });
      await revokeUser();
      await gw.webhooks.tick();
      expect((await deliveries(gw, account, webhook.id))[0]).toMatchObject({ status: 302, outcome: 'retrying' });
      expect(target.received).toHaveLength(0);
    } finally {
      await target.close();
    }
  });

  test('a removed endpoint gets nothing more, not even what was queued for it', async () => {
    await build();
    const { webhook } = await register(gw, account, receiver.url);
    await revokeUser();
    await request(gw.app).delete(`/v1/account/webhooks/${webhook.id}`).set('Authorization', basicAuth(account)).expect(200);
    expect(await gw.webhooks.tick()).toBe(0);
    expect(receiver.received).toHaveLength(0);
  });
});

describe('the webhook API', () => {
  let gw: TestGateway;
  let account: TestAccount;
  beforeEach(async () => {
    gw = await buildTestGateway({ env: { WEBHOOK_ALLOW_INSECURE: 'true' } });
    account = await gw.createAccount('Acme');
  });
  afterEach(() => gw.close());

  test('creation answers the endpoint and its secret once; listing never shows a secret', async () => {
    const res = await request(gw.app)
      .post('/v1/account/webhooks')
      .set('Authorization', basicAuth(account))
      .send({ data: { url: 'https://hooks.example.com/in', events: ['token.revoked'] } });
    expect(res.status).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body.result.data).toEqual({
      webhook: { id: expect.stringMatching(/^wh_/), url: 'https://hooks.example.com/in', events: ['token.revoked'], createdAt: expect.any(String) },
      secret: expect.stringMatching(/^whsec_/),
    });
    const list = await request(gw.app).get('/v1/account/webhooks').set('Authorization', basicAuth(account));
    expect(list.body.result.data).toEqual({ webhooks: [res.body.result.data.webhook] });
    expect(JSON.stringify(list.body)).not.toContain(res.body.result.data.secret.slice(6));
  });

  test('at most 10 endpoints per account: the 11th is 412 failed_precondition', async () => {
    for (let i = 0; i < 10; i += 1) {
      await request(gw.app)
        .post('/v1/account/webhooks')
        .set('Authorization', basicAuth(account))
        .send({ data: { url: `https://hooks.example.com/${i}`, events: ['user.revoked'] } })
        .expect(201);
    }
    const res = await request(gw.app)
      .post('/v1/account/webhooks')
      .set('Authorization', basicAuth(account))
      .send({ data: { url: 'https://hooks.example.com/11', events: ['user.revoked'] } });
    expect(res.status).toBe(412);
    expect(res.body.error).toMatchObject({ status: 'FAILED_PRECONDITION', code: 'failed_precondition', retryable: false });
  });

  test.each([
    [{ url: 'https://hooks.example.com/in', events: [] }, 'data.events'],
    [{ url: 'https://hooks.example.com/in', events: ['account.created'] }, 'data.events.0'],
    [{ url: 'https://hooks.example.com/in' }, 'data.events is required.'],
    [{ events: ['user.revoked'] }, 'data.url is required.'],
    [{ url: 'not a url', events: ['user.revoked'] }, 'data.url must be an absolute URL.'],
  ])('a bad registration %j is 400 naming the field, and nothing is stored', async (data, message) => {
    const res = await request(gw.app).post('/v1/account/webhooks').set('Authorization', basicAuth(account)).send({ data });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain(message);
    expect(await gw.store.listWebhooks(account.account.id)).toEqual([]);
  });

  test("an account cannot see, read or remove another account's endpoint", async () => {
    const other = await gw.createAccount('Other');
    const created = await request(gw.app)
      .post('/v1/account/webhooks')
      .set('Authorization', basicAuth(other))
      .send({ data: { url: 'https://hooks.example.com/in', events: ['user.revoked'] } });
    const id = created.body.result.data.webhook.id as string;
    expect((await request(gw.app).get('/v1/account/webhooks').set('Authorization', basicAuth(account))).body.result.data.webhooks).toEqual([]);
    expect((await request(gw.app).get(`/v1/account/webhooks/${id}/deliveries`).set('Authorization', basicAuth(account))).status).toBe(404);
    expect((await request(gw.app).delete(`/v1/account/webhooks/${id}`).set('Authorization', basicAuth(account))).status).toBe(404);
    expect(await gw.store.listWebhooks(other.account.id)).toHaveLength(1);
  });

  test('without credentials every route is 401 with a Basic challenge', async () => {
    for (const [method, path] of [
      ['post', '/v1/account/webhooks'],
      ['get', '/v1/account/webhooks'],
      ['delete', '/v1/account/webhooks/wh_x'],
      ['get', '/v1/account/webhooks/wh_x/deliveries'],
    ] as const) {
      const res = await request(gw.app)[method](path);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="token-gateway"');
    }
  });

  test('the operator registers, lists, reads and removes an account\'s endpoints', async () => {
    const base = `/v1/admin/accounts/${account.account.id}/webhooks`;
    const created = await request(gw.app)
      .post(base)
      .set('Authorization', `Bearer ${ADMIN_TOKEN}`)
      .send({ data: { url: 'https://hooks.example.com/in', events: ['user.revoked'] } });
    expect(created.status).toBe(201);
    expect(created.body.result.data.secret).toMatch(/^whsec_/);
    const id = created.body.result.data.webhook.id as string;
    const list = await request(gw.app).get(base).set('Authorization', `Bearer ${ADMIN_TOKEN}`);
    expect(list.body.result.data.webhooks.map((w: { id: string }) => w.id)).toEqual([id]);
    // The account sees it as its own.
    expect((await request(gw.app).get('/v1/account/webhooks').set('Authorization', basicAuth(account))).body.result.data.webhooks).toHaveLength(1);
    expect((await request(gw.app).get(`${base}/${id}/deliveries`).set('Authorization', `Bearer ${ADMIN_TOKEN}`)).body.result.data).toEqual({ deliveries: [] });
    expect((await request(gw.app).delete(`${base}/${id}`).set('Authorization', `Bearer ${ADMIN_TOKEN}`)).status).toBe(200);
    expect((await request(gw.app).post(base).send({ data: { url: 'https://a.example', events: ['user.revoked'] } })).status).toBe(401);
    expect((await request(gw.app).get('/v1/admin/accounts/acc_nope/webhooks').set('Authorization', `Bearer ${ADMIN_TOKEN}`)).status).toBe(404);
  });
});
