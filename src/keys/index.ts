export {
  KeyRing,
  KeyLoadError,
  ensureSigningKey,
  keyFileName,
  nameTimeOf,
  parseSigningKey,
  type KeyEvent,
  type KeySightings,
  type RingKey,
  type KeyRingOptions,
  type Jwks,
} from './key-ring';
export { generatePrivateKeyPem, DEFAULT_RSA_BITS, MIN_RSA_BITS } from './generate';
export { jwkThumbprint } from './thumbprint';
export { checkCustomerPublicKey, CustomerKeyError, type CustomerPublicKey } from './customer-key';
