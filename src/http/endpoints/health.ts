/** Liveness and readiness (contract §8). Bare JSON, never cached. */
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { HttpContext } from '../context';
import { sendJson } from '../respond';

export const healthAnswer = z.object({ status: z.literal('ok') });

export const readinessAnswer = z.object({
  status: z.enum(['ready', 'unavailable']),
  checks: z.object({ keys: z.boolean(), store: z.boolean(), shuttingDown: z.boolean() }),
});

export function healthzEndpoint() {
  return (_req: Request, res: Response): void => {
    res.setHeader('Cache-Control', 'no-store');
    sendJson(res, 200, { status: 'ok' } satisfies z.output<typeof healthAnswer>);
  };
}

/** Ready when not shutting down, a signing key is loaded and the store answers. */
export function readyzEndpoint(ctx: HttpContext) {
  return async (_req: Request, res: Response): Promise<void> => {
    let keys = true;
    try {
      ctx.keyRing.signingKey();
    } catch {
      keys = false;
    }
    let store = true;
    if (!ctx.lifecycle.shuttingDown) {
      try {
        await ctx.store.ping();
      } catch {
        store = false;
      }
    }
    const ready = keys && store && !ctx.lifecycle.shuttingDown;
    res.setHeader('Cache-Control', 'no-store');
    sendJson(res, ready ? 200 : 503, {
      status: ready ? 'ready' : 'unavailable',
      checks: { keys, store, shuttingDown: ctx.lifecycle.shuttingDown },
    } satisfies z.output<typeof readinessAnswer>);
  };
}
