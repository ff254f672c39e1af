/** Signing keys for tests: generated once per worker as PEM (never a raw generator KeyObject). */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const cache = new Map<string, string>();

/** A PKCS#8 RSA private key PEM; the same one for a given label within a worker. */
export function rsaPrivateKeyPem(label = 'gateway', bits = 2048): string {
  const id = `${label}:${bits}`;
  let pem = cache.get(id);
  if (!pem) {
    pem = generateKeyPairSync('rsa', {
      modulusLength: bits,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    }).privateKey;
    cache.set(id, pem);
  }
  return pem;
}

/** An RSA key pair as PEM text (SPKI public, PKCS#8 private). */
export function rsaKeyPairPem(bits = 2048): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

/**
 * A temporary keys folder holding `pems`, each file dated `ageSeconds` ago (default a day,
 * so the key is past the JWKS cache lifetime and signs).
 */
export function makeKeysDir(pems: string[] = [rsaPrivateKeyPem()], ageSeconds = 86_400): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tg-keys-'));
  pems.forEach((pem, i) => {
    const file = path.join(dir, `key-${i}.pem`);
    writeFileSync(file, pem, { mode: 0o600 });
    const when = Date.now() / 1000 - ageSeconds + i;
    utimesSync(file, when, when);
  });
  return dir;
}
