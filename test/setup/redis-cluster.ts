/**
 * A throwaway Redis Cluster for tests: three masters (no replicas) as redis-server processes on
 * free loopback ports, without persistence, with their node files in a temporary folder that
 * stop() deletes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { freePort, hasRedisServerBinary, pingRedis } from './redis-server';

export interface ThrowawayRedisCluster {
  nodes: Array<{ host: string; port: number }>;
  /** "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3", as REDIS_CLUSTER_NODES takes it. */
  nodesList: string;
  stop(): Promise<void>;
}

export function hasRedisClusterBinaries(): boolean {
  return hasRedisServerBinary() && spawnSync('redis-cli', ['--version'], { stdio: 'ignore' }).status === 0;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function clusterInfo(port: number, password?: string): Promise<string> {
  const client = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, ...(password ? { password } : {}) });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return String(await client.call('CLUSTER', 'INFO'));
  } catch {
    return '';
  } finally {
    client.disconnect();
  }
}

/**
 * Starts a 3-master cluster and waits until every node reports cluster_state:ok. `password`:
 * every node requires it (requirepass, masterauth).
 */
export async function startThrowawayRedisCluster(masters = 3, timeoutMs = 30_000, password?: string): Promise<ThrowawayRedisCluster> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tg-redis-cluster-'));
  const children: ChildProcess[] = [];
  const ports: number[] = [];

  const stop = async (): Promise<void> => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    for (let i = 0; i < masters; i += 1) {
      let port = await freePort();
      // The cluster bus listens on port + 10000: both must be free and below 65536.
      for (let tries = 0; (port > 55_000 || ports.includes(port)) && tries < 20; tries += 1) port = await freePort();
      ports.push(port);
      children.push(
        spawn(
          'redis-server',
          [
            '--port', String(port),
            '--bind', '127.0.0.1',
            '--cluster-enabled', 'yes',
            '--cluster-config-file', path.join(dir, `nodes-${port}.conf`),
            '--cluster-node-timeout', '2000',
            '--dir', dir,
            '--save', '',
            '--appendonly', 'no',
            ...(password ? ['--requirepass', password, '--masterauth', password] : []),
          ],
          { stdio: 'ignore' },
        ),
      );
    }
    const deadline = Date.now() + timeoutMs;
    for (const port of ports) {
      while (!(await pingRedis(`redis://127.0.0.1:${port}`, 300))) {
        if (Date.now() > deadline || children.some((c) => c.exitCode !== null)) {
          throw new Error(`redis-server (cluster mode) did not start on port ${port}`);
        }
        await sleep(50);
      }
    }
    const create = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
      {
        encoding: 'utf8',
        timeout: Math.max(1000, deadline - Date.now()),
        env: { ...process.env, ...(password ? { REDISCLI_AUTH: password } : {}) },
      },
    );
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    for (const port of ports) {
      while (!(await clusterInfo(port, password)).includes('cluster_state:ok')) {
        if (Date.now() > deadline) throw new Error(`the Redis Cluster did not reach cluster_state:ok (port ${port})`);
        await sleep(100);
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const nodes = ports.map((port) => ({ host: '127.0.0.1', port }));
  return { nodes, nodesList: nodes.map((n) => `${n.host}:${n.port}`).join(','), stop };
}
