/** Starts test/setup/fault-proxy-process.js as its own process and talks to it. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { freePort } from './redis-server';

export interface FaultProxy {
  /** Listening port per target port. */
  ports: Map<number, number>;
  process: ChildProcess;
  /** Sends one command and resolves once the proxy applied it. */
  command(command: Record<string, unknown>): Promise<void>;
  /** Resolves when the proxy reports `event` ("dropped", "cut", "delayed"). */
  next(event: string, timeoutMs?: number): Promise<void>;
  /** SIGSTOP / SIGCONT: the proxy hangs without closing anything, then resumes. */
  stall(): void;
  resume(): void;
  stop(): Promise<void>;
}

export async function startFaultProxy(targetPorts: number[]): Promise<FaultProxy> {
  const ports = new Map<number, number>();
  for (const target of targetPorts) ports.set(target, await freePort());
  const child = spawn(process.execPath, [path.join(__dirname, 'fault-proxy-process.js'), ...[...ports].map(([t, l]) => `${l}:${t}`)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const waiting: Array<{ event: string; resolve: () => void }> = [];
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    const index = waiting.findIndex((w) => w.event === line.trim());
    if (index !== -1) waiting.splice(index, 1)[0]!.resolve();
  });
  const next = (event: string, timeoutMs = 10_000) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fault proxy: no "${event}" within ${timeoutMs} ms`)), timeoutMs);
      waiting.push({ event, resolve: () => (clearTimeout(timer), resolve()) });
    });
  await next('ready');
  return {
    ports,
    process: child,
    command: (command) => {
      const applied = next('ok');
      child.stdin!.write(`${JSON.stringify(command)}\n`);
      return applied;
    },
    next,
    stall: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }),
  };
}
