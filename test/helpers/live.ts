/**
 * A gateway on a real local port for the SDK tests, a memory store that can be made to fail
 * like an unreachable Redis, and the GatewayClientError a call ends with.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GatewayClientError } from '../../packages/client/src';
import type { Clock } from '../../src/clock';
import { MemoryStore, StoreUnavailableError, type GatewayStore } from '../../src/store';
import type { TestGateway } from './app';

/** Runs `fn` and answers the GatewayClientError it throws. */
export async function failure(fn: () => Promise<unknown>): Promise<GatewayClientError> {
  try {
    await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayClientError);
    return error as GatewayClientError;
  }
  throw new Error('expected a GatewayClientError, got success');
}

export async function listen(gw: TestGateway): Promise<{ server: Server; baseUrl: string }> {
  const server = gw.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  return { server, baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

export async function stop(server: Server, gw: TestGateway): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await gw.close();
}

/** A memory store whose every call but close fails like an unreachable Redis while `down` is set. */
export function switchableMemoryStore(clock?: Clock): { store: GatewayStore; down: boolean } {
  const switchable = { down: false, store: undefined as unknown as GatewayStore };
  const inner = new MemoryStore({ ...(clock ? { clock } : {}), sweepIntervalMs: 0 });
  switchable.store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (switchable.down && prop !== 'close') return Promise.reject(new StoreUnavailableError());
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return switchable;
}
