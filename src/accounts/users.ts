/**
 * The user directory: what an account records about its users, checked at issuance
 * (contract §2 and §5).
 */
import type { Clock } from '../clock';
import { GatewayError, notFound } from '../errors';
import type { UserDirectory, UserEntry } from '../store';

export interface UserView {
  userId: string;
  organizationIds: string[];
  email?: string;
  updatedAt: string;
}

const view = (userId: string, entry: UserEntry): UserView => ({
  userId,
  organizationIds: entry.organizationIds,
  ...(entry.email === undefined ? {} : { email: entry.email }),
  updatedAt: entry.updatedAt,
});

export async function putUser(
  store: UserDirectory,
  clock: Clock,
  apiKey: string,
  userId: string,
  input: { organizationIds: string[]; email?: string },
): Promise<UserView> {
  const entry: UserEntry = {
    organizationIds: [...new Set(input.organizationIds)],
    ...(input.email === undefined ? {} : { email: input.email.toLowerCase() }),
    updatedAt: new Date(clock.now()).toISOString(),
  };
  await store.putUser(apiKey, userId, entry);
  return view(userId, entry);
}

export async function getUser(store: UserDirectory, apiKey: string, userId: string): Promise<UserView> {
  const entry = await store.getUser(apiKey, userId);
  if (!entry) throw notFound('No user directory entry has this userId.');
  return view(userId, entry);
}

export async function deleteUser(store: UserDirectory, apiKey: string, userId: string): Promise<void> {
  if (!(await store.deleteUser(apiKey, userId))) throw notFound('No user directory entry has this userId.');
}

/**
 * Issuance against the directory: with an entry for the user, the organization must be one
 * of theirs and a given email must be the recorded one. Without an entry, nothing to check.
 */
export function checkUserAgainstDirectory(
  entry: UserEntry | null,
  organizationId: string,
  email: string | undefined,
): void {
  if (!entry) return;
  if (!entry.organizationIds.includes(organizationId)) {
    throw new GatewayError('organization_mismatch', 'The user does not belong to this organization.');
  }
  if (email !== undefined && entry.email !== undefined && entry.email !== email.toLowerCase()) {
    throw new GatewayError('email_mismatch', 'The email does not match the one recorded for this user.');
  }
}
