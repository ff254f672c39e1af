/**
 * What the deployment tests share: finding (or, under CI, installing) nginx, rendering the
 * project's nginx template, running nginx and an upstream that records what it receives, and
 * a small HTTP client that never reuses a connection unless told to.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const NGINX_TEMPLATE = path.join(REPO_ROOT, 'deploy', 'nginx', 'token-gateway.conf.template');

export const IDENTITY_HEADERS = [
  'X-Auth-User-Id',
  'X-Auth-Organization-Id',
  'X-Auth-Email',
  'X-Auth-Is-Admin',
  'X-Auth-Token-Id',
  'X-Auth-Account',
] as const;

const NGINX_DIRS = ['/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin', '/usr/bin', '/usr/local/bin'];

/** The nginx binary on PATH (or in the usual sbin folders, which a non-root PATH may lack). */
export function locateNginx(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...NGINX_DIRS];
  for (const dir of dirs) {
    const candidate = path.join(dir, 'nginx');
    if (existsSync(candidate) && spawnSync(candidate, ['-v'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  return undefined;
}

/** Installs Debian's nginx (CI only); throws with the reason when it cannot. */
export function installNginx(): string {
  process.stderr.write('nginx is missing: installing it with apt-get (CI=true)...\n');
  const run = (args: string[]) => {
    const result = spawnSync('apt-get', args, {
      encoding: 'utf8',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: 300_000,
    });
    if (result.status !== 0) {
      throw new Error(`apt-get ${args.join(' ')} failed (status ${result.status}): ${result.stderr || result.error?.message}`);
    }
  };
  run(['update', '-qq']);
  run(['install', '-y', '-qq', 'nginx']);
  const found = locateNginx();
  if (!found) throw new Error('apt-get installed nginx, but no nginx binary can be found.');
  return found;
}

/** nginx for the deployment tests: found, installed under CI, or undefined (the test skips loudly). */
export function nginxForTests(): string | undefined {
  const found = locateNginx();
  if (found) return found;
  if (process.env.CI === 'true') return installNginx();
  process.stderr.write(
    '\n*** nginx is not installed: the nginx sidecar test (test/deploy/nginx.test.ts) is SKIPPED. ' +
      'Install it (apt-get install nginx) to run it; under CI=true it is installed and never skipped. ***\n\n',
  );
  return undefined;
}

/** Replaces ${NAME} placeholders, as envsubst does with a list of names; a missing one throws. */
export function renderTemplate(text: string, values: Record<string, string>): string {
  const rendered = text.replace(/\$\{([A-Z][A-Z0-9_]*)\}/g, (whole, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`no value for the placeholder ${whole}`);
    return value;
  });
  return rendered;
}

export interface RunningNginx {
  port: number;
  prefix: string;
  process: ChildProcess;
  errorLog(): string;
  stop(): Promise<void>;
}

/**
 * Runs nginx in the foreground with the project's template, on loopback, every path under a
 * temporary prefix (nothing needs root). Resolves once it answers.
 */
export async function startNginx(
  binary: string,
  values: { port: number; gatewayAddr: string; appAddr: string; apiKey: string },
): Promise<RunningNginx> {
  const prefix = mkdtempSync(path.join(os.tmpdir(), 'tg-nginx-'));
  chmodSync(prefix, 0o755); // nginx workers may run as another user when the tests run as root
  const site = renderTemplate(readFileSync(NGINX_TEMPLATE, 'utf8'), {
    NGINX_LISTEN: `127.0.0.1:${values.port}`,
    GATEWAY_ADDR: values.gatewayAddr,
    APP_ADDR: values.appAddr,
    GATEWAY_API_KEY: values.apiKey,
  });
  writeFileSync(path.join(prefix, 'token-gateway.conf'), site);
  const conf = path.join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    [
      'worker_processes 1;',
      'events { worker_connections 256; }',
      'http {',
      `  access_log ${path.join(prefix, 'access.log')};`,
      `  client_body_temp_path ${path.join(prefix, 'client_body')};`,
      `  proxy_temp_path ${path.join(prefix, 'proxy')};`,
      `  fastcgi_temp_path ${path.join(prefix, 'fastcgi')};`,
      `  uwsgi_temp_path ${path.join(prefix, 'uwsgi')};`,
      `  scgi_temp_path ${path.join(prefix, 'scgi')};`,
      `  include ${path.join(prefix, 'token-gateway.conf')};`,
      '}',
      '',
    ].join('\n'),
  );
  const errorLogPath = path.join(prefix, 'error.log');
  const globals = `daemon off; pid ${path.join(prefix, 'nginx.pid')}; error_log ${errorLogPath} info;`;
  const errorLog = () => (existsSync(errorLogPath) ? readFileSync(errorLogPath, 'utf8') : '');

  const check = spawnSync(binary, ['-t', '-q', '-c', conf, '-p', `${prefix}/`, '-g', globals], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`nginx -t refused the configuration:\n${check.stderr}\n${errorLog()}`);

  const child = spawn(binary, ['-c', conf, '-p', `${prefix}/`, '-g', globals], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const { port } = values;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}):\n${stderr}\n${errorLog()}`);
    const answer = await send({ port, path: '/nginx-healthz' }).catch(() => undefined);
    if (answer?.status === 200) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nginx did not answer on port ${port}:\n${stderr}\n${errorLog()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    prefix,
    process: child,
    errorLog,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM'); // fast shutdown of the master and its workers
      }),
  };
}

export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** Name, value, name, value... as received, duplicates included. */
  rawHeaders: string[];
}

export interface RecordingUpstream {
  port: number;
  requests: Recorded[];
  close(): Promise<void>;
}

/** The application behind the proxy: records every request it receives and answers 200. */
export async function startRecordingUpstream(): Promise<RecordingUpstream> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders });
    req.resume();
    req.on('end', () => {
      res.setHeader('Content-Type', 'text/plain');
      res.end('upstream-ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One HTTP request on loopback; a fresh connection unless an agent is given. */
export function send(options: {
  port: number;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  agent?: http.Agent;
  timeoutMs?: number;
}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: options.port,
        path: options.path,
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        agent: options.agent ?? false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.setTimeout(options.timeoutMs ?? 5000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(options.body);
  });
}
