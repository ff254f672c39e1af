/**
 * Key rotation across real replicas (contract §7): several `node dist/server.js` processes on
 * one Redis and one keys folder. Every key file gets one identical modification time (as a
 * Kubernetes Secret volume update does), and a replica started later sees fresh times, the old
 * key's the newest; still every replica signs with the same key, never with one published less
 * than the JWKS cache lifetime ago, and removing the old key leaves every token of the new one
 * valid everywhere.
 */
import { mkdtempSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { keyFileName } from '../../src/keys';
import { ADMIN_TOKEN } from '../helpers/app';
import { rsaPrivateKeyPem } from '../helpers/keys';
import { deletePrefix, describeWithRedis, rawRedis, testRedisUrl, uniquePrefix } from '../helpers/redis';
import { freePort } from '../setup/redis-server';
import { send } from './harness';
import { ensureBuilt, spawnGateway, type GatewayProcess } from './process';

const CACHE_SECONDS = 2;
const ISSUER = 'https://gateway.test';

const kidOf = (token: string): string =>
  JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid as string;

describeWithRedis('key rotation across real replicas', () => {
  const prefix = uniquePrefix();
  const replicas: GatewayProcess[] = [];
  let dir: string;
  let credentials: { apiKey: string; authToken: string };

  const env = async (): Promise<Record<string, string>> => ({
    PORT: String(await freePort()),
    KEYS_DIR: dir,
    REDIS_URL: testRedisUrl(),
    REDIS_PREFIX: prefix,
    ADMIN_TOKEN,
    JWT_ISSUER: ISSUER,
    LOG_LEVEL: 'info',
    JWKS_MAX_AGE_SECONDS: String(CACHE_SECONDS),
    KEYS_RELOAD_SECONDS: '1',
  });
  const start = async () => {
    const replica = await spawnGateway(await env());
    replicas.push(replica);
    return replica;
  };
  const issue = async (replica: GatewayProcess): Promise<string> => {
    const res = await send({
      port: replica.port,
      path: '/v1/auth/token/get',
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ data: { ...credentials, userId: 'user-1', userProperties: { organizationId: 'org-1' } } }),
    });
    expect(res.status).toBe(200);
    return JSON.parse(res.body).result.data.token as string;
  };
  const active = async (replica: GatewayProcess, token: string): Promise<boolean> => {
    const res = await send({
      port: replica.port,
      path: '/v1/auth/token/introspect',
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: `Basic ${Buffer.from(`${credentials.apiKey}:${credentials.authToken}`).toString('base64')}`,
      },
      body: `token=${encodeURIComponent(token)}`,
    });
    expect(res.status).toBe(200);
    return JSON.parse(res.body).active === true;
  };
  const touch = (names: string[], seconds: number) =>
    names.forEach((name) => utimesSync(path.join(dir, name), seconds, seconds));

  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(path.join(os.tmpdir(), 'tg-rotation-'));
  }, 180_000);
  afterAll(async () => {
    for (const replica of replicas) replica.kill('SIGKILL');
    await Promise.all(replicas.map((r) => r.exited));
    rmSync(dir, { recursive: true, force: true });
    const raw = rawRedis();
    await deletePrefix(raw, prefix).finally(() => raw.disconnect());
  });

  test('every replica signs with the same key, never one published less than the cache lifetime ago', async () => {
    const nowSeconds = () => Date.now() / 1000;
    const oldName = keyFileName(new Date(Date.now() - 86_400_000), 'RS256');
    writeFileSync(path.join(dir, oldName), rsaPrivateKeyPem('old'), { mode: 0o600 });
    touch([oldName], nowSeconds());
    const [a, b] = [await start(), await start()];
    const created = await send({
      port: a.port,
      path: '/v1/admin/accounts',
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ data: { name: 'Acme' } }),
    });
    expect(created.status).toBe(201);
    const data = JSON.parse(created.body).result.data;
    credentials = { apiKey: data.account.apiKey, authToken: data.authToken };
    const oldKid = kidOf(await issue(a));
    expect(kidOf(await issue(b))).toBe(oldKid);
    // Past the old key's own cache lifetime, so that it is the ready key when the new one comes.
    await new Promise((r) => setTimeout(r, CACHE_SECONDS * 1000 + 200));

    // A Secret update: a new key file, and every file rewritten with one new modification time.
    const newName = keyFileName(new Date(), 'RS256');
    writeFileSync(path.join(dir, newName), rsaPrivateKeyPem('new'), { mode: 0o600 });
    touch([oldName, newName], nowSeconds());

    // Issue from both replicas until both sign with the new key.
    const issued: Array<{ kid: string; token: string; doneAt: number }> = [];
    const deadline = Date.now() + 20_000;
    let newKid: string | undefined;
    while (Date.now() < deadline) {
      for (const replica of [a, b]) {
        const token = await issue(replica);
        issued.push({ kid: kidOf(token), token, doneAt: Date.now() });
      }
      newKid = issued.find((t) => t.kid !== oldKid)?.kid;
      if (newKid && issued.slice(-2).every((t) => t.kid === newKid)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(newKid).toBeDefined();
    expect(new Set(issued.map((t) => t.kid))).toEqual(new Set([oldKid, newKid]));

    // The new key's first sighting, as recorded once for every replica.
    const raw = rawRedis();
    const firstSeen = Number(await raw.get(`${prefix}ks:${newKid}`).finally(() => raw.disconnect()));
    expect(firstSeen).toBeGreaterThan(0);
    for (const token of issued.filter((t) => t.kid === newKid)) {
      expect(token.doneAt).toBeGreaterThanOrEqual(firstSeen + CACHE_SECONDS * 1000);
      // Every replica knows the key that signed it.
      expect(await active(a, token.token)).toBe(true);
      expect(await active(b, token.token)).toBe(true);
    }
    // Once one replica signs with the new key, no replica signs with the old one again.
    const firstNew = issued.findIndex((t) => t.kid === newKid);
    expect(issued.slice(firstNew + 2).every((t) => t.kid === newKid)).toBe(true);
    await a.waitForLog((line) => line.msg === 'signing key loaded' && line.kid === newKid);

    // A replica started later sees fresh modification times (none older than the cache
    // lifetime), the old key's the newest of all.
    touch([newName], nowSeconds() - 1);
    touch([oldName], nowSeconds());
    const c = await start();
    expect(kidOf(await issue(c))).toBe(newKid);
    expect(kidOf(await issue(a))).toBe(newKid);
    expect(kidOf(await issue(b))).toBe(newKid);

    // The old key goes (its tokens would have expired by then): every new-key token stays valid.
    unlinkSync(path.join(dir, oldName));
    await new Promise((r) => setTimeout(r, 1500));
    const fresh = [await issue(a), await issue(b), await issue(c)];
    for (const token of [...issued.filter((t) => t.kid === newKid).map((t) => t.token), ...fresh]) {
      for (const replica of [a, b, c]) expect(await active(replica, token)).toBe(true);
    }
  }, 90_000);
});
