/** Redis for one test file: its own key prefix, cleaned up afterwards. */
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';

export const testRedisUrl = (): string => process.env.TEST_REDIS_URL ?? '';

/** `describe` when a Redis is available (always under CI, see global-setup), else skipped loudly. */
export const describeWithRedis: jest.Describe = (testRedisUrl() ? describe : describe.skip) as jest.Describe;

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
