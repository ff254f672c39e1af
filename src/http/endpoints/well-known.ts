/** Discovery (contract §7): the JWKS and the RFC 8414 metadata, bare JSON, cacheable. */
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { HttpContext } from '../context';
import { notModified } from '../respond';

const base64url = z.string().regex(/^[A-Za-z0-9_-]+$/);
const jwkCommon = { kid: z.string(), use: z.literal('sig') };

/** RFC 7517: every public key that may still verify a live gateway token (contract §7). */
export const jwksAnswer = z.object({
  keys: z.array(
    z.discriminatedUnion('kty', [
      z.object({ kty: z.literal('RSA'), alg: z.literal('RS256'), n: base64url, e: base64url, ...jwkCommon }),
      z.object({ kty: z.literal('EC'), alg: z.literal('ES256'), crv: z.literal('P-256'), x: base64url, y: base64url, ...jwkCommon }),
      z.object({ kty: z.literal('OKP'), alg: z.literal('EdDSA'), crv: z.literal('Ed25519'), x: base64url, ...jwkCommon }),
    ]),
  ),
});

const authMethods = z.array(z.enum(['client_secret_basic', 'client_secret_post']));

/** RFC 8414 metadata; every URL built from JWT_ISSUER. */
export const authorizationServerMetadataAnswer = z.object({
  issuer: z.string(),
  jwks_uri: z.url(),
  introspection_endpoint: z.url(),
  revocation_endpoint: z.url(),
  introspection_endpoint_auth_methods_supported: authMethods,
  revocation_endpoint_auth_methods_supported: authMethods,
  response_types_supported: z.array(z.string()).max(0),
  grant_types_supported: z.array(z.string()).max(0),
  token_endpoint_auth_methods_supported: authMethods,
});

export function jwksEndpoint(ctx: HttpContext) {
  return (req: Request, res: Response): void => {
    const { body, etag } = ctx.keyRing.jwks();
    res.setHeader('Cache-Control', `public, max-age=${ctx.config.jwksMaxAgeSeconds}`);
    res.setHeader('ETag', etag);
    if (notModified(req, etag)) {
      res.status(304).end();
      return;
    }
    res.type('application/json').send(body);
  };
}

/** Every URL is built from JWT_ISSUER, never from request headers. */
export function authorizationServerMetadata(issuer: string): z.output<typeof authorizationServerMetadataAnswer> {
  const base = issuer.replace(/\/+$/, '');
  return {
    issuer,
    jwks_uri: `${base}/.well-known/jwks.json`,
    introspection_endpoint: `${base}/v1/auth/token/introspect`,
    revocation_endpoint: `${base}/v1/auth/token/revoke`,
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    response_types_supported: [],
    grant_types_supported: [],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
  };
}

export function metadataEndpoint(ctx: HttpContext) {
  const body = JSON.stringify(authorizationServerMetadata(ctx.config.issuer));
  return (_req: Request, res: Response): void => {
    res.setHeader('Cache-Control', `public, max-age=${ctx.config.jwksMaxAgeSeconds}`);
    res.type('application/json').send(body);
  };
}
