/**
 * The process: configuration, tracing, store, keys, listen, graceful shutdown. `npm start`
 * runs this.
 *
 * The modules OpenTelemetry instruments (express through ./app, ioredis through ./store, and
 * node:http) are loaded only inside startGateway, never at the top of this file: main() starts
 * tracing first, when it is on, so that its instrumentations see them being loaded.
 */
import { watch } from 'node:fs';
import type http from 'node:http';
import type { Logger } from 'pino';
import { systemClock } from './clock';
import { ConfigError, DEFAULT_KEYS_DIR, loadConfig, type Config } from './config';
import { ensureSigningKey, KeyLoadError, KeyRing } from './keys';
import { ConnectionTracker, drain } from './http/shutdown';
import { BoundedLogDestination } from './http/log-destination';
import { createLogger } from './http/logging';
import type { GatewayStore } from './store';
import type { Tracer } from './tracing';
import type { RunningTracing } from './tracing/sdk';

export interface RunningGateway {
  server: http.Server;
  store: GatewayStore;
  keyRing: KeyRing;
  /** Starts the graceful shutdown; resolves with the exit code. */
  shutdown(): Promise<number>;
}

/** How long a start waits for the store before going on without it (it recovers by itself). */
const STORE_WAIT_AT_START_MS = 2000;

export interface StartOptions {
  /** Tracing started for this process (src/tracing/sdk.ts): its tracer, and its flush at shutdown. */
  tracing?: Pick<RunningTracing, 'tracer' | 'shutdown'>;
  /** Where the log goes (stdout, bounded): its dropped-line count is a metric, and shutdown flushes it briefly. */
  logDestination?: BoundedLogDestination;
}

