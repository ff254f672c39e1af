/** Signing-key generation: RSA through node-rsa, EC and Ed25519 through Node's crypto, always as PEM text. */
import { generateKeyPairSync } from 'node:crypto';
import { NodeRSA } from 'node-rsa';
import type { SigningAlgorithm } from '../config';

export const DEFAULT_RSA_BITS = 3072;
export const MIN_RSA_BITS = 2048;

/**
 * A new private key as PKCS#8 PEM. PEM text, never a KeyObject straight from the generator:
 * exporting such a KeyObject (as jose does before it signs) can deadlock Node 20's GC.
 */
export function generatePrivateKeyPem(algorithm: SigningAlgorithm = 'RS256', rsaBits = DEFAULT_RSA_BITS): string {
  switch (algorithm) {
    case 'RS256': {
      if (!Number.isInteger(rsaBits) || rsaBits < MIN_RSA_BITS) {
        throw new Error(`RSA signing keys need at least ${MIN_RSA_BITS} bits.`);
      }
      return new NodeRSA({ b: rsaBits }).exportKey('pkcs8-private-pem');
    }
    case 'ES256':
      return generateKeyPairSync('ec', {
        namedCurve: 'P-256',
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      }).privateKey;
    case 'EdDSA':
      return generateKeyPairSync('ed25519', {
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      }).privateKey;
  }
}
