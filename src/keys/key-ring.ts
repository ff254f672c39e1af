/**
 * The KeyRing: the gateway's own signing keys, read from KEYS_DIR (contract §7).
 *
 * - Every key in the folder verifies and is published in the JWKS at once.
 * - A key signs only once it has been there (by its file's time) for the JWKS cache lifetime,
 *   so no client holding a cached JWKS meets an unknown `kid`: the newest such key signs, or,
 *   while there is none, the newest key.
 * - A key superseded by a newer signing key is retired (unpublished, no longer verifying) once
 *   every token it may have signed has expired: the successor's start + the longest token
 *   lifetime + the JWKS cache lifetime + the clock tolerance.
 */
import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../clock';
import type { SigningAlgorithm } from '../config';
import { generatePrivateKeyPem, MIN_RSA_BITS } from './generate';
import { jwkThumbprint } from './thumbprint';

export interface RingKey {
  kid: string;
  alg: SigningAlgorithm;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public JWK as published: kty, kid, use, alg and the key type's members. */
  jwk: JsonWebKey & { kid: string; use: 'sig'; alg: SigningAlgorithm };
  /** When the key file appeared (its mtime), ms. */
  addedAtMs: number;
  file: string;
}

export interface KeyRingOptions {
  dir: string;
  /** The algorithm of the gateway's own tokens: only keys of this algorithm sign. */
  algorithm: SigningAlgorithm;
  clock: Clock;
  jwksMaxAgeSeconds: number;
  maxTokenLifetimeSeconds: number;
  clockToleranceSeconds: number;
  /** Called for a key file that a reload could not use (the ring keeps what it had). */
  onWarning?: (message: string) => void;
}

export class KeyLoadError extends Error {
  override readonly name = 'KeyLoadError';
}

const KEY_FILE = /\.(pem|key)$/i;

/** Parses one private key PEM and checks it can serve (type, curve, size). */
export function parseSigningKey(pem: string, file: string, addedAtMs: number): RingKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new KeyLoadError(`${file}: not a PEM private key.`);
  }
  const details = privateKey.asymmetricKeyDetails ?? {};
  let alg: SigningAlgorithm;
  switch (privateKey.asymmetricKeyType) {
    case 'rsa':
      if ((details.modulusLength ?? 0) < MIN_RSA_BITS) {
        throw new KeyLoadError(
          `${file}: RSA key of ${details.modulusLength ?? 0} bits; at least ${MIN_RSA_BITS} are required.`,
        );
      }
      alg = 'RS256';
      break;
    case 'ec':
      if (details.namedCurve !== 'prime256v1') {
        throw new KeyLoadError(`${file}: EC key on ${details.namedCurve ?? 'an unknown curve'}; only P-256 (ES256) is used.`);
      }
      alg = 'ES256';
      break;
    case 'ed25519':
      alg = 'EdDSA';
      break;
    default:
      throw new KeyLoadError(`${file}: ${privateKey.asymmetricKeyType ?? 'unknown'} keys cannot sign gateway tokens.`);
  }
  const publicKey = createPublicKey(pem);
  const exported = publicKey.export({ format: 'jwk' });
  const kid = jwkThumbprint(exported);
  return { kid, alg, privateKey, publicKey, jwk: { ...exported, kid, use: 'sig', alg }, addedAtMs, file };
}

interface FileState {
  mtimeMs: number;
  size: number;
  key: RingKey;
}

export interface Jwks {
  body: string;
  etag: string;
}

export class KeyRing {
  private files = new Map<string, FileState>();
  private jwksCache: { signature: string; jwks: Jwks } | undefined;

  private constructor(private readonly options: KeyRingOptions) {}

  /** Loads every key in the folder; a bad key file stops the load with a message naming it. */
  static async load(options: KeyRingOptions): Promise<KeyRing> {
    const ring = new KeyRing(options);
    await ring.scan(true);
    if (ring.files.size === 0) throw new KeyLoadError(`No signing key in ${options.dir}.`);
    if (!ring.all().some((k) => k.alg === options.algorithm)) {
      throw new KeyLoadError(`No ${options.algorithm} key in ${options.dir} (JWT_ALGORITHM=${options.algorithm}).`);
    }
    return ring;
  }

  /** Re-reads the folder: new keys are published at once; a bad new file is reported and skipped. */
  async reload(): Promise<void> {
    await this.scan(false);
  }

