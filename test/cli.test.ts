/** The command-line tool does what the admin API does, on the configured store. */
import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli, UsageError } from '../src/cli';
import { MemoryStore } from '../src/store';
import { KeyRing } from '../src/keys';
import { ManualClock } from '../src/clock';

async function run(args: string[], store: MemoryStore, env: NodeJS.ProcessEnv = {}) {
  let out = '';
  await runCli(args, { out: (t) => (out += t), env, store });
  return JSON.parse(out);
}

describe('cli', () => {
  const store = new MemoryStore({ sweepIntervalMs: 0 });

  test('creates an account, adds, lists and removes auth tokens', async () => {
    const created = await run(['accounts', 'create', 'Acme'], store);
    expect(created.account.name).toBe('Acme');
    expect(created.authToken).toMatch(/^at_/);
    const added = await run(['auth-tokens', 'add', created.account.id], store);
    expect(added.authToken).toMatch(/^at_/);
    const listed = await run(['auth-tokens', 'list', created.account.id], store);
    expect(listed.authTokens).toHaveLength(2);
    expect(JSON.stringify(listed)).not.toContain(added.authToken);
    await run(['auth-tokens', 'remove', created.account.id, created.authTokenId], store);
    expect((await run(['auth-tokens', 'list', created.account.id], store)).authTokens).toHaveLength(1);
  });

  test('generates signing keys that the key ring loads', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tg-cli-'));
    const rsa = await run(['keys', 'generate', '--dir', dir, '--bits', '2048'], store);
    expect(rsa.alg).toBe('RS256');
    const ec = await run(['keys', 'generate', '--dir', dir, '--algorithm', 'ES256'], store);
    expect(ec.alg).toBe('ES256');
    expect(readdirSync(dir)).toHaveLength(2);
    const ring = await KeyRing.load({
      dir,
      algorithm: 'RS256',
      clock: new ManualClock(),
      jwksMaxAgeSeconds: 0,
      maxTokenLifetimeSeconds: 172_800,
      clockToleranceSeconds: 5,
    });
    expect(ring.activeKeys().map((k) => k.kid).sort()).toEqual([rsa.kid, ec.kid].sort());
  });

  test('refuses short keys and unknown commands', async () => {
    await expect(run(['keys', 'generate', '--bits', '1024', '--dir', os.tmpdir()], store)).rejects.toThrow(/at least 2048/);
    await expect(run(['accounts', 'delete', 'x'], store)).rejects.toBeInstanceOf(UsageError);
    await expect(run(['auth-tokens', 'add', 'acc_unknown'], store)).rejects.toThrow(/No account has this id/);
  });
});
