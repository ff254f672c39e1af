/**
 * The server's code table and the client package's copy of the codes are tied here: the client
 * cannot import server code (it ships alone), so the type checker holds the two together.
 */
import type { ErrorCode } from '../../src/errors';
import { ERROR_CODES } from '../../src/errors';
import type { GatewayErrorCode } from '../../packages/client/src';

/** Fails to compile when the server answers a code the client's type does not name. */
type MissingInClient = Exclude<ErrorCode, GatewayErrorCode>;
const everyServerCodeIsNamed: [MissingInClient] extends [never] ? true : MissingInClient = true;

/** The client's own codes (no answer, not JSON, ...) never collide with a server code. */
const CLIENT_ONLY: Array<Exclude<GatewayErrorCode, ErrorCode>> = ['network_error', 'invalid_response', 'fetch_token_failed', 'session_closed'];

test('every code the server answers is one the client names, and the client-only codes are not server codes', () => {
  expect(everyServerCodeIsNamed).toBe(true);
  for (const code of CLIENT_ONLY) expect(Object.keys(ERROR_CODES)).not.toContain(code);
});
