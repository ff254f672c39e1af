/**
 * WORKERS=N: one primary process forks N workers (node:cluster), each running the whole
 * gateway (startGateway) on the shared listening socket.
 *
 * The workers must share a store (Redis or Redis Cluster): with the in-memory store each would
 * keep its own accounts and revocations, so the primary refuses to start without one.
 *
 * The primary serves nothing itself. It generates the development signing key once before
 * forking (so that every worker signs with the same key), forwards SIGTERM and SIGINT to the
 * workers and exits once all of them have exited (0 when every one exited 0), and replaces a
 * worker that dies while the gateway is not shutting down. A worker that dies before any
 * worker ever listened (a port in use, a bad key) stops the start instead of looping.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import type { Config } from './config';
import { ensureSigningKey } from './keys';

export interface ClusterOptions {
  /** Replacement delay after a crash; doubles for a worker that dies young, up to maxRestartDelayMs. */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
  /** How long a worker must live for its crash to count as isolated (resets the delay), ms. */
  stableAfterMs?: number;
}

/** True in the process that should fork workers rather than serve. */
export function isClusterPrimary(config: Config): boolean {
  return config.workers > 1 && cluster.isPrimary;
}

/**
 * Runs the primary: forks `config.workers` workers and supervises them. Resolves with the exit
 * code once every worker is gone after a shutdown signal (or a failed start).
 */
export async function runClusterPrimary(config: Config, logger: Logger, options: ClusterOptions = {}): Promise<number> {
  const restartDelayMs = options.restartDelayMs ?? 100;
  const maxRestartDelayMs = options.maxRestartDelayMs ?? 5_000;
  const stableAfterMs = options.stableAfterMs ?? 10_000;

  if (!config.redis && !config.redisCluster && !config.redisSentinel) {
    const message =
      `WORKERS=${config.workers} needs a shared store: set REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES ` +
      '(with the in-memory store every worker would keep its own accounts, tokens and revocations).';
    logger.fatal(message);
    process.stderr.write(`${message}\n`);
    return 2;
  }
  try {
    const generated = await ensureSigningKey(config.keysDir, config.algorithm, config.env === 'production');
    if (generated) logger.warn({ file: generated }, 'no signing key was found: generated one (development only)');
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    logger.fatal({ err: { message } }, 'token-gateway could not start');
    process.stderr.write(`token-gateway could not start: ${message}\n`);
    return 1;
  }

  return new Promise<number>((resolve) => {
    const startedAt = new Map<Worker, number>();
    const listening = new Set<Worker>();
    let shuttingDown = false;
    let everListened = false;
    let failed = false;
    let restartDelay = restartDelayMs;
    let pendingRestarts = 0;
    let forceTimer: NodeJS.Timeout | undefined;

    const fork = (): void => {
      const worker = cluster.fork();
      startedAt.set(worker, Date.now());
    };

    const finishIfDone = (): void => {
      if (!shuttingDown || Object.keys(cluster.workers ?? {}).length > 0 || pendingRestarts > 0) return;
      if (forceTimer) clearTimeout(forceTimer);
      logger.info({ failed }, 'all workers have exited');
      resolve(failed ? 1 : 0);
    };

    const shutdown = (signal: NodeJS.Signals): void => {
      if (shuttingDown) return;
      shuttingDown = true;
      logger.info({ signal }, 'primary: stopping the workers');
      for (const worker of Object.values(cluster.workers ?? {})) {
        if (worker && !worker.isDead()) worker.process.kill('SIGTERM');
      }
      // The workers drain within SHUTDOWN_TIMEOUT_SECONDS; past it and a margin, stop them hard.
      forceTimer = setTimeout(() => {
        failed = true;
        for (const worker of Object.values(cluster.workers ?? {})) {
          if (worker && !worker.isDead()) worker.process.kill('SIGKILL');
        }
      }, (config.shutdownTimeoutSeconds + 5) * 1000);
      forceTimer.unref();
      finishIfDone();
    };

    cluster.on('listening', (worker) => {
      everListened = true;
      listening.add(worker);
    });

    cluster.on('exit', (worker, code, signal) => {
      const lived = Date.now() - (startedAt.get(worker) ?? Date.now());
      startedAt.delete(worker);
      const served = listening.delete(worker);
      const clean = code === 0 && !signal;
      if (shuttingDown) {
        // A worker stopped while still starting had nothing to drain.
        if (!clean && served) failed = true;
        finishIfDone();
        return;
      }
      logger.error({ pid: worker.process.pid, code, signal, livedMs: lived }, 'a worker exited unexpectedly');
      if (!everListened) {
        // Nothing has ever served: the same start would fail again.
        failed = true;
        shutdown('SIGTERM');
        return;
      }
      restartDelay = lived >= stableAfterMs ? restartDelayMs : Math.min(restartDelay * 2, maxRestartDelayMs);
      pendingRestarts += 1;
      setTimeout(() => {
        pendingRestarts -= 1;
        if (shuttingDown) return finishIfDone();
        logger.info('replacing the worker');
        fork();
      }, restartDelay);
    });

    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => shutdown(signal));

    logger.info({ workers: config.workers }, 'primary: starting workers');
    for (let i = 0; i < config.workers; i += 1) fork();
  });
}
