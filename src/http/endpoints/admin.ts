/** /v1/admin: accounts and their auth tokens, for the operator (contract §5). */
import type { Request, Response } from 'express';
import { z } from 'zod';
import {
  accountName,
  addAuthToken,
  createAccount,
  deleteAuthToken,
  listAuthTokens,
  requireAccountById,
} from '../../accounts';
import { auditEvents } from '../../audit';
import { ADMIN_ACTOR } from '../audit';
import { requireAdmin } from '../auth';
import type { HttpContext } from '../context';
import { noStore, sendResult } from '../respond';
import { envelope, isoTime, parseInput } from '../validate';

export const createAccountRequest = envelope({ name: accountName });

const adminAccount = z.object({ id: z.string(), name: z.string(), apiKey: z.string(), createdAt: isoTime });

/** The new account and its first authToken: the secret is shown this once. */
export const createdAccountData = z.object({ account: adminAccount, authTokenId: z.string(), authToken: z.string() });

export const addedAuthTokenData = z.object({ authTokenId: z.string(), authToken: z.string(), createdAt: isoTime });

export const authTokenListData = z.object({
  authTokens: z.array(z.object({ authTokenId: z.string(), createdAt: isoTime })),
});

export const deletedAuthTokenData = z.object({ authTokenId: z.string() });

const param = (req: Request, name: string): string => String(req.params[name] ?? '');

export function createAccountEndpoint(ctx: HttpContext) {
  return async (req: Request, res: Response): Promise<void> => {
    requireAdmin(ctx.config.adminToken, req);
    const { data } = parseInput(createAccountRequest, req.body);
    const created = await createAccount(ctx.store, ctx.clock, data.name);
    await ctx.audit.record(auditEvents.accountCreated(created.account, created.authTokenId, ADMIN_ACTOR));
    noStore(res);
    sendResult(res, 'Account created.', created satisfies z.output<typeof createdAccountData>, 201);
  };
}

export function addAuthTokenEndpoint(ctx: HttpContext) {
  return async (req: Request, res: Response): Promise<void> => {
    requireAdmin(ctx.config.adminToken, req);
    const account = await requireAccountById(ctx.store, param(req, 'accountId'));
    const issued = await addAuthToken(ctx.store, ctx.clock, account);
    await ctx.audit.record(auditEvents.authTokenAdded(account.id, issued.authTokenId, ADMIN_ACTOR));
    noStore(res);
    sendResult(res, 'Auth token created.', issued satisfies z.output<typeof addedAuthTokenData>, 201);
  };
}

export function listAuthTokensEndpoint(ctx: HttpContext) {
  return async (req: Request, res: Response): Promise<void> => {
    requireAdmin(ctx.config.adminToken, req);
    const account = await requireAccountById(ctx.store, param(req, 'accountId'));
    noStore(res);
    sendResult(res, 'Auth tokens listed.', {
      authTokens: await listAuthTokens(ctx.store, account),
    } satisfies z.output<typeof authTokenListData>);
  };
}

export function deleteAuthTokenEndpoint(ctx: HttpContext) {
  return async (req: Request, res: Response): Promise<void> => {
    requireAdmin(ctx.config.adminToken, req);
    const account = await requireAccountById(ctx.store, param(req, 'accountId'));
    const authTokenId = param(req, 'authTokenId');
    await deleteAuthToken(ctx.store, account, authTokenId);
    await ctx.audit.record(auditEvents.authTokenRemoved(account.id, authTokenId, ADMIN_ACTOR));
    noStore(res);
    sendResult(res, 'Auth token deleted.', { authTokenId } satisfies z.output<typeof deletedAuthTokenData>);
  };
}
