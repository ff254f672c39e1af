/**
 * test/openapi/openapi-types.ts is what openapi-typescript (pinned) makes of docs/openapi.json
 * today, so the type-level check of the client package (test/client/sdk-openapi.types.ts, run
 * by `npm run typecheck`) is made against the current document.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

test('the generated types are current (else run `npm run openapi`)', () => {
  const cli = path.join(path.dirname(require.resolve('openapi-typescript/package.json')), 'bin', 'cli.js');
  const run = spawnSync(process.execPath, [cli, 'docs/openapi.json'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  expect(run.status).toBe(0);
  const committed = readFileSync(path.join(ROOT, 'test/openapi/openapi-types.ts'), 'utf8');
  expect(committed === run.stdout).toBe(true);
});
