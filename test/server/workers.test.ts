/**
 * WORKERS=2 on the built server: one primary, two worker processes sharing the port, one
 * generated development key and the Redis store; a crashed worker is replaced; SIGTERM stops
 * everything with 0; without a shared store the start is refused.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deletePrefix, describeWithRedis, rawRedis, testRedisUrl, uniquePrefix } from '../helpers/redis';
import { freePort } from '../setup/redis-server';
import { forwardAuthPath } from '../helpers/app';

const ADMIN_TOKEN = 'workers-test-admin-token-0123456789';

const ROOT = path.resolve(__dirname, '../..');
const SERVER = path.join(ROOT, 'dist/server.js');

jest.setTimeout(60_000);

/** Newest modification time of the files under `dir`, ms. */
function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(full) : statSync(full).mtimeMs);
  }
  return latest;
}

function buildIfStale(): void {
  let stale = true;
  try {
    stale = statSync(SERVER).mtimeMs < newest(path.join(ROOT, 'src'));
  } catch {
    stale = true;
  }
  if (!stale) return;
  const result = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'pipe', timeout: 120_000 });
  // tsc still emits when a type error elsewhere fails it (the typecheck reports those); what
  // matters here is a fresh dist/server.js.
  let built = false;
  try {
    built = statSync(SERVER).mtimeMs >= newest(path.join(ROOT, 'src'));
  } catch {
    built = false;
  }
  if (!built) throw new Error(`build failed: ${String(result.stdout)}${String(result.stderr)}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Pids of the processes whose parent is `pid` (procps `ps --ppid`). */
function childPids(pid: number): number[] {
  const result = spawnSync('ps', ['--ppid', String(pid), '-o', 'pid='], { encoding: 'utf8' });
  return result.stdout
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function healthz(port: number): Promise<unknown> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, {
      signal: AbortSignal.timeout(2000),
      headers: { Connection: 'close' },
    });
    return res.status === 200 ? await res.json() : undefined;
  } catch {
    return undefined;
  }
}

beforeAll(() => {
  buildIfStale();
});

test('WORKERS=2 without a shared store is refused', async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'tg-workers-'));
  try {
    const child = spawn(process.execPath, [SERVER], {
      cwd: tmp,
      env: { PATH: process.env.PATH ?? '', WORKERS: '2', PORT: '0', HOST: '127.0.0.1', KEYS_DIR: path.join(tmp, 'keys') },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(2);
    expect(stderr).toMatch(/WORKERS=2 needs a shared store: set REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

describeWithRedis('WORKERS=2 on Redis', () => {
  let tmp: string;
  let port: number;
  let prefix: string;
  let primary: ChildProcess | undefined;
  let output = '';

  beforeEach(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'tg-workers-'));
    port = await freePort();
    prefix = uniquePrefix();
    output = '';
    primary = spawn(process.execPath, [SERVER], {
      cwd: tmp,
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'development',
        WORKERS: '2',
        PORT: String(port),
        HOST: '127.0.0.1',
        KEYS_DIR: path.join(tmp, 'keys'),
        LOG_LEVEL: 'info',
        SHUTDOWN_TIMEOUT_SECONDS: '3',
        REDIS_URL: testRedisUrl(),
        REDIS_PREFIX: prefix,
        ADMIN_TOKEN,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    primary.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    primary.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  });

  afterEach(async () => {
    if (primary && primary.exitCode === null && primary.signalCode === null) {
      for (const pid of childPids(primary.pid!)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      primary.kill('SIGKILL');
      await new Promise((r) => primary!.once('exit', r));
    }
    rmSync(tmp, { recursive: true, force: true });
    const raw = rawRedis();
    try {
      await deletePrefix(raw, prefix);
    } finally {
      raw.disconnect();
    }
  });

  const listeningLines = () => output.split('\n').filter((l) => l.includes('token-gateway listening')).length;

  const exited = (child: ChildProcess) =>
    new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
      else child.once('exit', (code, signal) => resolve({ code, signal }));
    });

  test('two worker processes answer on one port, share one generated key, and SIGTERM exits 0', async () => {
    const child = primary!;
    expect(await waitFor('healthz', () => healthz(port))).toEqual({ status: 'ok' });
    const workers = await waitFor('two workers listening', () => {
      const pids = childPids(child.pid!);
      return listeningLines() >= 2 && pids.length === 2 ? pids : undefined;
    });
    expect(new Set(workers).size).toBe(2);
    expect(workers).not.toContain(child.pid);

    // One key, generated by the primary before forking: both workers loaded the same kid.
    expect(readdirSync(path.join(tmp, 'keys')).filter((n) => n.endsWith('.pem'))).toHaveLength(1);
    const kids = new Set(
      output
        .split('\n')
        .filter((l) => l.includes('signing keys loaded'))
        .map((l) => (JSON.parse(l) as { kid: string }).kid),
    );
    expect(kids.size).toBe(1);

    // Both workers serve one store: an account made and a token issued through one connection
    // are known on every fresh connection (the primary deals connections to the workers in turn).
    const base = `http://127.0.0.1:${port}`;
    const call = async (pathName: string, init: RequestInit = {}) => {
      const res = await fetch(`${base}${pathName}`, {
        ...init,
        headers: { Connection: 'close', 'Content-Type': 'application/json', ...(init.headers as Record<string, string>) },
        signal: AbortSignal.timeout(5000),
      });
      return { status: res.status, body: (await res.text()) || '{}' };
    };
    const created = await call('/v1/admin/accounts', {
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ data: { name: 'Workers' } }),
    });
    expect(created.status).toBe(201);
    const { account, authToken } = JSON.parse(created.body).result.data as { account: { apiKey: string }; authToken: string };
    const issued = await call('/v1/auth/token/get', {
      method: 'POST',
      body: JSON.stringify({ data: { apiKey: account.apiKey, authToken, userId: 'u1', userProperties: { organizationId: 'o1' } } }),
    });
    expect(issued.status).toBe(200);
    const token = JSON.parse(issued.body).result.data.token as string;
    const checks = [];
    for (let i = 0; i < 10; i += 1) checks.push((await call(forwardAuthPath(token), { headers: { Authorization: `Bearer ${token}` } })).status);
    expect(checks).toEqual(Array(10).fill(200));

    child.kill('SIGTERM');
    expect(await exited(child)).toEqual({ code: 0, signal: null });
    for (const pid of workers) expect(() => process.kill(pid, 0)).toThrow();
  });

  test('a worker that crashes is replaced', async () => {
    const child = primary!;
    await waitFor('healthz', () => healthz(port));
    const before = await waitFor('two workers listening', () => {
      const pids = childPids(child.pid!);
      return listeningLines() >= 2 && pids.length === 2 ? pids : undefined;
    });
    process.kill(before[0]!, 'SIGKILL');
    const after = await waitFor('a replacement worker', () => {
      const pids = childPids(child.pid!);
      return pids.length === 2 && !pids.includes(before[0]!) ? pids : undefined;
    });
    expect(after).toContain(before[1]);
    await waitFor('the replacement listening', () =>
      listeningLines() >= 3 ? true : undefined,
    );
    expect(output).toContain('a worker exited unexpectedly');
    expect(await waitFor('healthz after the crash', () => healthz(port))).toEqual({ status: 'ok' });

    child.kill('SIGTERM');
    expect(await exited(child)).toEqual({ code: 0, signal: null });
  });

  test('a start that cannot listen stops instead of restarting forever', async () => {
    // The port of the first primary is taken: a second one's workers cannot listen.
    await waitFor('healthz', () => healthz(port));
    const second = spawn(process.execPath, [SERVER], {
      cwd: tmp,
      env: {
        PATH: process.env.PATH ?? '',
        WORKERS: '2',
        PORT: String(port),
        HOST: '127.0.0.1',
        KEYS_DIR: path.join(tmp, 'keys'),
        LOG_LEVEL: 'silent',
        REDIS_URL: testRedisUrl(),
        REDIS_PREFIX: prefix,
      },
      stdio: 'ignore',
    });
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      exited(second),
      new Promise<'still running'>((resolve) => (timer = setTimeout(() => resolve('still running'), 20_000))),
    ]);
    clearTimeout(timer);
    if (result === 'still running') second.kill('SIGKILL');
    expect(result).toEqual({ code: 1, signal: null });
    primary!.kill('SIGTERM');
    expect(await exited(primary!)).toEqual({ code: 0, signal: null });
  });
});
