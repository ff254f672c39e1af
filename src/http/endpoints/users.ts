/** /v1/users/{userId}: the account's user directory (contract §5). */
import type { Request, Response } from 'express';
import { z } from 'zod';
import { deleteUser, getUser, identifierProblem, putUser } from '../../accounts';
import { invalidArgument } from '../../errors';
import { authenticateCaller } from '../auth';
import type { HttpContext } from '../context';
import { noStore, sendResult } from '../respond';
import { email, envelope, identifier, isoTime, parseInput } from '../validate';

const MAX_ORGANIZATIONS = 1000;

export const putUserRequest = envelope({
  organizationIds: z.array(identifier).min(1).max(MAX_ORGANIZATIONS),
  email: email.optional(),
});

/** A user directory entry; `email` lower-cased. */
export const userData = z.object({
  user: z.object({
    userId: z.string(),
    organizationIds: z.array(z.string()),
    email: z.string().optional(),
    updatedAt: isoTime,
  }),
});

export const deletedUserData = z.object({ userId: z.string() });

function userIdParam(req: Request): string {
  const userId = String(req.params.userId ?? '');
  const problem = identifierProblem(userId);
  if (problem) throw invalidArgument(`userId ${problem}.`);
  return userId;
}

export function putUserEndpoint(ctx: HttpContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const { account } = await authenticateCaller(ctx.store, req);
    const userId = userIdParam(req);
    const { data } = parseInput(putUserRequest, req.body);
    const user = await putUser(ctx.store, ctx.clock, account.apiKey, userId, data);
    noStore(res);
    sendResult(res, 'User saved.', { user } satisfies z.output<typeof userData>);
  };
}

export function getUserEndpoint(ctx: HttpContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const { account } = await authenticateCaller(ctx.store, req);
    const user = await getUser(ctx.store, account.apiKey, userIdParam(req));
    noStore(res);
    sendResult(res, 'User found.', { user } satisfies z.output<typeof userData>);
  };
}

export function deleteUserEndpoint(ctx: HttpContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const { account } = await authenticateCaller(ctx.store, req);
    const userId = userIdParam(req);
    await deleteUser(ctx.store, account.apiKey, userId);
    noStore(res);
    sendResult(res, 'User deleted.', { userId } satisfies z.output<typeof deletedUserData>);
  };
}
