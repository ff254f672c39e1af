'use strict';
/**
 * node bench/fanout.js (after npm run build): what liveness and change detection cost Redis as
 * the number of gateway processes grows. For N = 2, 4, 8, 16 processes, each running the
 * mirrored Redis store (dist/store) on one throwaway redis-server, measures over BENCH_FANOUT_SECONDS
 * (default 5) the commands Redis processes per second and the bytes it sends per second, idle
 * and with one writer making 10 changes a second (each change is one notice to every process).
 *
 * Everything on 127.0.0.1; every process started here is killed at the end.
 */
const { spawn } = require('node:child_process');
const path = require('node:path');
const Redis = require('ioredis');
const { freePort, sleep } = require('./children');

const ROOT = path.resolve(__dirname, '..');
const SECONDS = Number(process.env.BENCH_FANOUT_SECONDS || 5);
const COUNTS = (process.env.BENCH_FANOUT_COUNTS || '2,4,8,16').split(',').map(Number);

const INSTANCE = `
const { redisStore, createRedisClient } = require(${JSON.stringify(path.join(ROOT, 'dist/store'))});
const store = redisStore(createRedisClient(process.argv[1]), 'tgfan:', true);
setInterval(() => store.getTokenContext({ apiKey: 'ak_fan', jti: 'j' }).catch(() => undefined), 1000);
process.on('SIGTERM', () => store.close().then(() => process.exit(0)));
`;

async function stats(client) {
  const info = await client.info('stats');
  const field = (name) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)[1]);
  return { commands: field('total_commands_processed'), bytesOut: field('total_net_output_bytes'), at: Date.now() };
}

async function measure(client, during) {
  const before = await stats(client);
  const done = during ? during() : undefined;
  await sleep(SECONDS * 1000);
  if (done) await done.stop();
  const after = await stats(client);
  const seconds = (after.at - before.at) / 1000;
  // The two INFO calls are commands too: negligible, and the same in every row.
  return { commandsPerSecond: (after.commands - before.commands) / seconds, bytesOutPerSecond: (after.bytesOut - before.bytesOut) / seconds };
}

async function main() {
  const port = await freePort();
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const children = [];
  const client = new Redis(url);
  client.on('error', () => undefined);
  try {
    for (let i = 0; i < 100 && client.status !== 'ready'; i++) await sleep(50);
    const { RedisStore } = require(path.join(ROOT, 'dist/store'));
    const writerClient = new Redis(url, { maxRetriesPerRequest: 0 });
    writerClient.on('error', () => undefined);
    const writer = new RedisStore(writerClient, 'tgfan:');
    const rows = [];
    for (const n of COUNTS) {
      while (children.length < n) children.push(spawn(process.execPath, ['-e', INSTANCE, url], { stdio: 'ignore' }));
      await sleep(2000);
      const idle = await measure(client);
      const writing = await measure(client, () => {
        let k = 0;
        const timer = setInterval(() => void writer.revokeToken('ak_fan', `j${k++}`, Math.floor(Date.now() / 1000) + 60).catch(() => undefined), 100);
        return { stop: async () => clearInterval(timer) };
      });
      rows.push({ n, idle, writing });
      process.stdout.write(
        `${String(n).padStart(3)} processes: idle ${idle.commandsPerSecond.toFixed(0)} commands/s ` +
          `(${(idle.commandsPerSecond / n).toFixed(1)} per process), ${(idle.bytesOutPerSecond / 1024).toFixed(1)} KiB/s out; ` +
          `10 changes/s: ${writing.commandsPerSecond.toFixed(0)} commands/s, ${(writing.bytesOutPerSecond / 1024).toFixed(1)} KiB/s out\n`,
      );
    }
    // Linear fit through the idle rows: commands/s = a + b * N.
    const xs = rows.map((r) => r.n);
    const ys = rows.map((r) => r.idle.commandsPerSecond);
    const mean = (v) => v.reduce((s, x) => s + x, 0) / v.length;
    const b = xs.reduce((s, x, i) => s + (x - mean(xs)) * (ys[i] - mean(ys)), 0) / xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0);
    const a = mean(ys) - b * mean(xs);
    process.stdout.write(`idle fit: ${a.toFixed(1)} + ${b.toFixed(2)} * N commands/s; at N = 300: ${(a + b * 300).toFixed(0)} commands/s\n`);
    await writer.close();
  } finally {
    for (const child of children) child.kill('SIGKILL');
    client.disconnect();
    redis.kill('SIGKILL');
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
