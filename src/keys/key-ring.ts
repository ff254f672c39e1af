/**
 * The KeyRing: the gateway's own signing keys, read from KEYS_DIR (contract §7).
 *
 * - Every key in the folder verifies and is published in the JWKS at once.
 * - A key signs only once its activation time plus the JWKS cache lifetime has passed, so no
 *   client holding a cached JWKS meets an unknown `kid`: the newest such key signs, or, while
 *   there is none, the newest key.
 * - The activation time is the same on every instance that reads the same files, however and
 *   whenever they were written: the later of the UTC time at the start of the file's name
 *   (`YYYY-MM-DDTHH-MM-SS[-mmm]Z`, as `keys generate` names its files; none counts as time
 *   zero) and the first time any instance saw the key, recorded once in the store. Never the
 *   file's modification time: a Kubernetes Secret volume rewrites every file with one new
 *   time on each update, and a replica started later sees fresh times. Equal activation times
 *   are ordered by file name (the larger is newer), never by `kid`.
 * - A key whose first sighting could not be recorded yet (store down) is published but never
 *   preferred for signing; the next reload records it.
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
  file: string;
  /** The time at the start of the file's name, ms (0 when the name has none). */
  nameTimeMs: number;
  /**
   * When the key counts from, ms: the later of nameTimeMs and its first sighting by any
   * instance; undefined while that sighting could not be recorded.
   */
  activatesAtMs: number | undefined;
}

/** Where the first sighting of each key is recorded, once for every instance (the store). */
export interface KeySightings {
  /** Records `atMs` as the key's first sighting unless one is recorded; returns the recorded one. */
  recordKeySighting(kid: string, atMs: number): Promise<number>;
}

export interface KeyRingOptions {
  dir: string;
  /** The algorithm of the gateway's own tokens: only keys of this algorithm sign. */
  algorithm: SigningAlgorithm;
  clock: Clock;
  jwksMaxAgeSeconds: number;
  maxTokenLifetimeSeconds: number;
  clockToleranceSeconds: number;
  /** The shared record of first sightings; without it, this process's own first sight. */
  sightings?: KeySightings;
  /** Called for a key file that a reload could not use (the ring keeps what it had). */
  onWarning?: (message: string) => void;
  /** Called when a key is loaded or retired (never with key material). */
  onKeyEvent?: (event: KeyEvent) => void;
}

export interface KeyEvent {
  event: 'loaded' | 'retired' | 'removed';
  kid: string;
  alg: SigningAlgorithm;
  file: string;
  /** ISO 8601, when known. */
  activatesAt?: string;
}

export class KeyLoadError extends Error {
  override readonly name = 'KeyLoadError';
}

const KEY_FILE = /\.(pem|key)$/i;
const NAME_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2})-(\d{2})-(\d{2})(?:-(\d{3}))?Z/;

/** The file name `keys generate` writes: its time first, so that it is the key's activation time. */
export function keyFileName(at: Date, algorithm: SigningAlgorithm): string {
  return `${at.toISOString().replace(/[:.]/g, '-')}-${algorithm.toLowerCase()}.pem`;
}

/** The UTC time at the start of a key file's name, ms; 0 when it has none. */
export function nameTimeOf(file: string): number {
  const match = NAME_TIME.exec(path.basename(file));
  if (!match) return 0;
  const [y, mo, d, h, mi, sec] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const time = Date.UTC(y, mo - 1, d, h, mi, sec, match[7] === undefined ? 0 : Number(match[7]));
  const back = new Date(time);
  // A time that does not exist (2026-02-31, 25:00) is no time: the name counts as having none.
  const exists =
    back.getUTCFullYear() === y && back.getUTCMonth() === mo - 1 && back.getUTCDate() === d &&
    back.getUTCHours() === h && back.getUTCMinutes() === mi && back.getUTCSeconds() === sec;
  return exists ? time : 0;
}

