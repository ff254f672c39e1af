/**
 * A change to what checks read, as the Redis store announces it and mirrors forget it: a whole
 * account (account, auth tokens, signing key), or one token, user or organization of it.
 */
export type Change =
  | { t: 'account'; k: string }
  | { t: 'jti'; k: string; j: string }
  | { t: 'user'; k: string; u: string }
  | { t: 'org'; k: string; o: string };

/** A change as published: with its version, one more than the change before it. */
export type ChangeNotice = Change & { v: number };
