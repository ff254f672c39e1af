/**
 * DPoP proofs (RFC 9449; contract §10): a token bound to a key (`cnf.jkt`) is accepted only
 * with a proof, signed by that key, for the very request it comes with.
 *
 * The checks, each a 401 invalid_dpop_proof (or use_dpop_nonce for a missing or stale nonce):
 * one proof of at most 8 KiB (before any cryptography), three base64url segments, a header
 * with `typ: dpop+jwt`, an asymmetric `alg` (ES256, EdDSA, RS256, PS256) and a public `jwk` of
 * that algorithm's key type (RSA of 2048–4096 bits), whose RFC 7638 thumbprint is the token's
 * `cnf.jkt`; a signature that verifies under that key; `htm` the request's method and `htu` its
 * URL (scheme, host, path; query and fragment ignored; compared after normalisation); `iat`
 * within 60 s plus the clock tolerance of now; `ath` the hash of the token; with nonces on, a
 * current server nonce; and a (jkt, jti) pair never seen before, recorded in the store after
 * every other check passed, kept until the proof could no longer be accepted.
 */
import {
  constants,
  createHash,
  createHmac,
  createPublicKey,
  randomBytes,
  timingSafeEqual,
  verify,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import type { Clock } from '../clock';
import { GatewayError } from '../errors';
import { jwkThumbprint } from '../keys';
import { nestsDeeperThan } from '../json-depth';
import type { DpopStore } from '../store';

/** Proofs longer than this are refused before any cryptography (contract §10). */
export const MAX_PROOF_LENGTH = 8 * 1024;
/** How far a proof's `iat` may be from now, besides the clock tolerance (contract §10). */
export const PROOF_WINDOW_SECONDS = 60;
/** A server nonce is good for the window it was made in and the one after (so 1–2 windows). */
export const NONCE_WINDOW_MS = 60_000;

/**
 * The contract's four, and `Ed25519`: RFC 9864's fully-specified name for EdDSA over Ed25519,
 * which current clients (panva's `dpop`) send; it verifies exactly as `EdDSA` with an Ed25519 key.
 */
export const DPOP_ALGORITHMS = ['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256'] as const;
type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number];

/** A JWK thumbprint as `cnf.jkt` and `dpopJkt` carry it: base64url SHA-256, 43 characters. */
export const JKT_PATTERN = /^[A-Za-z0-9_-]{43}$/;

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** The request a proof must be for. */
export interface ProofTarget {
  /** The DPoP header's value(s): exactly one is accepted. */
  proofs: readonly string[];
  method: string;
  /** The request's absolute URL (its query, if any, is ignored). */
  url: string;
  /** Why the request a proof is for cannot be known (forward auth's X-Forwarded-* headers). */
  problem?: string;
}

export const DPOP_CHALLENGE = `DPoP algs="${DPOP_ALGORITHMS.join(' ')}"`;

export const invalidProof = (reason: string): GatewayError =>
  new GatewayError('invalid_dpop_proof', reason, {
    wwwAuthenticate: `DPoP error="invalid_dpop_proof", error_description="${reason.replace(/["\\]/g, "'")}", algs="${DPOP_ALGORITHMS.join(' ')}"`,
  });

/** The URL a proof's `htu` is compared as: scheme, host (default port dropped) and path, normalised. */
export function normalizedHtu(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  // WHATWG URL parsing lower-cases scheme and host, drops a default port and resolves dot
  // segments; percent-encoding is normalised to upper-case hex, as RFC 3986 §6.2.2 asks.
  const path = url.pathname.replace(/%[0-9a-f]{2}/gi, (m) => m.toUpperCase());
  return `${url.protocol}//${url.host}${path}`;
}

