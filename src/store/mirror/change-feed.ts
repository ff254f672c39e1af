/**
 * The notice channel between instances, and the one judge of whether the mirror may answer.
 *
 * Every instance publishes its changes on one Redis pub/sub channel and hears everyone's. It
 * proves its own subscription alive with a heartbeat several times a second, which it must hear
 * back within `staleAfterMs`; a dropped, hung or reconnecting subscription takes the mirror out
 * of service until the subscription is back, and the mirror is emptied (resync) before it
 * answers again. A notice whose publication failed is sent again with the next heartbeat.
 */
import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import type { Cluster } from 'ioredis';
import type { Change } from './account-cache';

type Connection = Redis | Cluster;

type Notice = Change | { t: 'hb'; i: string };

export interface ChangeFeedOptions {
  channel?: string;
  /** How often this instance proves its subscription alive, ms. */
  heartbeatMs?: number;
  /** A subscription not heard from for this long is taken as lost, ms. */
  staleAfterMs?: number;
  now?: () => number;
}

export class ChangeFeed {
  private readonly instanceId = randomBytes(8).toString('hex');
  private readonly channel: string;
  private readonly staleAfterMs: number;
  private readonly now: () => number;
  /** Notices whose publication failed, sent again with the next heartbeat. */
  private unsent: Change[] = [];
  private subscribed = false;
  private lastHeartbeatHeard = 0;
  /** Set whenever a notice may have been missed; cleared by a resync. */
  private needsResync = true;
  private readonly heartbeatTimer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly publisher: Connection,
    private readonly subscriber: Connection,
    private readonly handlers: { onChange(change: Change): void; onResync(): void },
    options: ChangeFeedOptions = {},
  ) {
    this.channel = options.channel ?? 'tg:mirror';
    this.staleAfterMs = options.staleAfterMs ?? 500;
    this.now = options.now ?? Date.now;

    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.onNotice(message);
    });
    const lost = () => {
      this.subscribed = false;
      this.needsResync = true;
    };
    this.subscriber.on('close', lost);
    this.subscriber.on('end', lost);
    this.subscriber.on('error', () => undefined);
    this.subscriber.on('ready', () => void this.subscribe());
    if (this.subscriber.status === 'ready') void this.subscribe();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), options.heartbeatMs ?? 150);
    this.heartbeatTimer.unref();
  }

  /**
   * True when the mirror may answer: subscribed, heard from recently, and emptied since any gap.
   * Answering false is always safe: the read goes to the store.
   */
  mayServe(): boolean {
    // A connection that dropped is known at once; a silent one, by the missing heartbeat.
    const alive =
      this.subscribed &&
      this.subscriber.status === 'ready' &&
      this.publisher.status === 'ready' &&
      this.now() - this.lastHeartbeatHeard < this.staleAfterMs;
    if (!alive) {
      this.needsResync = true;
      return false;
    }
    if (this.needsResync) {
      this.handlers.onResync();
      this.needsResync = false;
    }
    return true;
  }

  /** Tells the others of a change already stored; rejects (and retries later) when it cannot. */
  async announce(change: Change): Promise<void> {
    try {
      await this.send(change);
    } catch (error) {
      // The write is stored but the others were not told: tell them as soon as Redis answers.
      if (this.unsent.length < 10_000) this.unsent.push(change);
      throw error;
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.heartbeatTimer);
    this.subscriber.disconnect();
  }

  private async subscribe(): Promise<void> {
    try {
      await this.subscriber.subscribe(this.channel);
      this.subscribed = true;
      await this.heartbeat();
    } catch {
      this.subscribed = false;
      this.needsResync = true;
    }
  }

  private async heartbeat(): Promise<void> {
    if (this.closed) return;
    try {
      while (this.unsent.length > 0) {
        await this.send(this.unsent[0]!);
        this.unsent.shift();
      }
      await this.send({ t: 'hb', i: this.instanceId });
    } catch {
      // Redis unreachable: the missing heartbeat takes the mirror out of service.
    }
  }

  private send(notice: Notice): Promise<number> {
    return this.publisher.publish(this.channel, JSON.stringify(notice));
  }

  private onNotice(message: string): void {
    let notice: Notice;
    try {
      notice = JSON.parse(message) as Notice;
    } catch {
      return;
    }
    if (notice.t === 'hb') {
      if (notice.i === this.instanceId) this.lastHeartbeatHeard = this.now();
      return;
    }
    this.handlers.onChange(notice);
  }
}
