/**
 * The one token check behind identify, introspection, forward auth, revocation and authorize.
 *
 * In the contract's order, each with its own code:
 *   1. verifies (token_invalid): structure, header, algorithm pinned to the key, signature,
 *      required and well-typed claims, a lifetime within bounds, a known account;
 *   2. not before its nbf or a future iat beyond the tolerance (token_not_yet_valid);
 *   3. not expired beyond the tolerance (token_expired);
 *   4. belongs to the expected account, when one is expected (account_mismatch);
 *   5. not revoked by jti, user or organization (token_revoked).
 * Nothing here relies on a library's defaults: every claim is checked explicitly.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { isIdentifier } from '../accounts/identifiers';
import { CREDENTIAL_PATTERN } from '../accounts/secrets';
import type { Clock } from '../clock';
import { GatewayError } from '../errors';
import type { KeyRing, RingKey } from '../keys';
import { isPolicy, policyProblem } from '../policy';
import type { GatewayStore, TokenContext, TokenContextQuery } from '../store';
import { inSpan, type Span, type Tracer } from '../tracing';
import type { TokenClaims, TokenKind, VerifiedToken } from './claims';
import { decodeToken, MalformedTokenError, MAX_TOKEN_LENGTH, verifySignature, type DecodedToken } from './jws';
import { DpopVerifier, invalidProof, JKT_PATTERN, type ProofTarget } from './dpop';
import { IssuerAdmission } from './issuer-admission';
import { VerifiedTokenCache } from './verified-cache';

export interface TokenVerifierOptions {
  keyRing: KeyRing;
  store: GatewayStore;
  clock: Clock;
  /** JWT_ISSUER: a token with this `iss` is a gateway token, any other a customer token. */
  issuer: string;
  clockToleranceSeconds: number;
  /** The longest lifetime the gateway issues (exp - iat). */
  maxGatewayLifetimeSeconds: number;
  /** CUSTOMER_TOKEN_MAX_TTL. */
  customerMaxLifetimeSeconds: number;
  /** How many verified tokens to remember (0: none); see verified-cache.ts. */
  verifiedCacheSize?: number;
  /** UNKNOWN_ISSUER_READS_PER_SECOND; see issuer-admission.ts. */
  unknownIssuerReadsPerSecond?: number;
  /** DPOP_NONCES: bound tokens' proofs must carry a server nonce. */
  dpopNonces?: boolean;
  /** Spans for the check and its store read (src/tracing); none while tracing is off. */
  tracer?: Tracer;
}

export interface VerifyOptions {
  /** Identify and authorize name the account the token must belong to. */
  expectedApiKey?: string;
  /**
   * Forward auth (contract §3.3): the only accounts whose tokens are accepted. Checked on the
   * token's unverified `aud` (gateway token) or `iss` (customer token) before any signature
   * check or store read, so another account's token costs neither; it is token_invalid.
   */
  accountScope?: ReadonlySet<string>;
  /**
   * Identify, authorize and forward auth: the request a DPoP proof must be for. A token bound
   * to a key (`cnf.jkt`) is then accepted only with a valid proof (checked after revocation);
   * a proof sent with an unbound token is ignored. Introspection and revocation pass none: they
   * need no proof.
   */
  dpop?: {
    /** The request the proof must be for, read only when the token is bound (most are not). */
    target: () => ProofTarget;
    /** Forward auth's Authorization scheme: `DPoP` for a bound token, `Bearer` for another. */
    scheme?: 'Bearer' | 'DPoP';
  };
  /**
   * Revocation: a token whose nbf or iat is still ahead (issued by a clock ahead of this one)
   * is checked in every other way, so that revoking it takes effect once its time comes.
   */
  allowNotYetValid?: boolean;
}

const invalid = (message: string): GatewayError => new GatewayError('token_invalid', message);

const isNumericDate = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/** Claims that travel in the X-Auth-* headers of forward auth must be printable ASCII (contract §3.3). */
const isHeaderSafe = (value: string): boolean => /^[\x20-\x7E]*$/.test(value);

/** Parsed customer keys, by PEM text: a changed key is a different entry, so nothing goes stale. */
class PublicKeyCache {
  private readonly keys = new Map<string, KeyObject | null>();
  constructor(private readonly capacity = 1024) {}

