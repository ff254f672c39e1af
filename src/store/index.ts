export type {
  AccountRecord,
  AccountStore,
  UserDirectory,
  TokenStore,
  AuthTokenRecord,
  GatewayStore,
  DpopStore,
  AuditBounds,
  AuditEventRecord,
  AuditLog,
  AuditPage,
  AuditQuery,
  KeySightingStore,
  RedisBacking,
  IssuanceContext,
  IssuedTokenRecord,
  TokenContext,
  TokenContextQuery,
  UserEntry,
  ClaimedDelivery,
  DeliveryAttempt,
  WebhookDelivery,
  WebhookRecord,
  WebhookStore,
} from './types';
export { MAX_DELIVERY_ATTEMPTS_KEPT, StoreUnavailableError } from './types';
export { MemoryStore } from './memory-store';
export {
  RedisStore,
  createRedisClient,
  createRedisClusterClient,
  createRedisSentinelClient,
  failFastRedisOptions,
  type DurabilityOptions,
  type RedisConnectionOptions,
} from './redis-store';
export { createStore, redisStore } from './create';
export { waitForStore } from './wait';
export { MirroredStore, type MirrorOptions, type MirrorStats } from './mirrored-store';
