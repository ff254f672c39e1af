/**
 * The gateway as a real child process (`node dist/server.js`), for the tests that need real
 * signals, sockets and exit codes. dist/ is rebuilt once when any file under src/ is newer.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, send } from './harness';

export const DIST_SERVER = path.join(REPO_ROOT, 'dist', 'server.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/** Compiles src/ into dist/ unless dist/server.js is already newer than every source file. */
export function ensureBuilt(): void {
  const sources = newestMtime(path.join(REPO_ROOT, 'src'));
  if (existsSync(DIST_SERVER) && statSync(DIST_SERVER).mtimeMs >= sources) return;
  const tsc = require.resolve('typescript/bin/tsc', { paths: [REPO_ROOT] });
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 180_000,
  });
  if (result.status !== 0) {
    // tsc still emits on type errors; the type check of the test command reports them.
    if (!existsSync(DIST_SERVER) || result.error) {
      throw new Error(`tsc -p tsconfig.build.json failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
    }
    process.stderr.write(`tsc -p tsconfig.build.json reported errors (dist/ emitted anyway):\n${result.stdout}\n`);
  }
}

export interface GatewayProcess {
  port: number;
  child: ChildProcess;
  output(): string;
  /** The JSON log lines written so far (stdout and stderr), parsed; other lines are skipped. */
  logLines(): Array<Record<string, any>>;
  /** Resolves with the first log line `match` accepts, waiting up to `timeoutMs` for it. */
  waitForLog(match: (line: Record<string, any>) => boolean, timeoutMs?: number): Promise<Record<string, any>>;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): void;
}

/** Spawns the gateway with exactly `env` (plus PATH) and waits until /healthz answers 200. */
export async function spawnGateway(env: Record<string, string>): Promise<GatewayProcess> {
  const port = Number(env.PORT);
  const child = spawn(process.execPath, [DIST_SERVER], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the gateway exited (${child.exitCode}) at start:\n${output}`);
    const answer = await send({ port, path: '/healthz', timeoutMs: 1000 }).catch(() => undefined);
    if (answer?.status === 200) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the gateway did not answer /healthz on port ${port}:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const logLines = () =>
    output.split('\n').flatMap((line) => {
      if (!line.startsWith('{')) return [];
      try {
        return [JSON.parse(line) as Record<string, any>];
      } catch {
        return []; // a line still being written
      }
    });
  return {
    port,
    child,
    output: () => output,
    logLines,
    waitForLog: async (match, timeoutMs = 5000) => {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const found = logLines().find(match);
        if (found) return found;
        if (Date.now() > until) throw new Error(`no such log line within ${timeoutMs} ms; the log:\n${output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    exited,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}
