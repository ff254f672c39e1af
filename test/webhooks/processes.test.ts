/**
 * Webhooks across real gateway processes (`node dist/server.js`) on one Redis: a gateway killed
 * (SIGKILL) while its receiver holds a delivery loses nothing, since another instance takes the
 * unsettled delivery over after the visibility time (twice WEBHOOK_TIMEOUT_SECONDS plus 1 s);
 * two instances share the queue and each event arrives once; a receiver that fails its first
 * attempts gets the event on a short WEBHOOK_RETRY_SCHEDULE. The receiver verifies every
 * request with the `standardwebhooks` package.
 */
import { rmSync } from 'node:fs';
import { ADMIN_TOKEN } from '../helpers/app';
import { makeKeysDir } from '../helpers/keys';
import { deletePrefix, describeWithRedis, rawRedis, testRedisUrl, uniquePrefix } from '../helpers/redis';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver';
import { freePort } from '../setup/redis-server';
import { send } from '../deploy/harness';
import { ensureBuilt, spawnGateway, type GatewayProcess } from '../deploy/process';

describeWithRedis('webhooks across gateway processes', () => {
  let prefix: string;
  let keysDir: string;
  let receiver: WebhookReceiver;
  const gateways: GatewayProcess[] = [];

  /**
   * A gateway that is surely this test's own: a free port can be taken by another server before
   * the child binds it (supertest's, in a parallel run), and that server would answer /healthz
   * too. So the child's own "listening" log line is awaited, and a child that lost the port is
   * started again on another.
   */
  const start = async (): Promise<GatewayProcess> => {
    for (let attempt = 1; ; attempt += 1) {
      const gateway = await spawnOnce().catch((error: Error) => {
        if (attempt === 3) throw error;
        return undefined;
      });
      if (!gateway) continue;
      const listening = await gateway.waitForLog((line) => line.msg === 'token-gateway listening', 5000).then(
        () => true,
        () => false,
      );
      if (listening && gateway.child.exitCode === null) return gateway;
      gateway.kill('SIGKILL');
      if (attempt === 3) throw new Error(`the gateway did not start:\n${gateway.output()}`);
    }
  };

  const spawnOnce = async (): Promise<GatewayProcess> => {
    const gateway = await spawnGateway({
      PORT: String(await freePort()),
      KEYS_DIR: keysDir,
      REDIS_URL: testRedisUrl(),
      REDIS_PREFIX: prefix,
      ADMIN_TOKEN,
      JWT_ISSUER: 'https://gateway.test',
      LOG_LEVEL: 'info',
      WEBHOOK_ALLOW_INSECURE: 'true',
      WEBHOOK_TIMEOUT_SECONDS: '1',
      WEBHOOK_RETRY_SCHEDULE: '200ms,200ms,200ms',
    });
    gateways.push(gateway);
    return gateway;
  };

  const call = async (gateway: GatewayProcess, path: string, body: unknown, auth: string) => {
    const res = await send({
      port: gateway.port,
      path,
      method: 'POST',
      headers: { Authorization: auth, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: JSON.parse(res.body) };
  };

  /** An account with a webhook on the receiver, made through `gateway`; returns its Basic credentials. */
  const setUp = async (gateway: GatewayProcess): Promise<string> => {
    const created = await call(gateway, '/v1/admin/accounts', { data: { name: 'Acme' } }, `Bearer ${ADMIN_TOKEN}`);
    expect(created.status).toBe(201);
    const { account, authToken } = created.body.result.data;
    const basic = `Basic ${Buffer.from(`${account.apiKey}:${authToken}`).toString('base64')}`;
    const hook = await call(gateway, '/v1/account/webhooks', { data: { url: receiver.url, events: ['user.revoked'] } }, basic);
    expect(hook.status).toBe(201);
    receiver.secret = hook.body.result.data.secret;
    return basic;
  };

  const revoke = async (gateway: GatewayProcess, basic: string, userId: string) =>
    expect((await call(gateway, '/v1/auth/users/revoke', { data: { userId } }, basic)).status).toBe(200);

  beforeAll(() => {
    ensureBuilt();
    keysDir = makeKeysDir();
  }, 180_000);
  afterAll(() => rmSync(keysDir, { recursive: true, force: true }));

  beforeEach(async () => {
    prefix = uniquePrefix();
    receiver = await startWebhookReceiver();
  });
  afterEach(async () => {
    for (const gateway of gateways) gateway.kill('SIGKILL');
    await Promise.all(gateways.map((g) => g.exited));
    gateways.length = 0;
    await receiver.close();
    const raw = rawRedis();
    await deletePrefix(raw, prefix).finally(() => raw.disconnect());
  });

  test('a gateway killed while delivering loses nothing: another instance delivers the event', async () => {
    const first = await start();
    const basic = await setUp(first);
    // The first request is held: the gateway has claimed the delivery and is waiting for the answer.
    receiver.answer = (n) => (n === 1 ? 'hang' : 204);
    await revoke(first, basic, 'user-1');
    await receiver.waitFor(1);
    first.kill('SIGKILL');
    await first.exited;

    await start();
    await receiver.waitFor(2, 15_000);
    const [held, delivered] = receiver.received;
    expect(delivered!.id).toBe(held!.id);
    expect(delivered!.verified).toMatchObject({ type: 'user.revoked', data: { userId: 'user-1' } });
  }, 30_000);

  test('two instances share the queue: every event arrives, verified, each once', async () => {
    const [a, b] = [await start(), await start()];
    const basic = await setUp(a);
    for (let i = 0; i < 10; i += 1) await revoke(i % 2 === 0 ? a : b, basic, `user-${i}`);
    await receiver.waitFor(10, 15_000);
    // A little longer: a duplicate would have arrived by now.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(receiver.received).toHaveLength(10);
    expect(receiver.received.every((r) => r.verified !== undefined)).toBe(true);
    expect(new Set([...receiver.unique().values()].map((p) => p.data.userId))).toEqual(
      new Set(Array.from({ length: 10 }, (_, i) => `user-${i}`)),
    );
  }, 30_000);

  test('a receiver that fails its first two attempts gets the event on the third', async () => {
    const gateway = await start();
    const basic = await setUp(gateway);
    receiver.answer = (n) => (n <= 2 ? 500 : 200);
    await revoke(gateway, basic, 'user-1');
    await receiver.waitFor(3, 10_000);
    expect(new Set(receiver.received.map((r) => r.id)).size).toBe(1);
    expect(receiver.received.every((r) => r.verified?.type === 'user.revoked')).toBe(true);
    const line = await gateway.waitForLog((l) => l.msg === 'webhook attempt' && l.outcome === 'delivered');
    expect(line).toMatchObject({ attempt: 3 });
    // The log names the attempt, never the secret.
    expect(gateway.output()).not.toContain(receiver.secret!.slice(6));
  }, 30_000);
});
