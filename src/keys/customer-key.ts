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

/** Every BEGIN or END line of a PEM text, wherever it sits (labels as written). */
const PEM_MARKER = /-----(BEGIN|END) ([^\r\n]*?)-----/g;
/** A BEGIN line naming a private key, even one too mangled to be a marker (base64 has no '-'). */
const PRIVATE_BEGIN = /-\s*BEGIN[^\r\n]*PRIVATE/i;
const BASE64_BODY = /^[A-Za-z0-9+/=\s]*$/;
/** A label safe to repeat in a message: short, and only what PEM labels are made of. */
const PLAIN_LABEL = /^[A-Z0-9 ]{1,40}$/;

/**
 * The one PEM block of the input: exactly one BEGIN/END pair with the same label and only
 * whitespace around it. Every block is examined first, so that a private key anywhere in the
 * upload (a whole key file pasted, in either order) is refused as such, never skipped over.
 */
function singlePemBlock(input: string): { label: string; pem: string } {
  const markers = [...input.matchAll(PEM_MARKER)].map((m) => ({ kind: m[1]!, label: m[2]!, text: m[0] }));
  if (PRIVATE_BEGIN.test(input) || markers.some((m) => m.label.toUpperCase().includes('PRIVATE'))) {
    throw new CustomerKeyError('must be a public key, not a private key');
  }
  const begins = markers.filter((m) => m.kind === 'BEGIN').length;
  if (begins === 0) throw new CustomerKeyError('must be a PEM public key (-----BEGIN PUBLIC KEY-----)');
  if (begins > 1) throw new CustomerKeyError(`must hold exactly one PEM block, not ${begins}`);
  const [begin, end] = markers;
  if (markers.length !== 2 || begin!.kind !== 'BEGIN' || end!.kind !== 'END' || end!.label !== begin!.label) {
    throw new CustomerKeyError('is not a well-formed PEM block (one BEGIN line and its matching END line)');
  }
  const pem = input.trim();
  if (!pem.startsWith(begin!.text) || !pem.endsWith(end!.text)) {
    throw new CustomerKeyError('must be a single PEM block with only whitespace around it');
  }
  if (!BASE64_BODY.test(pem.slice(begin!.text.length, pem.length - end!.text.length))) {
    throw new CustomerKeyError('is not a readable PEM public key');
  }
  return { label: begin!.label, pem };
}

export function checkCustomerPublicKey(input: string): CustomerPublicKey {
  if (input.length > MAX_PUBLIC_KEY_PEM_LENGTH) throw new CustomerKeyError('is too long for a public key');
  const block = singlePemBlock(input);
  const label = block.label;
  if (label.includes('CERTIFICATE')) throw new CustomerKeyError('must be a public key, not a certificate');
  if (label !== 'PUBLIC KEY' && label !== 'RSA PUBLIC KEY') {
    throw new CustomerKeyError(
      PLAIN_LABEL.test(label) ? `must be an SPKI or PKCS#1 public key, not ${label}` : 'must be an SPKI or PKCS#1 public key',
    );
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: block.pem, format: 'pem' });
  } catch {
    throw new CustomerKeyError('is not a readable PEM public key');
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new CustomerKeyError(`must be an RSA key, not ${key.asymmetricKeyType ?? 'an unknown type'}`);
  }
  // node-rsa's import is the second reader: a key both parsers accept is a plain RSA public key.
  const rsa = new NodeRSA();
  try {
    rsa.importKey(block.pem, label === 'PUBLIC KEY' ? 'pkcs8-public-pem' : 'pkcs1-public-pem');
  } catch {
    throw new CustomerKeyError('is not a readable RSA public key');
  }
  const bits = rsa.getKeySize();
  if (bits < MIN_RSA_BITS) throw new CustomerKeyError(`must be at least ${MIN_RSA_BITS} bits, not ${bits}`);
  const pem = key.export({ type: 'spki', format: 'pem' }).toString();
  return { pem, bits, thumbprint: jwkThumbprint(key.export({ format: 'jwk' })) };
}
