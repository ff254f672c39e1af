export { isGlobalAddress, webhookUrlProblem } from './address';
export { WEBHOOK_EVENT_TYPES, isWebhookEventType, payloadOf, type WebhookEventType, type WebhookPayload } from './events';
export { newWebhookSecret, signWebhook, type SignedHeaders } from './signing';
export { sendWebhook, systemResolver, type Resolver, type SendOutcome, type SendOptions, type OutgoingWebhook } from './send';
export {
  MAX_WEBHOOKS_PER_ACCOUNT,
  enqueueWebhookDeliveries,
  listWebhooks,
  registerWebhook,
  removeWebhook,
  webhookAttempts,
  webhookInput,
  webhookView,
  type RegisteredWebhook,
  type WebhookView,
} from './registry';
export { WebhookDispatcher, intervalScheduler, type DispatcherOptions, type Scheduler } from './dispatcher';
