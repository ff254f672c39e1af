/** /v1/users/{userId}: the account's user directory (contract §5). */
import type { Request, Response } from 'express';
import { z } from 'zod';
import { deleteUser, getUser, identifierProblem, putUser } from '../../accounts';
import { invalidArgument } from '../../errors';
import { authenticateCaller } from '../auth';
import type { HttpContext } from '../context';
import { noStore, sendResult } from '../respond';
import { email, envelope, identifier, parseInput } from '../validate';

const MAX_ORGANIZATIONS = 1000;

const schema = envelope({
  organizationIds: z.array(identifier).min(1).max(MAX_ORGANIZATIONS),
  email: email.optional(),
});

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
    const { data } = parseInput(schema, req.body);
    const user = await putUser(ctx.store, ctx.clock, account.apiKey, userId, data);
    noStore(res);
    sendResult(res, 'User saved.', { user });
  };
}

export function getUserEndpoint(ctx: HttpContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const { account } = await authenticateCaller(ctx.store, req);
    const user = await getUser(ctx.store, account.apiKey, userIdParam(req));
    noStore(res);
    sendResult(res, 'User found.', { user });
  };
}

export function deleteUserEndpoint(ctx: HttpContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const { account } = await authenticateCaller(ctx.store, req);
    const userId = userIdParam(req);
    await deleteUser(ctx.store, account.apiKey, userId);
    noStore(res);
    sendResult(res, 'User deleted.', { userId });
  };
}
