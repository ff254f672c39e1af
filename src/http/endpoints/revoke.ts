/** Revocation (contract §4): one token (RFC 7009), a user, an organization. */
import type { Request, Response } from 'express';
import { z } from 'zod';
import { revokeOrganization, revokeToken, revokeUser } from '../../tokens';
import { auditEvents } from '../../audit';
import { callerActor } from '../audit';
import { authenticateCaller } from '../auth';
import type { HttpContext } from '../context';
import { noStore, sendResult } from '../respond';
import { envelope, identifier, parseInput, unixSeconds } from '../validate';
import { tokenFromBody } from './introspect';

export function revokeTokenEndpoint(ctx: HttpContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const caller = await authenticateCaller(ctx.store, req);
    res.locals.apiKey = caller.account.apiKey;
    const token = tokenFromBody(req.body);
    const result = await revokeToken(ctx.revocation, caller.account, token);
    res.locals.revocation = result.outcome;
    // An event only for a token of the caller's own account that this call revoked.
    if (result.outcome === 'revoked') {
      await ctx.audit.record(auditEvents.tokenRevoked(caller.account.id, result, callerActor(caller)));
    }
    // The same answer whatever happened, so it reveals nothing about the token (RFC 7009 §2.2).
    noStore(res);
    sendResult(res, 'Revocation processed.', {} satisfies z.output<typeof revokedTokenData>);
  };
}

/** RFC 7009 §2.2: the same answer whatever happened to the token. */
export const revokedTokenData = z.object({});

export const revokeUserRequest = envelope({ userId: identifier });
export const revokedUserData = z.object({ userId: z.string(), revokedBefore: unixSeconds });

export const revokeOrganizationRequest = envelope({ organizationId: identifier });
export const revokedOrganizationData = z.object({ organizationId: z.string(), revokedBefore: unixSeconds });

export function revokeUserEndpoint(ctx: HttpContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const caller = await authenticateCaller(ctx.store, req);
    const { data } = parseInput(revokeUserRequest, req.body);
    const revokedBefore = await revokeUser(ctx.revocation, caller.account, data.userId);
    await ctx.audit.record(auditEvents.userRevoked(caller.account.id, data.userId, revokedBefore, callerActor(caller)));
    noStore(res);
    sendResult(res, "The user's tokens are revoked.", {
      userId: data.userId,
      revokedBefore,
    } satisfies z.output<typeof revokedUserData>);
  };
}

export function revokeOrganizationEndpoint(ctx: HttpContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const caller = await authenticateCaller(ctx.store, req);
    const { data } = parseInput(revokeOrganizationRequest, req.body);
    const revokedBefore = await revokeOrganization(ctx.revocation, caller.account, data.organizationId);
    await ctx.audit.record(
      auditEvents.organizationRevoked(caller.account.id, data.organizationId, revokedBefore, callerActor(caller)),
    );
    noStore(res);
    sendResult(res, "The organization's tokens are revoked.", {
      organizationId: data.organizationId,
      revokedBefore,
    } satisfies z.output<typeof revokedOrganizationData>);
  };
}
