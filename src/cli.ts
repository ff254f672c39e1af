/**
 * token-gateway's command-line tool (contract §5): the operator's side of the admin API, on
 * the store the environment configures. Prints what it created as JSON.
 *
 *   npm run cli -- accounts create "Acme"
 *   npm run cli -- auth-tokens add <accountId>
 *   npm run cli -- auth-tokens list <accountId>
 *   npm run cli -- auth-tokens remove <accountId> <authTokenId>
 *   npm run cli -- keys generate [--algorithm RS256|ES256|EdDSA] [--bits 3072] [--dir keys]
 *   npm run cli -- webhooks add <accountId> <url> <event>[,<event>...]
 *   npm run cli -- webhooks list <accountId>
 *   npm run cli -- webhooks remove <accountId> <webhookId>
 *
 * `npm run cli` runs the built dist/cli.js (scripts/cli.js compiles src/ first only when dist/
 * is missing or older). In the runtime image, run the built file: `node dist/cli.js ...`.
 * Account commands need the gateway's store (REDIS_URL): the in-memory store is refused.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { accountName, addAuthToken, createAccount, deleteAuthToken, listAuthTokens, requireAccountById } from './accounts';
import { AuditTrail, auditEvents } from './audit';
import { systemClock } from './clock';
import { loadConfig, type Config, type SigningAlgorithm } from './config';
import { isGatewayError } from './errors';
import { parseInput } from './http/validate';
import { DEFAULT_RSA_BITS, generatePrivateKeyPem, keyFileName, MIN_RSA_BITS, parseSigningKey } from './keys';
import { createStore, waitForStore, type GatewayStore } from './store';
import { enqueueWebhookDeliveries, listWebhooks, registerWebhook, removeWebhook, webhookInput } from './webhooks';

const USAGE = `usage:
  cli accounts create <name>
  cli auth-tokens add <accountId>
  cli auth-tokens list <accountId>
  cli auth-tokens remove <accountId> <authTokenId>
  cli keys generate [--algorithm RS256|ES256|EdDSA] [--bits ${DEFAULT_RSA_BITS}] [--dir <KEYS_DIR>]
  cli webhooks add <accountId> <url> <event>[,<event>...]
  cli webhooks list <accountId>
  cli webhooks remove <accountId> <webhookId>`;

export class UsageError extends Error {}

/** The Redis (or cluster) never answered within the wait. */
export class StoreNotReadyError extends Error {}

/**
 * No shared store is configured. The in-memory store lives only as long as this process: an
 * account created there would vanish at exit, and the running gateway would never see it.
 */
export class StoreNotConfiguredError extends Error {
  constructor() {
    super(
      'No store is configured: set REDIS_URL (or REDIS_CLUSTER_NODES) to the Redis the gateway uses. ' +
        'Without it the CLI would write to an in-memory store that vanishes when it exits, and the gateway would never see it.',
    );
  }
}

/** An account name, by the same rule as POST /v1/admin/accounts. */
const accountInput = z.object({ name: accountName });

/** A webhook, by the same rules as POST /v1/account/webhooks. */
const webhookCommand = z.object({ data: z.object(webhookInput) });

/** How long the CLI waits for the configured store to answer before giving up, ms. */
export const DEFAULT_STORE_READY_TIMEOUT_MS = 10_000;

