/** token-gateway as a library: build the app, or use the domain directly. */
export { createApp, buildContext, type AppDeps, type GatewayApp } from './app';
export { startGateway, type RunningGateway } from './server';
export { loadConfig, ConfigError, type Config, type SigningAlgorithm } from './config';
export { GatewayError, ERROR_CODES, CANONICAL_HTTP_STATUS, type ErrorCode, type CanonicalStatus } from './errors';
export { systemClock, ManualClock, type Clock } from './clock';
export { KeyRing, ensureSigningKey, generatePrivateKeyPem, checkCustomerPublicKey } from './keys';
export { MemoryStore, RedisStore, createStore, StoreUnavailableError, type GatewayStore } from './store';
export { issueToken, TokenVerifier, type VerifiedToken, type TokenClaims } from './tokens';
export { isPermitted, type Policy } from './policy';
