/**
 * The store the configuration names: a Redis Cluster when REDIS_CLUSTER_NODES is set, Redis
 * when REDIS_URL is set, else in memory. Redis is fronted by the local mirror (REDIS_MIRROR).
 */
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Clock } from '../clock';
import type { Config } from '../config';
import { MemoryStore } from './memory-store';
import { MirroredStore } from './mirrored-store';
import { createRedisClient, createRedisClusterClient, RedisStore } from './redis-store';
import type { GatewayStore } from './types';

export function createStore(config: Config, options: { clock: Clock; logger?: Logger }): GatewayStore {
  const { logger } = options;
  const { redisCluster, redis } = config;
  const target = redisCluster
    ? { store: 'redis-cluster', prefix: redisCluster.prefix, connect: () => createRedisClusterClient(redisCluster.nodes) }
    : redis
      ? { store: 'redis', prefix: redis.prefix, connect: () => createRedisClient(redis.url) }
      : undefined;
  if (!target) {
    logger?.warn(
      'REDIS_URL is not set: using the in-memory store, for development and a single instance only ' +
        '(nothing is shared between instances and nothing survives a restart).',
    );
    return new MemoryStore({ clock: options.clock });
  }
  const client = target.connect();
  let lastErrorLog = 0;
  client.on('error', (error: Error) => {
    // ioredis reports every failed reconnect; one line a few seconds is enough to see an outage.
    if (Date.now() - lastErrorLog < 5000) return;
    lastErrorLog = Date.now();
    logger?.error({ err: { type: error.name, message: error.message } }, 'redis connection error');
  });
  client.on('ready', () => logger?.info('redis connection ready'));
  logger?.info({ store: target.store, prefix: target.prefix, mirror: config.redisMirror }, 'using the Redis store');
  return redisStore(client, target.prefix, config.redisMirror);
}

/** The Redis store on `client`, fronted by the local mirror when `mirror` is true. */
export function redisStore(client: Redis | Cluster, prefix: string, mirror: boolean): GatewayStore {
  const store = new RedisStore(client, prefix);
  if (!mirror) return store;
  // The subscription needs a connection of its own (a subscribed connection runs no commands).
  return new MirroredStore(store, client.duplicate());
}
