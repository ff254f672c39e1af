/**
 * Customer signing keys (contract §6.1): the public half of an RSA key of 2048 bits or more,
 * as SPKI or PKCS#1 PEM. Anything else is refused with a reason the customer can act on.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { NodeRSA } from 'node-rsa';
import { MIN_RSA_BITS } from './generate';
import { jwkThumbprint } from './thumbprint';

export const MAX_PUBLIC_KEY_PEM_LENGTH = 16 * 1024;

export interface CustomerPublicKey {
  /** Normalized SPKI PEM, as stored. */
  pem: string;
  bits: number;
  /** RFC 7638 thumbprint, for the customer to check which key is on file. */
  thumbprint: string;
}

/** The reason is a phrase completing "data.publicKey …". */
export class CustomerKeyError extends Error {
  override readonly name = 'CustomerKeyError';
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/;

export function checkCustomerPublicKey(input: string): CustomerPublicKey {
  if (input.length > MAX_PUBLIC_KEY_PEM_LENGTH) throw new CustomerKeyError('is too long for a public key');
  const block = PEM_BLOCK.exec(input.trim());
  if (!block) throw new CustomerKeyError('must be a PEM public key (-----BEGIN PUBLIC KEY-----)');
  const label = block[1]!;
  if (label.includes('PRIVATE')) throw new CustomerKeyError('must be a public key, not a private key');
  if (label.includes('CERTIFICATE')) throw new CustomerKeyError('must be a public key, not a certificate');
  if (label !== 'PUBLIC KEY' && label !== 'RSA PUBLIC KEY') {
    throw new CustomerKeyError(`must be an SPKI or PKCS#1 public key, not ${label}`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: block[0], format: 'pem' });
  } catch {
    throw new CustomerKeyError('is not a readable PEM public key');
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new CustomerKeyError(`must be an RSA key, not ${key.asymmetricKeyType ?? 'an unknown type'}`);
  }
  // node-rsa's import is the second reader: a key both parsers accept is a plain RSA public key.
  const rsa = new NodeRSA();
  try {
    rsa.importKey(block[0], label === 'PUBLIC KEY' ? 'pkcs8-public-pem' : 'pkcs1-public-pem');
  } catch {
    throw new CustomerKeyError('is not a readable RSA public key');
  }
  const bits = rsa.getKeySize();
  if (bits < MIN_RSA_BITS) throw new CustomerKeyError(`must be at least ${MIN_RSA_BITS} bits, not ${bits}`);
  const pem = key.export({ type: 'spki', format: 'pem' }).toString();
  return { pem, bits, thumbprint: jwkThumbprint(key.export({ format: 'jwk' })) };
}
