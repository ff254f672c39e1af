/**
 * Contract §8 on Redis Sentinel, with real processes: a primary, two replicas and three
 * Sentinels on loopback. The replica that a failover promotes replicates through a proxy that
 * holds its stream 150 ms back (on loopback a replica otherwise has every write within a
 * millisecond, and a gateway that never waited would pass by luck). Under a steady load of
 * issuance, checks and revocations the primary is SIGKILLed; the gateway must never call a
 * revoked token valid, must not lose a revocation it answered 200, and must recover by itself.
 *
 * FAILOVER_REPORT=1 prints the failover time and the 503 window (docs/BENCHMARKS.md quotes them).
 */
import request from 'supertest';
import { systemClock } from '../../src/clock';
import { loadConfig } from '../../src/config';
import { createStore, type GatewayStore } from '../../src/store';
import { basicAuth, buildTestGateway, type TestAccount, type TestGateway } from '../helpers/app';
import { startThrowawaySentinels, type ThrowawaySentinels } from '../setup/redis-sentinel';
import { hasRedisServerBinary } from '../setup/redis-server';

jest.setTimeout(120_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PREFIX = 'tgsentinel:';

(hasRedisServerBinary() ? describe : describe.skip)('Redis Sentinel failover under load', () => {
  let deployment: ThrowawaySentinels;
  let store: GatewayStore;
  let gw: TestGateway;

  beforeAll(async () => {
    deployment = await startThrowawaySentinels();
    store = createStore(loadConfig({ REDIS_SENTINELS: deployment.sentinelsList, REDIS_PREFIX: PREFIX }), { clock: systemClock });
    for (let i = 0; ; i++) {
      try {
        await store.ping();
        break;
      } catch (error) {
        if (i > 200) throw error;
        await sleep(50);
      }
    }
    gw = await buildTestGateway({ store: { store, prefix: PREFIX, cleanup: async () => undefined } });
  });
  afterAll(async () => {
    await store?.close();
    await deployment?.stop();
  });

  test('the primary SIGKILLed: no revoked token valid, no 200 revocation lost, recovery by itself', async () => {
    const acme: TestAccount = await gw.createAccount('Acme');
    await deployment.link.command({ delayDown: 150 });

    const issue = () =>
      request(gw.app).post('/v1/auth/token/get').send({
        data: { apiKey: acme.apiKey, authToken: acme.authToken, userId: 'user-1', userProperties: { organizationId: 'org-1' } },
      });
    const introspect = (token: string) =>
      request(gw.app).post('/v1/auth/token/introspect').set('Authorization', basicAuth(acme)).type('form').send({ token });
    const revoke = (token: string) =>
      request(gw.app).post('/v1/auth/token/revoke').set('Authorization', basicAuth(acme)).type('form').send({ token });

    const live: string[] = [];
    const revoked: string[] = [];
    const violations: string[] = [];
    const log: Array<{ at: number; what: 'issue' | 'check' | 'revoke'; status: number }> = [];
    let killedAt = 0;

    async function step(): Promise<void> {
      const issued = await issue();
      log.push({ at: Date.now(), what: 'issue', status: issued.status });
      if (issued.status === 200) live.push(issued.body.result.data.token as string);
      else expect(issued.status).toBe(503);

      if (revoked.length > 0) {
        const token = revoked[Math.floor(Math.random() * revoked.length)]!;
        const checked = await introspect(token);
        log.push({ at: Date.now(), what: 'check', status: checked.status });
        if (checked.status === 200 && checked.body.active !== false) violations.push(`revoked token valid at ${Date.now() - killedAt} ms`);
      }
      if (live.length > 0) {
        const token = live[live.length - 1]!;
        const checked = await introspect(token);
        log.push({ at: Date.now(), what: 'check', status: checked.status });
        expect([200, 503]).toContain(checked.status);
        const answer = await revoke(token);
        log.push({ at: Date.now(), what: 'revoke', status: answer.status });
        if (answer.status === 200) {
          live.pop();
          revoked.push(token);
        } else {
          expect(answer.status).toBe(503);
        }
      }
    }

    // Steady state first, then the kill, then until the gateway has recovered by itself.
    const start = Date.now();
    while (Date.now() - start < 2000) await step();
    killedAt = Date.now();
    deployment.primary.process.kill('SIGKILL');
    let recoveredAt = 0;
    while (Date.now() - killedAt < 60_000) {
      await step();
      const recent = log.slice(-12);
      if (recent.length === 12 && recent.every((e) => e.status === 200) && recent.some((e) => e.what === 'revoke')) {
        recoveredAt = Date.now();
        break;
      }
      if (log[log.length - 1]!.status === 503) await sleep(20);
    }
    if (recoveredAt === 0) {
      const tail = log.slice(-12).map((e) => `${e.what}:${e.status}`).join(' ');
      const ping = await store.ping().then(
        () => 'the store answers a ping',
        (e: unknown) => `the store's ping fails: ${String(e)} (${String((e as Error).cause)})`,
      );
      throw new Error(`no recovery within 60 s of the kill; last answers: ${tail}; ${ping}\n${await deployment.state()}`);
    }
    for (let i = 0; i < 20; i++) await step();

    // The lagging replica is the primary now, and has every revocation answered 200.
    expect(await deployment.currentPrimaryPort()).toBe(deployment.laggingReplica.port);
    const lost: string[] = [];
    for (const token of revoked) {
      let checked = await introspect(token);
      // A 503 is never a wrong "valid"; ask again (a replica may still be resyncing).
      for (let i = 0; i < 40 && checked.status === 503; i++) {
        await sleep(50);
        checked = await introspect(token);
      }
      if (checked.status !== 200 || checked.body.active !== false) lost.push(`${checked.status} ${JSON.stringify(checked.body)}`);
    }
    expect(lost).toEqual([]);
    expect(violations).toEqual([]);

    const afterKill = log.filter((e) => e.at >= killedAt);
    const unavailable = afterKill.filter((e) => e.status === 503);
    // (The kill takes a moment: answers right after it may still come from the old primary.)
    const firstRevocationBack = afterKill.find((e) => e.what === 'revoke' && e.status === 200 && e.at > (unavailable[0]?.at ?? 0));
    const report = {
      failoverMs: (firstRevocationBack?.at ?? 0) - killedAt,
      window503Ms: unavailable.length > 0 ? unavailable[unavailable.length - 1]!.at - unavailable[0]!.at : 0,
      answers503: unavailable.length,
      revocations200: revoked.length,
      requests: log.length,
    };
    if (process.env.FAILOVER_REPORT === '1') process.stderr.write(`sentinel failover: ${JSON.stringify(report)}\n`);
    expect(report.failoverMs).toBeLessThan(30_000);
  });
});

(hasRedisServerBinary() ? describe : describe.skip)('Redis Sentinel with a password', () => {
  test('REDIS_PASSWORD reaches the primary the Sentinels name; without it the store is unavailable', async () => {
    const password = 'sentinel-test-secret-pw';
    const deployment = await startThrowawaySentinels('mymaster', { password });
    const settings = { REDIS_SENTINELS: deployment.sentinelsList, REDIS_PREFIX: PREFIX };
    const withPassword = createStore(loadConfig({ ...settings, REDIS_PASSWORD: password }), { clock: systemClock });
    const without = createStore(loadConfig(settings), { clock: systemClock });
    try {
      let answered = false;
      for (let i = 0; i < 100 && !answered; i++) {
        answered = await withPassword.ping().then(() => true, () => false);
        if (!answered) await sleep(50);
      }
      expect(answered).toBe(true);
      // A durable change: written on the primary, acknowledged by its replicas.
      await withPassword.revokeToken('ak_pw', 'j1', Math.floor(Date.now() / 1000) + 60);
      expect((await withPassword.getTokenContext({ apiKey: 'ak_pw', jti: 'j1' })).tokenRevoked).toBe(true);
      const error = await without.ping().then(() => undefined, (e: unknown) => e);
      expect(String(error)).toMatch(/token store unavailable/);
      expect(`${String(error)} ${String((error as Error).cause)}`).not.toContain(password);
    } finally {
      await withPassword.close();
      await without.close();
      await deployment.stop();
    }
  });
});

