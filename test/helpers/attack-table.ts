/**
 * The attack table (contract §3, §6.2, §7), for both signers a token can have: the gateway's
 * own key (run by test/tokens/attacks.test.ts) and a customer's uploaded key, the token then
 * having iss = the account's apiKey and no kid (run by test/http/customer-tokens.test.ts).
 * Every forged, confused, malformed, stale or revoked token is sent through identify (§3.1),
 * introspection (§3.2), forward auth (§3.3) and authorize (§6.3), and none of them ever accepts
 * it. Genuine tokens pass all of them (the controls), so a refusal is the defence at work and
 * not a broken fixture.
 *
 * Tokens are built by hand: base64url header and payload, signed with node:crypto, so that
 * every byte an attacker controls is under the test's control too.
 */
import { constants, createHash, createHmac, createPublicKey, randomBytes, sign as cryptoSign } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import request from 'supertest';
import * as jws from '../../src/tokens/jws';
import { basicAuth, buildTestGateway, ISSUER, type TestAccount, type TestGateway } from './app';
import { rsaKeyPairPem, rsaPrivateKeyPem } from './keys';
import { STORE_KINDS } from './stores';

// ---------------------------------------------------------------------------------------------
// Building tokens by hand
// ---------------------------------------------------------------------------------------------

/** A segment given as raw text is encoded as is; anything else as its JSON. */
export type Part = Record<string, unknown> | unknown[] | string | { raw: string };

const isRaw = (part: Part): part is { raw: string } =>
  typeof part === 'object' && part !== null && !Array.isArray(part) && Object.keys(part).join() === 'raw';

export const b64url = (data: string | Buffer): string => Buffer.from(data).toString('base64url');
export const encodePart = (part: Part): string => b64url(isRaw(part) ? part.raw : JSON.stringify(part));

/** Makes the signature of a signing input. */
export type Signer = (input: string) => Buffer;

export const rsa = (pem: string, hash: 'sha256' | 'sha384' | 'sha512' = 'sha256'): Signer => (input) =>
  cryptoSign(hash, Buffer.from(input), pem);
const pss = (pem: string, hash: 'sha256' | 'sha384' | 'sha512' = 'sha256'): Signer => (input) =>
  cryptoSign(hash, Buffer.from(input), {
    key: pem,
    padding: constants.RSA_PKCS1_PSS_PADDING,
    saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
  });
export const hmac = (secret: string, hash: 'sha256' | 'sha384' = 'sha256'): Signer => (input) =>
  createHmac(hash, secret).update(input).digest();

/** `header.payload.signature`, the signature over exactly the first two segments as written. */
export function compact(header: Part, payload: Part, signer: Signer): string {
  const input = `${encodePart(header)}.${encodePart(payload)}`;
  return `${input}.${b64url(signer(input))}`;
}

/** Signs an arbitrary signing input (already encoded, possibly non-canonically). */
export const signInput = (input: string, signer: Signer): string => `${input}.${b64url(signer(input))}`;

export const toStandardBase64 = (segment: string): string => segment.replace(/-/g, '+').replace(/_/g, '/');
export const padBase64 = (segment: string): string => segment + '='.repeat((4 - (segment.length % 4)) % 4);

// ---------------------------------------------------------------------------------------------
// The world a case is built in
// ---------------------------------------------------------------------------------------------

/** Whose key signs the table's tokens. */
export type SignerKind = 'gateway' | 'customer';

interface World {
  signer: SignerKind;
  gw: TestGateway;
  /** The account the attack tokens name (their `aud`, or for a customer token their `iss`). */
  acme: TestAccount;
  /** Another account of the same gateway. */
  other: TestAccount;
  /** An account with an uploaded customer signing key (acme itself for the customer signer). */
  customer: TestAccount;
  customerPem: string;
  now: number;
  tolerance: number;
  /** The gateway's signing kid. */
  kid: string;
  /** The gateway's own private key, read from its keys folder. */
  gatewayPem: string;
  gatewayPublicPem: string;
  /** The signer's private key and its public PEM: the gateway's, or acme's uploaded key. */
  pem: string;
  publicPem: string;
  /** The `iss` of a genuine token: JWT_ISSUER, or acme's apiKey. */
  iss: string;
  attackerPem: string;
  /** A token the gateway issued to acme (gateway signer only). */
  issued?: string;
  /** A token of acme's user-1 (with a jti), then revoked. */
  revoked: string;
  /** A token of a user whose tokens were all revoked afterwards. */
  userRevoked: string;
  /** A token in an organization whose tokens were all revoked afterwards. */
  organizationRevoked: string;
  /** An apiKey of the right shape that names no account. */
  unknownApiKey: string;
}

export const USER = { userId: 'user-1', organizationId: 'org-1', email: 'user@example.com' };

