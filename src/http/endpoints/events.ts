/**
 * The audit trail, read (contract §9): `GET /v1/admin/events` for the operator (every event,
 * or one account's) and `GET /v1/account/events` for an account (its own only). Newest first,
 * a page at a time; the cursor is the position of a page's last event, so pages stay stable
 * while new events arrive.
 */
import type { Request, Response } from 'express';
import { z } from 'zod';
import { AUDIT_EVENT_TYPES } from '../../audit';
import { invalidArgument } from '../../errors';
import type { AuditQuery } from '../../store';
import { authenticateCaller, requireAdmin } from '../auth';
import type { HttpContext } from '../context';
import { noStore, sendResult } from '../respond';
import { isoTime as isoTimestamp, parseInput } from '../validate';

const isoTime = z.iso.datetime({ offset: true }).transform((value) => Date.parse(value));

const filters = {
  type: z.enum(AUDIT_EVENT_TYPES).optional(),
  since: isoTime.optional(),
  until: isoTime.optional(),
  cursor: z.string().regex(/^\d{1,16}-\d{1,16}$/).optional(),
  limit: z
    .string()
    .regex(/^\d{1,3}$/)
    .transform(Number)
    .pipe(z.number().int().min(1).max(500))
    .optional(),
};

export const adminEventsQuery = z.object({ ...filters, accountId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional() });
export const accountEventsQuery = z.object(filters);

/** One event as the routes answer it: ids, names and times only, never a secret (contract §9). */
export const auditEvent = z.object({
  id: z.string(),
  time: isoTimestamp,
  type: z.enum(AUDIT_EVENT_TYPES),
  accountId: z.string().nullable(),
  actor: z.object({ kind: z.enum(['admin', 'authToken', 'cli']), id: z.string().nullable() }).nullable(),
  address: z.string().optional(),
  requestId: z.string().optional(),
  subject: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
});

export const eventPageData = z.object({ events: z.array(auditEvent), nextCursor: z.string().nullable() });

/** The query as given: every member once; a member the route does not take is refused. */
function readQuery<S extends z.ZodObject>(schema: S, req: Request): z.output<S> {
  const query = req.query as Record<string, unknown>;
  for (const [name, value] of Object.entries(query)) {
    if (Array.isArray(value)) throw invalidArgument(`${name} must be given once.`);
    if (!(name in schema.shape)) throw invalidArgument(`${name} is not a filter of this route.`);
  }
  return parseInput(schema, { ...query });
}

function toStoreQuery(filter: z.output<typeof adminEventsQuery>, accountId: string | undefined): AuditQuery {
  if (filter.since !== undefined && filter.until !== undefined && filter.since > filter.until) {
    throw invalidArgument('since must not be later than until.');
  }
  return {
    ...(accountId === undefined ? {} : { accountId }),
    ...(filter.type === undefined ? {} : { type: filter.type }),
    ...(filter.since === undefined ? {} : { sinceMs: filter.since }),
    ...(filter.until === undefined ? {} : { untilMs: filter.until }),
    ...(filter.cursor === undefined ? {} : { cursor: filter.cursor }),
    limit: filter.limit ?? 100,
  };
}

export function adminEventsEndpoint(ctx: HttpContext) {
  return async (req: Request, res: Response): Promise<void> => {
    requireAdmin(ctx.config.adminToken, req);
    const filter = readQuery(adminEventsQuery, req);
    const page = await ctx.audit.list(toStoreQuery(filter, filter.accountId));
    noStore(res);
    sendResult(res, 'Events listed.', page);
  };
}

export function accountEventsEndpoint(ctx: HttpContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const { account } = await authenticateCaller(ctx.store, req);
    const filter = readQuery(accountEventsQuery, req);
    const page = await ctx.audit.list(toStoreQuery(filter, account.id));
    noStore(res);
    sendResult(res, 'Events listed.', page);
  };
}