  get(pem: string): KeyObject | null {
    const cached = this.keys.get(pem);
    if (cached !== undefined) return cached;
    let key: KeyObject | null;
    try {
      key = createPublicKey(pem);
      if (key.asymmetricKeyType !== 'rsa') key = null;
    } catch {
      key = null;
    }
    if (this.keys.size >= this.capacity) this.keys.delete(this.keys.keys().next().value as string);
    this.keys.set(pem, key);
    return key;
  }
}

/** What a signature check establishes: the token's kind and claims, and the account's context. */
interface SignedToken {
  kind: TokenKind;
  claims: TokenClaims;
  context: TokenContext;
  /** Taken from the verified-token cache, without a signature check. */
  cached: boolean;
}

export class TokenVerifier {
  private readonly customerKeys = new PublicKeyCache();
  private readonly verified: VerifiedTokenCache;
  private readonly issuers: IssuerAdmission;
  readonly dpop: DpopVerifier;

  constructor(private readonly options: TokenVerifierOptions) {
    this.verified = new VerifiedTokenCache(options.verifiedCacheSize ?? 10_000);
    this.issuers = new IssuerAdmission({
      store: options.store,
      clock: options.clock,
      readsPerSecond: options.unknownIssuerReadsPerSecond ?? 20,
    });
    this.dpop = new DpopVerifier({
      store: options.store,
      clock: options.clock,
      clockToleranceSeconds: options.clockToleranceSeconds,
      nonces: options.dpopNonces ?? false,
    });
  }

  verify(token: string, verifyOptions: VerifyOptions = {}): Promise<VerifiedToken> {
    return inSpan(this.options.tracer, 'token.verify', (span) => this.check(token, verifyOptions, span));
  }

  private async check(token: string, verifyOptions: VerifyOptions, span: Span | undefined): Promise<VerifiedToken> {
    // Before any cryptography, the digest of the cache included.
    if (token.length > MAX_TOKEN_LENGTH) throw invalid('The token is too long.');
    const { kind, claims, context, cached } = await this.checkSignature(token, verifyOptions.accountScope);
    span?.setAttributes({ 'token_gateway.token.kind': kind, 'token_gateway.verified_cache': cached ? 'hit' : 'miss' });
    this.checkTimes(claims, verifyOptions.allowNotYetValid === true);
    const account = context.account!;
    if (verifyOptions.expectedApiKey !== undefined && verifyOptions.expectedApiKey !== account.apiKey) {
      throw new GatewayError('account_mismatch', 'The token belongs to another account.');
    }
    if (isRevoked(claims, context)) throw new GatewayError('token_revoked', 'The token has been revoked.');
    const { dpop } = verifyOptions;
    if (dpop !== undefined) {
      if (claims.cnf !== undefined) {
        // A bound token sent as a Bearer token is refused like one without its proof (§10).
        if (dpop.scheme === 'Bearer') throw invalidProof('The token is bound to a key: send it as a DPoP token with a proof.');
        await this.dpop.check(token, claims.cnf.jkt, dpop.target());
      } else if (dpop.scheme === 'DPoP') {
        throw invalid('The token is not bound to a key: send it as a Bearer token.');
      }
    }
    return { kind, account, claims };
  }

