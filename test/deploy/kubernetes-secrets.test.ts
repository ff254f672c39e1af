/**
 * deploy/kubernetes/secrets.example.yaml covers every supported signing algorithm: for each, the
 * command it names makes a key that the gateway, configured with that JWT_ALGORITHM, signs with
 * when the Secret is mounted as a folder (the file keeping its generated name).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { runCli } from '../../src/cli';
import { ManualClock } from '../../src/clock';
import { loadConfig } from '../../src/config';
import { KeyRing } from '../../src/keys';
import { REPO_ROOT } from './harness';

const TEMPLATE = readFileSync(path.join(REPO_ROOT, 'deploy/kubernetes/secrets.example.yaml'), 'utf8');
const ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;

describe('the Kubernetes secrets template', () => {
  test('names JWT_ALGORITHM and a key generation command for every supported algorithm', () => {
    for (const algorithm of ALGORITHMS) {
      expect(TEMPLATE).toContain(`JWT_ALGORITHM=${algorithm}`);
      expect(TEMPLATE).toContain(`keys generate --algorithm ${algorithm} --dir keys`);
    }
    const configMap = YAML.parse(readFileSync(path.join(REPO_ROOT, 'deploy/kubernetes/configmap.yaml'), 'utf8'));
    expect(ALGORITHMS).toContain(configMap.data.JWT_ALGORITHM);
  });

  test('its keys Secret holds files under generated names, created from the whole keys folder', () => {
    const [keys] = YAML.parseAllDocuments(TEMPLATE).map((doc) => doc.toJS());
    expect(keys.metadata.name).toBe('token-gateway-keys');
    const names = Object.keys(keys.stringData);
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(name).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z-(rs256|es256|eddsa)\.pem$/);
    expect(TEMPLATE).toContain('create secret generic token-gateway-keys --from-file=keys/');
  });

  test.each(ALGORITHMS)('the %s command makes a key the gateway signs with under that JWT_ALGORITHM', async (algorithm) => {
    const command = new RegExp(`npm run cli -- (keys generate --algorithm ${algorithm} --dir keys)`).exec(TEMPLATE)![1]!;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tg-k8s-keys-'));
    let out = '';
    // The template's command, with its keys folder pointed at a fresh one.
    await runCli([...command.split(' ').slice(0, -1), dir], { out: (t) => (out += t), env: {} });
    const generated = JSON.parse(out) as { file: string; kid: string; alg: string };
    expect(path.basename(generated.file)).toMatch(new RegExp(`Z-${algorithm.toLowerCase()}\\.pem$`));
    const config = loadConfig({ JWT_ALGORITHM: algorithm, KEYS_DIR: dir });
    const ring = await KeyRing.load({
      dir: config.keysDir,
      algorithm: config.algorithm,
      clock: new ManualClock(Date.now() + 3_600_000),
      jwksMaxAgeSeconds: 0,
      maxTokenLifetimeSeconds: 172_800,
      clockToleranceSeconds: 5,
    });
    expect(ring.signingKey()).toMatchObject({ kid: generated.kid, alg: algorithm });
  });
});
