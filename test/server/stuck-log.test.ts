/**
 * A stuck log consumer (issue 12): the built server with its stdout a pipe that nobody reads,
 * as when a log shipper hangs. It keeps serving, its log buffer stays bounded (lines past it
 * are dropped and counted in /metrics), and SIGTERM still ends it, with 0, within
 * SHUTDOWN_TIMEOUT_SECONDS.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildServerIfStale, ROOT, SERVER } from '../helpers/build';
import { freePort } from '../setup/redis-server';

jest.setTimeout(120_000);

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
  });
}

describe('a stuck log consumer', () => {
  let child: ChildProcess;
  let keysDir: string;

  beforeAll(() => {
    buildServerIfStale();
    keysDir = mkdtempSync(path.join(os.tmpdir(), 'tg-stuck-log-'));
  });
  afterAll(() => {
    agent.destroy();
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(keysDir, { recursive: true, force: true });
  });

  test('serves on, drops and counts lines past a bounded buffer, and SIGTERM ends it in time', async () => {
    const port = await freePort();
    child = spawn(process.execPath, [SERVER], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, PORT: String(port), HOST: '127.0.0.1', KEYS_DIR: keysDir, LOG_LEVEL: 'info', SHUTDOWN_TIMEOUT_SECONDS: '3' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    // Nobody reads stdout: the pipe fills and stays full.
    child.stdout!.pause();
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        if ((await get(port, '/healthz')).status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error('the server did not start');
      await new Promise((r) => setTimeout(r, 100));
    }

    // Each request writes a log line (~300 bytes): far more than the pipe and the buffer hold.
    for (let i = 0; i < 4000; i += 8) {
      const answers = await Promise.all(Array.from({ length: 8 }, () => get(port, '/healthz')));
      expect(answers.every((a) => a.status === 200)).toBe(true);
    }
    const metrics = (await get(port, '/metrics')).body;
    const dropped = Number(/^gateway_log_lines_dropped_total (\d+)/m.exec(metrics)?.[1] ?? 'NaN');
    expect(dropped).toBeGreaterThan(1000);
    const rss = Number(/^process_resident_memory_bytes (\d+)/m.exec(metrics)?.[1] ?? 'NaN');
    expect(rss).toBeLessThan(300 * 1024 * 1024);

    agent.destroy();
    const started = Date.now();
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 8000))]);
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(3000 + 1000);
  });
});
