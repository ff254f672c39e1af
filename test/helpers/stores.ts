/**
 * Both stores behind one helper, so a suite runs unchanged against each:
 *   describe.each(STORE_KINDS)('%s store', (kind) => { const h = useStore(kind); ... })
 */
import type { Clock } from '../../src/clock';
import {
  MemoryStore,
  MirroredStore,
  RedisStore,
  createRedisClient,
  createRedisClusterClient,
  redisStore,
  type GatewayStore,
  type MirrorOptions,
} from '../../src/store';
import { deletePrefix, NO_REDIS_REASON, rawRedis, testRedisUrl, uniquePrefix } from './redis';

/**
 * 'redis' is the Redis store as a start with REDIS_URL builds it (fronted by the local mirror);
 * 'redis-plain' is the same without the mirror (REDIS_MIRROR=false); 'redis-cluster' is only
 * ever asked for by the cluster suites (see REDIS_CLUSTER_WANTED).
 */
export type StoreKind = 'memory' | 'redis' | 'redis-plain' | 'redis-cluster';

/** Redis is included whenever one is available; under CI global-setup guarantees it. */
export const STORE_KINDS: StoreKind[] = testRedisUrl() ? ['memory', 'redis'] : ['memory'];
if (!testRedisUrl()) {
  process.stderr.write(`\n*** SKIPPED: the Redis half of the store suites: ${NO_REDIS_REASON}; only the in-memory store runs. ***\n\n`);
}

/** The store contract also runs against the Redis store without its mirror. */
export const STORE_SUITE_KINDS: StoreKind[] = testRedisUrl() ? ['memory', 'redis', 'redis-plain'] : ['memory'];

export interface TestStore {
  store: GatewayStore;
  /** Redis prefix (empty for memory). */
  prefix: string;
  cleanup(): Promise<void>;
}

/** `mirror`: options of the local mirror for the 'redis' kind (a small one, say). */
export async function makeStore(kind: StoreKind, clock?: Clock, mirror?: MirrorOptions): Promise<TestStore> {
  if (kind === 'redis-cluster') return makeClusterStore();
  if (kind === 'memory') {
    const store = new MemoryStore({ ...(clock ? { clock } : {}), sweepIntervalMs: 0 });
    return { store, prefix: '', cleanup: () => store.close() };
  }
  const prefix = uniquePrefix();
  const client = createRedisClient(testRedisUrl());
  await new Promise<void>((resolve, reject) => {
    if (client.status === 'ready') return resolve();
    client.once('ready', () => resolve());
    client.once('error', reject);
  });
  const store =
    kind === 'redis' && mirror
      ? new MirroredStore(new RedisStore(client, prefix), client.duplicate(), mirror)
      : redisStore(client, prefix, kind === 'redis');
  return {
    store,
    prefix,
    cleanup: async () => {
      const raw = rawRedis();
      try {
        await deletePrefix(raw, prefix);
      } finally {
        raw.disconnect();
        await store.close();
      }
    },
  };
}

/**
 * The Redis Cluster store: run when TEST_REDIS_CLUSTER=1 or under CI (where it must not skip).
 * The suite that wants it starts a throwaway cluster (test/setup/redis-cluster.ts) and puts its
 * nodes in TEST_REDIS_CLUSTER_NODES ("host:port,..."), which makeStore('redis-cluster') reads.
 */
export const REDIS_CLUSTER_WANTED = process.env.TEST_REDIS_CLUSTER === '1' || process.env.CI === 'true';

export function testRedisClusterNodes(): Array<{ host: string; port: number }> {
  return (process.env.TEST_REDIS_CLUSTER_NODES ?? '')
    .split(',')
    .filter(Boolean)
    .map((item) => {
      const at = item.lastIndexOf(':');
      return { host: item.slice(0, at), port: Number(item.slice(at + 1)) };
    });
}

async function makeClusterStore(): Promise<TestStore> {
  const nodes = testRedisClusterNodes();
  if (nodes.length === 0) throw new Error('TEST_REDIS_CLUSTER_NODES is not set: start a cluster first.');
  const prefix = uniquePrefix();
  const client = createRedisClusterClient(nodes);
  await new Promise<void>((resolve, reject) => {
    if (client.status === 'ready') return resolve();
    client.once('ready', () => resolve());
    client.once('error', reject);
  });
  const store = new RedisStore(client, prefix);
  return {
    store,
    prefix,
    cleanup: async () => {
      try {
        // Keys of one node may sit in different slots: delete them one by one, node by node.
        for (const node of client.nodes('master')) {
          let cursor = '0';
          do {
            const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
            cursor = next;
            if (keys.length > 0) await node.pipeline(keys.map((key) => ['del', key])).exec();
          } while (cursor !== '0');
        }
      } finally {
        await store.close();
      }
    },
  };
}
