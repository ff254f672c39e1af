/**
 * Waiting for a store that is still connecting. The Redis client runs with the offline queue
 * off, so a command sent before the connection is up fails at once instead of waiting for it.
 */
import type { GatewayStore } from './types';

/** Resolves with undefined once the store answers a ping, or with the last error after `timeoutMs`. */
export async function waitForStore(store: Pick<GatewayStore, 'ping'>, timeoutMs: number): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await store.ping();
      return undefined;
    } catch (error) {
      if (Date.now() >= deadline) return error ?? new Error('the store did not answer');
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(100, Math.max(0, deadline - Date.now()))));
  }
}
