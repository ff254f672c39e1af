/**
 * Graceful shutdown (contract §8) of the real process, `node dist/server.js`, under load:
 * SIGTERM turns /readyz 503 at once, closes the listener, answers every request already on
 * its way (with `Connection: close`), cuts none of them, and exits 0; a request still hanging
 * at SHUTDOWN_TIMEOUT_SECONDS is destroyed and the exit code is 1. And a start with Redis down
 * listens, is live but not ready, and becomes ready by itself once Redis answers. What the log
 * says at start: the in-memory store warning without REDIS_URL, the connection errors of a
 * Redis that is down.
 */
import http from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { ADMIN_TOKEN, forwardAuthPath } from '../helpers/app';
import { makeKeysDir } from '../helpers/keys';
import { testIf } from '../helpers/skip';
import { freePort, hasRedisServerBinary, startThrowawayRedis, type ThrowawayRedis } from '../setup/redis-server';
import { send } from './harness';
import { ensureBuilt, spawnGateway, type GatewayProcess } from './process';

const ISSUER = 'https://gateway.test';

interface Outcome {
  worker: number;
  sentAt: number;
  doneAt: number;
  status?: number;
  connection?: string;
  error?: string;
}

const errorCode = (error: unknown): string =>
  (error as NodeJS.ErrnoException).code ?? (error as Error).message ?? String(error);

async function baseEnv(shutdownTimeoutSeconds: number): Promise<Record<string, string>> {
  return {
    PORT: String(await freePort()),
    KEYS_DIR: makeKeysDir(),
    ADMIN_TOKEN,
    JWT_ISSUER: ISSUER,
    LOG_LEVEL: 'warn',
    SHUTDOWN_TIMEOUT_SECONDS: String(shutdownTimeoutSeconds),
  };
}

/** An account and a token, through the public API of the running process. */
async function tokenFrom(gateway: GatewayProcess): Promise<string> {
  const created = await send({
    port: gateway.port,
    path: '/v1/admin/accounts',
    method: 'POST',
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ data: { name: 'Acme' } }),
  });
  expect(created.status).toBe(201);
  const { account, authToken } = JSON.parse(created.body).result.data;
  const issued = await send({
    port: gateway.port,
    path: '/v1/auth/token/get',
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      data: { apiKey: account.apiKey, authToken, userId: 'user-1', userProperties: { organizationId: 'org-1' } },
    }),
  });
  expect(issued.status).toBe(200);
  return JSON.parse(issued.body).result.data.token as string;
}

const within = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([
    promise,
    new Promise<T>((_resolve, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms).unref()),
  ]);

