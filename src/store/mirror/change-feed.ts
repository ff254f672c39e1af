/**
 * The change feed: hears every change announced on the store's channel, and is the one judge
 * of whether the mirror may answer (`mayServe`). The rules a reader checks are all here.
 *
 * Every change is stored, given the next version and announced by one script
 * (redis-store.ts), so versions have no holes unless a notice was lost. Every `pollMs` the
 * feed reads the current version V on its command connection, noting when it sent the read
 * (t0). Once it has heard every notice up to V, every change stored before t0 has reached the
 * mirror: the mirror is confirmed as of t0. The mirror answers only while its last confirmation
 * is younger than `staleAfterMs`; otherwise reads go to the store. So whatever went wrong (a
 * notice dropped in transit or on the cluster bus, a subscriber that lags or hangs, a
 * connection that drops), no answer from the mirror is older than `staleAfterMs`.
 *
 * A notice still missing `gapGraceMs` after a read named its version is taken as lost: the
 * mirror is emptied and restarts at the version just read (resync), as after a
 * (re)subscription. A version that went backwards (a store restarted without its data, or a
 * failover that lost writes) is a resync too.
 *
 * Cost: one GET per instance per `pollMs`, and each change delivered once to each instance:
 * linear in the number of instances (no instance hears any other's liveness).
 */
import type Redis from 'ioredis';
import type { Cluster } from 'ioredis';
import type { Change, ChangeNotice } from '../change';
import { closeOnPurpose } from '../redis-store';

type Connection = Redis | Cluster;

export interface ChangeFeedOptions {
  channel: string;
  /** The counter every change increments. */
  versionKey: string;
  /** How often the current version is read, ms. */
  pollMs?: number;
  /** The mirror stops answering when its last confirmation is this old, ms. */
  staleAfterMs?: number;
  /** How long a missing notice is waited for before the mirror is emptied instead, ms. */
  gapGraceMs?: number;
  now?: () => number;
}

export interface ChangeFeedStats {
  /** Times the mirror was emptied because a notice was missing or the subscription was new. */
  resyncs: number;
  notices: number;
}

export class ChangeFeed {
  readonly stats: ChangeFeedStats = { resyncs: 0, notices: 0 };
  private readonly pollMs: number;
  private readonly staleAfterMs: number;
  private readonly gapGraceMs: number;
  private readonly now: () => number;
  private subscribed = false;
  /** Set while the subscription is new or broken: the next version read restarts the mirror. */
  private needsResync = true;
  /** When the current subscription was confirmed; reads sent before it cannot restart the mirror. */
  private subscribedAt = Infinity;
  /** Every version up to this one has been heard (or covered by a resync). */
  private seen = 0;
  /** Versions heard above `seen`, waiting for the ones below them. */
  private readonly heard = new Set<number>();
  /**
   * The highest version known to exist, and since when (a version read, or a notice heard):
   * a version read later that is lower means the store lost writes.
   */
  private floor = { version: 0, since: -Infinity };
  /** Version reads whose notices have not all arrived yet, oldest first. */
  private pending: Array<{ version: number; sentAt: number }> = [];
  /** The send time of the newest version read whose notices had all arrived. */
  private confirmedAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly client: Connection,
    private readonly subscriber: Connection,
    private readonly handlers: { onChange(change: Change): void; onResync(): void },
    private readonly options: ChangeFeedOptions,
  ) {
    this.pollMs = options.pollMs ?? 100;
    this.staleAfterMs = options.staleAfterMs ?? 500;
    this.gapGraceMs = options.gapGraceMs ?? 250;
    this.now = options.now ?? Date.now;

    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === options.channel) this.onNotice(message);
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
    this.schedule(0);
  }

  /** True when the mirror may answer. Answering false is always safe: the read goes to the store. */
  mayServe(): boolean {
    return (
      this.subscribed &&
      !this.needsResync &&
      this.subscriber.status === 'ready' &&
      this.client.status === 'ready' &&
      this.now() - this.confirmedAt < this.staleAfterMs
    );
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    closeOnPurpose(this.subscriber);
    this.subscriber.disconnect();
  }

  private async subscribe(): Promise<void> {
    try {
      await this.subscriber.subscribe(this.options.channel);
      this.subscribed = true;
      this.needsResync = true;
      this.subscribedAt = this.now();
    } catch {
      this.subscribed = false;
      this.needsResync = true;
    }
  }

  /** One version read at a time: the next is scheduled when this one has answered. */
  private schedule(delayMs: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.poll(), delayMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    const sentAt = this.now();
    try {
      const version = Number((await this.client.get(this.options.versionKey)) ?? 0);
      if (!this.closed) this.onVersion(version, sentAt);
    } catch {
      // The store did not answer: no confirmation, and the mirror ages out of service.
    } finally {
      this.schedule(this.pollMs);
    }
  }

  private onVersion(version: number, sentAt: number): void {
    // (A notice may arrive before the read that names it: `seen` can be ahead of `version`.)
    if (version < this.floor.version && this.floor.since <= sentAt) this.needsResync = true;
    this.raiseFloor(version, sentAt);
    if (this.needsResync) {
      if (this.subscribed && sentAt >= this.subscribedAt) this.resync(version, sentAt);
      return;
    }
    if (version <= this.seen) {
      this.confirm(sentAt);
      return;
    }
    this.pending.push({ version, sentAt });
    if (this.now() - this.pending[0]!.sentAt >= this.gapGraceMs) this.resync(version, sentAt);
  }

  /** Empties the mirror and restarts it at `version`, read at `sentAt` on a live subscription. */
  private resync(version: number, sentAt: number): void {
    this.handlers.onResync();
    this.stats.resyncs += 1;
    this.seen = version;
    this.floor = { version, since: sentAt };
    for (const v of this.heard) if (v <= version) this.heard.delete(v);
    this.pending = [];
    this.advance();
    this.needsResync = false;
    this.confirm(sentAt);
  }

  private confirm(sentAt: number): void {
    if (sentAt > this.confirmedAt) this.confirmedAt = sentAt;
  }

  private onNotice(message: string): void {
    let notice: ChangeNotice;
    try {
      notice = JSON.parse(message) as ChangeNotice;
    } catch {
      return;
    }
    this.stats.notices += 1;
    // Forget first, whatever the version says: a version reused after a failover still names a change.
    this.handlers.onChange(notice);
    if (typeof notice.v !== 'number') return;
    this.raiseFloor(notice.v, this.now());
    if (notice.v <= this.seen) return;
    this.heard.add(notice.v);
    if (this.heard.size > 100_000) this.needsResync = true;
    this.advance();
  }

  private raiseFloor(version: number, since: number): void {
    if (version > this.floor.version) this.floor = { version, since };
  }

  /** Moves `seen` over every version heard in a row, and confirms the reads that covers. */
  private advance(): void {
    while (this.heard.delete(this.seen + 1)) this.seen += 1;
    while (this.pending.length > 0 && this.pending[0]!.version <= this.seen) this.confirm(this.pending.shift()!.sentAt);
  }
}
