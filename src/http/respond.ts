import type { Response } from 'express';

/** The success envelope of contract §1. */
export function sendResult(res: Response, message: string, data: object, httpStatus = 200): void {
  res.status(httpStatus).json({ result: { status: 'success', message, data } });
}

/** For answers that carry credentials or token state: never cached (RFC 6749 §5.1). */
export function noStore(res: Response): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
}
