/**
 * token-gateway's command-line tool (contract §5): the operator's side of the admin API, on
 * the store the environment configures. Prints what it created as JSON.
 *
 *   npm run cli -- accounts create "Acme"
 *   npm run cli -- auth-tokens add <accountId>
 *   npm run cli -- auth-tokens list <accountId>
 *   npm run cli -- auth-tokens remove <accountId> <authTokenId>
 *   npm run cli -- keys generate [--algorithm RS256|ES256|EdDSA] [--bits 3072] [--dir keys]
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { addAuthToken, createAccount, deleteAuthToken, listAuthTokens, requireAccountById } from './accounts';
import { systemClock } from './clock';
import { loadConfig, type SigningAlgorithm } from './config';
import { isGatewayError } from './errors';
import { DEFAULT_RSA_BITS, generatePrivateKeyPem, parseSigningKey } from './keys';
import { createStore, type GatewayStore } from './store';

const USAGE = `usage:
  cli accounts create <name>
  cli auth-tokens add <accountId>
  cli auth-tokens list <accountId>
  cli auth-tokens remove <accountId> <authTokenId>
  cli keys generate [--algorithm RS256|ES256|EdDSA] [--bits ${DEFAULT_RSA_BITS}] [--dir <KEYS_DIR>]`;

export class UsageError extends Error {}

export interface CliIo {
  out: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Tests pass a store; otherwise the configured one is opened and closed. */
  store?: GatewayStore;
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
    const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${algorithm.toLowerCase()}.pem`);
    await fs.writeFile(file, pem, { mode: 0o600, flag: 'wx' });
    const key = parseSigningKey(pem, file, Date.now());
    print({ file, kid: key.kid, alg: key.alg });
    return;
  }

  const store = io.store ?? createStore(config, { clock: systemClock });
  try {
    if (group === 'accounts' && command === 'create' && rest.length === 1) {
      print(await createAccount(store, systemClock, rest[0]!));
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