/** The permission authorize is asked about. */
const PERMISSION = 'document:read';

/**
 * Contract §2 claims for acme's user-1 (§6.2 for a customer token: iss = acme's apiKey and no
 * aud); an override of `undefined` leaves the claim out.
 */
function claims(w: World, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: w.iss,
    sub: USER.userId,
    userId: USER.userId,
    aud: w.signer === 'gateway' ? w.acme.apiKey : undefined,
    iat: w.now,
    nbf: w.now,
    exp: w.now + 3600,
    jti: randomBytes(16).toString('base64url'),
    organizationId: USER.organizationId,
    email: USER.email,
    isAdmin: false,
    ...overrides,
  };
}

/** The signer's header: the gateway's names its kid, a customer's has none. */
const header = (w: World, overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  alg: 'RS256',
  typ: 'JWT',
  kid: w.signer === 'gateway' ? w.kid : undefined,
  ...overrides,
});

/** A token exactly as its signer would sign it, with the signer's key. */
const genuine = (w: World, overrides: Record<string, unknown> = {}, headerOverrides: Record<string, unknown> = {}) =>
  compact(header(w, headerOverrides), claims(w, overrides), rsa(w.pem));

/**
 * A signer-signed token of exactly `length` characters: a filler claim takes up the rest, and
 * a `cty` header member of 0 to 3 characters makes every length reachable (unpadded base64url
 * of n bytes is never 1 modulo 4 characters long).
 */
function genuineOfLength(w: World, length: number): string {
  for (const cty of [undefined, 'x', 'xx', 'xxx']) {
    for (let filler = Math.max(0, Math.floor(((length - 900) * 3) / 4)); ; filler++) {
      const token = genuine(w, { jti: 'fixed-length-token', filler: 'x'.repeat(filler) }, { cty });
      if (token.length === length) return token;
      if (token.length > length) break;
    }
  }
  throw new Error(`no token of exactly ${length} characters`);
}

/** The payload segment of a token, re-encoded as JSON with other spacing (same claims). */
function respaced(token: string): string {
  const [h, p] = token.split('.') as [string, string, string];
  const headerJson = JSON.stringify(JSON.parse(Buffer.from(h, 'base64url').toString('utf8')), null, 1);
  const payloadJson = JSON.stringify(JSON.parse(Buffer.from(p, 'base64url').toString('utf8')), null, 2);
  return `${b64url(headerJson)}.${b64url(payloadJson)}`;
}

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

export interface Refusal {
  status: number;
  code: string;
}

interface AttackCase {
  /** `{signer}` stands for "gateway" or "customer"; `{kid}` and `{sameKid}` for the signer's kid. */
  name: string;
  /**
   * The signers the case is run for (default both). Gateway only: what a customer token does
   * not have (a kid to look up: customer tokens are verified with the account's key whatever
   * their kid; an aud, which §6.2 does not check), and the cases that cross the two signers.
   */
  signers?: SignerKind[];
  /** The token sent to every check (unless a check has its own below). */
  token: (w: World) => string;
  /** The code identify, forward auth and authorize answer (401); default token_invalid. */
  code?: string;
  /** Identify and authorize: the apiKey presented (default acme's) and, when it differs, the answer. */
  identifyApiKey?: (w: World) => string;
  identify?: Refusal;
  /** Introspection: the calling account (default acme) and, when not {"active":false}, the answer. */
  introspectAs?: (w: World) => TestAccount;
  introspect?: Refusal;
  /** Forward auth: its own token, or its own Authorization headers (each must be refused). */
  forwardAuthorizations?: string[];
  forward?: 'token_missing';
}

const GATEWAY_ONLY: SignerKind[] = ['gateway'];

const NONE_VARIANTS = ['none', 'None', 'NONE'].flatMap((alg): AttackCase[] => [
  {
    name: `1. alg "${alg}", empty signature`,
    token: (w) => `${encodePart(header(w, { alg }))}.${encodePart(claims(w))}.`,
  },
  {
    name: `1. alg "${alg}", signature missing`,
    token: (w) => `${encodePart(header(w, { alg }))}.${encodePart(claims(w))}`,
  },
  {
    name: `1. alg "${alg}", a genuine signature of the {signer} key copied in`,
    token: (w) => `${encodePart(header(w, { alg }))}.${encodePart(claims(w))}.${genuine(w).split('.')[2]}`,
  },
]);

const HMAC_CONFUSION = (['HS256', 'HS384'] as const).flatMap((alg): AttackCase[] => {
  const hash = alg === 'HS256' ? 'sha256' : 'sha384';
  return [
    {
      name: `2. ${alg} with the {signer} public key PEM as the secret`,
      token: (w) => compact(header(w, { alg }), claims(w), hmac(w.publicPem, hash)),
    },
    {
      name: `2. ${alg} with the {signer} public key PEM, no trailing newline, as the secret`,
      token: (w) => compact(header(w, { alg }), claims(w), hmac(w.publicPem.trimEnd(), hash)),
    },
  ];
});

