/**
 * The store the configuration names: a Redis Cluster (REDIS_CLUSTER_NODES), the primary named
 * by Redis Sentinels (REDIS_SENTINELS), a Redis (REDIS_URL), else in memory. Redis is fronted
 * by the local mirror (REDIS_MIRROR).
 */
import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Clock } from '../clock';
import type { Config } from '../config';
import { MemoryStore } from './memory-store';
import { MirroredStore } from './mirrored-store';
import {
  createRedisClient,
  guardConnection,
  createRedisClusterClient,
  createRedisSentinelClient,
  RedisStore,
  type DurabilityOptions,
  type RedisConnectionOptions,
} from './redis-store';
import type { GatewayStore } from './types';

export function createStore(config: Config, options: { clock: Clock; logger?: Logger }): GatewayStore {
  const { logger } = options;
  const { redisCluster, redisSentinel, redis, redisConnection } = config;
  const target = redisCluster
    ? { store: 'redis-cluster', prefix: redisCluster.prefix, connect: (o: RedisConnectionOptions) => createRedisClusterClient(redisCluster.nodes, o) }
    : redisSentinel
      ? {
          store: 'redis-sentinel',
          prefix: redisSentinel.prefix,
          connect: (o: RedisConnectionOptions) => createRedisSentinelClient(redisSentinel.sentinels, redisSentinel.name, o),
        }
      : redis
        ? { store: 'redis', prefix: redis.prefix, connect: (o: RedisConnectionOptions) => createRedisClient(redis.url, o) }
        : undefined;
  if (!target) {
    logger?.warn(
      'REDIS_URL is not set: using the in-memory store, for development and a single instance only ' +
        '(nothing is shared between instances and nothing survives a restart).',
    );
    return new MemoryStore({ clock: options.clock });
  }
  const { username, password, tls, caFile, waitTimeoutMs } = redisConnection;
  const client = target.connect({
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    tls,
    ...(caFile !== undefined ? { ca: readFileSync(caFile) } : {}),
  });
  let lastErrorLog = 0;
  client.on('error', (error: Error) => {
    // ioredis reports every failed reconnect; one line a few seconds is enough to see an outage.
    // Its messages name hosts and ports, never credentials (those are options, not the URL we log).
    if (Date.now() - lastErrorLog < 5000) return;
    lastErrorLog = Date.now();
    logger?.error({ err: { type: error.name, message: error.message } }, 'redis connection error');
  });
  client.on('ready', () => logger?.info('redis connection ready'));
  logger?.info({ store: target.store, prefix: target.prefix, mirror: config.redisMirror, tls }, 'using the Redis store');
  // Under Sentinel the point is failover: a change must reach at least one replica.
  const durability = { waitTimeoutMs, minReplicas: redisSentinel ? 1 : 0 };
  return redisStore(client, target.prefix, config.redisMirror, durability);
}

/** The Redis store on `client`, fronted by the local mirror when `mirror` is true. */
export function redisStore(client: Redis | Cluster, prefix: string, mirror: boolean, durability: DurabilityOptions = {}): GatewayStore {
  const store = new RedisStore(client, prefix, durability);
  if (!mirror) return store;
  // The subscription needs a connection of its own (a subscribed connection runs no commands).
  return new MirroredStore(store, guardConnection(client.duplicate()));
}
