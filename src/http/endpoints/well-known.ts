/** Discovery (contract §7): the JWKS and the RFC 8414 metadata, bare JSON, cacheable. */
import type { Request, Response } from 'express';
import type { HttpContext } from '../context';

export function jwksEndpoint(ctx: HttpContext) {
  return (req: Request, res: Response): void => {
    const { body, etag } = ctx.keyRing.jwks();
    res.setHeader('Cache-Control', `public, max-age=${ctx.config.jwksMaxAgeSeconds}`);
    res.setHeader('ETag', etag);
    const ifNoneMatch = req.headers['if-none-match'];
    if (ifNoneMatch && ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag)) {
      res.status(304).end();
      return;
    }
    res.type('application/json').send(body);
  };
}

/** Every URL is built from JWT_ISSUER, never from request headers. */
export function authorizationServerMetadata(issuer: string): Record<string, unknown> {
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
