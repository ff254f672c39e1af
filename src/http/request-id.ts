/** X-Request-Id on every answer and log line: the caller's when well-formed, else a new one. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

const WELL_FORMED = /^[A-Za-z0-9._-]{1,128}$/;

export function requestIdOf(req: IncomingMessage, res: ServerResponse): string {
  const existing = (req as IncomingMessage & { id?: unknown }).id;
  if (typeof existing === 'string') return existing;
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && WELL_FORMED.test(given) ? given : randomUUID();
  (req as IncomingMessage & { id?: string }).id = id;
  res.setHeader('X-Request-Id', id);
  return id;
}
