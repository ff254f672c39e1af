/**
 * What a webhook carries (contract §10): the event types an endpoint may subscribe to, and the
 * payload `{"type", "timestamp", "data"}` built from an audit event, with the members the
 * contract lists per type. Ids and times only: never a secret, a token or a key.
 */
import type { AuditEvent } from '../audit';

/** The data members each type carries, read from the audit event's subject. */
const DATA_MEMBERS = {
  'token.revoked': ['tokenId', 'userId'],
  'user.revoked': ['userId', 'revokedBefore'],
  'organization.revoked': ['organizationId', 'revokedBefore'],
  'auth_token.added': ['authTokenId'],
  'auth_token.removed': ['authTokenId'],
  // The key by its RFC 7638 thumbprint and size, as the audit trail holds it.
  'signing_key.set': ['thumbprint', 'bits'],
  'signing_key.removed': [],
} as const satisfies Record<string, readonly string[]>;

export type WebhookEventType = keyof typeof DATA_MEMBERS;

export const WEBHOOK_EVENT_TYPES = Object.keys(DATA_MEMBERS) as WebhookEventType[];

export const isWebhookEventType = (type: string): type is WebhookEventType => Object.hasOwn(DATA_MEMBERS, type);

export interface WebhookPayload {
  type: WebhookEventType;
  /** ISO 8601: when the event happened. */
  timestamp: string;
  data: Record<string, string | number | boolean>;
}

/** The payload for an audit event, or undefined when its type is not sent to webhooks. */
export function payloadOf(event: AuditEvent): WebhookPayload | undefined {
  if (!isWebhookEventType(event.type)) return undefined;
  const data: WebhookPayload['data'] = {};
  for (const member of DATA_MEMBERS[event.type]) {
    const value = event.subject[member];
    if (value !== undefined) data[member] = value;
  }
  return { type: event.type, timestamp: event.time, data };
}
