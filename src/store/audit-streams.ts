/**
 * The audit trail's streams, as both stores keep them (contract §9): one per account and one
 * for the operator that holds every event, each bounded by age and by count. A position in a
 * stream is `<ms>-<seq>` (Redis stream ids; the memory store makes the same), newest first on
 * reading; a page's cursor is the position of its last event, so pages stay stable while new
 * events arrive.
 */
import type { AuditBounds, AuditEventRecord, AuditPage, AuditQuery } from './types';

/** The operator's stream; an account's is `acc:<accountId>`. */
export const OPERATOR_STREAM = 'all';

export const accountStream = (accountId: string): string => `acc:${accountId}`;

/** The streams an event goes to: its account's, if it has one, and the operator's. */
export const streamsOf = (event: AuditEventRecord): string[] =>
  event.accountId === null ? [OPERATOR_STREAM] : [accountStream(event.accountId), OPERATOR_STREAM];

export const streamOf = (query: AuditQuery): string =>
  query.accountId === undefined ? OPERATOR_STREAM : accountStream(query.accountId);

/** A stream position as two numbers, or undefined when it is not one. */
export function parsePosition(position: string): [number, number] | undefined {
  const match = /^(\d{1,16})-(\d{1,16})$/.exec(position);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

/** At most this many entries are read for one page (a filter matching few events ends a page short). */
export const maxScanned = (limit: number): number => Math.max(1000, limit * 10);

/** An entry read from a stream, newest first. */
export interface StreamEntry {
  position: string;
  event: AuditEventRecord;
}

/**
 * Builds a page from entries read newest first: the events the query's filters and the age
 * bound keep, at most `limit` of them. `exhausted`: nothing older is left to read.
 */
export function pageOf(entries: StreamEntry[], query: AuditQuery, bounds: AuditBounds, exhausted: boolean): AuditPage {
  const oldest = bounds.nowMs - bounds.retentionMs;
  const events: AuditEventRecord[] = [];
  let last: string | undefined;
  for (let i = 0; i < entries.length; i += 1) {
    const entry = entries[i]!;
    const at = Date.parse(entry.event.time);
    last = entry.position;
    if (at < oldest || (query.sinceMs !== undefined && at < query.sinceMs)) continue;
    if (query.untilMs !== undefined && at > query.untilMs) continue;
    if (query.type !== undefined && entry.event.type !== query.type) continue;
    events.push(entry.event);
    if (events.length === query.limit) {
      // More may follow: the next page starts after this event.
      const more = !exhausted || i < entries.length - 1;
      return { events, nextCursor: more ? entry.position : null };
    }
  }
  return { events, nextCursor: exhausted || last === undefined ? null : last };
}
