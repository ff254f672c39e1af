/**
 * A gateway app for a test: on either store, with its own keys folder, a ManualClock set to
 * now, and shortcuts to make accounts and tokens without going through HTTP.
 */
import type { Express } from 'express';
import type { Logger } from 'pino';
import request from 'supertest';
import { createApp, type AppDeps } from '../../src/app';
import { createAccount, type CreatedAccount } from '../../src/accounts';
import { ManualClock } from '../../src/clock';
import { loadConfig, type Config } from '../../src/config';
import type { HttpContext } from '../../src/http/context';
import { KeyRing } from '../../src/keys';
import type { GatewayStore } from '../../src/store';
import type { Tracer } from '../../src/tracing';
import type { WebhookDispatcher } from '../../src/webhooks';
import { makeKeysDir } from './keys';
import { observeAnswers } from './openapi-answers';
import { makeStore, type StoreKind, type TestStore } from './stores';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const ISSUER = 'https://gateway.test';

export interface TestAccount extends CreatedAccount {
  apiKey: string;
}

export interface TestGateway {
  app: Express;
  context: HttpContext;
  /** The webhook delivery worker, not started: a test ticks it. */
  webhooks: WebhookDispatcher;
  store: GatewayStore;
  keyRing: KeyRing;
  clock: ManualClock;
  config: Config;
  keysDir: string;
  createAccount(name?: string): Promise<TestAccount>;
  /** Issues a token through the API; returns the token and the whole `data`. */
  issue(account: TestAccount, overrides?: Record<string, unknown>): Promise<{ token: string; data: Record<string, any> }>;
  close(): Promise<void>;
}

export interface TestGatewayOptions {
  store?: StoreKind | TestStore;
  env?: Record<string, string>;
  clock?: ManualClock;
  keysDir?: string;
  /** A pino logger for the request log (none by default). */
  logger?: Logger;
  /** The tracer of the gateway's own spans (none by default: tracing off). */
  tracer?: Tracer;
  webhookOptions?: AppDeps['webhookOptions'];
}

export function testConfig(keysDir: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    ADMIN_TOKEN,
    JWT_ISSUER: ISSUER,
    KEYS_DIR: keysDir,
    LOG_LEVEL: 'silent',
    ...env,
  });
}

export async function buildTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const clock = options.clock ?? new ManualClock(Date.now());
  const keysDir = options.keysDir ?? makeKeysDir();
  const config = testConfig(keysDir, options.env);
  const testStore =
    typeof options.store === 'object' ? options.store : await makeStore(options.store ?? 'memory', clock);
  const ownsStore = typeof options.store !== 'object';
  const keyRing = await KeyRing.load({
    dir: keysDir,
    algorithm: config.algorithm,
    clock,
    jwksMaxAgeSeconds: config.jwksMaxAgeSeconds,
    maxTokenLifetimeSeconds: Math.max(config.maxTokenTtlSeconds, config.customerTokenMaxTtlSeconds),
    clockToleranceSeconds: config.clockToleranceSeconds,
    sightings: testStore.store,
  });
  const { app: bareApp, context, webhooks } = createApp({
    config,
    store: testStore.store,
    keyRing,
    clock,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.tracer ? { tracer: options.tracer } : {}),
    ...(options.webhookOptions ? { webhookOptions: options.webhookOptions } : {}),
  });
  // Every answer is checked against the OpenAPI document (test/setup/openapi-answers.ts).
  const app = observeAnswers(bareApp);
  const gateway: TestGateway = {
    app,
    context,
    webhooks,
    store: testStore.store,
    keyRing,
    clock,
    config,
    keysDir,
    async createAccount(name = 'Acme') {
      const created = await createAccount(testStore.store, clock, name);
      return { ...created, apiKey: created.account.apiKey };
    },
    async issue(account, overrides = {}) {
      const res = await request(app)
        .post('/v1/auth/token/get')
        .send({
          data: {
            apiKey: account.apiKey,
            authToken: account.authToken,
            userId: 'user-1',
            userProperties: { organizationId: 'org-1', email: 'user@example.com', isAdmin: false },
            ...overrides,
          },
        });
      if (res.status !== 200) throw new Error(`issuance failed: ${res.status} ${JSON.stringify(res.body)}`);
      return { token: res.body.result.data.token as string, data: res.body.result.data };
    },
    close: async () => {
      if (ownsStore) await testStore.cleanup();
    },
  };
  return gateway;
}

/** Basic credentials of an account, as an OAuth client sends them. */
export function basicAuth(account: { apiKey: string; authToken: string }): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(account.apiKey)}:${encodeURIComponent(account.authToken)}`).toString('base64')}`;
}

/**
 * The forward-auth path a correctly configured proxy calls for this token: scoped (contract
 * §3.3) to the account the token names, its `aud` (gateway token) or else its `iss` (customer
 * token). Tests of the scope itself name the account explicitly instead.
 */
export function forwardAuthPath(token: string, query: Record<string, string> = {}): string {
  let apiKey = 'ak_unreadable';
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
    const named = typeof payload.aud === 'string' ? payload.aud : payload.iss;
    if (typeof named === 'string') apiKey = named;
  } catch {
    // Not a JWT: any scope will do, the token is refused before it matters.
  }
  return `/v1/auth/verify?${new URLSearchParams({ apiKey, ...query })}`;
}
