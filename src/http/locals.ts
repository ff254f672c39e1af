/**
 * What the layers of a request tell each other through `res.locals`, typed in one place: the
 * route table and the endpoints write it; the error writer, the metrics and the request log
 * read it. Nothing else goes there.
 */
import type { ErrorStyle } from './errors';

export interface GatewayLocals {
  /** The route pattern that matched (metrics and log labels); unset for no route. */
  route?: string;
  /** OAuth endpoints answer failures as RFC 6749 §5.2 says. */
  errorStyle?: ErrorStyle;
  /** The route takes account or admin credentials: a failed check counts against the limits. */
  credentialRoute?: boolean;
  /** The calling account's apiKey, once known. */
  apiKey?: string;
  /** A token check's result for the metrics: `active`, or the refusal's code. */
  checkResult?: string;
  /** What a token revocation did (RFC 7009 answers 200 either way). */
  revocation?: 'revoked' | 'ignored';
  /** The code of the error answered, if any. */
  errorCode?: string;
  /** The answer was a 503 because the store failed. */
  storeFailure?: boolean;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    // Express's own extension point for res.locals.
    interface Locals extends GatewayLocals {}
  }
}
