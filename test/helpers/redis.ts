/** Redis for one test file: its own key prefix, cleaned up afterwards. */
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { describeIf } from './skip';

export const testRedisUrl = (): string => process.env.TEST_REDIS_URL ?? '';

/** Why a Redis-only suite or test does not run, for describeIf and testIf. */
export const NO_REDIS_REASON =
  'no Redis answered at TEST_REDIS_URL and no redis-server could be started, so the Redis suite of this file does not run';

/** `describe` when a Redis is available (always under CI, see global-setup), else skipped, saying why. */
export function describeWithRedis(name: string, fn: () => void): void {
  describeIf(Boolean(testRedisUrl()), `${name}: ${NO_REDIS_REASON}`)(name, fn);
}
/** describe.each, the same way (for a table of single values, as its callers use it). */
describeWithRedis.each = <T>(table: readonly T[]) =>
  (name: string, fn: (value: T) => void): void => {
    const each = describeIf(Boolean(testRedisUrl()), `${name}: ${NO_REDIS_REASON}`).each as unknown as (
      t: readonly T[],
    ) => (n: string, f: (value: T) => void) => void;
    each(table)(name, fn);
  };

export const uniquePrefix = (): string => `tgtest:${randomBytes(6).toString('hex')}:`;

export function rawRedis(url = testRedisUrl()): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1 });
}

/** Deletes every key under `prefix`. */
export async function deletePrefix(client: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) deleted += await client.del(...keys);
  } while (cursor !== '0');
  return deleted;
}
