/** What a domain call ended with: 'ok', or the code of the GatewayError it threw. */
import type { GatewayError } from '../../src/errors';

export const codeOf = async (promise: Promise<unknown>): Promise<string> => {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    return (error as GatewayError).code;
  }
};
