/**
 * The delivery worker, one per process: takes deliveries from the store's queue, signs and
 * sends them, records each attempt, and queues the retry on the schedule (with jitter) until
 * the schedule is spent, when the delivery is marked failed.
 *
 * - At least once: a delivery leaves the queue only after its attempt is recorded (and its
 *   retry queued, atomically with leaving). A process that dies holding one leaves it to
 *   another consumer, or to itself restarted, after `visibilityMs`. A receiver may so see a
 *   message twice: the `webhook-id` (the audit event's id) tells it.
 * - First attempts leave in event order per endpoint within a process: the deliveries of one
 *   claim are sent one endpoint after another in queue order, endpoints side by side.
 * - Time is a dependency: the clock dates attempts and retries, the scheduler runs `tick`;
 *   tests drive both.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock';
import type { ClaimedDelivery, DeliveryAttempt, WebhookStore } from '../store';
import { sendWebhook, type OutgoingWebhook, type SendOptions, type SendOutcome } from './send';
import { signWebhook } from './signing';

/** Calls `run` every `ms` until the returned function is called. */
export type Scheduler = (run: () => void, ms: number) => () => void;

export const intervalScheduler: Scheduler = (run, ms) => {
  const timer = setInterval(run, ms);
  timer.unref();
  return () => clearInterval(timer);
};

export interface DispatcherOptions {
  store: WebhookStore;
  clock: Clock;
  /** Delays between attempts, ms (WEBHOOK_RETRY_SCHEDULE); after the last one the delivery failed. */
  retryScheduleMs: number[];
  /** How long one attempt may take, ms. */
  timeoutMs: number;
  allowInsecure: boolean;
  /** How often the queue is polled, ms. */
  pollMs?: number;
  /** How many deliveries one tick takes. */
  batchSize?: number;
  /** A claimed delivery not settled for this long goes to another consumer, ms (default: twice the timeout plus 1 s). */
  visibilityMs?: number;
  scheduler?: Scheduler;
  /** 0 ≤ random() < 1, for the jitter. */
  random?: () => number;
  /** The network step (the real one by default; only the SSRF tests pass a resolver through it). */
  send?: (message: OutgoingWebhook, options: SendOptions) => Promise<SendOutcome>;
  resolve?: SendOptions['resolve'];
  /** A tick that failed (the store, mostly); the next tick tries again. */
  onError?: (error: unknown) => void;
  onAttempt?: (attempt: DeliveryAttempt & { webhookId: string }) => void;
}

/** Each delay is stretched or shrunk by up to this share, so that retries of many deliveries spread out. */
const JITTER = 0.2;

export class WebhookDispatcher {
  readonly consumer = `c_${randomBytes(8).toString('hex')}`;
  private readonly visibilityMs: number;
  private stopSchedule: (() => void) | undefined;
  private running: Promise<number> | undefined;

  constructor(private readonly options: DispatcherOptions) {
    this.visibilityMs = options.visibilityMs ?? options.timeoutMs * 2 + 1_000;
  }

  start(): void {
    if (this.stopSchedule) return;
    const scheduler = this.options.scheduler ?? intervalScheduler;
    this.stopSchedule = scheduler(() => void this.tick(), this.options.pollMs ?? 500);
  }

  /** Stops polling and waits for the tick in progress. */
  async stop(): Promise<void> {
    this.stopSchedule?.();
    this.stopSchedule = undefined;
    await this.running;
  }

  /** One round: claims what is due and sends it. Resolves with how many attempts were made. */
  tick(): Promise<number> {
    // One round at a time per process: a slow receiver does not pile rounds up.
    this.running ??= this.round().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async round(): Promise<number> {
    let claimed: ClaimedDelivery[];
    try {
      claimed = await this.options.store.claimDeliveries(
        this.consumer,
        this.options.batchSize ?? 50,
        this.options.clock.now(),
        this.visibilityMs,
      );
    } catch (error) {
      this.options.onError?.(error);
      return 0;
    }
    const byEndpoint = new Map<string, ClaimedDelivery[]>();
    for (const delivery of claimed) {
      const queue = byEndpoint.get(delivery.webhookId) ?? [];
      queue.push(delivery);
      byEndpoint.set(delivery.webhookId, queue);
    }
    const counts = await Promise.all(
      [...byEndpoint.values()].map(async (queue) => {
        let attempts = 0;
        for (const delivery of queue) {
          try {
            if (await this.deliver(delivery)) attempts += 1;
          } catch (error) {
            // Left unsettled: it comes back after the visibility time.
            this.options.onError?.(error);
          }
        }
        return attempts;
      }),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  /** False when there was nothing to send (the endpoint is gone or no longer takes the type). */
  private async deliver(delivery: ClaimedDelivery): Promise<boolean> {
    const { store, clock } = this.options;
    const webhook = await store.getWebhook(delivery.accountId, delivery.webhookId);
    if (!webhook || !webhook.events.includes(delivery.type)) {
      await store.settleDelivery(delivery);
      return false;
    }
    const sentAt = clock.now();
    const headers = signWebhook(webhook.secret, delivery.messageId, sentAt / 1000, delivery.body);
    const send = this.options.send ?? sendWebhook;
    const outcome = await send(
      { url: webhook.url, headers: { ...headers }, body: delivery.body },
      {
        allowInsecure: this.options.allowInsecure,
        timeoutMs: this.options.timeoutMs,
        ...(this.options.resolve ? { resolve: this.options.resolve } : {}),
      },
    );
    const delivered = 'status' in outcome && outcome.status >= 200 && outcome.status < 300;
    const delay = delivered ? undefined : this.options.retryScheduleMs[delivery.attempt - 1];
    const retryAt = delay === undefined ? undefined : clock.now() + this.jittered(delay);
    const attempt: DeliveryAttempt = {
      eventId: delivery.messageId,
      type: delivery.type,
      time: new Date(sentAt).toISOString(),
      attempt: delivery.attempt,
      ...outcome,
      outcome: delivered ? 'delivered' : retryAt === undefined ? 'failed' : 'retrying',
      nextRetryAt: retryAt === undefined ? null : new Date(retryAt).toISOString(),
    };
    await store.recordDeliveryAttempt(webhook.id, attempt);
    this.options.onAttempt?.({ ...attempt, webhookId: webhook.id });
    const { receipt: _receipt, ...plain } = delivery;
    await store.settleDelivery(
      delivery,
      retryAt === undefined ? undefined : { delivery: { ...plain, attempt: delivery.attempt + 1 }, dueAtMs: retryAt },
    );
    return true;
  }

  private jittered(delayMs: number): number {
    const random = this.options.random ?? Math.random;
    return Math.max(0, Math.round(delayMs * (1 - JITTER + 2 * JITTER * random())));
  }
}