function decodeJson(segment: string): Record<string, unknown> | undefined {
  try {
    const text = Buffer.from(segment, 'base64url').toString('utf8');
    if (nestsDeeperThan(text)) return undefined;
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The proof's `jwk`, checked to be a public JWK whose thumbprint is the token's `cnf.jkt`. */
function boundJwk(jwk: unknown, jkt: string): JsonWebKey {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw invalidProof('The proof has no public jwk.');
  if (PRIVATE_MEMBERS.some((m) => m in jwk)) throw invalidProof('The proof jwk must be a public key.');
  let thumbprint: string;
  try {
    thumbprint = jwkThumbprint(jwk as JsonWebKey);
  } catch {
    throw invalidProof('The proof jwk is not a usable public key.');
  }
  // Before the key is imported: a proof by any other key costs a hash, nothing more.
  if (thumbprint !== jkt) throw invalidProof('The DPoP proof key is not the key the token is bound to.');
  return jwk as JsonWebKey;
}

/** Imports a JWK (a thumbprint names exactly one key, so each is imported once, bounded). */
class ProofKeys {
  private readonly keys = new Map<string, KeyObject>();
  constructor(private readonly capacity = 10_000) {}

  get(jkt: string, jwk: JsonWebKey): KeyObject {
    const known = this.keys.get(jkt);
    if (known) return known;
    let key: KeyObject;
    try {
      key = createPublicKey({ key: jwk, format: 'jwk' });
    } catch {
      throw invalidProof('The proof jwk is not a usable public key.');
    }
    if (this.keys.size >= this.capacity) this.keys.delete(this.keys.keys().next().value as string);
    this.keys.set(jkt, key);
    return key;
  }
}

/** The key checked against the proof's `alg`. */
function fitsAlgorithm(key: KeyObject, alg: DpopAlgorithm): void {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  const fits =
    (alg === 'ES256' && type === 'ec' && details.namedCurve === 'prime256v1') ||
    ((alg === 'EdDSA' || alg === 'Ed25519') && type === 'ed25519') ||
    ((alg === 'RS256' || alg === 'PS256') &&
      type === 'rsa' &&
      (details.modulusLength ?? 0) >= 2048 &&
      (details.modulusLength ?? 0) <= 4096);
  if (!fits) throw invalidProof('The proof jwk does not fit its algorithm.');
}

function signatureVerifies(alg: DpopAlgorithm, key: KeyObject, input: string, signature: Buffer): boolean {
  const data = Buffer.from(input);
  try {
    switch (alg) {
      case 'EdDSA':
      case 'Ed25519':
        return verify(null, data, key, signature);
      case 'ES256':
        return verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
      case 'RS256':
        return verify('sha256', data, key, signature);
      case 'PS256':
        return verify('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signature);
    }
  } catch {
    return false;
  }
}

export interface DpopVerifierOptions {
  store: DpopStore;
  clock: Clock;
  clockToleranceSeconds: number;
  /** DPOP_NONCES: demand a server nonce in every proof. */
  nonces: boolean;
}

export class DpopVerifier {
  private nonceSecret: Buffer | undefined;
  private readonly keys = new ProofKeys();

  constructor(private readonly options: DpopVerifierOptions) {}

  /**
   * Checks the proof that must come with a token bound to `jkt`; resolves when it holds.
   * The (jkt, jti) pair is recorded last, so a refused proof can be corrected and sent again.
   */
  async check(token: string, jkt: string, target: ProofTarget): Promise<void> {
    if (target.proofs.length === 0) throw invalidProof('The token is bound to a key: a DPoP proof is required.');
    if (target.proofs.length > 1) throw invalidProof('Exactly one DPoP proof is accepted.');
    if (target.problem !== undefined) throw invalidProof(target.problem);
    const proof = target.proofs[0]!;
    if (proof.length > MAX_PROOF_LENGTH) throw invalidProof('The DPoP proof is too long.');
    const segments = proof.split('.');
    if (segments.length !== 3 || !segments.every((s) => SEGMENT.test(s))) throw invalidProof('The DPoP proof is not a compact JWS.');
    const header = decodeJson(segments[0]!);
    const payload = decodeJson(segments[1]!);
    if (!header || !payload) throw invalidProof('The DPoP proof is not base64url JSON.');
    if (header.typ !== 'dpop+jwt') throw invalidProof('The DPoP proof type must be dpop+jwt.');
    const alg = header.alg;
    if (typeof alg !== 'string' || !(DPOP_ALGORITHMS as readonly string[]).includes(alg)) {
      throw invalidProof('The DPoP proof algorithm is not accepted.');
    }
    const key = this.keys.get(jkt, boundJwk(header.jwk, jkt));
    fitsAlgorithm(key, alg as DpopAlgorithm);
    if (!signatureVerifies(alg as DpopAlgorithm, key, `${segments[0]}.${segments[1]}`, Buffer.from(segments[2]!, 'base64url'))) {
      throw invalidProof('The DPoP proof signature does not verify.');
    }

    const { jti, htm, htu, iat, ath, nonce } = payload;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) throw invalidProof('The DPoP proof has no valid jti.');
    if (htm !== target.method) throw invalidProof('The DPoP proof is for another method.');
    const expected = normalizedHtu(target.url);
    if (typeof htu !== 'string' || expected === undefined || normalizedHtu(htu) !== expected) {
      throw invalidProof('The DPoP proof is for another URL.');
    }
    const now = this.options.clock.now() / 1000;
    const window = PROOF_WINDOW_SECONDS + this.options.clockToleranceSeconds;
    if (typeof iat !== 'number' || !Number.isFinite(iat) || Math.abs(now - iat) > window) {
      throw invalidProof('The DPoP proof is not fresh.');
    }
    const tokenHash = createHash('sha256').update(token).digest('base64url');
    if (typeof ath !== 'string' || ath !== tokenHash) throw invalidProof('The DPoP proof is for another token.');
    if (this.options.nonces && !(typeof nonce === 'string' && (await this.nonceIsCurrent(nonce)))) {
      throw new GatewayError('use_dpop_nonce', 'The DPoP proof must carry the server nonce.', {
        wwwAuthenticate: 'DPoP error="use_dpop_nonce", error_description="Resend with the DPoP-Nonce given."',
        dpopNonce: await this.nonce(),
      });
    }
    const keepUntilMs = Math.ceil((iat + window) * 1000);
    if (!(await this.options.store.recordDpopProof(jkt, jti, keepUntilMs))) {
      throw invalidProof('The DPoP proof was used before.');
    }
  }

  /** A nonce every instance sharing the store accepts (HMAC of the time window, shared secret). */
  async nonce(): Promise<string> {
    return this.nonceFor(Math.floor(this.options.clock.now() / NONCE_WINDOW_MS), await this.secret());
  }

  private async nonceIsCurrent(nonce: string): Promise<boolean> {
    const secret = await this.secret();
    const window = Math.floor(this.options.clock.now() / NONCE_WINDOW_MS);
    const presented = Buffer.from(nonce);
    return [window, window - 1].some((w) => {
      const expected = Buffer.from(this.nonceFor(w, secret));
      return expected.length === presented.length && timingSafeEqual(expected, presented);
    });
  }

  private nonceFor(window: number, secret: Buffer): string {
    const mac = createHmac('sha256', secret).update(String(window)).digest('base64url').slice(0, 32);
    return `${window.toString(36)}.${mac}`;
  }

  private async secret(): Promise<Buffer> {
    this.nonceSecret ??= Buffer.from(await this.options.store.sharedSecret('dpop-nonce', randomBytes(32).toString('base64url')), 'base64url');
    return this.nonceSecret;
  }
}
