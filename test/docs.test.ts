/**
 * The docs a new user reads, checked: they stay inside the repository (no path of one machine,
 * no link out of the clone), every relative link and anchor resolves, and docs/API.md describes
 * every route the gateway answers and every error code it can send.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../src/config';
import { ERROR_CODES } from '../src/errors';
import type { HttpContext } from '../src/http/context';
import { routeTable } from '../src/http/routes';

const ROOT = path.resolve(__dirname, '..');
const DOCS = [
  'README.md',
  '.env.example',
  'packages/client/README.md',
  ...readdirSync(path.join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');

describe('the docs', () => {
  test.each(DOCS)('%s names no path outside the repository', (file) => {
    const text = read(file);
    expect(text).not.toMatch(/\.\.\//);
    expect(text).not.toMatch(/(^|[\s`("'])\/(work|home|root|Users|tmp)\//m);
  });

  test.each(DOCS.filter((file) => file.endsWith('.md')))('%s: every relative link and anchor resolves', (file) => {
    const text = read(file);
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue; // https:, mailto:
      const [linkPath, anchor] = target!.split('#');
      const resolved = linkPath ? path.join(path.dirname(path.join(ROOT, file)), linkPath) : path.join(ROOT, file);
      expect({ file, target, exists: existsSync(resolved) }).toEqual({ file, target, exists: true });
      if (anchor && resolved.endsWith('.md')) {
        const anchors = [...readFileSync(resolved, 'utf8').matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchorOf(m[1]!));
        expect({ file, target, anchorFound: anchors.includes(anchor) }).toEqual({ file, target, anchorFound: true });
      }
    }
  });

  test('docs/API.md describes every route and method the gateway answers', () => {
    const api = read('docs/API.md');
    const routes = routeTable({ config: loadConfig({}) } as HttpContext);
    expect(routes.length).toBeGreaterThan(15);
    for (const route of routes) {
      const documentedPath = route.path.replace(/:[A-Za-z]+/g, '{[A-Za-z]+}').replace(/\./g, '\\.');
      for (const method of Object.keys(route.methods)) {
        const shown = method === 'ALL' ? 'GET' : method;
        expect({ route: `${method} ${route.path}`, documented: new RegExp(`${shown} ${documentedPath}(?![\\w/-])`).test(api) }).toEqual({
          route: `${method} ${route.path}`,
          documented: true,
        });
      }
    }
  });

  test('docs/API.md lists every error code, and the policy rules', () => {
    const api = read('docs/API.md');
    for (const code of Object.keys(ERROR_CODES)) expect(api).toContain(`| \`${code}\` |`);
    expect(api).toMatch(/reject\s+always wins/);
    expect(api).toMatch(/is granted nothing/);
  });
});
