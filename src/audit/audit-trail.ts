/**
 * The audit trail (contract §9): security events, kept in the store (a stream per account and
 * one for the operator, bounded by AUDIT_RETENTION_DAYS and AUDIT_MAX_EVENTS) and written as
 * JSON lines to the log, for an operator to ship.
 *
 * An event never carries a secret, a token or a key: its subject holds ids, names and times
 * only. Recording never fails the action it records: the action has happened by then, so a
 * store that cannot take the event is reported (the log line still carries it) and counted.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock';
import type { AuditBounds, AuditEventRecord, AuditLog, AuditPage, AuditQuery } from '../store';

export const AUDIT_EVENT_TYPES = [
  'account.created',
  'auth_token.added',
  'auth_token.removed',
  'signing_key.set',
  'signing_key.removed',
  'token.revoked',
  'user.revoked',
  'organization.revoked',
  'admin.auth_failed',
  'rate_limit.tripped',
] as const;

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

export type AuditActor = NonNullable<AuditEventRecord['actor']>;

export type AuditEvent = AuditEventRecord & { type: AuditEventType };

/** What the caller of `record` says; the trail adds the id and the time. */
export interface AuditInput {
  type: AuditEventType;
  accountId: string | null;
  actor: AuditActor | null;
  address?: string | undefined;
  requestId?: string | undefined;
  subject: AuditEventRecord['subject'];
}

export interface AuditTrailOptions {
  store: AuditLog;
  clock: Clock;
  retentionDays: number;
  maxEvents: number;
  /** Each event as it is recorded (the JSON-lines log stream). */
  onEvent?: (event: AuditEvent) => void;
  /** A store that could not keep an event. */
  onFailure?: (event: AuditEvent, error: unknown) => void;
  /**
   * Told of each event once it is stored (the webhooks queue theirs here), awaited in turn so
   * that what they do is done when `record` resolves. A failure goes to `onSubscriberFailure`.
   */
  subscribers?: ReadonlyArray<(event: AuditEvent) => Promise<unknown>>;
  onSubscriberFailure?: (event: AuditEvent, error: unknown) => void;
  /** The request being handled, for the address and request id an input does not give. */
  currentRequest?: () => { address?: string | undefined; requestId?: string | undefined } | undefined;
}

export class AuditTrail {
  constructor(private readonly options: AuditTrailOptions) {}

  private bounds(): AuditBounds {
    return {
      retentionMs: this.options.retentionDays * 86_400_000,
      maxEvents: this.options.maxEvents,
      nowMs: this.options.clock.now(),
    };
  }

  /** Records one event; resolves whether or not the store took it (see the module comment). */
  async record(input: AuditInput): Promise<AuditEvent> {
    const request = this.options.currentRequest?.();
    const address = input.address ?? request?.address;
    const requestId = input.requestId ?? request?.requestId;
    const event: AuditEvent = {
      id: `evt_${randomBytes(12).toString('base64url')}`,
      time: new Date(this.options.clock.now()).toISOString(),
      type: input.type,
      accountId: input.accountId,
      actor: input.actor,
      ...(address === undefined ? {} : { address }),
      ...(requestId === undefined ? {} : { requestId }),
      subject: input.subject,
    };
    this.options.onEvent?.(event);
    try {
      await this.options.store.appendAuditEvent(event, this.bounds());
    } catch (error) {
      this.options.onFailure?.(event, error);
    }
    for (const subscriber of this.options.subscribers ?? []) {
      try {
        await subscriber(event);
      } catch (error) {
        this.options.onSubscriberFailure?.(event, error);
      }
    }
    return event;
  }

  /** Newest first; a store failure is passed on (the caller answers 503). */
  list(query: AuditQuery): Promise<AuditPage> {
    return this.options.store.listAuditEvents(query, this.bounds());
  }
}
