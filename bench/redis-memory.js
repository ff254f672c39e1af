'use strict';
/**
 * Redis memory per tracked token: records BENCH_MEMORY_TOKENS (100,000) issued-token records
 * through the gateway's own RedisStore (dist/), as issuance does (one record per token, with
 * expiresIn=60), then reports
 *   - MEMORY USAGE of a sample of token-record keys (the key's own footprint),
 *   - the growth of used_memory divided by the count (adds the keyspace and expiry dictionaries;
 *     disturbed when other clients use the same Redis at the same time),
 *   - that the store goes back to flat: every record carries an absolute expiry no later than
 *     its token's exp (PEXPIRETIME), so all of them are gone by the latest exp. This is computed
 *     from the expiry times and not waited for, unless BENCH_MEMORY_WAIT=1.
 * The keys live under their own prefix and are deleted at the end.
 *
 * Env: REDIS_URL (redis://127.0.0.1:6379), BENCH_MEMORY_TOKENS, BENCH_MEMORY_SAMPLE (1000),
 * BENCH_MEMORY_PREFIX, BENCH_MEMORY_WAIT.
 */
const crypto = require('node:crypto');
const path = require('node:path');
const Redis = require('ioredis');

const ROOT = path.resolve(__dirname, '..');
const { RedisStore, createRedisClient } = require(path.join(ROOT, 'dist/store'));

const url = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const count = Math.min(2_000_000, Math.max(1000, Number(process.env.BENCH_MEMORY_TOKENS || 100_000)));
const sampleSize = Math.min(count, Math.max(10, Number(process.env.BENCH_MEMORY_SAMPLE || 1000)));
const prefix = process.env.BENCH_MEMORY_PREFIX || `tgbench:${crypto.randomBytes(4).toString('hex')}:memory:`;
const lifetime = 60;

function usedMemory(info) {
  const match = /used_memory:(\d+)/.exec(info);
  return match ? Number(match[1]) : NaN;
}

async function scanAll(raw, pattern, limit = Infinity) {
  const keys = [];
  let cursor = '0';
  let guard = 0;
  do {
    const [next, batch] = await raw.scan(cursor, 'MATCH', pattern, 'COUNT', 2000);
    cursor = next;
    keys.push(...batch);
    guard += 1;
  } while (cursor !== '0' && keys.length < limit && guard < 1_000_000);
  return keys.slice(0, limit === Infinity ? undefined : limit);
}

async function main() {
  const raw = new Redis(url, { maxRetriesPerRequest: 1 });
  const client = createRedisClient(url, { commandTimeoutMs: 5000 });
  await new Promise((resolve, reject) => {
    client.once('ready', resolve);
    client.once('error', reject);
  });
  const store = new RedisStore(client, prefix);
  try {
    const apiKey = `ak_${crypto.randomBytes(18).toString('base64url')}`;
    const before = usedMemory(await raw.info('memory'));
    const iat = Math.floor(Date.now() / 1000);
    const exp = iat + lifetime;
    const started = Date.now();
    let next = 0;
    // As issuance does: one record per token, 128 concurrent writers.
    await Promise.all(
      Array.from({ length: 128 }, async () => {
        while (next < count) {
          const i = next;
          next += 1;
          await store.recordIssuedToken({
            jti: crypto.randomBytes(16).toString('base64url'),
            apiKey,
            userId: `user-${i % 5000}`,
            organizationId: `org-${i % 50}`,
            iat,
            exp,
          });
        }
      }),
    );
    const writeSeconds = (Date.now() - started) / 1000;
    const after = usedMemory(await raw.info('memory'));

    const keys = await scanAll(raw, `${prefix}*:t:*`);
    const sample = keys.slice(0, sampleSize);
    const pipeline = raw.pipeline();
    for (const key of sample) pipeline.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
    for (const key of sample) pipeline.pexpiretime(key);
    const replies = (await pipeline.exec()).map(([error, value]) => {
      if (error) throw error;
      return Number(value);
    });
    const usage = replies.slice(0, sample.length);
    const expiries = replies.slice(sample.length);
    const avgUsage = usage.reduce((a, b) => a + b, 0) / usage.length;
    const latestExpiry = Math.max(...expiries);
    const allExpire = expiries.every((t) => t > 0 && t <= exp * 1000);
    const value = await raw.get(sample[0]);

    const lines = [
      '',
      `Redis memory per tracked token (${count.toLocaleString('en-US')} records written in ${writeSeconds.toFixed(1)} s, expiresIn=${lifetime}):`,
      `  key ${JSON.stringify(sample[0])} (${sample[0].length} bytes, of which ${prefix.length} of bench prefix; ` +
        `the default prefix "tg:" is ${prefix.length - 3} bytes shorter), value ${JSON.stringify(value)} (${value.length} bytes)`,
      `  MEMORY USAGE, mean over ${sample.length} record keys: ${avgUsage.toFixed(1)} bytes`,
      `  used_memory growth / records: ${((after - before) / count).toFixed(1)} bytes per tracked token ` +
        `(${((after - before) / 1024 / 1024).toFixed(1)} MiB in all; includes the keyspace and expiry dictionaries; ` +
        `disturbed if other clients write to this Redis meanwhile)`,
      `  records found: ${keys.length.toLocaleString('en-US')}; every sampled record expires at its token's exp (PXAT): ${allExpire ? 'yes' : 'NO'}; ` +
        `latest expiry in ${((latestExpiry - Date.now()) / 1000).toFixed(0)} s, so the store is back to flat by then`,
    ];
    if (process.env.BENCH_MEMORY_WAIT === '1') {
      const wait = Math.max(0, latestExpiry - Date.now()) + 2000;
      await new Promise((r) => setTimeout(r, wait));
      // Redis expires lazily and by sampling: reading the keys space forces what is due.
      const left = (await scanAll(raw, `${prefix}*`)).length;
      const flat = usedMemory(await raw.info('memory'));
      lines.push(`  after waiting ${(wait / 1000).toFixed(0)} s: ${left} keys left, used_memory ${((flat - before) / 1024).toFixed(0)} KiB above the start`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    const keys = await scanAll(raw, `${prefix}*`);
    for (let i = 0; i < keys.length; i += 1000) await raw.unlink(...keys.slice(i, i + 1000));
    raw.disconnect();
    await store.close();
  }
}

const bound = setTimeout(() => {
  process.stderr.write('redis-memory: over its time bound\n');
  process.exit(1);
}, 240_000 + (process.env.BENCH_MEMORY_WAIT === '1' ? 120_000 : 0));
bound.unref();

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`redis-memory failed: ${error.stack || error.message}\n`);
    process.exit(1);
  },
);