const CASES: AttackCase[] = [
  ...NONE_VARIANTS,
  ...HMAC_CONFUSION,

  // 3. The right key, the wrong algorithm.
  {
    name: '3. RS384 signed with the {signer} private key ({sameKid})',
    token: (w) => compact(header(w, { alg: 'RS384' }), claims(w), rsa(w.pem, 'sha384')),
  },
  {
    name: '3. RS512 signed with the {signer} private key ({sameKid})',
    token: (w) => compact(header(w, { alg: 'RS512' }), claims(w), rsa(w.pem, 'sha512')),
  },
  {
    name: '3. PS256 signed with the {signer} private key ({sameKid})',
    token: (w) => compact(header(w, { alg: 'PS256' }), claims(w), pss(w.pem)),
  },
  {
    name: '3. PS384 signed with the {signer} private key ({sameKid})',
    token: (w) => compact(header(w, { alg: 'PS384' }), claims(w), pss(w.pem, 'sha384')),
  },
  {
    name: '3. PS512 signed with the {signer} private key ({sameKid})',
    token: (w) => compact(header(w, { alg: 'PS512' }), claims(w), pss(w.pem, 'sha512')),
  },
  {
    name: "3. an RS256 header over a PS256 signature of the {signer} key",
    token: (w) => signInput(`${encodePart(header(w))}.${encodePart(claims(w))}`, pss(w.pem)),
  },

  // 4. Psychic signatures.
  {
    name: '4. ES256 with an all-zero signature and {kid} (CVE-2022-21449)',
    token: (w) => compact(header(w, { alg: 'ES256' }), claims(w), () => Buffer.alloc(64)),
  },

  // 5. Signatures removed or no longer matching.
  {
    name: '5. signature stripped (header.payload.)',
    token: (w) => `${genuine(w).split('.').slice(0, 2).join('.')}.`,
  },
  {
    name: '5. payload tampered with (isAdmin, sub), signature kept',
    token: (w) => {
      const [h, , s] = genuine(w).split('.');
      return `${h}.${encodePart(claims(w, { isAdmin: true, sub: 'admin', userId: 'admin' }))}.${s}`;
    },
  },
  {
    name: '5. payload tampered with (isAdmin, a policy allowing *; same sub), signature kept',
    token: (w) => {
      const [h, , s] = genuine(w).split('.');
      return `${h}.${encodePart(claims(w, { isAdmin: true, policy: { allow: ['*'] } }))}.${s}`;
    },
  },

  // 6. Whose key?
  {
    name: "6. signed by another RSA key, carrying the gateway's kid",
    token: (w) => compact(header(w, { kid: w.kid }), claims(w), rsa(w.attackerPem)),
  },
  {
    name: "6. signed by another RSA key, no kid",
    token: (w) => compact(header(w, { kid: undefined }), claims(w), rsa(w.attackerPem)),
  },
  {
    name: '6. an unknown kid (signed with the gateway key)',
    signers: GATEWAY_ONLY,
    token: (w) => genuine(w, {}, { kid: createHash('sha256').update('unknown').digest('base64url') }),
  },
  {
    name: '6. no kid (signed with the gateway key)',
    signers: GATEWAY_ONLY,
    token: (w) => genuine(w, {}, { kid: undefined }),
  },

  // 7. kid as an injection vector.
  {
    name: '7. kid "../../../../dev/null", HS256 with an empty secret',
    token: (w) => compact(header(w, { alg: 'HS256', kid: '../../../../dev/null' }), claims(w), hmac('')),
  },
  {
    name: "7. kid \"' OR 1=1 --\", signed by another key",
    token: (w) => compact(header(w, { kid: "' OR 1=1 --" }), claims(w), rsa(w.attackerPem)),
  },
  {
    name: '7. kid = the gateway kid followed by a NUL byte (signed with the gateway key)',
    signers: GATEWAY_ONLY,
    token: (w) => genuine(w, {}, { kid: `${w.kid}\u0000` }),
  },
  {
    name: '7. kid of 10 KB starting with the gateway kid (signed with the {signer} key)',
    token: (w) => genuine(w, {}, { kid: w.kid + 'A'.repeat(10 * 1024) }),
  },

  // 8. Keys and extensions from the token itself: never followed.
  {
    name: '8. jku pointing at 127.0.0.1 (signed with the {signer} key)',
    token: (w) => genuine(w, {}, { jku: 'http://127.0.0.1:9/.well-known/jwks.json' }),
  },
  {
    name: '8. jku pointing elsewhere (signed with the {signer} key)',
    token: (w) => genuine(w, {}, { jku: 'https://attacker.example/jwks.json' }),
  },
  {
    name: '8. x5u pointing at 127.0.0.1 (signed with the {signer} key)',
    token: (w) => genuine(w, {}, { x5u: 'http://127.0.0.1:9/cert.pem' }),
  },
  {
    name: '8. x5u pointing elsewhere (signed with the {signer} key)',
    token: (w) => genuine(w, {}, { x5u: 'https://attacker.example/cert.pem' }),
  },
  {
    name: "8. embedded jwk with the attacker's key, signed by the attacker",
    token: (w) =>
      compact(
        header(w, { jwk: createPublicKey(w.attackerPem).export({ format: 'jwk' }) }),
        claims(w),
        rsa(w.attackerPem),
      ),
  },
  {
    name: '8. embedded jwk (signed with the {signer} key)',
    token: (w) => genuine(w, {}, { jwk: { kty: 'RSA', n: 'AQAB', e: 'AQAB' } }),
  },
  {
    name: '8. embedded x5c (signed with the {signer} key)',
    token: (w) =>
      genuine(w, {}, {
        x5c: [createPublicKey(w.pem).export({ type: 'spki', format: 'der' }).toString('base64')],
      }),
  },
  {
    name: '8. embedded x5c that is no certificate at all (signed with the {signer} key)',
    token: (w) => genuine(w, {}, { x5c: ['MIIB'] }),
  },
  {
    name: '8. crit: ["exp"] (signed with the {signer} key)',
    token: (w) => genuine(w, {}, { crit: ['exp'] }),
  },

  // 9. Time, all signed with the signer's key.
  {
    name: '9. expired beyond the clock tolerance',
    code: 'token_expired',
    token: (w) => {
      const exp = w.now - w.tolerance - 1;
      return genuine(w, { iat: exp - 3600, nbf: exp - 3600, exp });
    },
  },
  {
    name: '9. nbf in the future beyond the clock tolerance',
    code: 'token_not_yet_valid',
    token: (w) => genuine(w, { nbf: w.now + w.tolerance + 1 }),
  },
  {
    name: '9. iat in the future beyond the clock tolerance (no nbf)',
    code: 'token_not_yet_valid',
    token: (w) => {
      const iat = w.now + w.tolerance + 1;
      return genuine(w, { iat, nbf: undefined, exp: iat + 3600 });
    },
  },
  { name: '9. exp missing', token: (w) => genuine(w, { exp: undefined }) },
  { name: '9. exp a string', token: (w) => genuine(w, { exp: String(w.now + 3600) }) },
  { name: '9. exp 1e20', token: (w) => genuine(w, { exp: 1e20 }) },
  { name: '9. exp null', token: (w) => genuine(w, { exp: null }) },
  { name: '9. iat missing', token: (w) => genuine(w, { iat: undefined }) },
  { name: '9. iat a string', token: (w) => genuine(w, { iat: String(w.now) }) },
  {
    name: '9. a lifetime one second over 48 h',
    token: (w) => genuine(w, { exp: w.now + 172_801 }),
  },

  // 10. Issuer and audience.
  {
    name: '10. wrong iss (taken for a customer token of no account)',
    token: (w) => genuine(w, { iss: 'https://evil.test' }),
  },
  { name: '10. iss with a trailing slash', token: (w) => genuine(w, { iss: `${w.iss}/` }) },
  { name: '10. iss missing', token: (w) => genuine(w, { iss: undefined }) },
  {
    name: "10. iss = an account's apiKey (customer token) but signed with the gateway key, account has no key",
    signers: GATEWAY_ONLY,
    token: (w) => genuine(w, { iss: w.acme.apiKey }),
  },
  {
    name: "10. iss = an account's apiKey (customer token) but signed with the gateway key, account has a key",
    signers: GATEWAY_ONLY,
    identifyApiKey: (w) => w.customer.apiKey,
    introspectAs: (w) => w.customer,
    token: (w) => genuine(w, { iss: w.customer.apiKey, aud: undefined }),
  },
  {
    name: "10. a customer's key signing a gateway token (iss = JWT_ISSUER, gateway kid)",
    signers: GATEWAY_ONLY,
    identifyApiKey: (w) => w.customer.apiKey,
    introspectAs: (w) => w.customer,
    token: (w) => compact(header(w), claims(w, { aud: w.customer.apiKey }), rsa(w.customerPem)),
  },
  {
    name: '10. wrong aud (an apiKey that names no account)',
    signers: GATEWAY_ONLY,
    token: (w) => genuine(w, { aud: w.unknownApiKey }),
  },
  { name: '10. aud missing', signers: GATEWAY_ONLY, token: (w) => genuine(w, { aud: undefined }) },
  {
    name: "10. aud an array holding the account's apiKey",
    signers: GATEWAY_ONLY,
    token: (w) => genuine(w, { aud: [w.acme.apiKey] }),
  },
  { name: '10. aud a number', token: (w) => genuine(w, { aud: 12345 }) },
  {
    name: "10. account A's token with account B's credentials",
    token: (w) => genuine(w),
    identifyApiKey: (w) => w.other.apiKey,
    identify: { status: 403, code: 'account_mismatch' },
    introspectAs: (w) => w.other,
    // Forward auth scoped to account B (contract §3.3) refuses A's token as token_invalid.
  },
  {
    name: '10. a token of an account that does not exist, checked for that apiKey',
    token: (w) => genuine(w, w.signer === 'gateway' ? { aud: w.unknownApiKey } : { iss: w.unknownApiKey }),
    identifyApiKey: (w) => w.unknownApiKey,
  },

  // 11. Structure.
  { name: '11. two segments', token: (w) => genuine(w).split('.').slice(0, 2).join('.') },
  { name: '11. four segments', token: (w) => `${genuine(w)}.${genuine(w).split('.')[2]}` },
  {
    name: '11. five segments (JWE shape)',
    token: (w) =>
      [
        encodePart(header(w, { alg: 'RSA-OAEP', enc: 'A256GCM' })),
        b64url(randomBytes(256)),
        b64url(randomBytes(12)),
        b64url(randomBytes(64)),
        b64url(randomBytes(16)),
      ].join('.'),
  },
  {
    name: '11. empty string; Bearer with nothing after it',
    token: () => '',
    // RFC 6749 §3.1: a parameter sent without a value is as if omitted, and a missing token is 400.
    introspect: { status: 400, code: 'invalid_argument' },
    forwardAuthorizations: ['Bearer', 'Bearer ', 'Bearer    ', 'bearer'],
    forward: 'token_missing',
  },
  {
    name: '11. base64 with = padding (signed with the {signer} key over the padded input)',
    token: (w) => {
      let h = header(w);
      // Make sure the header segment needs padding.
      for (let i = 0; encodePart(h).length % 4 === 0; i++) h = header(w, { typ: 'JWT', x: 'p'.repeat(i + 1) });
      return signInput(`${padBase64(encodePart(h))}.${padBase64(encodePart(claims(w)))}`, rsa(w.pem));
    },
  },
  {
    name: '11. base64 with + and / (signed with the {signer} key over that input)',
    token: (w) => {
      let payload = claims(w);
      for (let i = 0; !/[-_]/.test(encodePart(payload)); i++) payload = claims(w, { jti: `jti-${i}-??>>` });
      return signInput(toStandardBase64(`${encodePart(header(w))}.${encodePart(payload)}`), rsa(w.pem));
    },
  },
  {
    name: '11. the genuine token with its signature in standard base64 (+ and /)',
    token: (w) => {
      for (;;) {
        const [h, p, s] = genuine(w).split('.') as [string, string, string];
        if (/[-_]/.test(s)) return `${h}.${p}.${toStandardBase64(s)}`;
      }
    },
  },
  {
    name: '11. a header that is a JSON array (signed with the {signer} key)',
    token: (w) => compact([header(w)], claims(w), rsa(w.pem)),
  },
  {
    name: '11. a payload that is a JSON string (signed with the {signer} key)',
    token: (w) => compact(header(w), { raw: JSON.stringify(JSON.stringify(claims(w))) }, rsa(w.pem)),
  },

  // 12. Size and revocation.
  {
    name: '12. one character over 8 KiB (signed with the {signer} key)',
    token: (w) => genuineOfLength(w, 8 * 1024 + 1),
  },
  {
    name: '12. a 100 KB token (signed with the {signer} key)',
    token: (w) => genuine(w, { filler: 'x'.repeat(100 * 1024) }),
  },
  { name: '12. a revoked token', code: 'token_revoked', token: (w) => w.revoked },
  {
    name: '12. a revoked token re-encoded with other JSON spacing, re-signed by the {signer} key',
    code: 'token_revoked',
    token: (w) => signInput(respaced(w.revoked), rsa(w.pem)),
  },
  {
    name: '12. a revoked token whose jti is written with \\u escapes, re-signed by the {signer} key',
    code: 'token_revoked',
    token: (w) => {
      const [h, p] = w.revoked.split('.') as [string, string, string];
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as { jti: string };
      const escapedJti = [...payload.jti].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
      const json = JSON.stringify(payload).replace(JSON.stringify(payload.jti), `"${escapedJti}"`);
      return signInput(`${h}.${encodePart({ raw: json })}`, rsa(w.pem));
    },
  },
  { name: "12. a token of a user whose tokens were revoked", code: 'token_revoked', token: (w) => w.userRevoked },
  {
    name: "12. a token of an organization whose tokens were revoked",
    code: 'token_revoked',
    token: (w) => w.organizationRevoked,
  },
];