  /**
   * Step 1 of the check (token_invalid): a token verified before is taken from the cache while
   * the very key that verified it would still be the one to verify it; any other is decoded,
   * its claims read and its signature checked, and cached once it has passed.
   */
  private async checkSignature(token: string, scope: ReadonlySet<string> | undefined): Promise<SignedToken> {
    const digest = VerifiedTokenCache.digest(token);
    const cached = this.verified.get(digest);
    if (cached) assertInScope(scope, cached.kind === 'gateway' ? cached.claims.aud : cached.claims.iss);
    if (cached?.kind === 'gateway' && this.options.keyRing.find(cached.kid!)?.publicKey === cached.key) {
      return { kind: 'gateway', claims: cached.claims, context: await this.gatewayContext(cached.claims), cached: true };
    }
    if (cached?.kind === 'customer') {
      const context = await this.customerContext(cached.claims);
      if (this.customerKey(context) === cached.key) return { kind: 'customer', claims: cached.claims, context, cached: true };
      // The account's key changed since: verify afresh against the current one.
    }

    let decoded: DecodedToken;
    try {
      decoded = decodeToken(token);
    } catch (error) {
      if (error instanceof MalformedTokenError) throw invalid(error.message);
      throw error;
    }
    const { payload } = decoded;
    if (typeof payload.iss !== 'string' || payload.iss.length === 0) throw invalid('The token has no issuer.');

    if (payload.iss === this.options.issuer) {
      assertInScope(scope, payload.aud);
      const key = this.checkGatewaySignature(token, decoded);
      const claims = this.readClaims(payload, this.options.maxGatewayLifetimeSeconds);
      if (typeof claims.aud !== 'string' || !CREDENTIAL_PATTERN.test(claims.aud)) {
        throw invalid('The token audience must be an apiKey.');
      }
      // Remembered before the store is read, so that checks of this token arriving meanwhile hit.
      this.verified.set(digest, { kind: 'gateway', kid: key.kid, key: key.publicKey, claims });
      return { kind: 'gateway', claims, context: await this.gatewayContext(claims), cached: false };
    }

    // A customer token: its issuer names the account, whose uploaded key alone may verify it.
    assertInScope(scope, payload.iss);
    if (decoded.header.alg !== 'RS256') throw invalid('Customer tokens must be signed with RS256.');
    if (!CREDENTIAL_PATTERN.test(payload.iss)) throw invalid('The token issuer is not a known account.');
    const claims = this.readClaims(payload, this.options.customerMaxLifetimeSeconds);
    // Before the account's context is read (and mirrored): only issuers that are accounts, and
    // a bounded number of reads a second for the ones not seen yet.
    await this.issuers.admit(claims.iss);
    const context = await this.customerContext(claims);
    const key = this.customerKey(context);
    if (!key) throw invalid('The token issuer has no signing key.');
    if (!verifySignature(token, 'RS256', key)) throw invalid('The token signature does not verify.');
    this.verified.set(digest, { kind: 'customer', kid: undefined, key, claims });
    return { kind: 'customer', claims, context, cached: false };
  }

  /** A gateway token's account is its audience. */
  private async gatewayContext(claims: TokenClaims): Promise<TokenContext> {
    const context = await this.readContext(contextQuery(claims.aud as string, claims, false));
    if (!context.account) throw invalid('The token audience is not a known account.');
    return context;
  }

  /** A customer token's account is its issuer; its context carries the uploaded key. */
  private async customerContext(claims: TokenClaims): Promise<TokenContext> {
    const context = await this.readContext(contextQuery(claims.iss, claims, true));
    if (!context.account) throw invalid('The token issuer is not a known account.');
    return context;
  }

  /** The one store read of a check (account, customer key, revocation marks). */
  private readContext(query: TokenContextQuery): Promise<TokenContext> {
    const { store, tracer } = this.options;
    return inSpan(tracer, 'store.get_token_context', (span) => {
      span?.setAttribute('token_gateway.store', store.kind);
      return store.getTokenContext(query);
    });
  }

  private customerKey(context: TokenContext): KeyObject | null {
    return context.signingKey === null ? null : this.customerKeys.get(context.signingKey);
  }

  /** The ring key the token's kid names, once the signature verifies under its algorithm. */
  private checkGatewaySignature(token: string, decoded: DecodedToken): RingKey {
    const { kid, alg } = decoded.header;
    if (typeof kid !== 'string') throw invalid('The token has no key id.');
    // The kid is only ever a key into the ring: never a path, a URL or a query.
    const key = this.options.keyRing.find(kid);
    if (!key) throw invalid('The token key id is not known.');
    if (alg !== key.alg) throw invalid('The token algorithm does not match its key.');
    if (!verifySignature(token, key.alg, key.publicKey)) throw invalid('The token signature does not verify.');
    return key;
  }

