/** GET /openapi.json (contract §9): the API description, public and cacheable. */
import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import { openApiJson } from '../openapi';
import { notModified } from '../respond';

/** The document changes only with a new release; the ETag lets a client revalidate for free. */
const MAX_AGE_SECONDS = 3600;

export function openApiEndpoint() {
  let cached: { body: string; etag: string } | undefined;
  return (req: Request, res: Response): void => {
    if (!cached) {
      const body = openApiJson();
      cached = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
    }
    res.setHeader('Cache-Control', `public, max-age=${MAX_AGE_SECONDS}`);
    res.setHeader('ETag', cached.etag);
    if (notModified(req, cached.etag)) {
      res.status(304).end();
      return;
    }
    res.type('application/json').send(cached.body);
  };
}
