/** The command-line tool does what the admin API does, on the configured store. */
import { mkdirSync, mkdtempSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli, StoreNotConfiguredError, StoreNotReadyError, UsageError } from '../src/cli';
import { MemoryStore } from '../src/store';
import { KeyRing } from '../src/keys';
import { ManualClock } from '../src/clock';
import { deletePrefix, describeWithRedis, rawRedis, testRedisUrl, uniquePrefix } from './helpers/redis';

async function run(args: string[], store: MemoryStore, env: NodeJS.ProcessEnv = {}) {
  let out = '';
  await runCli(args, { out: (t) => (out += t), env, store });
  return JSON.parse(out);
}

describe('cli', () => {
  const store = new MemoryStore({ sweepIntervalMs: 0 });

  test('creates an account, adds, lists and removes auth tokens', async () => {
    const created = await run(['accounts', 'create', 'Acme'], store);
    expect(created.account.name).toBe('Acme');
    expect(created.authToken).toMatch(/^at_/);
    const added = await run(['auth-tokens', 'add', created.account.id], store);
    expect(added.authToken).toMatch(/^at_/);
    const listed = await run(['auth-tokens', 'list', created.account.id], store);
    expect(listed.authTokens).toHaveLength(2);
    expect(JSON.stringify(listed)).not.toContain(added.authToken);
    await run(['auth-tokens', 'remove', created.account.id, created.authTokenId], store);
    expect((await run(['auth-tokens', 'list', created.account.id], store)).authTokens).toHaveLength(1);
  });

  test('registers, lists and removes webhooks; its own actions are queued for them', async () => {
    const created = await run(['accounts', 'create', 'Hooked'], store);
    const id = created.account.id as string;
    const added = await run(['webhooks', 'add', id, 'https://hooks.example.com/in', 'auth_token.added,user.revoked'], store);
    expect(added.webhook).toMatchObject({ url: 'https://hooks.example.com/in', events: ['auth_token.added', 'user.revoked'] });
    expect(added.secret).toMatch(/^whsec_/);
    const listed = await run(['webhooks', 'list', id], store);
    expect(listed.webhooks).toEqual([added.webhook]);
    expect(JSON.stringify(listed)).not.toContain(added.secret);

    const token = await run(['auth-tokens', 'add', id], store);
    const queued = await store.claimDeliveries('test', 10, Date.now(), 60_000);
    expect(queued.map((d) => [d.webhookId, d.type])).toEqual([[added.webhook.id, 'auth_token.added']]);
    expect(JSON.parse(queued[0]!.body).data).toEqual({ authTokenId: token.authTokenId });
    await store.settleDelivery(queued[0]!);

    await expect(run(['webhooks', 'add', id, 'https://hooks.example.com/in', 'account.created'], store)).rejects.toThrow(/data\.events/);
    await expect(run(['webhooks', 'add', id, 'http://127.0.0.1/in', 'user.revoked'], store)).rejects.toThrow(/https/);
    expect(await run(['webhooks', 'remove', id, added.webhook.id], store)).toEqual({ webhookId: added.webhook.id, deleted: true });
    await expect(run(['webhooks', 'remove', id, added.webhook.id], store)).rejects.toThrow(/no such webhook/);
    expect((await run(['webhooks', 'list', id], store)).webhooks).toEqual([]);
  });

  test('generates signing keys that the key ring loads', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tg-cli-'));
    const rsa = await run(['keys', 'generate', '--dir', dir, '--bits', '2048'], store);
    expect(rsa.alg).toBe('RS256');
    const ec = await run(['keys', 'generate', '--dir', dir, '--algorithm', 'ES256'], store);
    expect(ec.alg).toBe('ES256');
    expect(readdirSync(dir)).toHaveLength(2);
    const ring = await KeyRing.load({
      dir,
      algorithm: 'RS256',
      clock: new ManualClock(),
      jwksMaxAgeSeconds: 0,
      maxTokenLifetimeSeconds: 172_800,
      clockToleranceSeconds: 5,
    });
    expect(ring.activeKeys().map((k) => k.kid).sort()).toEqual([rsa.kid, ec.kid].sort());
  });

  test('refuses short keys and unknown commands', async () => {
    await expect(run(['keys', 'generate', '--bits', '1024', '--dir', os.tmpdir()], store)).rejects.toThrow(/at least 2048/);
    for (const bits of ['abc', '3072.5', '']) {
      const failure = run(['keys', 'generate', '--bits', bits, '--dir', os.tmpdir()], store);
      await expect(failure).rejects.toBeInstanceOf(UsageError);
      await expect(failure).rejects.toThrow(`--bits must be a whole number of bits, 2048 or more (e.g. 3072); got "${bits}".`);
    }
    await expect(run(['keys', 'generate', '--bits', '-4096'], store)).rejects.toBeInstanceOf(UsageError);
    await expect(run(['keys', 'generate', '--size', '4096'], store)).rejects.toThrow(/Unknown option '--size'/);
    await expect(run(['keys', 'generate', '--algorithm', 'ES256', '--bits', '3072', '--dir', os.tmpdir()], store)).rejects.toThrow(
      '--bits applies to RS256 keys only; ES256 keys have a fixed size.',
    );
    await expect(run(['accounts', 'delete', 'x'], store)).rejects.toBeInstanceOf(UsageError);
    await expect(run(['auth-tokens', 'add', 'acc_unknown'], store)).rejects.toThrow(/No account has this id/);
  });
});

