/**
 * POST /v1/auth/token/introspect (RFC 7662, contract §3.2). A token that is not live, or is
 * another account's, is exactly {"active": false}, whatever the reason; a store failure is a
 * 503, never an answer.
 */
import { z } from 'zod';
import { isGatewayError } from '../../errors';
import type { VerifiedToken } from '../../tokens';
import { authenticateCaller } from '../auth';
import type { HttpContext } from '../context';
import type { GatewayRequest, GatewayResponse } from '../exchange';
import { noStore, sendJson } from '../respond';
import { parseInput, policy, unixSeconds } from '../validate';

/**
 * The body of introspection and revocation (RFC 7662 §2.1, RFC 7009 §2.1), form or JSON;
 * `token` may also sit inside `data`. Other members (`scope`, ...) are ignored.
 */
export const tokenRequest = z.object({
  token: z.string().min(1),
  token_type_hint: z.string().optional(),
});

/** The `token` member of a form or JSON body (top level, or inside `data`). */
export function tokenFromBody(body: unknown): string {
  const b = (body ?? {}) as Record<string, unknown>;
  const data = (typeof b.data === 'object' && b.data !== null ? b.data : {}) as Record<string, unknown>;
  const token = b.token ?? data.token;
  // An empty token is a missing one.
  return parseInput(tokenRequest, { token: token === '' ? undefined : token }).token;
}

/** RFC 7662 §2.2: a live token of the caller's account. */
export const activeIntrospection = z.object({
  active: z.literal(true),
  /** `DPoP` for a token bound to a key (RFC 9449; contract §10). */
  token_type: z.enum(['Bearer', 'DPoP']),
  client_id: z.string(),
  sub: z.string(),
  iss: z.string(),
  aud: z.union([z.string(), z.array(z.string())]).optional(),
  iat: unixSeconds,
  nbf: unixSeconds.optional(),
  exp: unixSeconds,
  jti: z.string().optional(),
  userId: z.string(),
  organizationId: z.string().optional(),
  email: z.string().optional(),
  isAdmin: z.boolean(),
  policy: policy.optional(),
  cnf: z.object({ jkt: z.string() }).optional(),
});

/** Anything else, whatever the reason: exactly `{"active": false}`. */
export const inactiveIntrospection = z.object({ active: z.literal(false) });

export const introspectionAnswer = z.union([activeIntrospection, inactiveIntrospection]);

function activeResponse(verified: VerifiedToken): z.output<typeof activeIntrospection> {
  const c = verified.claims;
  const present = (name: string, value: unknown) => (value === undefined ? {} : { [name]: value });
  return {
    active: true,
    token_type: c.cnf === undefined ? 'Bearer' : 'DPoP',
    client_id: verified.account.apiKey,
    sub: c.sub,
    iss: c.iss,
    ...present('aud', c.aud),
    iat: c.iat,
    ...present('nbf', c.nbf),
    exp: c.exp,
    ...present('jti', c.jti),
    userId: c.userId,
    ...present('organizationId', c.organizationId),
    ...present('email', c.email),
    isAdmin: c.isAdmin,
    ...present('policy', c.policy),
    ...present('cnf', c.cnf),
  };
}

export function introspectEndpoint(ctx: HttpContext) {
  return async (req: GatewayRequest, res: GatewayResponse): Promise<void> => {
    const { account: caller } = await authenticateCaller(ctx.store, req);
    res.locals.apiKey = caller.apiKey;
    const token = tokenFromBody(req.body);
    let answer: z.output<typeof introspectionAnswer>;
    try {
      // Scoped to the caller: another account's token is inactive without a store read.
      const scope = new Set([caller.apiKey]);
      answer = activeResponse(await ctx.verifier.verify(token, { expectedApiKey: caller.apiKey, accountScope: scope }));
      res.locals.checkResult = 'active';
    } catch (error) {
      // A retryable failure (store down, lookup budget spent) is refused, never "inactive".
      if (!isGatewayError(error) || error.retryable) throw error;
      answer = { active: false };
      res.locals.checkResult = error.code;
    }
    noStore(res);
    sendJson(res, 200, answer);
  };
}
