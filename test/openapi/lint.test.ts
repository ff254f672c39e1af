/**
 * `redocly lint` (the pinned @redocly/cli, its recommended rules as redocly.yaml adjusts them)
 * passes on docs/openapi.json with no problem at all, warnings included. Runs offline: the
 * CLI is a dev dependency and its telemetry and update check are off.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildOpenApiDocument } from '../../src/http/openapi';

const ROOT = path.resolve(__dirname, '../..');
const CLI = require.resolve('@redocly/cli/bin/cli.js');

interface LintReport {
  totals: { errors: number; warnings: number };
  problems: Array<{ ruleId: string; message: string; location: Array<{ pointer: string }> }>;
}

function lint(file: string): LintReport {
  const run = spawnSync(process.execPath, [CLI, 'lint', file, '--format=json', `--config=${path.join(ROOT, 'redocly.yaml')}`], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
    timeout: 60_000,
  });
  if (run.error) throw run.error;
  return JSON.parse(run.stdout) as LintReport;
}

const summary = (report: LintReport) =>
  report.problems.map((p) => `${p.ruleId}: ${p.message} at ${p.location[0]?.pointer ?? '?'}`);

describe('redocly lint', () => {
  test('docs/openapi.json has no problem', () => {
    const report = lint('docs/openapi.json');
    expect(summary(report)).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  });

  test('would report a broken document (the check can fail)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'openapi-lint-'));
    try {
      const broken = buildOpenApiDocument() as Record<string, any>;
      delete broken.paths['/healthz'].get.responses;
      broken.paths['/v1/account/me'].get.security = [{ undeclaredScheme: [] }];
      const file = path.join(dir, 'openapi.json');
      writeFileSync(file, JSON.stringify(broken));
      const report = lint(file);
      expect(report.totals.errors).toBeGreaterThan(0);
      expect(summary(report).join('\n')).toMatch(/security-defined/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
