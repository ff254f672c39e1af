/**
 * Tracing off costs nothing: without an OTLP endpoint the gateway process never loads the
 * OpenTelemetry SDK, an exporter or an instrumentation, whatever it serves, so nothing patches
 * http, express or ioredis. (The OpenTelemetry API is loaded anyway: prom-client requires it.)
 * With an endpoint, the same probe sees them (the control).
 */
import path from 'node:path';
import { ensureBuilt, spawnGateway, type GatewayProcess } from '../deploy/process';
import { send } from '../deploy/harness';
import { ADMIN_TOKEN } from '../helpers/app';
import { makeKeysDir } from '../helpers/keys';
import { freePort } from '../setup/redis-server';

const PROBE = path.join(__dirname, 'fixtures', 'report-loaded-modules.js');

async function openTelemetryModulesAfterTraffic(env: Record<string, string>): Promise<number> {
  const gateway: GatewayProcess = await spawnGateway({
    PORT: String(await freePort()),
    KEYS_DIR: makeKeysDir(),
    ADMIN_TOKEN,
    LOG_LEVEL: 'info',
    NODE_OPTIONS: `--require=${PROBE}`,
    ...env,
  });
  try {
    const created = await send({
      port: gateway.port,
      path: '/v1/admin/accounts',
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ data: { name: 'Probe' } }),
    });
    const { account, authToken } = JSON.parse(created.body).result.data;
    const issued = await send({
      port: gateway.port,
      path: '/v1/auth/token/get',
      method: 'POST',
      headers: { 'Content-Type': 'application/json', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
      body: JSON.stringify({ data: { apiKey: account.apiKey, authToken, userId: 'user-1', userProperties: { organizationId: 'org-1' } } }),
    });
    const { token } = JSON.parse(issued.body).result.data;
    const checked = await send({
      port: gateway.port,
      path: `/v1/auth/verify?apiKey=${account.apiKey}&permission=x`,
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(checked.status).toBe(403);
    gateway.kill('SIGUSR2');
    const until = Date.now() + 5000;
    for (;;) {
      const line = gateway.logLines().find((l) => typeof l.openTelemetryModules === 'number');
      if (line) return line.openTelemetryModules as number;
      if (Date.now() > until) throw new Error(`the probe did not answer:\n${gateway.output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    gateway.kill('SIGTERM');
    await gateway.exited;
  }
}

describe('tracing off', () => {
  beforeAll(() => ensureBuilt(), 180_000);

  it('loads no OpenTelemetry module but the API, whatever the gateway serves', async () => {
    expect(await openTelemetryModulesAfterTraffic({ OTEL_SERVICE_NAME: 'set-but-no-endpoint' })).toBe(0);
  });

  it('the control: with an endpoint, the same probe sees them', async () => {
    // Nothing listens there; the exports fail quietly, which is not what this test looks at.
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await freePort()}`, OTEL_EXPORTER_OTLP_TIMEOUT: '500' };
    expect(await openTelemetryModulesAfterTraffic(endpoint)).toBeGreaterThan(10);
  });
});
