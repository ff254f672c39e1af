/**
 * token-gateway's command-line tool (contract §5): the operator's side of the admin API, on
 * the store the environment configures. Prints what it created as JSON.
 *
 *   npm run cli -- accounts create "Acme"
 *   npm run cli -- auth-tokens add <accountId>
 *   npm run cli -- auth-tokens list <accountId>
 *   npm run cli -- auth-tokens remove <accountId> <authTokenId>
 *   npm run cli -- keys generate [--algorithm RS256|ES256|EdDSA] [--bits 3072] [--dir keys]
 *
 * In the runtime image (no TypeScript compiler), run the built file: `node dist/cli.js ...`.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { accountName, addAuthToken, createAccount, deleteAuthToken, listAuthTokens, requireAccountById } from './accounts';
import { systemClock } from './clock';
import { loadConfig, type Config, type SigningAlgorithm } from './config';
import { isGatewayError } from './errors';
import { parseInput } from './http/validate';
import { DEFAULT_RSA_BITS, generatePrivateKeyPem, keyFileName, parseSigningKey } from './keys';
import { createStore, waitForStore, type GatewayStore } from './store';

const USAGE = `usage:
  cli accounts create <name>
  cli auth-tokens add <accountId>
  cli auth-tokens list <accountId>
  cli auth-tokens remove <accountId> <authTokenId>
  cli keys generate [--algorithm RS256|ES256|EdDSA] [--bits ${DEFAULT_RSA_BITS}] [--dir <KEYS_DIR>]`;

export class UsageError extends Error {}

/** The Redis (or cluster) never answered within the wait. */
export class StoreNotReadyError extends Error {}

/** An account name, by the same rule as POST /v1/admin/accounts. */
const accountInput = z.object({ name: accountName });

/** How long the CLI waits for the configured store to answer before giving up, ms. */
export const DEFAULT_STORE_READY_TIMEOUT_MS = 10_000;

/** The store's address as a message may show it: no user name or password. */
function storeAddress(config: Config): string {
  if (config.redisCluster) return `the Redis Cluster at ${config.redisCluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  if (!config.redis) return 'the in-memory store';
  try {
    const url = new URL(config.redis.url);
    return `Redis at ${url.protocol}//${url.host}`;
  } catch {
    return 'Redis (REDIS_URL)';
  }
}

/** Waits until the store answers a ping; throws StoreNotReadyError naming it when it does not. */
export async function requireStore(store: GatewayStore, timeoutMs: number, where: string): Promise<void> {
  const error = await waitForStore(store, timeoutMs);
  if (error !== undefined) {
    throw new StoreNotReadyError(
      `${where} did not answer within ${Math.round(timeoutMs / 100) / 10} s; check REDIS_URL and that Redis is running.`,
      { cause: error },
    );
  }
}

export interface CliIo {
  out: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Tests pass a store; otherwise the configured one is opened and closed. */
  store?: GatewayStore;
  /** How long to wait for the configured store to answer, ms (DEFAULT_STORE_READY_TIMEOUT_MS). */
  storeReadyTimeoutMs?: number;
}

export async function runCli(argv: string[], io: CliIo): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      algorithm: { type: 'string' },
      bits: { type: 'string' },
      dir: { type: 'string' },
    },
  });
  const [group, command, ...rest] = positionals;
  const config = loadConfig(io.env);
  const print = (value: unknown) => io.out(`${JSON.stringify(value, null, 2)}\n`);

  if (group === 'keys' && command === 'generate') {
    const algorithm = (values.algorithm ?? config.algorithm) as SigningAlgorithm;
    if (!['RS256', 'ES256', 'EdDSA'].includes(algorithm)) throw new UsageError('--algorithm must be RS256, ES256 or EdDSA.');
    const bits = values.bits === undefined ? DEFAULT_RSA_BITS : Number(values.bits);
    const dir = values.dir ?? config.keysDir;
    const pem = generatePrivateKeyPem(algorithm, bits);
    await fs.mkdir(dir, { recursive: true });
    // Named for its activation time (contract §7): every instance agrees when it may sign.
    const file = path.join(dir, keyFileName(new Date(), algorithm));
    await fs.writeFile(file, pem, { mode: 0o600, flag: 'wx' });
    const key = parseSigningKey(pem, file);
    print({ file, kid: key.kid, alg: key.alg });
    return;
  }

  const known =
    (group === 'accounts' && command === 'create' && rest.length === 1) ||
    (group === 'auth-tokens' && ['add', 'list'].includes(command ?? '') && rest.length === 1) ||
    (group === 'auth-tokens' && command === 'remove' && rest.length === 2);
  if (!known) throw new UsageError(USAGE);
  // Checked before the store is opened: a bad name changes nothing and needs no Redis.
  const name = group === 'accounts' ? parseInput(accountInput, { name: rest[0] }).name : undefined;

  const store = io.store ?? createStore(config, { clock: systemClock });
  try {
    if (!io.store) await requireStore(store, io.storeReadyTimeoutMs ?? DEFAULT_STORE_READY_TIMEOUT_MS, storeAddress(config));
    if (name !== undefined) {
      print(await createAccount(store, systemClock, name));
    } else if (group === 'auth-tokens' && command === 'add' && rest.length === 1) {
      print(await addAuthToken(store, systemClock, await requireAccountById(store, rest[0]!)));
    } else if (group === 'auth-tokens' && command === 'list' && rest.length === 1) {
      print({ authTokens: await listAuthTokens(store, await requireAccountById(store, rest[0]!)) });
    } else if (group === 'auth-tokens' && command === 'remove' && rest.length === 2) {
      await deleteAuthToken(store, await requireAccountById(store, rest[0]!), rest[1]!);
      print({ authTokenId: rest[1], deleted: true });
    } else {
      throw new UsageError(USAGE);
    }
  } finally {
    if (!io.store) await store.close();
  }
}

if (require.main === module) {
  runCli(process.argv.slice(2), { out: (t) => process.stdout.write(t), env: process.env }).catch((error: unknown) => {
    const message = isGatewayError(error) || error instanceof Error ? error.message : String(error);
    process.stderr.write(`${message}\n`);
    process.exit(error instanceof UsageError ? 2 : 1);
  });
}
