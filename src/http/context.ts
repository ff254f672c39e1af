/** What every endpoint may use: the domain services, built once in createApp. */
import type { AuditTrail } from '../audit';
import type { Clock } from '../clock';
import type { Config } from '../config';
import type { KeyRing } from '../keys';
import type { GatewayStore } from '../store';
import type { IssueTokenDeps, RevocationDeps, TokenVerifier } from '../tokens';
import type { Tracer } from '../tracing';

export interface Lifecycle {
  /** Set on SIGTERM: readiness fails and every answer carries `Connection: close`. */
  shuttingDown: boolean;
}

export interface HttpContext {
  config: Config;
  store: GatewayStore;
  keyRing: KeyRing;
  clock: Clock;
  verifier: TokenVerifier;
  issuance: IssueTokenDeps;
  revocation: RevocationDeps;
  lifecycle: Lifecycle;
  audit: AuditTrail;
  /** The tracer of the gateway's own spans; undefined while tracing is off. */
  tracer?: Tracer;
}
