/**
 * DPoP for the browser (RFC 9449; the gateway's contract §10): a key pair the page holds and
 * cannot export, its RFC 7638 thumbprint (which the customer backend passes as `dpopJkt` when
 * it gets the token), and a proof signed for each request.
 *
 * WebCrypto only (ECDSA P-256, ES256): browsers and Node 20+ have it; no dependency.
 */

export interface DpopKey {
  /** The RFC 7638 SHA-256 thumbprint of the public key, base64url: `dpopJkt`. */
  readonly jkt: string;
  /**
   * A proof for one request: `method` and `url` of that request (its query is left out, as
   * RFC 9449 says), `token` the access token it goes with, `nonce` the server's if it asked.
   */
  proof(method: string, url: string, options?: { token?: string; nonce?: string }): Promise<string>;
}

export interface DpopKeyOptions {
  /** Defaults to globalThis.crypto. */
  crypto?: Crypto;
  /** Seconds since the Unix epoch; defaults to the local clock. */
  now?: () => number;
}

const encoder = new TextEncoder();

function base64url(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let binary = '';
  for (let i = 0; i < view.length; i += 1) binary += String.fromCharCode(view[i]!);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const encodeJson = (value: unknown): string => base64url(encoder.encode(JSON.stringify(value)));

/** The URL a proof names: scheme, host and path, without query and fragment. */
function htuOf(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

/**
 * A new key pair whose private half cannot be exported (`extractable: false`): a script that
 * copies the token out of the page cannot copy the key with it.
 */
export async function createDpopKey(options: DpopKeyOptions = {}): Promise<DpopKey> {
  const crypto = options.crypto ?? globalThis.crypto;
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as CryptoKeyPair;
  const exported = await crypto.subtle.exportKey('jwk', pair.publicKey);
  const jwk = { crv: exported.crv, kty: exported.kty, x: exported.x, y: exported.y };
  // RFC 7638: the required members, in lexicographic order, without white space.
  const jkt = base64url(await crypto.subtle.digest('SHA-256', encoder.encode(JSON.stringify(jwk))));
  return {
    jkt,
    async proof(method, url, { token, nonce } = {}) {
      const header = { typ: 'dpop+jwt', alg: 'ES256', jwk };
      const jti = base64url(crypto.getRandomValues(new Uint8Array(16)));
      const payload: Record<string, unknown> = { jti, htm: method.toUpperCase(), htu: htuOf(url), iat: now() };
      if (token !== undefined) payload.ath = base64url(await crypto.subtle.digest('SHA-256', encoder.encode(token)));
      if (nonce !== undefined) payload.nonce = nonce;
      const input = `${encodeJson(header)}.${encodeJson(payload)}`;
      // WebCrypto's ECDSA signature is r || s, as JWS wants it.
      const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, pair.privateKey, encoder.encode(input));
      return `${input}.${base64url(signature)}`;
    },
  };
}
