/** RFC 7638 JWK thumbprints, the `kid` of every gateway key. */
import { createHash, type JsonWebKey } from 'node:crypto';

/** The required members of each key type, in the lexicographic order RFC 7638 §3.2 asks for. */
const REQUIRED_MEMBERS: Record<string, readonly string[]> = {
  RSA: ['e', 'kty', 'n'],
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
};

export function jwkThumbprint(jwk: JsonWebKey): string {
  const members = REQUIRED_MEMBERS[String(jwk.kty)];
  if (!members) throw new Error(`No thumbprint for key type ${String(jwk.kty)}.`);
  const canonical: Record<string, unknown> = {};
  for (const member of members) canonical[member] = (jwk as Record<string, unknown>)[member];
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url');
}
