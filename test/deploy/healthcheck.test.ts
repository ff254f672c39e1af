/**
 * The image's HEALTHCHECK (scripts/healthcheck.js) asks /healthz where the gateway listens: by
 * HOST and PORT, over loopback for a wildcard HOST. Run here as the image runs it, as a child
 * process, against a gateway on a loopback address other than 127.0.0.1.
 */
import { execFile } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { buildTestGateway, type TestGateway } from '../helpers/app';

const SCRIPT = path.resolve(__dirname, '../../scripts/healthcheck.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { healthcheckHost } = require(SCRIPT) as { healthcheckHost(host: string | undefined): string };

/** The healthcheck's exit code under `env` (and nothing else of this process's environment). */
function healthcheck(env: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [SCRIPT], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 10_000 });
    child.on('exit', (code) => resolve(code ?? -1));
  });
}

async function listenOn(gw: TestGateway, host: string): Promise<{ server: Server; port: number }> {
  const server = gw.app.listen(0, host);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('the HEALTHCHECK script', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await buildTestGateway();
  });
  afterAll(() => gw.close());

  test('asks the HOST and PORT the gateway listens on', async () => {
    const { server, port } = await listenOn(gw, '127.0.0.2');
    try {
      expect(await healthcheck({ HOST: '127.0.0.2', PORT: String(port) })).toBe(0);
      // The old hard-coded 127.0.0.1 finds nothing there: a custom HOST made the container unhealthy.
      expect(await healthcheck({ HOST: '', PORT: String(port) })).toBe(1);
      expect(await healthcheck({ HOST: '127.0.0.2', PORT: String(port === 65535 ? port - 1 : port + 1) })).toBe(1);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('a wildcard HOST is asked over loopback', async () => {
    // (The tests listen on loopback only; a gateway on 0.0.0.0 answers on 127.0.0.1 the same way.)
    const { server, port } = await listenOn(gw, '127.0.0.1');
    try {
      for (const host of ['', '0.0.0.0']) expect(await healthcheck({ HOST: host, PORT: String(port) })).toBe(0);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    expect(healthcheckHost(undefined)).toBe('127.0.0.1');
    expect(healthcheckHost('::')).toBe('::1');
    expect(healthcheckHost('[::]')).toBe('::1');
    expect(healthcheckHost('[fd00::1]')).toBe('fd00::1');
    expect(healthcheckHost(' 10.0.0.5 ')).toBe('10.0.0.5');
  });
});
