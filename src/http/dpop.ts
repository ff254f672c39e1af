/**
 * The request a DPoP proof must be for (contract §10), as the HTTP edge knows it: a browser
 * route's own request (`JWT_ISSUER` followed by its path: the gateway's public URL, never what
 * the request's Host says), or, for forward auth, the original request as the proxy describes
 * it in X-Forwarded-Method, -Proto, -Host and -Uri (each exactly once; every recipe overwrites
 * any copy the client sent).
 */
import type { IncomingMessage } from 'node:http';
import type { ProofTarget } from '../tokens';

/** The DPoP header's values, each one separately (a repeated header is refused by the check). */
export const proofsOf = (req: IncomingMessage): string[] => req.headersDistinct.dpop ?? [];

/** A browser route's own request. */
export function ownRequestTarget(req: IncomingMessage, issuer: string, path: string): ProofTarget {
  return { proofs: proofsOf(req), method: req.method ?? '', url: `${issuer}${path}` };
}

const FORWARDED = ['x-forwarded-method', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-uri'] as const;

/** Forward auth's original request, from the proxy's X-Forwarded-* headers. */
export function forwardedTarget(req: IncomingMessage): ProofTarget {
  const proofs = proofsOf(req);
  const values: string[] = [];
  for (const name of FORWARDED) {
    const given = req.headersDistinct[name] ?? [];
    if (given.length !== 1 || given[0] === '') {
      return { proofs, method: '', url: '', problem: `${name} must be given exactly once by the proxy.` };
    }
    values.push(given[0]!);
  }
  const [method, proto, host, uri] = values as [string, string, string, string];
  if (!/^https?$/i.test(proto) || !uri.startsWith('/')) {
    return { proofs, method: '', url: '', problem: 'x-forwarded-proto or x-forwarded-uri is not valid.' };
  }
  return { proofs, method, url: `${proto.toLowerCase()}://${host}${uri}` };
}
