/**
 * Makes sure the Redis suites have a Redis: the configured one when it answers, else a
 * throwaway redis-server. Under CI=true a missing Redis, or a missing redis-server binary (the
 * outage, shutdown and cluster suites start their own), fails the run instead of skipping.
 */
import { hasRedisServerBinary, pingRedis, startThrowawayRedis } from './redis-server';

export default async function globalSetup(): Promise<void> {
  // The outage, shutdown and cluster suites start redis-servers of their own.
  if (process.env.CI === 'true' && !hasRedisServerBinary()) {
    throw new Error('No redis-server binary: the outage, shutdown and cluster suites cannot run under CI.');
  }
  const candidate = process.env.TEST_REDIS_URL || process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  if (await pingRedis(candidate)) {
    process.env.TEST_REDIS_URL = candidate;
    return;
  }
  if (hasRedisServerBinary()) {
    const redis = await startThrowawayRedis();
    (globalThis as { __throwawayRedis?: unknown }).__throwawayRedis = redis;
    process.env.TEST_REDIS_URL = redis.url;
    return;
  }
  if (process.env.CI === 'true') {
    throw new Error(`No Redis answers at ${candidate} and no redis-server binary exists: the Redis suites cannot run under CI.`);
  }
  process.stderr.write(`\n*** No Redis at ${candidate} and no redis-server: the Redis suites are SKIPPED. ***\n\n`);
  process.env.TEST_REDIS_URL = '';
}
