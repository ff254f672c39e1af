/**
 * DPoP proofs made by hand (RFC 9449 §4.2), so that every field can be set wrong on purpose.
 * Keys are generated as PEM and imported (a KeyObject straight from the generator can deadlock
 * Node 20's GC once exported to JWK).
 */
import { constants, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { jwkThumbprint } from '../../src/keys';

export type ProofAlg = 'ES256' | 'EdDSA' | 'RS256' | 'PS256';

export interface DpopKey {
  alg: ProofAlg;
  privateKey: KeyObject;
  jwk: JsonWebKey;
  jkt: string;
}

const PEM = { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } } as const;

export function dpopKey(alg: ProofAlg = 'ES256', rsaBits = 2048): DpopKey {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256', ...PEM })
      : alg === 'EdDSA'
        ? generateKeyPairSync('ed25519', PEM)
        : generateKeyPairSync('rsa', { modulusLength: rsaBits, ...PEM });
  const privateKey = createPrivateKey(pair.privateKey as unknown as string);
  const jwk = createPublicKey(pair.publicKey as unknown as string).export({ format: 'jwk' });
  return { alg, privateKey, jwk, jkt: jwkThumbprint(jwk) };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
export const tokenHash = (token: string) => createHash('sha256').update(token).digest('base64url');

export interface ProofFields {
  htm: string;
  htu: string;
  /** The token the proof goes with (its hash becomes `ath`). */
  token?: string;
  iat?: number;
  jti?: string;
  nonce?: string;
  /** Overrides of the header and payload, `undefined` removing a member. */
  header?: Record<string, unknown>;
  payload?: Record<string, unknown>;
}

export function makeProof(key: DpopKey, fields: ProofFields): string {
  const header: Record<string, unknown> = { typ: 'dpop+jwt', alg: key.alg, jwk: key.jwk, ...fields.header };
  const payload: Record<string, unknown> = {
    jti: fields.jti ?? randomUUID(),
    htm: fields.htm,
    htu: fields.htu,
    iat: fields.iat ?? Math.floor(Date.now() / 1000),
    ...(fields.token === undefined ? {} : { ath: tokenHash(fields.token) }),
    ...(fields.nonce === undefined ? {} : { nonce: fields.nonce }),
    ...fields.payload,
  };
  for (const [k, v] of Object.entries(fields.header ?? {})) if (v === undefined) delete header[k];
  for (const [k, v] of Object.entries(fields.payload ?? {})) if (v === undefined) delete payload[k];
  const input = `${b64(header)}.${b64(payload)}`;
  const data = Buffer.from(input);
  const alg = String(header.alg);
  const signature =
    alg === 'EdDSA'
      ? sign(null, data, key.privateKey)
      : alg === 'ES256'
        ? sign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' })
        : alg === 'PS256'
          ? sign('sha256', data, { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
          : alg === 'none'
            ? Buffer.alloc(0)
            : sign('sha256', data, key.privateKey);
  return `${input}.${signature.toString('base64url')}`;
}
