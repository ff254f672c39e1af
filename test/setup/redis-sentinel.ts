/**
 * A throwaway Redis Sentinel deployment on loopback: a primary, two replicas and three
 * Sentinels (`redis-server --sentinel`), each its own process. The second replica replicates
 * through a fault proxy (its link can be slowed or hung), and the first has replica-priority 0,
 * so a failover always promotes the second, lagging one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { startFaultProxy, type FaultProxy } from './fault-proxy';
import { freePort, startThrowawayRedis, type ThrowawayRedis } from './redis-server';

export interface ThrowawaySentinels {
  primary: ThrowawayRedis;
  /** Never promoted (replica-priority 0), replicates directly. */
  steadyReplica: ThrowawayRedis;
  /** The one a failover promotes; replicates through `link`. */
  laggingReplica: ThrowawayRedis;
  link: FaultProxy;
  sentinels: Array<{ host: string; port: number }>;
  /** "127.0.0.1:p1,..." as REDIS_SENTINELS takes it. */
  sentinelsList: string;
  name: string;
  /** The primary's address as the Sentinels see it now. */
  currentPrimaryPort(): Promise<number>;
  /** What each Sentinel and each replica reports, and the Sentinels' log tails: for a failure message. */
  state(): Promise<string>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`sentinel setup: ${what} not reached in time`);
    await sleep(100);
  }
}

/** `password`: every Redis requires it (requirepass, masterauth), and the Sentinels use it (auth-pass). */
export async function startThrowawaySentinels(name = 'mymaster', options: { password?: string } = {}): Promise<ThrowawaySentinels> {
  const auth = options.password ? ['--requirepass', options.password, '--masterauth', options.password] : [];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tg-redis-sentinel-'));
  const sentinelProcesses: ChildProcess[] = [];
  const started: Array<{ stop(): Promise<void> }> = [];
  const stop = async () => {
    await Promise.all([
      ...started.map((s) => s.stop()),
      ...sentinelProcesses.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    ]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const primary = await startThrowawayRedis(undefined, ['--dir', dir, ...auth]);
    started.push(primary);
    // Replicas write the RDB a full sync sends them: into the temporary folder, not the working one.
    const steadyReplica = await startThrowawayRedis(undefined, ['--replicaof', '127.0.0.1', String(primary.port), '--replica-priority', '0', '--dir', dir, ...auth]);
    started.push(steadyReplica);
    const link = await startFaultProxy([primary.port]);
    started.push(link);
    const laggingReplica = await startThrowawayRedis(undefined, [
      '--replicaof', '127.0.0.1', String(link.ports.get(primary.port)),
      '--replica-priority', '100',
      // Announce its own port, not the proxy's view of it, so Sentinels reach it directly.
      '--replica-announce-ip', '127.0.0.1',
      '--dir', dir,
      ...auth,
    ]);
    started.push(laggingReplica);
    const admin = new Redis(primary.url, options.password ? { password: options.password } : {});
    await until('both replicas online', async () => {
      const info = await admin.info('replication');
      return /slave0:.*state=online/.test(info) && /slave1:.*state=online/.test(info);
    });
    admin.disconnect();

    const sentinels: Array<{ host: string; port: number }> = [];
    for (let i = 0; i < 3; i += 1) {
      const port = await freePort();
      const file = path.join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        file,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `logfile ${path.join(dir, `sentinel-${port}.log`)}`,
          `sentinel monitor ${name} 127.0.0.1 ${primary.port} 2`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 10000`,
          `sentinel parallel-syncs ${name} 1`,
          ...(options.password ? [`sentinel auth-pass ${name} ${options.password}`] : []),
        ].join('\n') + '\n',
      );
      sentinelProcesses.push(spawn('redis-server', [file, '--sentinel'], { stdio: 'ignore' }));
      sentinels.push({ host: '127.0.0.1', port });
    }
    const ask = async (port: number, ...args: string[]) => {
      const client = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
      client.on('error', () => undefined);
      try {
        await client.connect();
        return await client.call('SENTINEL', ...args);
      } finally {
        client.disconnect();
      }
    };
    await until('every Sentinel knows both replicas and the other Sentinels', async () => {
      for (const s of sentinels) {
        const replicas = (await ask(s.port, 'REPLICAS', name)) as unknown[];
        const others = (await ask(s.port, 'SENTINELS', name)) as unknown[];
        if (replicas.length < 2 || others.length < 2) return false;
      }
      return true;
    }, 30_000);
    return {
      primary, steadyReplica, laggingReplica, link, sentinels, name,
      sentinelsList: sentinels.map((s) => `${s.host}:${s.port}`).join(','),
      currentPrimaryPort: async () => {
        const [, port] = (await ask(sentinels[0]!.port, 'GET-MASTER-ADDR-BY-NAME', name)) as [string, string];
        return Number(port);
      },
      state: async () => {
        const parts: string[] = [];
        for (const s of sentinels) {
          const master = await ask(s.port, 'MASTER', name).catch((e: unknown) => String(e));
          parts.push(`sentinel ${s.port} master: ${JSON.stringify(master)}`);
          try {
            const lines = readFileSync(path.join(dir, `sentinel-${s.port}.log`), 'utf8').trim().split('\n');
            parts.push(...lines.slice(-40).map((line) => `  ${line}`));
          } catch {
            parts.push('  (no log)');
          }
        }
        for (const [label, node] of [['lagging replica', laggingReplica], ['steady replica', steadyReplica]] as const) {
          const client = new Redis(node.url, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true, ...(options.password ? { password: options.password } : {}) });
          client.on('error', () => undefined);
          const info = await client.connect().then(() => client.info('replication')).catch((e: unknown) => String(e));
          client.disconnect();
          parts.push(`${label} ${node.port}: ${info.replace(/\r?\n/g, ' ')}`);
        }
        return parts.join('\n');
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
