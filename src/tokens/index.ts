export { issueToken, newTokenId, type IssueTokenRequest, type IssuedToken, type IssueTokenDeps } from './issue';
export { TokenVerifier, type TokenVerifierOptions, type VerifyOptions } from './verifier';
export { revokeToken, revokeUser, revokeOrganization, REVOCATION_EXPIRY_MARGIN_SECONDS, type RevocationDeps } from './revoke';
export { decodeToken, signToken, verifySignature, MAX_TOKEN_LENGTH, MalformedTokenError } from './jws';
export type { TokenClaims, VerifiedToken, TokenKind } from './claims';
export { DpopVerifier, JKT_PATTERN, DPOP_ALGORITHMS, MAX_PROOF_LENGTH, normalizedHtu, type ProofTarget } from './dpop';
