/** /v1/account: the calling account itself and its customer signing key (contract §5, §6.1). */
import type { Request, Response } from 'express';
import { z } from 'zod';
import { invalidArgument, notFound } from '../../errors';
import { checkCustomerPublicKey, CustomerKeyError } from '../../keys';
import { auditEvents } from '../../audit';
import { callerActor } from '../audit';
import { authenticateCaller } from '../auth';
import type { HttpContext } from '../context';
import { noStore, sendResult } from '../respond';
import { envelope, isoTime, parseInput } from '../validate';

export const accountMeData = z.object({
  account: z.object({
    id: z.string(),
    name: z.string(),
    apiKey: z.string(),
    createdAt: isoTime,
    hasSigningKey: z.boolean(),
  }),
});

export function accountMeEndpoint(ctx: HttpContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const { account } = await authenticateCaller(ctx.store, req);
    const signingKey = await ctx.store.getSigningKey(account.apiKey);
    noStore(res);
    const { id, name, apiKey, createdAt } = account;
    sendResult(res, 'Account found.', {
      account: { id, name, apiKey, createdAt, hasSigningKey: signingKey !== null },
    } satisfies z.output<typeof accountMeData>);
  };
}

export const signingKeyRequest = envelope({ publicKey: z.string().min(1) });

export const signingKeySetData = z.object({
  hasSigningKey: z.literal(true),
  bits: z.number().int().min(2048),
  thumbprint: z.string(),
});

export const signingKeyRemovedData = z.object({ hasSigningKey: z.literal(false) });

export function putSigningKeyEndpoint(ctx: HttpContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const caller = await authenticateCaller(ctx.store, req);
    const { account } = caller;
    const { data } = parseInput(signingKeyRequest, req.body);
    let key;
    try {
      key = checkCustomerPublicKey(data.publicKey);
    } catch (error) {
      if (error instanceof CustomerKeyError) throw invalidArgument(`data.publicKey ${error.message}.`);
      throw error;
    }
    await ctx.store.setSigningKey(account.apiKey, key.pem);
    await ctx.audit.record(auditEvents.signingKeySet(account.id, key, callerActor(caller)));
    noStore(res);
    sendResult(res, 'Signing key saved.', {
      hasSigningKey: true,
      bits: key.bits,
      thumbprint: key.thumbprint,
    } satisfies z.output<typeof signingKeySetData>);
  };
}

export function deleteSigningKeyEndpoint(ctx: HttpContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const caller = await authenticateCaller(ctx.store, req);
    const { account } = caller;
    if (!(await ctx.store.deleteSigningKey(account.apiKey))) throw notFound('The account has no signing key.');
    await ctx.audit.record(auditEvents.signingKeyRemoved(account.id, callerActor(caller)));
    noStore(res);
    sendResult(res, 'Signing key removed.', { hasSigningKey: false } satisfies z.output<typeof signingKeyRemovedData>);
  };
}
