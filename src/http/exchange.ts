/**
 * A request and its answer as every layer the token checks go through sees them: node:http's
 * own objects, the parsed body and the typed `locals`, nothing of express. The checks are served
 * without express (src/http/dispatch.ts), so their layers take these types; express's Request
 * and Response are these and more, so the same layers serve every other route through express.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import querystring, { type ParsedUrlQuery } from 'node:querystring';
import parseurl from 'parseurl';
import proxyaddr from 'proxy-addr';
import type { GatewayLocals } from './locals';

export interface GatewayRequest extends IncomingMessage {
  /** The parsed body (src/http/body.ts); undefined when there is none. */
  body?: unknown;
}

export interface GatewayResponse extends ServerResponse {
  locals: GatewayLocals;
}

export type Next = (error?: unknown) => void;

/** One step of a request's handling; `next()` goes on, `next(error)` goes to the error handlers. */
export type Middleware = (req: GatewayRequest, res: GatewayResponse, next: Next) => unknown;

/** An error handler, as express's four-argument middleware. */
export type ErrorMiddleware = (error: unknown, req: GatewayRequest, res: GatewayResponse, next: Next) => void;

/** The request's path, as express's router matches it (parseurl, cached on the request). */
export function pathnameOf(req: IncomingMessage): string | undefined {
  return parseurl(req)?.pathname ?? undefined;
}

/**
 * The query string's parameters, as express's `simple` query parser reads them (node's
 * querystring: a repeated name is an array).
 */
export function queryOf(req: IncomingMessage): ParsedUrlQuery {
  const query = parseurl(req)?.query;
  return querystring.parse(typeof query === 'string' ? query : '');
}

/** Who sent the request, as express's `req.ip` says under the same TRUST_PROXY rule. */
export type ClientAddressOf = (req: IncomingMessage) => string | undefined;

/** `trust`: express's compiled TRUST_PROXY rule (`app.get('trust proxy fn')`). */
export function clientAddressReader(trust: (address: string, hop: number) => boolean): ClientAddressOf {
  return (req) => proxyaddr(req, trust) ?? req.socket.remoteAddress;
}

/** The answer's status, without express's `res.status`. */
export function endWithStatus(res: ServerResponse, status: number): void {
  res.statusCode = status;
  res.end();
}
