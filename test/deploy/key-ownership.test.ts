/**
 * What the README and docs/DEPLOYMENT.md say next to `docker run`: key files are written mode 0600,
 * a process running as another user cannot read them (the start fails with EACCES and the file's
 * name), and running as the files' owner (`--user "$(id -u):$(id -g)"`) works. No Docker engine is
 * needed to check it: `node dist/server.js` is started as another uid, as the container would be.
 * Starting a process as another user needs root, so the test runs only as root (CI runs as root).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../src/cli';
import { testIf } from '../helpers/skip';
import { freePort } from '../setup/redis-server';
import { REPO_ROOT } from './harness';
import { DIST_SERVER, ensureBuilt } from './process';

jest.setTimeout(60_000);

/** The image's user. */
const CONTAINER_UID = 1000;
const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
/** Whether uid 1000 can read the checkout at all (not when it lies in a folder only root may enter). */
const readableByContainerUser =
  asRoot &&
  spawnSync(process.execPath, ['-e', 'require(process.argv[1])', path.join(REPO_ROOT, 'node_modules/express/package.json')], {
    uid: CONTAINER_UID,
    gid: CONTAINER_UID,
    stdio: 'ignore',
  }).status === 0;
const rootOnly = testIf(
  readableByContainerUser,
  asRoot
    ? 'the key ownership test starts node dist/server.js as uid 1000, which cannot read this checkout'
    : 'the key ownership test starts node dist/server.js as another uid, which needs root',
);

/** Starts the built gateway as `uid` and answers its exit code and output, stopping it as soon as it listens. */
function startAs(uid: number, keysDir: string, port: number): Promise<{ code: number | string; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [DIST_SERVER], {
      uid,
      gid: uid,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        NODE_ENV: 'production',
        JWT_ISSUER: 'https://auth.example.com',
        STORE: 'memory',
        JWT_ALGORITHM: 'ES256',
        HOST: '127.0.0.1',
        PORT: String(port),
        KEYS_DIR: keysDir,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('token-gateway listening')) child.kill('SIGTERM');
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (code, signal) => {
      clearTimeout(guard);
      resolve({ code: code ?? signal ?? 'unknown', output });
    });
  });
}

describe('key files and the container user', () => {
  rootOnly('a 0600 key of another owner stops the start with EACCES; the same key owned by the user starts', async () => {
    ensureBuilt();
    const keysDir = mkdtempSync(path.join(os.tmpdir(), 'tg-key-owner-'));
    try {
      chmodSync(keysDir, 0o755);
      await runCli(['keys', 'generate', '--algorithm', 'ES256', '--dir', keysDir], { out: () => undefined, env: {} });
      const [name] = readdirSync(keysDir);
      const file = path.join(keysDir, name!);
      expect(statSync(file).mode & 0o777).toBe(0o600);

      const refused = await startAs(CONTAINER_UID, keysDir, await freePort());
      expect(refused.code).toBe(1);
      expect(refused.output).toContain(`EACCES: permission denied, open '${file}'`);

      chownSync(file, CONTAINER_UID, CONTAINER_UID); // what --user "$(id -u):$(id -g)" amounts to
      const started = await startAs(CONTAINER_UID, keysDir, await freePort());
      expect(started.output).toContain('token-gateway listening');
      expect(started.output).not.toContain('EACCES');
    } finally {
      rmSync(keysDir, { recursive: true, force: true });
    }
  });
});