  /** Required, well-typed claims and a bounded lifetime; anything else is token_invalid. */
  private readClaims(payload: Record<string, unknown>, maxLifetimeSeconds: number): TokenClaims {
    const { iss, sub, aud, iat, nbf, exp, jti, organizationId, email, isAdmin, policy, cnf } = payload;
    if (!isNumericDate(exp)) throw invalid('The token exp claim is missing or not a number.');
    if (!isNumericDate(iat)) throw invalid('The token iat claim is missing or not a number.');
    if (nbf !== undefined && !isNumericDate(nbf)) throw invalid('The token nbf claim is not a number.');
    if (exp <= iat) throw invalid('The token expires before it was issued.');
    if (exp - iat > maxLifetimeSeconds) throw invalid('The token lifetime is longer than allowed.');
    if (!isIdentifier(sub)) throw invalid('The token sub claim is not a valid userId.');
    if (organizationId !== undefined && !isIdentifier(organizationId)) {
      throw invalid('The token organizationId claim is not valid.');
    }
    if (jti !== undefined && (typeof jti !== 'string' || jti.length === 0 || jti.length > 256 || !isHeaderSafe(jti))) {
      throw invalid('The token jti claim is not valid.');
    }
    if (email !== undefined && (typeof email !== 'string' || email.length > 320 || !isHeaderSafe(email))) {
      throw invalid('The token email claim is not valid.');
    }
    if (isAdmin !== undefined && typeof isAdmin !== 'boolean') throw invalid('The token isAdmin claim is not a boolean.');
    if (policy !== undefined && !isPolicy(policy)) {
      const problem = policyProblem(policy) ?? 'is not valid';
      throw invalid(`The token policy${problem.startsWith('.') ? '' : ' '}${problem}.`);
    }
    if (aud !== undefined && typeof aud !== 'string' && !(Array.isArray(aud) && aud.every((a) => typeof a === 'string'))) {
      throw invalid('The token aud claim is not valid.');
    }
    const jkt = typeof cnf === 'object' && cnf !== null ? (cnf as Record<string, unknown>).jkt : undefined;
    if (cnf !== undefined && (typeof jkt !== 'string' || !JKT_PATTERN.test(jkt))) {
      throw invalid('The token cnf claim must hold a jkt thumbprint.');
    }
    return {
      iss: iss as string,
      sub,
      ...(aud === undefined ? {} : { aud: aud as string | string[] }),
      iat,
      ...(nbf === undefined ? {} : { nbf }),
      exp,
      ...(jti === undefined ? {} : { jti }),
      userId: sub,
      ...(organizationId === undefined ? {} : { organizationId }),
      ...(email === undefined ? {} : { email: email.toLowerCase() }),
      isAdmin: isAdmin === true,
      ...(policy === undefined ? {} : { policy: policy as TokenClaims['policy'] & object }),
      ...(jkt === undefined ? {} : { cnf: { jkt: jkt as string } }),
    };
  }

  private checkTimes(claims: TokenClaims, allowNotYetValid = false): void {
    const now = this.options.clock.now() / 1000;
    const tolerance = this.options.clockToleranceSeconds;
    const early = (claims.nbf !== undefined && claims.nbf > now + tolerance) || claims.iat > now + tolerance;
    if (early && !allowNotYetValid) {
      throw new GatewayError('token_not_yet_valid', 'The token is not valid yet.');
    }
    if (now >= claims.exp + tolerance) throw new GatewayError('token_expired', 'The token has expired.');
  }
}

/** Forward auth's account scope, on the token's unverified account (contract §3.3). */
function assertInScope(scope: ReadonlySet<string> | undefined, apiKey: unknown): void {
  if (scope !== undefined && !(typeof apiKey === 'string' && scope.has(apiKey))) {
    throw invalid('The token belongs to another account.');
  }
}

function contextQuery(apiKey: string, claims: TokenClaims, withSigningKey: boolean) {
  return {
    apiKey,
    withSigningKey,
    userId: claims.userId,
    ...(claims.jti === undefined ? {} : { jti: claims.jti }),
    ...(claims.organizationId === undefined ? {} : { organizationId: claims.organizationId }),
  };
}

function isRevoked(claims: TokenClaims, context: TokenContext): boolean {
  if (context.tokenRevoked) return true;
  // Marks are whole seconds and cover every token issued in their second: a customer token's
  // fractional iat (RFC 7519 allows one) counts as the second it falls in.
  const issuedSecond = Math.floor(claims.iat);
  if (context.userRevokedBefore !== null && issuedSecond <= context.userRevokedBefore) return true;
  return (
    claims.organizationId !== undefined &&
    context.organizationRevokedBefore !== null &&
    issuedSecond <= context.organizationRevokedBefore
  );
}
