/**
 * The production "no signing key" message names a command the runtime image can run: the
 * image ships dist/ without the TypeScript compiler, so `npm run cli` (which builds first)
 * does not work there.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureSigningKey } from '../../src/keys';

test('the production "no signing key" message suggests node dist/cli.js keys generate', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tg-prod-msg-'));
  const error = await ensureSigningKey(dir, 'RS256', true).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(error?.message).toContain('"node dist/cli.js keys generate"');
  // The npm form is offered for a checkout only, never as the first suggestion.
  expect(error?.message.indexOf('node dist/cli.js')).toBeLessThan(error?.message.indexOf('npm run cli') ?? -1);
});