describe('graceful shutdown of node dist/server.js', () => {
  const running: GatewayProcess[] = [];

  beforeAll(() => ensureBuilt(), 180_000);

  afterEach(() => {
    for (const gateway of running.splice(0)) gateway.kill('SIGKILL');
  });

  it('drains a loaded gateway: nothing in flight fails, late answers close, the listener refuses, exit 0', async () => {
    const gateway = await spawnGateway(await baseEnv(5));
    running.push(gateway);
    const token = await tokenFrom(gateway);

    const loadAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const probeAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const idleAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      // A keep-alive connection for the readiness probe, one that is idle when the signal comes
      // and used again just after it, and a raw connection that never sends anything.
      expect((await send({ port: gateway.port, path: '/readyz', agent: probeAgent })).status).toBe(200);
      expect((await send({ port: gateway.port, path: '/healthz', agent: idleAgent })).status).toBe(200);
      const silent = net.connect(gateway.port, '127.0.0.1');
      silent.on('error', () => undefined);
      const silentClosed = new Promise<number>((resolve) => silent.once('close', () => resolve(performance.now())));

      const outcomes: Outcome[] = [];
      let stopAt = Infinity;
      const worker = async (id: number) => {
        while (performance.now() < stopAt) {
          const sentAt = performance.now();
          try {
            const res = await send({
              port: gateway.port,
              path: forwardAuthPath(token),
              headers: { Authorization: `Bearer ${token}` },
              agent: loadAgent,
            });
            outcomes.push({ worker: id, sentAt, doneAt: performance.now(), status: res.status, connection: res.headers.connection });
          } catch (error) {
            outcomes.push({ worker: id, sentAt, doneAt: performance.now(), error: errorCode(error) });
            return; // a refused connection ends this client; anything else fails the test below
          }
        }
      };
      const loadStart = performance.now();
      const workers = Array.from({ length: 8 }, (_v, i) => worker(i));

      await new Promise((r) => setTimeout(r, 500));
      const signalAt = performance.now();
      gateway.kill('SIGTERM');

      // /readyz on the already open connection (a new one may already be refused): 503 at once.
      let readyz503At = 0;
      while (performance.now() - signalAt < 2000) {
        const probe = await send({ port: gateway.port, path: '/readyz', agent: probeAgent });
        if (probe.status === 503) {
          readyz503At = performance.now();
          expect(probe.headers.connection).toBe('close');
          expect(JSON.parse(probe.body).checks.shuttingDown).toBe(true);
          break;
        }
        expect(probe.status).toBe(200); // the signal has not been handled yet
      }
      expect(readyz503At).toBeGreaterThan(0);
      expect(readyz503At - signalAt).toBeLessThan(1500); // generous: two shared cores under load

      // A request on a keep-alive connection that was idle when the signal came is still
      // answered (the connection is not cut at once), and told to close.
      const late = await send({ port: gateway.port, path: '/healthz', agent: idleAgent });
      expect(late.status).toBe(200);
      expect(late.headers.connection).toBe('close');

      // The listener is closed: a new connection is refused.
      await expect(send({ port: gateway.port, path: '/healthz' })).rejects.toMatchObject({ code: 'ECONNREFUSED' });

      stopAt = Math.max(loadStart + 1000, performance.now() + 300);
      await within(Promise.all(workers), 5000, 'the load clients to finish');
      const code = await within(gateway.exited, 5000 + 2000, 'the process to exit');
      const exitedAfterMs = performance.now() - signalAt;
      expect(code).toBe(0);
      expect(exitedAfterMs).toBeLessThan(5000);
      // The silent connection was closed after the idle grace, not at once and not at the deadline.
      const silentClosedAfterMs = (await within(silentClosed, 1000, 'the silent connection to close')) - signalAt;
      expect(silentClosedAfterMs).toBeGreaterThanOrEqual(250);
      expect(silentClosedAfterMs).toBeLessThan(3000);

      const answered = outcomes.filter((o) => o.status !== undefined);
      const failed = outcomes.filter((o) => o.error !== undefined);
      expect(answered.filter((o) => o.sentAt < signalAt).length).toBeGreaterThanOrEqual(8);
      // Every request that reached the gateway was answered 200; no request was cut off.
      expect(answered.filter((o) => o.status !== 200)).toEqual([]);
      expect(failed.filter((o) => o.error !== 'ECONNREFUSED')).toEqual([]);
      // Only new connections, after the signal, are refused.
      expect(failed.filter((o) => o.sentAt < signalAt)).toEqual([]);
      // Answers to requests sent once shutdown had begun all say Connection: close.
      expect(answered.filter((o) => o.sentAt > readyz503At && o.connection !== 'close')).toEqual([]);
      // Each client saw its connection end politely: a 200 with Connection: close, then a refusal.
      for (let id = 0; id < 8; id++) {
        const mine = outcomes.filter((o) => o.worker === id);
        if (mine.at(-1)?.error === undefined) continue; // the load stopped before this client met the end
        expect(mine.at(-1)!.error).toBe('ECONNREFUSED');
        expect(mine.at(-2)).toMatchObject({ status: 200, connection: 'close' });
      }
      expect(answered.some((o) => o.connection === 'close')).toBe(true);
    } finally {
      loadAgent.destroy();
      probeAgent.destroy();
      idleAgent.destroy();
    }
  }, 30_000);

  it('destroys a request still hanging at SHUTDOWN_TIMEOUT_SECONDS and exits 1', async () => {
    const timeoutSeconds = 2;
    const gateway = await spawnGateway(await baseEnv(timeoutSeconds));
    running.push(gateway);

    // A POST whose body never finishes: the request is in flight for as long as the client likes.
    const slow = net.connect(gateway.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      slow.once('connect', () => resolve());
      slow.once('error', reject);
    });
    let received = '';
    slow.on('data', (chunk: Buffer) => (received += chunk.toString()));
    slow.on('error', () => undefined);
    const slowClosed = new Promise<void>((resolve) => slow.once('close', () => resolve()));
    slow.write(
      'POST /v1/auth/token/get HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
        'Content-Length: 200\r\n\r\n{"data": {"apiKey": "ak_',
    );
    await new Promise((r) => setTimeout(r, 200));

    const signalAt = performance.now();
    gateway.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    await expect(send({ port: gateway.port, path: '/healthz' })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(gateway.child.exitCode).toBeNull(); // still waiting for the slow request

    const code = await within(gateway.exited, timeoutSeconds * 1000 + 3000, 'the process to exit');
    const elapsed = performance.now() - signalAt;
    expect(code).toBe(1);
    expect(elapsed).toBeGreaterThanOrEqual(timeoutSeconds * 1000 - 100);
    expect(elapsed).toBeLessThan(timeoutSeconds * 1000 + 2000);
    await within(slowClosed, 1000, 'the slow connection to be closed');
    expect(received).toBe(''); // destroyed, never answered
    expect(gateway.output()).toMatch(/shutdown timed out/);
  }, 30_000);

  it('a start without REDIS_URL says in its log that it runs on the in-memory store', async () => {
    const gateway = await spawnGateway(await baseEnv(5));
    running.push(gateway);
    const warning = await gateway.waitForLog((l) => /REDIS_URL is not set: using the in-memory store/.test(l.msg ?? ''));
    expect(warning.level).toBe(40); // warn: seen at the LOG_LEVEL=warn of these starts
    expect(warning.msg).toMatch(/single instance only/);
    gateway.kill('SIGTERM');
    expect(await within(gateway.exited, 7000, 'the process to exit')).toBe(0);
  }, 30_000);

  const itWithRedisBinary = testIf(
    hasRedisServerBinary(),
    'no redis-server binary: the Redis-down start test of test/deploy/shutdown.test.ts does not run',
  );

  itWithRedisBinary('starts with Redis down (live, not ready, 503), and becomes ready by itself once Redis answers', async () => {
    const redisPort = await freePort();
    const gateway = await spawnGateway({ ...(await baseEnv(5)), REDIS_URL: `redis://127.0.0.1:${redisPort}` });
    running.push(gateway);
    let redis: ThrowawayRedis | undefined;
    try {
      expect((await send({ port: gateway.port, path: '/healthz' })).status).toBe(200);
      const notReady = await send({ port: gateway.port, path: '/readyz' });
      expect(notReady.status).toBe(503);
      expect(JSON.parse(notReady.body).checks.store).toBe(false);
      // The outage is in the log: the client's failed connections, as errors.
      const connectionError = await gateway.waitForLog((l) => l.msg === 'redis connection error');
      expect(connectionError.level).toBe(50);
      expect(connectionError.err.message).toMatch(/ECONNREFUSED/);
      expect(gateway.output()).not.toMatch(/in-memory store/);

      // What depends on the store answers 503 store_unavailable, at once.
      const startedAt = performance.now();
      const admin = await send({
        port: gateway.port,
        path: '/v1/admin/accounts',
        method: 'POST',
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ data: { name: 'Acme' } }),
      });
      expect(performance.now() - startedAt).toBeLessThan(1000);
      expect(admin.status).toBe(503);
      expect(JSON.parse(admin.body).error).toMatchObject({ code: 'store_unavailable', retryable: true });

      redis = await startThrowawayRedis(redisPort);
      const deadline = performance.now() + 10_000;
      let ready = await send({ port: gateway.port, path: '/readyz' });
      while (ready.status !== 200 && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        ready = await send({ port: gateway.port, path: '/readyz' });
      }
      expect(ready.status).toBe(200);
      const token = await tokenFrom(gateway);
      const verified = await send({
        port: gateway.port,
        path: forwardAuthPath(token),
        headers: { Authorization: `Bearer ${token}` },
      });
      expect(verified.status).toBe(200);

      // Redis goes away again: not ready, forward auth denies with 503 within 1 s.
      const stopping = redis;
      redis = undefined;
      await stopping.stop();
      const outageAt = performance.now();
      const denied = await send({
        port: gateway.port,
        path: forwardAuthPath(token),
        headers: { Authorization: `Bearer ${token}` },
      });
      expect(performance.now() - outageAt).toBeLessThan(1000);
      expect(denied.status).toBe(503);
      expect((await send({ port: gateway.port, path: '/readyz' })).status).toBe(503);

      gateway.kill('SIGTERM');
      expect(await within(gateway.exited, 7000, 'the process to exit')).toBe(0);
    } finally {
      await redis?.stop();
    }
  }, 40_000);
});
