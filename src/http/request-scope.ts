/**
 * The request a piece of code runs for, without passing it down: its id and client address,
 * for the audit trail's events (contract §9), whichever layer records them.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ClientAddressOf, GatewayRequest, GatewayResponse } from './exchange';
import { requestIdOf } from './request-id';

export interface RequestFacts {
  requestId: string;
  /** The client address (the socket peer, or what TRUST_PROXY lets express read). */
  address: string | undefined;
}

const scope = new AsyncLocalStorage<RequestFacts>();

/** The facts of the request being handled, if any. */
export const currentRequest = (): RequestFacts | undefined => scope.getStore();

/** Runs `next` (the rest of the request's handling) inside the request's scope. */
export function inRequestScope(req: GatewayRequest, res: GatewayResponse, addressOf: ClientAddressOf, next: () => void): void {
  scope.run({ requestId: requestIdOf(req, res), address: addressOf(req) }, next);
}
