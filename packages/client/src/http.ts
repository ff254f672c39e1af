/**
 * The one request path of the SDK: JSON in, JSON out, every failure a GatewayClientError.
 * Uses only the global `fetch` (or the one given), so it runs in browsers, Node 18+, Deno,
 * Bun and edge runtimes alike.
 */
import { errorFromResponse, GatewayClientError, networkError } from './errors.js';

/** The part of `fetch` the SDK uses. */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface Transport {
  baseUrl: string;
  fetch: FetchLike;
}

export function makeTransport(baseUrl: string, fetchImpl?: FetchLike): Transport {
  if (typeof baseUrl !== 'string' || !/^https?:\/\//i.test(baseUrl)) {
    throw new TypeError('baseUrl must be an http(s) URL, e.g. "https://auth.example.com".');
  }
  // Call the global through a wrapper: browsers refuse `fetch` detached from `window`.
  const f: FetchLike | undefined = fetchImpl ?? (typeof fetch === 'function' ? (input, init) => fetch(input, init) : undefined);
  if (!f) throw new TypeError('No global fetch exists here: pass one as `fetch`.');
  return { baseUrl: baseUrl.replace(/\/+$/, ''), fetch: f };
}

export interface CallOptions {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Sent as JSON. */
  json?: unknown;
  headers?: Record<string, string>;
}

export interface CallResult {
  httpStatus: number;
  headers: Headers;
  body: unknown;
}

/** A caller that sends every request with this Authorization header (and a JSON body when given). */
export function authorizedCaller(transport: Transport, authorization: string) {
  return (method: CallOptions['method'], path: string, json?: unknown): Promise<CallResult> =>
    call(transport, path, { method, headers: { Authorization: authorization }, ...(json === undefined ? {} : { json }) });
}

/**
 * One URL path segment. WHATWG URLs (every fetch) resolve "." and ".." segments, encoded or
 * not: such a value cannot reach the route it names, so say so instead of calling another path.
 */
export function pathSegment(name: string, value: string): string {
  if (value === '.' || value === '..') throw new TypeError(`The ${name} "${value}" cannot be sent in a URL path.`);
  return encodeURIComponent(value);
}

/** Sends the request; answers any 2xx with its parsed body, throws GatewayClientError otherwise. */
export async function call(transport: Transport, path: string, options: CallOptions): Promise<CallResult> {
  const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
  const init: RequestInit = { method: options.method, headers };
  if (options.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(options.json);
  }
  let response: Response;
  let text: string;
  try {
    response = await transport.fetch(`${transport.baseUrl}${path}`, init);
    text = await response.text();
  } catch (error) {
    throw networkError(error);
  }
  let body: unknown;
  let parsed = true;
  if (text.length > 0) {
    try {
      body = JSON.parse(text);
    } catch {
      parsed = false;
    }
  }
  if (!response.ok) throw errorFromResponse(response.status, response.headers, body);
  if (!parsed) throw invalidResponse(response, 'The gateway answered with something that is not JSON.');
  return { httpStatus: response.status, headers: response.headers, body };
}

export function invalidResponse(response: { status: number; headers: Headers }, message: string): GatewayClientError {
  return new GatewayClientError({
    message,
    status: 'INTERNAL',
    code: 'invalid_response',
    retryable: false,
    httpStatus: response.status,
    requestId: response.headers.get('x-request-id') ?? undefined,
  });
}

/** The `data` of a success envelope `{"result": {"status": "success", "message", "data"}}`. */
export function resultData<T>(result: CallResult): T {
  const body = result.body as { result?: { data?: unknown } } | undefined;
  const data = body?.result?.data;
  if (typeof data !== 'object' || data === null) {
    throw invalidResponse({ status: result.httpStatus, headers: result.headers }, 'The gateway answer has no result data.');
  }
  return data as T;
}