interface Control {
  name: string;
  signers?: SignerKind[];
  token: (w: World) => string;
  account?: (w: World) => TestAccount;
  /** The token's policy grants the permission authorize is asked about. */
  granted?: boolean;
}

/** Genuine tokens: each must pass every check, or the refusals above prove nothing. */
const CONTROLS: Control[] = [
  { name: 'a token the gateway issued', signers: GATEWAY_ONLY, token: (w) => w.issued! },
  { name: 'a token built by hand exactly as the {signer} signs', token: (w) => genuine(w) },
  { name: 'a token expired within the clock tolerance', token: (w) => genuine(w, { iat: w.now - 3600, nbf: w.now - 3600, exp: w.now - w.tolerance + 1 }) },
  { name: 'a token whose nbf and iat are ahead within the clock tolerance', token: (w) => genuine(w, { iat: w.now + w.tolerance, nbf: w.now + w.tolerance, exp: w.now + 3600 }) },
  { name: 'a token of exactly 8 KiB', token: (w) => genuineOfLength(w, 8 * 1024) },
  { name: 'a token with a 48 h lifetime', token: (w) => genuine(w, { exp: w.now + 172_800 }) },
  {
    name: `a token whose policy allows ${PERMISSION}`,
    granted: true,
    token: (w) => genuine(w, { policy: { allow: [PERMISSION], reject: [] } }),
  },
  {
    name: "a customer token signed with the account's uploaded key",
    signers: GATEWAY_ONLY,
    account: (w) => w.customer,
    token: (w) =>
      compact({ alg: 'RS256', typ: 'JWT' }, claims(w, { iss: w.customer.apiKey, aud: undefined }), rsa(w.customerPem)),
  },
  {
    // The kid is not used for a customer token: it is still verified with the account's key.
    name: "a customer token carrying the gateway's kid, signed with the account's key",
    signers: ['customer'],
    token: (w) => genuine(w, {}, { kid: w.kid }),
  },
];