export async function startGateway(config: Config, logger: Logger, options: StartOptions = {}): Promise<RunningGateway> {
  // Loaded here, after any tracing start (see the top of this file).
  const [{ createApp }, { createStore, waitForStore }, http, { GatewayMetrics }] = await Promise.all([
    import('./app'),
    import('./store'),
    import('node:http'),
    import('./http/metrics'),
  ]);
  const { tracing } = options;
  const tracer: Tracer | undefined = tracing?.tracer;
  const clock = systemClock;
  const generated = await ensureSigningKey(config.keysDir, config.algorithm, config.env === 'production');
  if (generated) logger.warn({ file: generated }, 'no signing key was found: generated one (development only)');
  const store = createStore(config, { clock, logger });
  // The first sighting of each key is recorded in the store, so that every instance agrees on
  // when a key signs (contract §7); give a Redis that is still connecting a moment to answer.
  await waitForStore(store, STORE_WAIT_AT_START_MS);
  let keyRing: KeyRing;
  try {
    keyRing = await KeyRing.load({
      dir: config.keysDir,
      algorithm: config.algorithm,
      clock,
      jwksMaxAgeSeconds: config.jwksMaxAgeSeconds,
      maxTokenLifetimeSeconds: Math.max(config.maxTokenTtlSeconds, config.customerTokenMaxTtlSeconds),
      clockToleranceSeconds: config.clockToleranceSeconds,
      sightings: store,
      onWarning: (message) => logger.warn({ keysDir: config.keysDir }, message),
      onKeyEvent: ({ event, ...key }) => logger.info(key, `signing key ${event}`),
    });
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  logger.info({ kid: keyRing.signingKey().kid, keys: keyRing.activeKeys().length }, 'signing keys loaded');

  const lifecycle = { shuttingDown: false };
  const { logDestination } = options;
  const metrics = new GatewayMetrics(logDestination ? { droppedLogLines: () => logDestination.dropped } : {});
  const { app, webhooks } = createApp({ config, store, keyRing, clock, logger, lifecycle, metrics, ...(tracer ? { tracer } : {}) });
  // Webhook deliveries (contract §10): every instance takes its share from the store's queue.
  webhooks.start();

  // New key files are published at once: watch the folder, and rescan now and then in case
  // the watch misses an event (network file systems, Kubernetes secret symlink swaps).
  const reload = () => keyRing.reload().catch((error: Error) => logger.warn({ err: error.message }, 'key reload failed'));
  const rescan = setInterval(reload, config.keysReloadSeconds * 1000);
  rescan.unref();
  let watcher: ReturnType<typeof watch> | undefined;
  try {
    watcher = watch(config.keysDir, () => void reload());
    watcher.on('error', () => watcher?.close());
  } catch {
    watcher = undefined;
  }

  const server = http.createServer(app);
  server.keepAliveTimeout = 65_000; // longer than common load-balancer idle timeouts
  server.headersTimeout = 66_000;
  const tracker = new ConnectionTracker(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address();
  logger.info(
    { port: typeof address === 'object' && address ? address.port : config.port, store: store.kind, issuer: config.issuer },
    'token-gateway listening',
  );

  let shuttingDown: Promise<number> | undefined;
  const shutdown = (): Promise<number> => {
    shuttingDown ??= (async () => {
      logger.info('shutting down: readiness is now 503, draining connections');
      clearInterval(rescan);
      watcher?.close();
      const clean = await drain(server, tracker, lifecycle, config.shutdownTimeoutSeconds * 1000);
      // The attempt in progress ends (or times out) first; what is not settled goes to another instance.
      await webhooks.stop();
      await store.close();
      // The spans of the last requests, before the process ends.
      await tracing?.shutdown().catch((error: Error) => logger.warn({ err: error.message }, 'trace export at shutdown failed'));
      if (clean) logger.info('shutdown complete');
      else logger.warn({ timeoutSeconds: config.shutdownTimeoutSeconds }, 'shutdown timed out: remaining connections destroyed');
      // The last lines get a moment, never more: a stuck log consumer must not hold the exit.
      await logDestination?.flush(500);
      return clean ? 0 : 1;
    })();
    return shuttingDown;
  };
  return { server, store, keyRing, shutdown };
}

/**
 * The configuration, or a ConfigError with every reason the process cannot start: the settings,
 * and, for a production start whose settings are bad, the missing signing key too, so that
 * one attempt shows everything to fix. (With good settings, startGateway reports the key.)
 */
export async function loadStartupConfig(env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  try {
    return loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError) || env.NODE_ENV !== 'production') throw error;
    const keysDir = env.KEYS_DIR?.trim() || DEFAULT_KEYS_DIR;
    // In production this only looks: it never writes a key.
    const keyProblem = await ensureSigningKey(keysDir, 'RS256', true).then(
      () => undefined,
      (keyError: unknown) => (keyError instanceof KeyLoadError ? keyError.message : undefined),
    );
    throw keyProblem ? new ConfigError([...error.problems, keyProblem]) : error;
  }
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = await loadStartupConfig();
  } catch (error) {
    process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
    process.exit(2);
  }
  // With tracing on, every line written while a traced request is handled carries its ids.
  const mixin = config.tracing ? (await import('./tracing/log-fields')).traceLogFields : undefined;
  const logDestination = new BoundedLogDestination();
  const logger = createLogger(config.logLevel, logDestination, mixin ? { mixin } : {});
  // WORKERS=N: this process only supervises N workers, each of which runs main() again.
  const { isClusterPrimary, runClusterPrimary } = await import('./cluster');
  if (isClusterPrimary(config)) process.exit(await runClusterPrimary(config, logger));
  // Each serving process (each worker) has its own SDK; the primary serves nothing to trace.
  let tracing: RunningTracing | undefined;
  if (config.tracing) {
    const { startTracing } = await import('./tracing/sdk');
    tracing = startTracing(config.tracing);
    const { url, protocol, sampler } = config.tracing;
    // Origin and path only: an endpoint URL may carry credentials.
    const endpoint = `${new URL(url).origin}${new URL(url).pathname}`;
    logger.info({ endpoint, protocol, sampler }, 'tracing on: exporting spans over OTLP/HTTP');
  }
  let gateway: RunningGateway;
  try {
    gateway = await startGateway(config, logger, { logDestination, ...(tracing ? { tracing } : {}) });
  } catch (error) {
    const message = error instanceof KeyLoadError ? error.message : error instanceof Error ? error.message : String(error);
    logger.fatal({ err: { message } }, 'token-gateway could not start');
    process.stderr.write(`token-gateway could not start: ${message}\n`);
    process.exit(1);
  }
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      void gateway.shutdown().then((code) => process.exit(code));
    });
  }
}

if (require.main === module) void main();
