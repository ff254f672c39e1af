/**
 * The client package as a user gets it: `npm pack` of packages/client, installed from the tarball
 * into an empty project, then the README's backend and browser code type-checked and run there
 * against a live gateway, as an ES module; and the package loaded through `require` (CommonJS)
 * with its own types.
 *
 * The empty project lives outside the repository, so nothing of the gateway's node_modules can
 * be found by accident; only express and the type packages the README's backend code needs are
 * linked in, after the install.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildTestGateway, type TestAccount, type TestGateway } from '../helpers/app';
import { listen, stop } from '../helpers/live';

jest.setTimeout(180_000);

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const PACKAGE_DIR = path.join(ROOT, 'packages/client');
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');

/** npm without the settings of the `npm test` that started jest (workspace, prefix, ...). */
function npmEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
}

/** The ```ts blocks of the README's "With the SDK" section, in order. */
function readmeSdkSnippets(): string[] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('## With the SDK');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end);
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

/** Links a package of the gateway's node_modules into the project's node_modules. */
function linkFromRoot(project: string, name: string): void {
  const target = path.join(project, 'node_modules', name);
  mkdirSync(path.dirname(target), { recursive: true });
  symlinkSync(path.join(ROOT, 'node_modules', name), target, 'dir');
}

const PRELUDE = `
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { RequestHandler } from 'express';

declare global {
  namespace Express {
    interface Request { user: { id: string; organizationId: string; email: string } }
  }
}
const GATEWAY_URL = process.env.GATEWAY_URL!;
const API_KEY = process.env.API_KEY!;
const AUTH_TOKEN = process.env.AUTH_TOKEN!;
const signedIn = { id: 'user-1', organizationId: 'org-1', email: 'ada@example.com' };
const requireLogin: RequestHandler = (req, _res, next) => { req.user = signedIn; next(); };
const me = signedIn;
const seen: string[] = [];
const showBanner = (text: string) => seen.push('banner ' + text);
const signOut = () => seen.push('signOut');
`;

/** Between the two: the backend listens, and the page's relative fetch goes to it. */
const BETWEEN = `
const backend = app.listen(0, '127.0.0.1');
await once(backend, 'listening');
const backendUrl = 'http://127.0.0.1:' + (backend.address() as AddressInfo).port;
const networkFetch = globalThis.fetch;
globalThis.fetch = (input, init) =>
  networkFetch(typeof input === 'string' && input.startsWith('/') ? backendUrl + input : input, init);
`;

const EPILOGUE = `
const token = session.getToken()!;
const identity = await gateway.verify(token);
const introspection = await gateway.introspect(token);
session.close();
backend.close();
console.log(JSON.stringify({ identity, introspection, seen }));
`;

const CJS_CHECK = `
import { createGatewayClient, GatewayClientError, isGatewayClientError } from '@token-gateway/client';

const gateway = createGatewayClient({
  baseUrl: process.env.GATEWAY_URL!, apiKey: process.env.API_KEY!, authToken: process.env.AUTH_TOKEN!,
});
void (async () => {
  const introspection = await gateway.introspect('not-a-token');
  let code = '';
  try {
    await gateway.verify('not-a-token');
  } catch (error) {
    if (isGatewayClientError(error) && error instanceof GatewayClientError) code = error.code;
  }
  console.log(JSON.stringify({ kind: typeof module, introspection, code }));
})();
`;

describe('the client package, packed and installed into an empty project', () => {
  let gw: TestGateway;
  let server: Server;
  let baseUrl: string;
  let account: TestAccount;
  let work: string;
  let project: string;
  let tarball: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    gw = await buildTestGateway();
    ({ server, baseUrl } = await listen(gw));
    account = await gw.createAccount('Package');
    work = mkdtempSync(path.join(os.tmpdir(), 'tg-client-package-'));
    project = path.join(work, 'project');
    mkdirSync(project);
    env = { ...npmEnv(), GATEWAY_URL: baseUrl, API_KEY: account.apiKey, AUTH_TOKEN: account.authToken };
  });

  afterAll(async () => {
    await stop(server, gw);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('npm pack builds a tarball of the compiled code and its types only, with no dependency', async () => {
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: PACKAGE_DIR, env: npmEnv() });
    const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    tarball = path.join(work, packed!.filename);
    const files = packed!.files.map((f) => f.path).sort();
    for (const file of files) expect(file).toMatch(/^(package\.json|README\.md|dist\/(cjs|esm)\/([a-z-]+\.(js|d\.ts)|package\.json))$/);
    for (const kind of ['cjs', 'esm']) {
      expect(files).toEqual(expect.arrayContaining([`dist/${kind}/index.js`, `dist/${kind}/index.d.ts`, `dist/${kind}/package.json`]));
    }
    const manifest = JSON.parse(readFileSync(path.join(PACKAGE_DIR, 'package.json'), 'utf8'));
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies', 'bundleDependencies']) {
      expect(manifest[field]).toBeUndefined();
    }
  });

  test('installs offline as one package, and the README code type-checks and runs against the gateway', async () => {
    expect(tarball).toBeDefined();
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'sdk-user', private: true, type: 'module' }));
    await run('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: project, env: npmEnv() });
    // Nothing but the package itself was installed.
    expect(readdirSync(path.join(project, 'node_modules')).filter((name) => !name.startsWith('.'))).toEqual(['@token-gateway']);
    expect(readdirSync(path.join(project, 'node_modules/@token-gateway'))).toEqual(['client']);

    const snippets = readmeSdkSnippets();
    expect(snippets).toHaveLength(2);
    const [backend, browser] = snippets.map((code) => {
      const pointed = code.replaceAll("'http://localhost:8080'", 'GATEWAY_URL');
      expect(pointed).not.toBe(code); // the README's gateway address is replaced by the live one
      return pointed;
    });
    writeFileSync(path.join(project, 'readme-flow.ts'), [PRELUDE, backend, BETWEEN, browser, EPILOGUE].join('\n'));
    writeFileSync(path.join(project, 'require-check.cts'), CJS_CHECK);
    writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          target: 'es2022',
          lib: ['es2022', 'dom'],
          types: ['node'],
          strict: true,
          skipLibCheck: true,
          outDir: 'out',
          rootDir: '.',
        },
        include: ['readme-flow.ts', 'require-check.cts'],
      }),
    );
    for (const name of ['express', '@types/express', '@types/node']) linkFromRoot(project, name);

    // Type-check and compile: the ES module build's types for readme-flow.ts, the CommonJS ones for require-check.cts.
    await run(process.execPath, [TSC, '-p', project], { cwd: project });

    const flow = await run(process.execPath, ['out/readme-flow.js'], { cwd: project, env, timeout: 30_000 });
    const result = JSON.parse(flow.stdout.trim().split('\n').pop()!);
    expect(result.identity).toEqual({
      userId: 'user-1',
      organizationId: 'org-1',
      email: 'ada@example.com',
      isAdmin: false,
      tokenId: expect.any(String),
      account: account.apiKey,
    });
    expect(result.introspection).toMatchObject({ active: true, sub: 'user-1', client_id: account.apiKey, exp: expect.any(Number) });
    expect(result.introspection.exp - result.introspection.iat).toBe(3600); // the backend's expiresIn
    expect(result.seen).toEqual([]);

    const required = await run(process.execPath, ['out/require-check.cjs'], { cwd: project, env, timeout: 30_000 });
    expect(JSON.parse(required.stdout.trim())).toEqual({ kind: 'object', introspection: { active: false }, code: 'token_invalid' });
  });
});
