/**
 * Proofs made by third-party DPoP code are accepted, and their replays, wrong URLs and wrong
 * methods refused (contract §10): panva's `dpop` package (ES256, Ed25519, RS256, PS256) and
 * `oauth4webapi`'s DPoP handle on a protected-resource request to forward auth. Both are ES
 * modules, so they run in a child process against the gateway listening on loopback.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { buildTestGateway, type TestGateway } from '../helpers/app';

function runClient(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'third-party-client.mjs'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`the third-party client exited ${code}:\n${err}`));
    });
  });
}

describe('third-party DPoP clients', () => {
  let gw: TestGateway;
  let server: http.Server;
  let baseUrl: string;

  beforeAll(async () => {
    server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // The gateway's public URL is where the client calls it, so identify's htu is that.
    gw = await buildTestGateway({ env: { JWT_ISSUER: baseUrl } });
    server.on('request', gw.app);
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await gw.close();
  });

  test("panva's dpop and oauth4webapi proofs are accepted; replays and wrong requests refused", async () => {
    const acme = await gw.createAccount('Acme');
    const results = JSON.parse(await runClient([baseUrl, acme.apiKey, acme.authToken]));
    const refused = { status: 401, code: 'invalid_dpop_proof' };
    for (const alg of ['ES256', 'Ed25519', 'RS256', 'PS256']) {
      expect([alg, results[`dpop ${alg}`]]).toEqual([
        alg,
        {
          tokenType: 'DPoP',
          accepted: { status: 200, code: null },
          replayed: refused,
          withoutProof: refused,
          wrongUrl: refused,
          wrongMethod: refused,
        },
      ]);
    }
    expect(results['oauth4webapi forward auth']).toEqual({ status: 200, userId: 'user-1', kty: 'EC' });
    expect(results['oauth4webapi key, identify']).toEqual({ status: 200, code: null });
  }, 90_000);
});