describe('cli without a configured store', () => {
  test('refuses to write to an in-memory store, and says to set REDIS_URL', async () => {
    for (const env of [{}, { NODE_ENV: 'production', JWT_ISSUER: 'https://auth.example.com', STORE: 'memory' }]) {
      let out = '';
      const failure = runCli(['accounts', 'create', 'Acme'], { out: (t) => (out += t), env });
      await expect(failure).rejects.toBeInstanceOf(StoreNotConfiguredError);
      await expect(failure).rejects.toThrow(/^No store is configured: set REDIS_URL/);
      expect(out).toBe('');
    }
    await expect(runCli(['auth-tokens', 'list', 'acc_x'], { out: () => undefined, env: {} })).rejects.toBeInstanceOf(
      StoreNotConfiguredError,
    );
  });

  test('keys generate needs no store and no other setting, in production too', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tg-cli-prod-'));
    let out = '';
    await runCli(['keys', 'generate', '--dir', dir], { out: (t) => (out += t), env: { NODE_ENV: 'production', JWT_ALGORITHM: 'EdDSA' } });
    expect(JSON.parse(out).alg).toBe('EdDSA');
    // Its own settings are still checked.
    await expect(runCli(['keys', 'generate'], { out: () => undefined, env: { JWT_ALGORITHM: 'HS256' } })).rejects.toThrow(/JWT_ALGORITHM/);
  });
});

describe('npm run cli (scripts/cli.js) builds only when dist/ is missing or older than src/', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { rebuildReason } = require('../scripts/cli.js') as { rebuildReason(built: string, src: string): string | undefined };

  test('missing, stale, current', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'tg-cli-build-'));
    const src = path.join(root, 'src');
    const built = path.join(root, 'dist', 'cli.js');
    mkdirSync(path.join(src, 'keys'), { recursive: true });
    writeFileSync(path.join(src, 'keys', 'a.ts'), '');
    expect(rebuildReason(built, src)).toBe('missing');
    mkdirSync(path.dirname(built));
    writeFileSync(built, '');
    const t = Date.now() / 1000;
    utimesSync(built, t, t);
    utimesSync(path.join(src, 'keys', 'a.ts'), t - 60, t - 60);
    expect(rebuildReason(built, src)).toBeUndefined();
    utimesSync(path.join(src, 'keys', 'a.ts'), t + 60, t + 60); // a nested source edited after the build
    expect(rebuildReason(built, src)).toBe('stale');
    // An installed copy without sources runs what it has.
    expect(rebuildReason(built, path.join(root, 'no-src'))).toBeUndefined();
  });
});

describe('cli account names', () => {
  const store = new MemoryStore({ sweepIntervalMs: 0 });

  test('refuses the names POST /v1/admin/accounts refuses, and trims like it', async () => {
    await expect(run(['accounts', 'create', ''], store)).rejects.toThrow('name must not be empty.');
    await expect(run(['accounts', 'create', '   '], store)).rejects.toThrow('name must not be empty.');
    await expect(run(['accounts', 'create', 'x'.repeat(201)], store)).rejects.toThrow('name must be at most 200 characters.');
    expect((await run(['accounts', 'create', 'x'.repeat(200)], store)).account.name).toHaveLength(200);
    expect((await run(['accounts', 'create', '  Acme  '], store)).account.name).toBe('Acme');
  });
});

/** Runs the CLI as `node dist/cli.js` does: the store comes from the environment. */
async function runOnEnv(args: string[], env: NodeJS.ProcessEnv, storeReadyTimeoutMs?: number) {
  let out = '';
  await runCli(args, { out: (t) => (out += t), env, ...(storeReadyTimeoutMs ? { storeReadyTimeoutMs } : {}) });
  return JSON.parse(out);
}

describeWithRedis('cli on Redis (REDIS_URL, no injected store)', () => {
  const prefix = uniquePrefix();
  const env = { REDIS_URL: testRedisUrl(), REDIS_PREFIX: prefix };
  let redis: ReturnType<typeof rawRedis>;

  beforeAll(() => {
    redis = rawRedis();
  });

  afterAll(async () => {
    await deletePrefix(redis, prefix);
    redis.disconnect();
  });

  test('waits for the connection before its first command', async () => {
    await expect(runOnEnv(['auth-tokens', 'list', 'acc_x'], env)).rejects.toThrow(/No account has this id/);
    const created = await runOnEnv(['accounts', 'create', 'Acme'], env);
    expect(created.account.name).toBe('Acme');
    const listed = await runOnEnv(['auth-tokens', 'list', created.account.id], env);
    expect(listed.authTokens).toHaveLength(1);
    // Written to this Redis, under this prefix.
    expect(await redis.get(`${prefix}id:${created.account.id}`)).toBe(created.account.apiKey);
  });

  test('the mirror off (plain Redis store) works the same', async () => {
    const plain = { ...env, REDIS_MIRROR: 'false' };
    await expect(runOnEnv(['auth-tokens', 'add', 'acc_x'], plain)).rejects.toThrow(/No account has this id/);
    const created = await runOnEnv(['accounts', 'create', 'Plain'], plain);
    expect((await runOnEnv(['auth-tokens', 'add', created.account.id], plain)).authToken).toMatch(/^at_/);
  });
});

describe('cli with a Redis that never answers', () => {
  // ioredis keeps a 2 s timer after disconnecting a socket that never connected; let it run out
  // so the test file ends with nothing pending.
  afterAll(() => new Promise((resolve) => setTimeout(resolve, 2100)));

  test('gives up after the wait with a message naming the address, not the password', async () => {
    const started = Date.now();
    const failure = runOnEnv(['auth-tokens', 'list', 'acc_x'], { REDIS_URL: 'redis://user:s3cret@127.0.0.1:1' }, 400);
    await expect(failure).rejects.toBeInstanceOf(StoreNotReadyError);
    await expect(failure).rejects.toThrow('Redis at redis://127.0.0.1:1 did not answer within 0.4 s');
    await expect(failure).rejects.not.toThrow(/s3cret/);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