// ---------------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------------

export interface Checks {
  identify(token: string, apiKey: string): Promise<request.Response>;
  introspect(token: string, caller: TestAccount): Promise<request.Response>;
  /** Forward auth scoped to `apiKey` (contract §3.3). */
  forward(authorization: string, apiKey: string): Promise<request.Response>;
  authorize(token: string, apiKey: string): Promise<request.Response>;
}

/**
 * A listening server whose header limit exceeds Node's 16 KiB default, so that a 100 KB token
 * in an Authorization header reaches the gateway's own check instead of Node's 431.
 */
export async function listen(gw: TestGateway): Promise<{ server: http.Server; checks: Checks }> {
  const server = http.createServer({ maxHeaderSize: 512 * 1024 }, gw.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const checks: Checks = {
    identify: (token, apiKey) =>
      request(url).post('/v1/auth/identify').send({ data: { apiKey, token, user: USER } }),
    introspect: (token, caller) =>
      request(url).post('/v1/auth/token/introspect').set('Authorization', basicAuth(caller)).type('form').send({ token }),
    forward: (authorization, apiKey) =>
      request(url).get(`/v1/auth/verify?apiKey=${encodeURIComponent(apiKey)}`).set('Authorization', authorization),
    authorize: (token, apiKey) =>
      request(url).post('/v1/auth/authorize').send({ data: { apiKey, token, permission: PERMISSION } }),
  };
  return { server, checks };
}

export const close = (server: http.Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

/** Bodies big enough for the 100 KB token, so it meets the token check and not the body limit. */
const GATEWAY_ENV = { BODY_LIMIT: '512kb' };

/** Identify's refusal; authorize's too (the token checks of §3.1 come first, with their codes). */
export function expectRefusedByIdentify(res: request.Response, expected: Refusal): void {
  expect({ status: res.status, code: res.body?.error?.code }).toEqual(expected);
  expect(res.body.result).toBeUndefined();
}

export function expectInactive(res: request.Response): void {
  expect(res.status).toBe(200);
  expect(res.text).toBe('{"active":false}');
}

export function expectRefusedByForwardAuth(res: request.Response, code: string): void {
  expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status: 401, code });
  const challenge = String(res.headers['www-authenticate'] ?? '');
  if (code === 'token_missing') {
    expect(challenge).toBe('Bearer realm="token-gateway"');
  } else {
    expect(challenge).toMatch(/^Bearer /);
    expect(challenge).toContain('error="invalid_token"');
    expect(challenge).toMatch(/^Bearer error="invalid_token", error_description="/);
  }
  expect(res.headers['x-auth-user-id']).toBeUndefined();
  expect(res.headers['x-auth-account']).toBeUndefined();
}

async function putSigningKey(gw: TestGateway, account: TestAccount, publicKey: string): Promise<void> {
  const upload = await request(gw.app)
    .put('/v1/account/signing-key')
    .set('Authorization', basicAuth(account))
    .send({ data: { publicKey } });
  expect(upload.status).toBe(200);
}

async function buildWorld(signer: SignerKind, kind: (typeof STORE_KINDS)[number]): Promise<World> {
  const gw = await buildTestGateway({ store: kind, env: GATEWAY_ENV });
  const acme = await gw.createAccount('Acme');
  const other = await gw.createAccount('Other');
  // The customer signer's tokens are acme's own: acme is the account with the uploaded key.
  const customer = signer === 'customer' ? acme : await gw.createAccount('Customer');
  const customerKeys = rsaKeyPairPem();
  await putSigningKey(gw, customer, customerKeys.publicKey);

  // The gateway's private key, as it sits in its keys folder.
  const pems = readdirSync(gw.keysDir).filter((f) => f.endsWith('.pem'));
  expect(pems).toHaveLength(1);
  const gatewayPem = readFileSync(path.join(gw.keysDir, pems[0]!), 'utf8');
  expect(gatewayPem).toBe(rsaPrivateKeyPem());
  const gatewayPublicPem = createPublicKey(gatewayPem).export({ type: 'spki', format: 'pem' }).toString();

  const w: World = {
    signer,
    gw,
    acme,
    other,
    customer,
    customerPem: customerKeys.privateKey,
    now: Math.floor(gw.clock.now() / 1000),
    tolerance: gw.config.clockToleranceSeconds,
    kid: gw.keyRing.signingKey().kid,
    gatewayPem,
    gatewayPublicPem,
    pem: signer === 'gateway' ? gatewayPem : customerKeys.privateKey,
    publicPem: signer === 'gateway' ? gatewayPublicPem : customerKeys.publicKey,
    iss: signer === 'gateway' ? ISSUER : acme.apiKey,
    attackerPem: rsaPrivateKeyPem('attacker'),
    revoked: '',
    userRevoked: '',
    organizationRevoked: '',
    unknownApiKey: `${acme.apiKey.slice(0, -4)}zzzz`,
  };
  expect(w.tolerance).toBe(5);

  // Tokens to revoke: issued by the gateway, or signed by the customer's key.
  const userProps = { userProperties: { organizationId: 'revoked-org', email: USER.email } };
  if (signer === 'gateway') {
    w.issued = (await gw.issue(acme)).token;
    w.revoked = (await gw.issue(acme)).token;
    w.userRevoked = (await gw.issue(acme, { userId: 'revoked-user' })).token;
    w.organizationRevoked = (await gw.issue(acme, userProps)).token;
  } else {
    w.revoked = genuine(w);
    w.userRevoked = genuine(w, { sub: 'revoked-user', userId: 'revoked-user' });
    w.organizationRevoked = genuine(w, { organizationId: 'revoked-org' });
  }
  // Each is good before its revocation, so that its refusal below is the revocation's doing.
  for (const token of [w.revoked, w.userRevoked, w.organizationRevoked]) {
    expect((await request(gw.app).post('/v1/auth/token/introspect').set('Authorization', basicAuth(acme)).type('form').send({ token })).body.active).toBe(true);
  }

  const revoke = await request(gw.app)
    .post('/v1/auth/token/revoke')
    .set('Authorization', basicAuth(acme))
    .type('form')
    .send({ token: w.revoked });
  expect(revoke.status).toBe(200);
  for (const [route, data] of [
    ['/v1/auth/users/revoke', { userId: 'revoked-user' }],
    ['/v1/auth/organizations/revoke', { organizationId: 'revoked-org' }],
  ] as const) {
    const res = await request(gw.app).post(route).set('Authorization', basicAuth(acme)).send({ data });
    expect(res.status).toBe(200);
  }
  return w;
}

const SIGNER_TITLES: Record<SignerKind, string> = {
  gateway: "tokens signed with the gateway's key",
  customer: "tokens signed with a customer's uploaded key (iss = its apiKey, no kid)",
};

const nameFor = (name: string, signer: SignerKind): string =>
  name
    .split('{signer}').join(signer)
    .split('{kid}').join(signer === 'gateway' ? 'the gateway kid' : 'no kid')
    .split('{sameKid}').join(signer === 'gateway' ? 'same kid' : 'no kid');

const forSigner = <T extends { name: string; signers?: SignerKind[] }>(rows: T[], signer: SignerKind): T[] =>
  rows
    .filter((row) => (row.signers ?? ['gateway', 'customer']).includes(signer))
    .map((row) => ({ ...row, name: nameFor(row.name, signer) }));

/** The whole table for one signer, on every store kind. */
export function describeAttackTable(signer: SignerKind): void {
  const cases = forSigner(CASES, signer);
  const controls = forSigner(CONTROLS, signer);

  describe.each(STORE_KINDS)(`attack table, ${SIGNER_TITLES[signer]}, on the %s store`, (kind) => {
    let w: World;
    let server: http.Server;
    let checks: Checks;

    beforeAll(async () => {
      w = await buildWorld(signer, kind);
      ({ server, checks } = await listen(w.gw));
    });

    afterAll(async () => {
      if (server) await close(server);
      await w?.gw.close();
    });

    describe.each(controls)('control: $name', (control) => {
      const accountOf = () => (control.account ? control.account(w) : w.acme);

      test('identify accepts it', async () => {
        const res = await checks.identify(control.token(w), accountOf().apiKey);
        expect(res.status).toBe(200);
        expect(res.body.result.data).toMatchObject({ userId: USER.userId, organizationId: USER.organizationId });
      });

      test('introspection says active', async () => {
        const res = await checks.introspect(control.token(w), accountOf());
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ active: true, client_id: accountOf().apiKey, sub: USER.userId });
      });

      test('forward auth answers 200 with the identity headers', async () => {
        const res = await checks.forward(`Bearer ${control.token(w)}`, accountOf().apiKey);
        expect(res.status).toBe(200);
        expect(res.headers['x-auth-user-id']).toBe(USER.userId);
        expect(res.headers['x-auth-account']).toBe(accountOf().apiKey);
      });

      test(
        control.granted
          ? 'authorize grants the permission its policy allows'
          : 'authorize gets past the token checks (no policy: 403 permission_denied)',
        async () => {
          const res = await checks.authorize(control.token(w), accountOf().apiKey);
          if (control.granted) {
            expect(res.status).toBe(200);
            expect(res.body.result.data).toEqual({ allowed: true });
          } else {
            expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status: 403, code: 'permission_denied' });
          }
        },
      );
    });

    describe.each(cases)('$name', (attack) => {
      const code = attack.code ?? 'token_invalid';
      const apiKeyOf = () => (attack.identifyApiKey ? attack.identifyApiKey(w) : w.acme.apiKey);

      test(`identify refuses it`, async () => {
        const res = await checks.identify(attack.token(w), apiKeyOf());
        expectRefusedByIdentify(res, attack.identify ?? { status: 401, code });
      });

      test(`introspection answers {"active":false}`, async () => {
        const caller = attack.introspectAs ? attack.introspectAs(w) : w.acme;
        const res = await checks.introspect(attack.token(w), caller);
        if (attack.introspect) {
          expect({ status: res.status, code: res.body?.code }).toEqual(attack.introspect);
          expect(res.body.active).toBeUndefined();
        } else {
          expectInactive(res);
        }
      });

      test(`forward auth refuses it`, async () => {
        const authorizations = attack.forwardAuthorizations ?? [
          `Bearer ${attack.token(w)}`,
        ];
        for (const authorization of authorizations) {
          expectRefusedByForwardAuth(await checks.forward(authorization, apiKeyOf()), attack.forward ?? code);
        }
      });

      test(`authorize refuses it with identify's code`, async () => {
        const res = await checks.authorize(attack.token(w), apiKeyOf());
        expectRefusedByIdentify(res, attack.identify ?? { status: 401, code });
      });
    });

    test('an oversized token is refused before any cryptography, on every check', async () => {
      const spy = jest.spyOn(jws, 'verifySignature');
      try {
        for (const token of [genuine(w, { filler: 'x'.repeat(100 * 1024) }), genuineOfLength(w, 8 * 1024 + 1)]) {
          expectRefusedByIdentify(await checks.identify(token, w.acme.apiKey), { status: 401, code: 'token_invalid' });
          expectInactive(await checks.introspect(token, w.acme));
          expectRefusedByForwardAuth(await checks.forward(`Bearer ${token}`, w.acme.apiKey), 'token_invalid');
          expectRefusedByIdentify(await checks.authorize(token, w.acme.apiKey), { status: 401, code: 'token_invalid' });
        }
        expect(spy).not.toHaveBeenCalled();
        // The spy does see the signature checks of a token within the limit.
        // A signature always changed: its first character replaced by a different one (a fixed
        // 'AA' ending was the real one about once in 256 tokens).
        const token = genuine(w, {}, { alg: 'RS256' });
        const signatureAt = token.lastIndexOf('.') + 1;
        const tampered = `${token.slice(0, signatureAt)}${token[signatureAt] === 'A' ? 'B' : 'A'}${token.slice(signatureAt + 1)}`;
        expect(tampered).not.toBe(token);
        expectInactive(await checks.introspect(tampered, w.acme));
        expect(spy).toHaveBeenCalled();
      } finally {
        spy.mockRestore();
      }
    });
  });
}
