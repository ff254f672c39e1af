/**
 * Issuing a gateway token (contract §2): check the account's pair in constant time, check the
 * user against the account's directory, sign on the libuv pool while the record is written,
 * and return the token only once the record is stored.
 */
import { randomBytes } from 'node:crypto';
import { checkCredentials, checkUserAgainstDirectory } from '../accounts';
import { CREDENTIAL_PATTERN, } from '../accounts/secrets';
import { unixSeconds, type Clock } from '../clock';
import { invalidCredentials } from '../errors';
import type { KeyRing } from '../keys';
import type { Policy } from '../policy';
import type { GatewayStore } from '../store';
import { inSpan, type Tracer } from '../tracing';
import { signToken } from './jws';

export interface IssueTokenRequest {
  apiKey: string;
  authToken: string;
  userId: string;
  organizationId: string;
  email?: string;
  isAdmin?: boolean;
  policy?: Policy;
  /** Whole seconds; the configured default when absent. */
  expiresIn?: number;
  /** The RFC 7638 thumbprint of the user's key: the token is then bound to it (contract §10). */
  dpopJkt?: string;
}

export interface IssuedToken {
  token: string;
  tokenId: string;
  /** `DPoP` for a token bound to a key, else `Bearer`. */
  tokenType: 'Bearer' | 'DPoP';
  expiresIn: number;
  expiresAt: number;
  serverTime: number;
}

export interface IssueTokenDeps {
  store: GatewayStore;
  keyRing: KeyRing;
  clock: Clock;
  issuer: string;
  defaultLifetimeSeconds: number;
  /**
   * The issuance quota (contract §8): called once the credentials and the directory check
   * passed, before signing; throws rate_limited when the apiKey's quota is used up.
   */
  consumeQuota?: (apiKey: string) => Promise<void>;
  /** Spans for the store read, the signature and the record (src/tracing); none while tracing is off. */
  tracer?: Tracer;
}

/** 128 random bits, base64url. */
export const newTokenId = (): string => randomBytes(16).toString('base64url');

export async function issueToken(deps: IssueTokenDeps, request: IssueTokenRequest): Promise<IssuedToken> {
  if (!CREDENTIAL_PATTERN.test(request.apiKey)) {
    checkCredentials(null, request.authToken);
    throw invalidCredentials();
  }
  const { store, tracer } = deps;
  const context = await inSpan(tracer, 'store.get_issuance_context', (span) => {
    span?.setAttribute('token_gateway.store', store.kind);
    return store.getIssuanceContext(request.apiKey, request.userId);
  });
  const { account } = checkCredentials(context, request.authToken);
  checkUserAgainstDirectory(context?.user ?? null, request.organizationId, request.email);
  await deps.consumeQuota?.(account.apiKey);

  const key = deps.keyRing.signingKey();
  const iat = unixSeconds(deps.clock);
  const lifetime = request.expiresIn ?? deps.defaultLifetimeSeconds;
  const exp = iat + lifetime;
  const jti = newTokenId();
  const payload: Record<string, unknown> = {
    iss: deps.issuer,
    sub: request.userId,
    aud: account.apiKey,
    iat,
    nbf: iat,
    exp,
    jti,
    userId: request.userId,
    organizationId: request.organizationId,
    ...(request.email === undefined ? {} : { email: request.email.toLowerCase() }),
    isAdmin: request.isAdmin ?? false,
    ...(request.policy === undefined ? {} : { policy: request.policy }),
    ...(request.dpopJkt === undefined ? {} : { cnf: { jkt: request.dpopJkt } }),
  };
  const header = { alg: key.alg, typ: 'JWT', kid: key.kid };

  // Sign and record at once; if the record cannot be written, no token leaves.
  const [token] = await Promise.all([
    inSpan(tracer, 'token.sign', (span) => {
      span?.setAttributes({ 'token_gateway.alg': key.alg, 'token_gateway.kid': key.kid });
      return signToken(header, payload, key.alg, key.privateKey);
    }),
    inSpan(tracer, 'store.record_issued_token', (span) => {
      span?.setAttribute('token_gateway.store', store.kind);
      return store.recordIssuedToken({
        jti,
        apiKey: account.apiKey,
        userId: request.userId,
        organizationId: request.organizationId,
        iat,
        exp,
      });
    }),
  ]);
  return {
    token,
    tokenId: jti,
    tokenType: request.dpopJkt === undefined ? 'Bearer' : 'DPoP',
    expiresIn: lifetime,
    expiresAt: exp,
    serverTime: iat,
  };
}
