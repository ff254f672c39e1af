import type { Request, Response } from 'express';

/** The success envelope of contract §1. */
export function sendResult(res: Response, message: string, data: object, httpStatus = 200): void {
  res.status(httpStatus).json({ result: { status: 'success', message, data } });
}

/** Whether the request's If-None-Match names `etag` (RFC 9110 §13.1.2, weak comparison). */
export function notModified(req: Request, etag: string): boolean {
  const ifNoneMatch = req.headers['if-none-match'];
  return ifNoneMatch !== undefined && ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/** For answers that carry credentials or token state: never cached (RFC 6749 §5.1). */
export function noStore(res: Response): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
}
