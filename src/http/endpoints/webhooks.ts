/**
 * Webhook endpoints (contract §10): `/v1/account/webhooks` for the calling account, and the
 * same under `/v1/admin/accounts/{accountId}/webhooks` for the operator. The secret is in the
 * creation answer only.
 */
import type { Request, Response } from 'express';
import { z } from 'zod';
import { requireAccountById } from '../../accounts';
import {
  listWebhooks,
  registerWebhook,
  removeWebhook,
  WEBHOOK_EVENT_TYPES,
  webhookAttempts,
  webhookInput,
  type WebhookEventType,
} from '../../webhooks';
import { authenticateCaller, requireAdmin } from '../auth';
import type { HttpContext } from '../context';
import { noStore, sendResult } from '../respond';
import { envelope, parseInput } from '../validate';

const createSchema = envelope(webhookInput);
export const webhookRequest = createSchema;

// The answers, as the handlers write them (the OpenAPI document is made from these).
const webhookView = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENT_TYPES as [WebhookEventType, ...WebhookEventType[]])),
  createdAt: z.string(),
});
export const createdWebhookData = z.object({ webhook: webhookView, secret: z.string().regex(/^whsec_/) });
export const webhookListData = z.object({ webhooks: z.array(webhookView) });
export const removedWebhookData = z.object({ webhookId: z.string(), deleted: z.literal(true) });
export const deliveriesData = z.object({
  deliveries: z.array(
    z.object({
      eventId: z.string(),
      type: z.string(),
      time: z.string(),
      attempt: z.number().int(),
      status: z.number().int().optional(),
      error: z.enum(['timeout', 'connect_failed', 'blocked_address']).optional(),
      outcome: z.enum(['delivered', 'retrying', 'failed']),
      nextRetryAt: z.string().nullable(),
    }),
  ),
});

const param = (req: Request, name: string): string => String(req.params[name] ?? '');

/** Whose endpoints a request is about: the calling account's, or the one the operator names. */
type Owner = (ctx: HttpContext, req: Request) => Promise<string>;

const callerAccount: Owner = async (ctx, req) => (await authenticateCaller(ctx.store, req)).account.id;

const namedAccount: Owner = async (ctx, req) => {
  requireAdmin(ctx.config.adminToken, req);
  return (await requireAccountById(ctx.store, param(req, 'accountId'))).id;
};

function endpoints(owner: Owner) {
  return {
    create: (ctx: HttpContext) => async (req: Request, res: Response) => {
      const accountId = await owner(ctx, req);
      const { data } = parseInput(createSchema, req.body);
      const registered = await registerWebhook(
        { store: ctx.store, clock: ctx.clock, allowInsecure: ctx.config.webhooks.allowInsecure },
        accountId,
        data,
      );
      noStore(res);
      sendResult(res, 'Webhook created; keep the secret, it is not shown again.', registered, 201);
    },
    list: (ctx: HttpContext) => async (req: Request, res: Response) => {
      const accountId = await owner(ctx, req);
      noStore(res);
      sendResult(res, 'Webhooks listed.', { webhooks: await listWebhooks(ctx.store, accountId) });
    },
    remove: (ctx: HttpContext) => async (req: Request, res: Response) => {
      const accountId = await owner(ctx, req);
      const webhookId = param(req, 'webhookId');
      await removeWebhook(ctx.store, accountId, webhookId);
      noStore(res);
      sendResult(res, 'Webhook removed.', { webhookId, deleted: true });
    },
    deliveries: (ctx: HttpContext) => async (req: Request, res: Response) => {
      const accountId = await owner(ctx, req);
      const deliveries = await webhookAttempts(ctx.store, accountId, param(req, 'webhookId'));
      noStore(res);
      sendResult(res, 'Deliveries listed.', { deliveries });
    },
  };
}

export const accountWebhooks = endpoints(callerAccount);
export const adminWebhooks = endpoints(namedAccount);
