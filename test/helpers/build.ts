/** The built server (dist/server.js), rebuilt when any source file is newer. */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');
export const SERVER = path.join(ROOT, 'dist/server.js');

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(full) : statSync(full).mtimeMs);
  }
  return latest;
}

const fresh = (): boolean => {
  try {
    return statSync(SERVER).mtimeMs >= newest(path.join(ROOT, 'src'));
  } catch {
    return false;
  }
};

export function buildServerIfStale(): void {
  if (fresh()) return;
  const result = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'pipe', timeout: 120_000 });
  // tsc still emits when a type error elsewhere fails it; what matters is a fresh dist/server.js.
  if (!fresh()) throw new Error(`build failed: ${String(result.stdout)}${String(result.stderr)}`);
}