/** The store's address as a message may show it: no user name or password. */
function storeAddress(config: Config): string {
  if (config.redisCluster) return `the Redis Cluster at ${config.redisCluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  if (config.redisSentinel) return `the Redis primary ${config.redisSentinel.name} of the Sentinels at ${config.redisSentinel.sentinels.map((n) => `${n.host}:${n.port}`).join(',')}`;
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

function parseArguments(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        algorithm: { type: 'string' },
        bits: { type: 'string' },
        dir: { type: 'string' },
      },
    });
  } catch (error) {
    // An unknown option or one without its value is a usage error like any other (exit 2).
    throw new UsageError(`${(error as Error).message}\n${USAGE}`);
  }
}

export async function runCli(argv: string[], io: CliIo): Promise<void> {
  const { values, positionals } = parseArguments(argv);
  const [group, command, ...rest] = positionals;
  const print = (value: unknown) => io.out(`${JSON.stringify(value, null, 2)}\n`);

  if (group === 'keys' && command === 'generate') {
    // Only the two settings this command uses: a key can be made before the rest is configured
    // (in the production image, before JWT_ISSUER or REDIS_URL are set).
    const config = loadConfig({ JWT_ALGORITHM: io.env.JWT_ALGORITHM, KEYS_DIR: io.env.KEYS_DIR });
    const algorithm = (values.algorithm ?? config.algorithm) as SigningAlgorithm;
    if (!['RS256', 'ES256', 'EdDSA'].includes(algorithm)) throw new UsageError('--algorithm must be RS256, ES256 or EdDSA.');
    if (values.bits !== undefined && algorithm !== 'RS256') {
      throw new UsageError(`--bits applies to RS256 keys only; ${algorithm} keys have a fixed size.`);
    }
    if (values.bits !== undefined && !/^\d+$/.test(values.bits)) {
      throw new UsageError(`--bits must be a whole number of bits, ${MIN_RSA_BITS} or more (e.g. ${DEFAULT_RSA_BITS}); got "${values.bits}".`);
    }
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
    (group === 'auth-tokens' && command === 'remove' && rest.length === 2) ||
    (group === 'webhooks' && command === 'add' && rest.length === 3) ||
    (group === 'webhooks' && command === 'list' && rest.length === 1) ||
    (group === 'webhooks' && command === 'remove' && rest.length === 2);
  if (!known) throw new UsageError(USAGE);
  // Checked before the store is opened: a bad name or webhook changes nothing and needs no Redis.
  const name = group === 'accounts' ? parseInput(accountInput, { name: rest[0] }).name : undefined;
  const webhook =
    group === 'webhooks' && command === 'add'
      ? parseInput(webhookCommand, { data: { url: rest[1], events: rest[2]!.split(',').map((e) => e.trim()) } }).data
      : undefined;

  const config = loadConfig(io.env);
  if (!io.store && !config.redis && !config.redisCluster) throw new StoreNotConfiguredError();
  const store = io.store ?? createStore(config, { clock: systemClock });
  try {
    if (!io.store) await requireStore(store, io.storeReadyTimeoutMs ?? DEFAULT_STORE_READY_TIMEOUT_MS, storeAddress(config));
    // The operator's actions from the command line are in the audit trail too (contract §9).
    const audit = new AuditTrail({
      store,
      clock: systemClock,
      retentionDays: config.audit.retentionDays,
      maxEvents: config.audit.maxEvents,
      // Queued here, delivered by the running gateways.
      subscribers: [(event) => enqueueWebhookDeliveries(store, event)],
    });
    if (name !== undefined) {
      const created = await createAccount(store, systemClock, name);
      await audit.record(auditEvents.accountCreated(created.account, created.authTokenId, auditEvents.CLI_ACTOR));
      print(created);
    } else if (group === 'auth-tokens' && command === 'add' && rest.length === 1) {
      const account = await requireAccountById(store, rest[0]!);
      const issued = await addAuthToken(store, systemClock, account);
      await audit.record(auditEvents.authTokenAdded(account.id, issued.authTokenId, auditEvents.CLI_ACTOR));
      print(issued);
    } else if (group === 'auth-tokens' && command === 'list' && rest.length === 1) {
      print({ authTokens: await listAuthTokens(store, await requireAccountById(store, rest[0]!)) });
    } else if (group === 'auth-tokens' && command === 'remove' && rest.length === 2) {
      const account = await requireAccountById(store, rest[0]!);
      await deleteAuthToken(store, account, rest[1]!);
      await audit.record(auditEvents.authTokenRemoved(account.id, rest[1]!, auditEvents.CLI_ACTOR));
      print({ authTokenId: rest[1], deleted: true });
    } else if (group === 'webhooks') {
      const account = await requireAccountById(store, rest[0]!);
      if (webhook) {
        // The secret is printed this once, as the API shows it.
        print(await registerWebhook({ store, clock: systemClock, allowInsecure: config.webhooks.allowInsecure }, account.id, webhook));
      } else if (command === 'list') {
        print({ webhooks: await listWebhooks(store, account.id) });
      } else {
        await removeWebhook(store, account.id, rest[1]!);
        print({ webhookId: rest[1], deleted: true });
      }
    } else {
      throw new UsageError(USAGE);
    }
  } finally {
    if (!io.store) await store.close();
  }
}

/** One command line, as a process: the result on stdout; exit 2 for a usage error, 1 for any other failure. */
export function main(argv: string[]): void {
  runCli(argv, { out: (t) => process.stdout.write(t), env: process.env }).catch((error: unknown) => {
    const message = isGatewayError(error) || error instanceof Error ? error.message : String(error);
    process.stderr.write(`${message}\n`);
    process.exit(error instanceof UsageError ? 2 : 1);
  });
}

if (require.main === module) main(process.argv.slice(2));
