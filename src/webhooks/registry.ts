/**
 * An account's webhook endpoints (contract §10): register (the secret is shown once), list,
 * remove, read the attempts; and the fan-out of an audit event into one queued delivery per
 * endpoint of its account that subscribed to its type.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { AuditEvent } from '../audit';
import type { Clock } from '../clock';
import { GatewayError, invalidArgument, notFound } from '../errors';
import type { DeliveryAttempt, WebhookDelivery, WebhookRecord, WebhookStore } from '../store';
import { webhookUrlProblem } from './address';
import { payloadOf, WEBHOOK_EVENT_TYPES, type WebhookEventType } from './events';
import { newWebhookSecret } from './signing';

export const MAX_WEBHOOKS_PER_ACCOUNT = 10;

/** A URL longer than this is refused (no receiver needs one). */
const MAX_URL_LENGTH = 2048;

/** What the API shows of an endpoint: everything but its secret. */
export interface WebhookView {
  id: string;
  url: string;
  events: WebhookEventType[];
  createdAt: string;
}

export const webhookView = (webhook: WebhookRecord): WebhookView => ({
  id: webhook.id,
  url: webhook.url,
  events: webhook.events as WebhookEventType[],
  createdAt: webhook.createdAt,
});

/** The request members of a registration, as the routes and the CLI validate them. */
export const webhookInput = {
  url: z.string().min(1).max(MAX_URL_LENGTH),
  events: z
    .array(z.enum(WEBHOOK_EVENT_TYPES as [WebhookEventType, ...WebhookEventType[]]))
    .min(1)
    .max(WEBHOOK_EVENT_TYPES.length),
};

export interface WebhookRegistryDeps {
  store: WebhookStore;
  clock: Clock;
  allowInsecure: boolean;
}

export interface RegisteredWebhook {
  webhook: WebhookView;
  /** `whsec_...`: shown this once. */
  secret: string;
}

export async function registerWebhook(
  deps: WebhookRegistryDeps,
  accountId: string,
  input: { url: string; events: WebhookEventType[] },
): Promise<RegisteredWebhook> {
  const problem = webhookUrlProblem(input.url, deps.allowInsecure);
  if (problem) throw invalidArgument(`data.url ${problem}.`);
  const record: WebhookRecord = {
    id: `wh_${randomBytes(12).toString('hex')}`,
    accountId,
    url: input.url,
    events: [...new Set(input.events)],
    secret: newWebhookSecret(),
    createdAt: new Date(deps.clock.now()).toISOString(),
  };
  if (!(await deps.store.addWebhook(record, MAX_WEBHOOKS_PER_ACCOUNT))) {
    throw new GatewayError(
      'failed_precondition',
      `The account has ${MAX_WEBHOOKS_PER_ACCOUNT} webhook endpoints already; delete one first.`,
    );
  }
  return { webhook: webhookView(record), secret: record.secret };
}

export async function listWebhooks(store: WebhookStore, accountId: string): Promise<WebhookView[]> {
  return (await store.listWebhooks(accountId)).map(webhookView);
}

export async function removeWebhook(store: WebhookStore, accountId: string, webhookId: string): Promise<void> {
  if (!(await store.deleteWebhook(accountId, webhookId))) throw notFound('The account has no such webhook.');
}

/** The endpoint's attempts, newest first; another account's endpoint is not found. */
export async function webhookAttempts(store: WebhookStore, accountId: string, webhookId: string): Promise<DeliveryAttempt[]> {
  if (!(await store.getWebhook(accountId, webhookId))) throw notFound('The account has no such webhook.');
  return store.listDeliveryAttempts(webhookId);
}

/**
 * Queues the event for every endpoint of its account that subscribed to its type, in one
 * write; nothing for an event without an account or of a type webhooks do not carry.
 * Resolves with how many deliveries were queued.
 */
export async function enqueueWebhookDeliveries(store: WebhookStore, event: AuditEvent): Promise<number> {
  const payload = payloadOf(event);
  if (!payload || event.accountId === null) return 0;
  const endpoints = (await store.listWebhooks(event.accountId)).filter((webhook) => webhook.events.includes(payload.type));
  if (endpoints.length === 0) return 0;
  const body = JSON.stringify(payload);
  const deliveries: WebhookDelivery[] = endpoints.map((webhook) => ({
    messageId: event.id,
    accountId: event.accountId!,
    webhookId: webhook.id,
    type: payload.type,
    body,
    attempt: 1,
  }));
  await store.enqueueDeliveries(deliveries);
  return deliveries.length;
}
