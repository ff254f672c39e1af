import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * A JSON answer, written as it is. Express's res.json goes through res.send, which on every
 * answer parses and re-formats the Content-Type, looks its type up again and checks request
 * freshness for an ETag the gateway never sets; for a check that was a noticeable part of its
 * time (docs/BENCHMARKS.md). A HEAD request gets the headers alone (node:http drops the body).
 */
export function sendJson(res: ServerResponse, httpStatus: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.statusCode = httpStatus;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

/** The success envelope of contract §1. */
export function sendResult(res: ServerResponse, message: string, data: object, httpStatus = 200): void {
  sendJson(res, httpStatus, { result: { status: 'success', message, data } });
}

/** Whether the request's If-None-Match names `etag` (RFC 9110 §13.1.2, weak comparison). */
export function notModified(req: IncomingMessage, etag: string): boolean {
  const ifNoneMatch = req.headers['if-none-match'];
  return ifNoneMatch !== undefined && ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/** For answers that carry credentials or token state: never cached (RFC 6749 §5.1). */
export function noStore(res: ServerResponse): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
}