  private async scan(strict: boolean): Promise<void> {
    let names: string[];
    try {
      names = (await fs.readdir(this.options.dir)).filter((n) => KEY_FILE.test(n)).sort();
    } catch (error) {
      if (strict && (error as NodeJS.ErrnoException).code === 'ENOENT') names = [];
      else if (strict) throw error;
      else {
        this.options.onWarning?.(`keys folder ${this.options.dir} could not be read; keeping the loaded keys.`);
        return;
      }
    }
    const next = new Map<string, FileState>();
    for (const name of names) {
      const file = path.join(this.options.dir, name);
      try {
        const stat = await fs.stat(file);
        const known = this.files.get(file);
        if (known && known.mtimeMs === stat.mtimeMs && known.size === stat.size) {
          next.set(file, known);
          continue;
        }
        const key = parseSigningKey(await fs.readFile(file, 'utf8'), file, stat.mtimeMs);
        next.set(file, { mtimeMs: stat.mtimeMs, size: stat.size, key });
      } catch (error) {
        if (strict) throw error;
        this.options.onWarning?.(error instanceof Error ? error.message : String(error));
        const known = this.files.get(file);
        if (known) next.set(file, known);
      }
    }
    if (!strict && next.size === 0 && this.files.size > 0) {
      this.options.onWarning?.(`keys folder ${this.options.dir} is empty; keeping the loaded keys.`);
      return;
    }
    this.files = next;
  }

  /** Every loaded key, newest first (retired ones included). */
  private all(): RingKey[] {
    return [...this.files.values()]
      .map((f) => f.key)
      .sort((a, b) => b.addedAtMs - a.addedAtMs || a.kid.localeCompare(b.kid));
  }

  private get cacheMs(): number {
    return this.options.jwksMaxAgeSeconds * 1000;
  }

  /** The key that signs new tokens now. */
  signingKey(): RingKey {
    const now = this.options.clock.now();
    const candidates = this.all().filter((k) => k.alg === this.options.algorithm);
    const ready = candidates.find((k) => k.addedAtMs + this.cacheMs <= now);
    const key = ready ?? candidates[0];
    if (!key) throw new KeyLoadError(`No ${this.options.algorithm} signing key is loaded.`);
    return key;
  }

  /** Keys that may still verify a live token, newest first. */
  activeKeys(): RingKey[] {
    const now = this.options.clock.now();
    const signers = this.all().filter((k) => k.alg === this.options.algorithm);
    // When did each signer start signing? It signs from (added + cache lifetime) on, or at once
    // while no key is ready; a key stops when a newer one starts.
    const lifetimeMs =
      (this.options.maxTokenLifetimeSeconds + this.options.clockToleranceSeconds) * 1000 + this.cacheMs;
    return this.all().filter((key) => {
      const successor = signers.find((s) => s.addedAtMs > key.addedAtMs && s.addedAtMs + this.cacheMs <= now);
      if (!successor) return true;
      return now <= successor.addedAtMs + this.cacheMs + lifetimeMs;
    });
  }

  /** The key a token's `kid` names, if it may still verify. A kid is only ever a map key here. */
  find(kid: string): RingKey | undefined {
    return this.activeKeys().find((k) => k.kid === kid);
  }

  /** The JWKS document and its ETag, rebuilt only when the set of active keys changes. */
  jwks(): Jwks {
    const keys = this.activeKeys();
    const signature = keys.map((k) => k.kid).join(',');
    if (this.jwksCache?.signature === signature) return this.jwksCache.jwks;
    const body = JSON.stringify({ keys: keys.map((k) => k.jwk) });
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    this.jwksCache = { signature, jwks: { body, etag } };
    return this.jwksCache.jwks;
  }
}

/**
 * Makes sure the folder holds a key for `algorithm`. Development: generates and writes one
 * (so instances sharing the folder sign alike). Production: refuses, with a clear message.
 * Returns the file written, if any.
 */
export async function ensureSigningKey(
  dir: string,
  algorithm: SigningAlgorithm,
  production: boolean,
  rsaBits?: number,
): Promise<string | undefined> {
  let names: string[] = [];
  try {
    names = (await fs.readdir(dir)).filter((n) => KEY_FILE.test(n));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (names.length > 0) return undefined;
  if (production) {
    throw new KeyLoadError(
      `No signing key in ${dir}. A production start (NODE_ENV=production) needs one: ` +
        `run "node dist/cli.js keys generate" (in a checkout: "npm run cli -- keys generate") ` +
        `and mount the folder, or set KEYS_DIR.`,
    );
  }
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${algorithm.toLowerCase()}.pem`);
  await fs.writeFile(file, generatePrivateKeyPem(algorithm, rsaBits), { mode: 0o600, flag: 'wx' });
  return file;
}
