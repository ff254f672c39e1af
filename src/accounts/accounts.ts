/**
 * Accounts and their auth tokens: creation, rotation with overlap, and the credential check
 * every account-authenticated route goes through.
 */
import { z } from 'zod';
import type { Clock } from '../clock';
import { invalidCredentials, notFound } from '../errors';
import type { AccountRecord, AccountStore } from '../store';
import {
  CREDENTIAL_PATTERN,
  hashSecret,
  matchesAnyHash,
  matchingHashIndex,
  newAccountId,
  newApiKey,
  newAuthTokenId,
  newAuthTokenSecret,
} from './secrets';

export interface IssuedAuthToken {
  authTokenId: string;
  /** The secret: shown once, never stored. */
  authToken: string;
  createdAt: string;
}

export interface CreatedAccount {
  account: AccountRecord;
  authTokenId: string;
  authToken: string;
}

const isoNow = (clock: Clock): string => new Date(clock.now()).toISOString();

function newAuthToken(clock: Clock): { record: { id: string; hash: string; createdAt: string }; secret: string } {
  const secret = newAuthTokenSecret();
  return { record: { id: newAuthTokenId(), hash: hashSecret(secret), createdAt: isoNow(clock) }, secret };
}

/** An account name as the admin API and the CLI take it: trimmed, 1 to 200 characters. */
export const accountName = z.string().trim().min(1).max(200);

export async function createAccount(store: AccountStore, clock: Clock, name: string): Promise<CreatedAccount> {
  const account: AccountRecord = { id: newAccountId(), name, apiKey: newApiKey(), createdAt: isoNow(clock) };
  const { record, secret } = newAuthToken(clock);
  await store.createAccount(account, record);
  return { account, authTokenId: record.id, authToken: secret };
}

export async function requireAccountById(store: AccountStore, accountId: string): Promise<AccountRecord> {
  const account = await store.findAccountById(accountId);
  if (!account) throw notFound('No account has this id.');
  return account;
}

export async function addAuthToken(store: AccountStore, clock: Clock, account: AccountRecord): Promise<IssuedAuthToken> {
  const { record, secret } = newAuthToken(clock);
  await store.addAuthToken(account.apiKey, record);
  return { authTokenId: record.id, authToken: secret, createdAt: record.createdAt };
}

export async function listAuthTokens(
  store: AccountStore,
  account: AccountRecord,
): Promise<Array<{ authTokenId: string; createdAt: string }>> {
  const tokens = await store.listAuthTokens(account.apiKey);
  return tokens.map((t) => ({ authTokenId: t.id, createdAt: t.createdAt }));
}

export async function deleteAuthToken(store: AccountStore, account: AccountRecord, authTokenId: string): Promise<void> {
  if (!(await store.deleteAuthToken(account.apiKey, authTokenId))) throw notFound('No auth token has this id.');
}

/** An account caller: the account, and which of its auth tokens it presented (audit trail). */
export interface AuthenticatedAccount {
  account: AccountRecord;
  authTokenId: string;
}

/**
 * The account whose apiKey and authToken these are. Every failure (malformed, unknown apiKey,
 * wrong or deleted authToken, another account's authToken) is the same invalid_credentials,
 * and the comparison takes the same time whichever it was.
 */
export function checkCredentials(
  found: { account: AccountRecord; authTokens: ReadonlyArray<{ id: string; hash: string }> } | null,
  authToken: string,
): AuthenticatedAccount {
  const tokens = found ? found.authTokens : [];
  const index = matchingHashIndex(authToken, tokens.map((t) => t.hash));
  if (!found || index < 0) throw invalidCredentials();
  return { account: found.account, authTokenId: tokens[index]!.id };
}

export async function authenticateAccount(
  store: AccountStore,
  apiKey: string,
  authToken: string,
): Promise<AuthenticatedAccount> {
  if (!CREDENTIAL_PATTERN.test(apiKey) || !CREDENTIAL_PATTERN.test(authToken)) {
    matchesAnyHash(authToken, []);
    throw invalidCredentials();
  }
  return checkCredentials(await store.getCredentials(apiKey), authToken);
}
