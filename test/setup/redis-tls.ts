/**
 * A throwaway redis-server that speaks only TLS, with a certificate from a CA made here with
 * openssl, and an ACL user limited to the commands the gateway needs (REDIS_ACL_COMMANDS, the
 * list docs/OPERATIONS.md gives operators). The default user is off.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { freePort } from './redis-server';

/** What the gateway runs: the store, its scripts, the mirror, the rate limiter, ioredis itself. */
export const REDIS_ACL_COMMANDS = [
  // connection (ioredis: AUTH/HELLO, its ready check INFO; health: PING). ioredis also tries
  // CLIENT SETINFO (Redis 7.2+), and carries on when it is refused.
  'auth', 'hello', 'ping', 'quit', 'info', 'role',
  // the store's reads and writes, and its scripts (what a script calls is checked too)
  'get', 'set', 'del', 'exists', 'hgetall', 'hset', 'hdel', 'incr', 'pexpiretime', 'eval', 'evalsha',
  // the rate limiter (rate-limiter-flexible)
  'incrby', 'pttl', 'expire', 'multi', 'exec',
  // the audit trail (Redis Streams)
  'xadd', 'xtrim', 'xrevrange', 'pexpire',
  // webhooks: endpoints, attempts, the delivery queue (a stream with a consumer group) and retries
  'hget', 'hlen', 'lpush', 'lrange', 'ltrim', 'xack', 'xdel', 'xgroup|create', 'xreadgroup', 'xautoclaim',
  'zadd', 'zrem', 'zrangebyscore',
  // the mirror's notices; durable changes
  'subscribe', 'unsubscribe', 'publish', 'wait',
  // Redis Cluster topology
  'cluster|slots', 'cluster|shards', 'cluster|info',
];

export interface ThrowawayTlsRedis {
  port: number;
  caFile: string;
  username: string;
  password: string;
  stop(): Promise<void>;
}

export function hasTlsTools(): boolean {
  return spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0 &&
    spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

function openssl(dir: string, args: string[]): void {
  const result = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr}`);
}

export async function startTlsRedis(prefix: string): Promise<ThrowawayTlsRedis> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tg-redis-tls-'));
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=tg test CA']);
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'san.ext']);
  const port = await freePort();
  const username = 'gateway';
  const password = `pw-${Math.random().toString(36).slice(2)}-secret`;
  writeFileSync(
    path.join(dir, 'redis.conf'),
    [
      'port 0',
      `tls-port ${port}`,
      'bind 127.0.0.1',
      `tls-cert-file ${path.join(dir, 'server.pem')}`,
      `tls-key-file ${path.join(dir, 'server.key')}`,
      `tls-ca-cert-file ${path.join(dir, 'ca.pem')}`,
      'tls-auth-clients no',
      'save ""',
      'appendonly no',
      `dir ${dir}`,
      'user default off',
      `user ${username} on >${password} resetkeys ~${prefix}* resetchannels &${prefix}* -@all ${REDIS_ACL_COMMANDS.map((c) => `+${c}`).join(' ')}`,
    ].join('\n'),
  );
  const child = spawn('redis-server', [path.join(dir, 'redis.conf')], { stdio: 'ignore' });
  const stop = () =>
    new Promise<void>((resolve) => {
      const done = () => (rmSync(dir, { recursive: true, force: true }), resolve());
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', done);
      child.kill('SIGKILL');
    });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => (socket.end(), resolve(true)));
      socket.on('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error('redis-server with TLS did not start (is it built with TLS?)');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, caFile: path.join(dir, 'ca.pem'), username, password, stop };
}