/** Parses one private key PEM and checks it can serve (type, curve, size). */
export function parseSigningKey(pem: string, file: string): RingKey {
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
  return {
    kid,
    alg,
    privateKey,
    publicKey,
    jwk: { ...exported, kid, use: 'sig', alg },
    file,
    nameTimeMs: nameTimeOf(file),
    activatesAtMs: undefined,
  };
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

/** This process's own first sight of each key, for a ring without a shared record. */
class LocalSightings implements KeySightings {
  private readonly seen = new Map<string, number>();
  async recordKeySighting(kid: string, atMs: number): Promise<number> {
    const first = this.seen.get(kid) ?? atMs;
    this.seen.set(kid, first);
    return first;
  }
}

/** Newest first: the later activation, then the larger file name; unknown activations last. */
function newestFirst(a: RingKey, b: RingKey): number {
  const at = (k: RingKey) => k.activatesAtMs ?? -Infinity;
  if (at(a) !== at(b)) return at(b) - at(a);
  const [na, nb] = [path.basename(a.file), path.basename(b.file)];
  return na < nb ? 1 : na > nb ? -1 : 0;
}

export class KeyRing {
  private files = new Map<string, FileState>();
  private jwksCache: { signature: string; jwks: Jwks } | undefined;
  private readonly sightings: KeySightings;
  /** Kids published at the last reload, to tell when one is retired. */
  private published = new Set<string>();

  private constructor(private readonly options: KeyRingOptions) {
    this.sightings = options.sightings ?? new LocalSightings();
  }

  /** Loads every key in the folder; a bad key file stops the load with a message naming it. */
  static async load(options: KeyRingOptions): Promise<KeyRing> {
    const ring = new KeyRing(options);
    await ring.scan(true);
    if (ring.files.size === 0) throw new KeyLoadError(`No signing key in ${options.dir}.`);
    if (!ring.all().some((k) => k.alg === options.algorithm)) {
      throw new KeyLoadError(`No ${options.algorithm} key in ${options.dir} (JWT_ALGORITHM=${options.algorithm}).`);
    }
    ring.noteRetirements();
    return ring;
  }

  /** Re-reads the folder: new keys are published at once; a bad new file is reported and skipped. */
  async reload(): Promise<void> {
    await this.scan(false);
    this.noteRetirements();
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
        // The modification time only tells whether to read the file again, never when it counts.
        if (known && known.mtimeMs === stat.mtimeMs && known.size === stat.size) {
          next.set(file, known);
          continue;
        }
        const key = parseSigningKey(await fs.readFile(file, 'utf8'), file);
        // A rewritten file holding the same key keeps what was known of it.
        if (known?.key.kid === key.kid) key.activatesAtMs = known.key.activatesAtMs;
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
    await this.activate([...next.values()].map((f) => f.key));
    for (const [file, state] of this.files) {
      if (!next.has(file)) this.options.onKeyEvent?.({ event: 'removed', ...describe(state.key) });
    }
    this.files = next;
  }

  /** Records the first sighting of every key that has no activation time yet. */
  private async activate(keys: RingKey[]): Promise<void> {
    const now = this.options.clock.now();
    await Promise.all(
      keys
        .filter((key) => key.activatesAtMs === undefined)
        .map(async (key) => {
          try {
            const firstSeen = await this.sightings.recordKeySighting(key.kid, now);
            key.activatesAtMs = Math.max(key.nameTimeMs, firstSeen);
            this.options.onKeyEvent?.({ event: 'loaded', ...describe(key) });
          } catch (error) {
            this.options.onWarning?.(
              `${key.file}: its first sighting could not be recorded (${error instanceof Error ? error.message : String(error)}); ` +
                'it is published but does not sign until the next reload records it.',
            );
          }
        }),
    );
  }

  /** Reports the keys that left the JWKS since the last look. */
  private noteRetirements(): void {
    const active = this.activeKeys();
    const now = new Set(active.map((k) => k.kid));
    for (const key of this.all()) {
      if (this.published.has(key.kid) && !now.has(key.kid)) this.options.onKeyEvent?.({ event: 'retired', ...describe(key) });
    }
    this.published = now;
  }

  /** Every loaded key, newest first (retired ones included). */
  private all(): RingKey[] {
    return [...this.files.values()].map((f) => f.key).sort(newestFirst);
  }

  private get cacheMs(): number {
    return this.options.jwksMaxAgeSeconds * 1000;
  }

  /** Whether a key has been published for the JWKS cache lifetime. */
  private ready(key: RingKey, now: number): boolean {
    return key.activatesAtMs !== undefined && key.activatesAtMs + this.cacheMs <= now;
  }

  /** The key that signs new tokens now. */
  signingKey(): RingKey {
    const now = this.options.clock.now();
    const candidates = this.all().filter((k) => k.alg === this.options.algorithm);
    const key = candidates.find((k) => this.ready(k, now)) ?? candidates[0];
    if (!key) throw new KeyLoadError(`No ${this.options.algorithm} signing key is loaded.`);
    return key;
  }

  /** Keys that may still verify a live token, newest first. */
  activeKeys(): RingKey[] {
    const now = this.options.clock.now();
    const all = this.all();
    const signers = all.filter((k) => k.alg === this.options.algorithm);
    // A key stops signing when a newer one starts (is ready); it verifies until the last token
    // it may have signed has expired.
    const lifetimeMs =
      (this.options.maxTokenLifetimeSeconds + this.options.clockToleranceSeconds) * 1000 + this.cacheMs;
    return all.filter((key) => {
      const successor = signers.find((s) => newestFirst(s, key) < 0 && this.ready(s, now));
      if (!successor) return true;
      return now <= successor.activatesAtMs! + this.cacheMs + lifetimeMs;
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

function describe(key: RingKey): Omit<KeyEvent, 'event'> {
  return {
    kid: key.kid,
    alg: key.alg,
    file: key.file,
    ...(key.activatesAtMs === undefined ? {} : { activatesAt: new Date(key.activatesAtMs).toISOString() }),
  };
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
  const file = path.join(dir, keyFileName(new Date(), algorithm));
  await fs.writeFile(file, generatePrivateKeyPem(algorithm, rsaBits), { mode: 0o600, flag: 'wx' });
  return file;
}
