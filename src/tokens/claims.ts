/** The claims of a checked token, normalized across gateway and customer tokens. */
import type { AccountRecord } from '../store';
import type { Policy } from '../policy';

export interface TokenClaims {
  iss: string;
  sub: string;
  /** The gateway token's apiKey audience; customer tokens may carry anything or nothing. */
  aud?: string | string[];
  iat: number;
  nbf?: number;
  exp: number;
  jti?: string;
  userId: string;
  organizationId?: string;
  email?: string;
  isAdmin: boolean;
  policy?: Policy;
  /** The key the token is bound to (RFC 9449 `cnf.jkt`; contract §10): a DPoP proof is needed. */
  cnf?: { jkt: string };
}

export type TokenKind = 'gateway' | 'customer';

export interface VerifiedToken {
  kind: TokenKind;
  /** The account the token belongs to: `aud` of a gateway token, `iss` of a customer token. */
  account: AccountRecord;
  claims: TokenClaims;
}
